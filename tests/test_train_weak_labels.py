"""Issue 17, item 3 as a team meets it: `train` learns from the Slack clicks as well as the
imports, each kind at its weight, and says how many of each it used (so does the daemon's log)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.classifier import Classifier
from monitor.classifier.settings import ClassifierSettings
from monitor.classifier.training import train
from monitor.cli import main
from monitor.config import load_config
from monitor.models import LabeledRow, Person
from monitor.storage import Database, Storage
from tests.classifier.feedback_data import (
    UNSEEN_COMPLAINT,
    blinking_orange,
    team_feedback,
    write_csv,
)
from tests.storage.factories import numbered, send_all
from tests.test_learning import write_config

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SAM = Person("U1", "sam")


def click_in_slack(config: Path) -> None:
    """Three alerts resolved, one "Not a complaint", one complaint reported missed: what the
    Slack adapter records (`AlertStore` is what its buttons and slash command call)."""
    database = Database(load_config(config).database_url)
    try:
        storage = Storage(database, "C1")
        storage.posts.store_poll(
            source="feed",
            platform="x",
            new_posts=[numbered(n) for n in range(1, 5)],
            cursor={},
            now=NOW,
        )
        send_all(storage.outbox, NOW)
        for alert_id in (1, 2, 3):
            storage.alerts.apply(alert_id, "resolve", SAM, NOW + timedelta(minutes=alert_id))
        storage.alerts.apply(4, "not_complaint", SAM, NOW)
        missed = numbered(5)
        storage.posts.store_poll(
            source="feed",
            platform="x",
            new_posts=[type(missed)(missed.post, missed.verdict, False, None)],
            cursor={},
            now=NOW,
        )
        storage.alerts.report_missed(missed.post.url, SAM, NOW)
    finally:
        database.close()


def test_train_reports_how_many_labels_of_each_kind_it_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    config = write_config(tmp_path)
    feedback = write_csv(tmp_path / "team.csv", team_feedback())
    assert main(["feedback", "import", str(feedback), "-c", str(config)]) == 0
    capsys.readouterr()
    click_in_slack(config)

    with caplog.at_level(logging.INFO, logger="monitor.learning"):
        assert main(["train", "-c", str(config)]) == 0
    report = json.loads(capsys.readouterr().out)

    assert report["labels_used"] == {"explicit": 283, "resolved": 3, "missed": 1}
    assert report["examples"] == 287
    assert (
        "trained on 287 labels: 283 explicit (weight 1), 3 resolved alerts (weight 0.5), "
        "1 reported missed (weight 1)"
    ) in caplog.messages


def test_a_kind_weighted_zero_is_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`resolved_label_weight = 0`: the resolved alerts are not counted toward the labels
    training needs (refused before any process starts)."""
    config = write_config(tmp_path, resolved_label_weight=0)
    rows = team_feedback()
    few = [r for r in rows if r.label][:18] + [r for r in rows if not r.label][:18]
    main(["feedback", "import", str(write_csv(tmp_path / "team.csv", few)), "-c", str(config)])
    capsys.readouterr()
    click_in_slack(config)  # 36 imported + 1 "Not a complaint" + 3 resolved + 1 missed = 41

    assert main(["train", "-c", str(config)]) != 0
    assert "the feedback has 38 (19 complaints, 19 not)" in capsys.readouterr().err


def test_a_label_weighed_less_teaches_less() -> None:
    """The brand's own problem ("blinking orange") taught by full-weight labels moves an unseen
    post further than the same labels at a tenth of the weight (as if they were weak ones)."""
    orange = {row.text for row in blinking_orange()}
    rows = team_feedback()[:120] + blinking_orange()
    scorer = Classifier(ClassifierSettings())

    def learned_log_odds(orange_weight: float) -> float:
        weights = [orange_weight if row.text in orange else 1.0 for row in rows]
        result = train(rows, scorer, version=1, now=NOW, weights=weights)
        return result.model.prepared_log_odds(UNSEEN_COMPLAINT)[0]

    assert learned_log_odds(1.0) > learned_log_odds(0.1) + 0.5


def test_weights_must_match_the_labels() -> None:
    rows = [LabeledRow("a", 1), LabeledRow("b", 0)]
    with pytest.raises(ValueError):
        train(rows * 30, Classifier(ClassifierSettings()), version=1, now=NOW, weights=[1.0])
