"""The learning commands as a team uses them: feedback import, train, eval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.cli import main
from tests.classifier.feedback_data import EXAMPLES, blinking_orange, team_feedback, write_csv
from tests.test_learning import write_config


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object], str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    output = json.loads(captured.out) if captured.out.strip() else {}
    return code, output, captured.err


def test_eval_with_a_model_leaves_out_what_it_learned_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(write_config(tmp_path))
    orange = blinking_orange()
    learned = write_csv(tmp_path / "learned.csv", team_feedback()[:200] + orange[::2])
    mixed = write_csv(tmp_path / "mixed.csv", team_feedback()[190:210] + orange[1::2])
    run(capsys, "feedback", "import", str(learned), "-c", config)
    code, report, _ = run(capsys, "train", "-c", config)
    assert code == 0 and report["promoted"] is True

    code, with_model, _ = run(capsys, "eval", str(mixed), "-c", config)
    assert code == 0
    assert with_model["classifier"] == "scorer-1+model-1"
    assert with_model["excluded_seen_in_training"] == 10  # rows 190..199 were learned from
    assert with_model["n"] == 10 + 24

    code, scorer_only, _ = run(capsys, "eval", str(mixed), "-c", config, "--scorer-only")
    assert scorer_only["classifier"] == "scorer-1"
    assert scorer_only["excluded_seen_in_training"] == 0
    assert scorer_only["n"] == 20 + 24
    assert with_model["recall"] > scorer_only["recall"]  # type: ignore[operator]


def test_eval_holdout_learns_from_the_head_and_judges_the_tail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = team_feedback()
    path = write_csv(tmp_path / "all.csv", rows)
    code, report, _ = run(capsys, "eval", str(path), "--holdout-fraction", "0.25")

    assert code == 0
    assert report["trained_on_rows"] == round(len(rows) * 0.75)
    assert report["n"] == len(rows) - report["trained_on_rows"]  # type: ignore[operator]
    scorer_only = report["scorer_only"]
    assert isinstance(scorer_only, dict) and scorer_only["n"] == report["n"]
    assert report["classifier"] == "scorer-1+holdout-model"
    assert not (tmp_path / "state").exists()  # a throwaway model: nothing stored


@pytest.mark.parametrize("value", ["0", "1", "1.5", "half"])
def test_a_bad_holdout_fraction_is_a_usage_error(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["eval", str(EXAMPLES), "--holdout-fraction", value])
    assert caught.value.code == 2
    assert "between 0 and 1" in capsys.readouterr().err


def test_import_of_a_file_without_the_label_column_stores_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(write_config(tmp_path))
    wrong = tmp_path / "export.csv"
    wrong.write_text("id,tweet,is_complaint\n1,@acme broken again,1\n", encoding="utf-8")

    code, _, err = run(capsys, "feedback", "import", str(wrong), "-c", config)
    assert code == 2
    assert "no column 'text'" in err and "'tweet'" in err and "--text-column" in err

    code, report, _ = run(
        capsys,
        "feedback", "import", str(wrong), "-c", config,
        "--text-column", "tweet", "--label-column", "is_complaint",
    )  # fmt: skip
    assert code == 0 and report["added"] == 1 and report["feedback_total"] == 1


def test_train_without_enough_feedback_says_how_to_get_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(write_config(tmp_path))
    few = write_csv(tmp_path / "few.csv", team_feedback()[:12])
    run(capsys, "feedback", "import", str(few), "-c", config)

    code, _, err = run(capsys, "train", "-c", config)
    assert code == 1
    assert "the feedback has 12" in err and "feedback import" in err
    assert not (tmp_path / "state" / "models" / "current").exists()


def test_a_model_that_does_not_beat_the_scorer_is_kept_but_not_promoted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from monitor.classifier import Classifier
    from monitor.config import load_config

    config = str(write_config(tmp_path))
    settings = load_config(Path(config), require_secrets=False)
    scorer = Classifier(settings.classifier, settings.brand)  # as `train` builds it
    right = [r for r in team_feedback() if scorer.classify(r.text).is_complaint == bool(r.label)]
    run(capsys, "feedback", "import", str(write_csv(tmp_path / "r.csv", right)), "-c", config)

    code, report, err = run(capsys, "train", "-c", config)
    assert code == 0 and report["promoted"] is False
    assert "NOT promoted" in err and "--force" in err
    code, report, _ = run(capsys, "eval", str(EXAMPLES), "-c", config)
    assert report["classifier"] == "scorer-1"

    code, report, _ = run(capsys, "train", "-c", config, "--force")
    assert report["promoted"] is True and report["model"] == "model-2"


def test_connectors_lists_every_type_and_names_the_pip_extra_of_an_unavailable_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from connectors import registry

    monkeypatch.setitem(sys.modules, "tweepy", None)  # as if the x extra were not installed
    registry.cache_clear()
    try:
        assert main(["connectors"]) == 0
    finally:
        registry.cache_clear()
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert set(lines) == {
        *("app_store", "bluesky", "feed", "google_play", "hackernews", "jsonl", "mastodon"),
        *("reddit", "x"),
    }
    assert "needs tweepy: pip install 'complaint-monitor[x]'" in lines["x"]
    assert "available; its keys: path, platform, max_lines_per_poll" in lines["jsonl"]
    assert "user_agent" in lines["reddit"]
