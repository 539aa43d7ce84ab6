"""The daemon and the team's feedback: models picked up, retrained, set aside when unusable."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.classifier.model import ModelStore
from monitor.cli import main
from monitor.clock import FakeClock
from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.models import LabeledRow
from monitor.storage.feedback import FeedbackStore
from monitor.storage.tables import ClassificationRow, PostRow
from tests.classifier.feedback_data import UNSEEN_COMPLAINT, team_feedback, write_csv
from tests.factories import config_file
from tests.test_daemon import write_feed


def write_config(
    tmp_path: Path, retention: dict[str, object] | None = None, **classifier: object
) -> Path:
    path = config_file(tmp_path, retention=retention or {}, classifier=classifier)
    write_feed(tmp_path / "feed.jsonl", {"p1": UNSEEN_COMPLAINT})
    return path


@pytest.fixture
def daemon_factory(tmp_path: Path) -> Iterator[object]:
    daemons: list[Daemon] = []

    def start(config_path: Path) -> Daemon:
        daemon = Daemon(load_config(config_path), clock=FakeClock())
        daemon.prepare()
        daemons.append(daemon)
        return daemon

    yield start
    for daemon in daemons:
        daemon.close()


def stored_versions(daemon: Daemon) -> dict[str, str]:
    with daemon.database.session() as session:
        rows = session.execute(
            select(PostRow.external_id, ClassificationRow.classifier_version).join(
                ClassificationRow, ClassificationRow.post_id == PostRow.id
            )
        ).all()
    return {external_id: version for external_id, version in rows}


def test_a_model_trained_from_the_cli_is_picked_up_by_the_running_daemon(
    tmp_path: Path, daemon_factory: object, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    daemon = daemon_factory(config)  # type: ignore[operator]
    assert daemon.pipeline.classifier.version == "scorer-1"

    feedback = write_csv(tmp_path / "team.csv", team_feedback())
    assert main(["feedback", "import", str(feedback), "-c", str(config)]) == 0
    assert json.loads(capsys.readouterr().out)["added"] == 282
    assert main(["train", "-c", str(config)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["promoted"] is True
    assert report["model"] == "model-1"

    daemon.refresh_model()
    assert daemon.pipeline.classifier.version == "scorer-1+model-1"
    assert daemon.run_once()
    assert stored_versions(daemon) == {"p1": "scorer-1+model-1"}
    alert = capsys.readouterr().out
    assert "blinking orange" in alert  # the complaint the scorer alone would have let through
    assert "learned +" in alert  # the console shows each reason with its weight


def test_the_daemon_retrains_once_enough_new_feedback_arrived(
    tmp_path: Path, daemon_factory: object, caplog: pytest.LogCaptureFixture
) -> None:
    config = write_config(tmp_path, retrain_after_feedback=20)
    daemon = daemon_factory(config)  # type: ignore[operator]
    store = FeedbackStore(daemon.database)
    rows = team_feedback()
    store.import_rows(rows[:12], source="a.csv", now=daemon.clock.now())

    caplog.set_level(logging.INFO, logger="monitor")
    daemon.refresh_model()  # 12 new labels: below 20, nothing happens
    assert daemon.pipeline.classifier.version == "scorer-1"
    assert "trained" not in caplog.text

    store.import_rows(rows[12:], source="b.csv", now=daemon.clock.now())
    daemon.refresh_model()
    assert daemon.pipeline.classifier.version == "scorer-1+model-1"
    assert "trained model-1 on 282 labels" in caplog.text
    assert "promoted" in caplog.text

    caplog.clear()
    daemon.refresh_model()  # nothing new: no second model
    assert ModelStore(tmp_path / "state").next_version() == 2
    assert "trained" not in caplog.text


def test_feedback_of_one_kind_only_is_reported_once_not_every_check(
    tmp_path: Path, daemon_factory: object, caplog: pytest.LogCaptureFixture
) -> None:
    config = write_config(tmp_path, retrain_after_feedback=5)
    daemon = daemon_factory(config)  # type: ignore[operator]
    complaints = [r for r in team_feedback() if r.label == 1][:50]
    FeedbackStore(daemon.database).import_rows(complaints, source="a.csv", now=daemon.clock.now())

    caplog.set_level(logging.INFO, logger="monitor")
    daemon.refresh_model()
    daemon.refresh_model()
    assert caplog.text.count("not retrained yet") == 1
    assert "50 complaints, 0 not" in caplog.text
    assert daemon.pipeline.classifier.version == "scorer-1"


def test_with_auto_train_off_the_daemon_never_trains(
    tmp_path: Path, daemon_factory: object
) -> None:
    config = write_config(tmp_path, auto_train=False, retrain_after_feedback=1)
    daemon = daemon_factory(config)  # type: ignore[operator]
    FeedbackStore(daemon.database).import_rows(
        team_feedback(), source="a.csv", now=daemon.clock.now()
    )
    daemon.refresh_model()
    assert ModelStore(tmp_path / "state").current_name() is None


def test_a_damaged_model_leaves_the_scorer_running_and_says_so(
    tmp_path: Path, daemon_factory: object, caplog: pytest.LogCaptureFixture
) -> None:
    config = write_config(tmp_path)
    feedback = write_csv(tmp_path / "team.csv", team_feedback())
    main(["feedback", "import", str(feedback), "-c", str(config)])
    main(["train", "-c", str(config)])
    model_file = tmp_path / "state" / "models" / "model-0001.json.gz"
    model_file.write_bytes(b"half a file")

    daemon = daemon_factory(config)  # type: ignore[operator]
    assert daemon.pipeline.classifier.version == "scorer-1"
    assert str(model_file) in caplog.text
    assert "scorer alone" in caplog.text
    assert daemon.run_once()
    assert stored_versions(daemon) == {"p1": "scorer-1"}


def test_a_model_for_another_scorer_version_is_set_aside(
    tmp_path: Path, daemon_factory: object, caplog: pytest.LogCaptureFixture
) -> None:
    config = write_config(tmp_path)
    feedback = write_csv(tmp_path / "team.csv", team_feedback())
    main(["feedback", "import", str(feedback), "-c", str(config)])
    main(["train", "-c", str(config)])
    store = ModelStore(tmp_path / "state")
    model = store.current()
    assert model is not None
    model.scorer_version = "scorer-0"
    store.save(model, promote=True)

    daemon = daemon_factory(config)  # type: ignore[operator]
    assert daemon.pipeline.classifier.version == "scorer-1"
    assert "trained on scorer-0's features" in caplog.text


def test_use_model_off_keeps_the_scorer_alone(tmp_path: Path, daemon_factory: object) -> None:
    config = write_config(tmp_path)
    feedback = write_csv(tmp_path / "team.csv", team_feedback())
    main(["feedback", "import", str(feedback), "-c", str(config)])
    main(["train", "-c", str(config)])
    off = write_config(tmp_path, use_model=False)
    daemon = daemon_factory(off)  # type: ignore[operator]
    assert daemon.pipeline.classifier.version == "scorer-1"


def test_retention_deletes_old_labeled_examples_when_asked(
    tmp_path: Path, daemon_factory: object
) -> None:
    """Labeled texts are customer text: `feedback_days` bounds how long they are kept."""
    config = write_config(tmp_path, retention={"feedback_days": 30})
    daemon = daemon_factory(config)  # type: ignore[operator]
    store = FeedbackStore(daemon.database)
    rows = team_feedback()
    now = daemon.clock.now()
    store.import_rows(rows[:100], source="old.csv", now=now - timedelta(days=40))
    store.import_rows(rows[100:], source="new.csv", now=now - timedelta(days=10))

    daemon.purge_old_posts()
    assert [r.text for r in store.examples().rows] == [r.text for r in rows[100:]]


def test_without_feedback_days_labeled_examples_are_kept(
    tmp_path: Path, daemon_factory: object
) -> None:
    daemon = daemon_factory(write_config(tmp_path, retention={"days": 7}))  # type: ignore[operator]
    store = FeedbackStore(daemon.database)
    old = daemon.clock.now() - timedelta(days=400)
    store.import_rows(team_feedback(), source="old.csv", now=old)
    daemon.purge_old_posts()
    assert len(store.examples().rows) == 282


def promoted_model_then_more_feedback(tmp_path: Path, **limits: object) -> Path:
    """model-1 promoted from the team's labels; then 30 more labels and the given limits, so the
    next check retrains."""
    config = write_config(tmp_path, retrain_after_feedback=20)
    feedback = write_csv(tmp_path / "team.csv", team_feedback())
    assert main(["feedback", "import", str(feedback), "-c", str(config)]) == 0
    assert main(["train", "-c", str(config)]) == 0
    more = [LabeledRow(f"@acme order {n} never arrived, still waiting", 1) for n in range(30)]
    assert (
        main(["feedback", "import", str(write_csv(tmp_path / "more.csv", more)), "-c", str(config)])
        == 0
    )
    return write_config(tmp_path, retrain_after_feedback=20, **limits)


@pytest.mark.parametrize(
    ("limits", "why"),
    [
        ({"train_memory_mb": 64}, "the fit needed more than train_memory_mb=64 MB"),
        ({"train_timeout_seconds": 0.05}, "the fit took longer than train_timeout_seconds=0.05"),
    ],
    ids=["memory cap", "timeout"],
)
def test_a_fit_over_its_limits_leaves_the_current_model_and_says_why(
    tmp_path: Path,
    daemon_factory: object,
    caplog: pytest.LogCaptureFixture,
    limits: dict[str, object],
    why: str,
) -> None:
    config = promoted_model_then_more_feedback(tmp_path, **limits)
    daemon = daemon_factory(config)  # type: ignore[operator]
    assert daemon.pipeline.classifier.version == "scorer-1+model-1"

    caplog.set_level(logging.INFO, logger="monitor")
    daemon.refresh_model()
    daemon.refresh_model()  # failing again the same way is not news

    assert daemon.pipeline.classifier.version == "scorer-1+model-1"
    models = tmp_path / "state" / "models"
    assert sorted(p.name for p in models.iterdir()) == ["current", "model-0001.json.gz"]
    assert [p for p in (tmp_path / "state").iterdir() if p.name.startswith("training-")] == []
    failures = [r for r in caplog.records if "training failed" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].levelno == logging.WARNING
    assert why in failures[0].getMessage()
    assert "the current model stays in use" in failures[0].getMessage()
    assert daemon.run_once()  # polls carry on with the model it had
    assert stored_versions(daemon) == {"p1": "scorer-1+model-1"}


def test_a_fit_within_its_limits_promotes_and_reports_its_peak(
    tmp_path: Path, daemon_factory: object, caplog: pytest.LogCaptureFixture
) -> None:
    config = promoted_model_then_more_feedback(tmp_path, train_memory_mb=2048)
    daemon = daemon_factory(config)  # type: ignore[operator]
    caplog.set_level(logging.INFO, logger="monitor")
    daemon.refresh_model()
    assert daemon.pipeline.classifier.version == "scorer-1+model-2"
    assert "trained model-2 on 312 labels" in caplog.text
    assert "MB resident" in caplog.text


def test_the_cli_says_why_a_fit_failed_and_keeps_the_current_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = promoted_model_then_more_feedback(tmp_path, train_memory_mb=64)
    capsys.readouterr()
    assert main(["train", "-c", str(config)]) != 0
    assert "train_memory_mb=64" in capsys.readouterr().err
    assert ModelStore(tmp_path / "state").current_name() == "model-0001.json.gz"
