"""Issue 15, item 11: a damaged model never stops the daemon; the scorer runs alone.

A truncated file, JSON of the wrong shape, or a `current` pointer leading out of the model
directory is set aside with a log line; model files are written durably (fsync, rename, fsync
of the directory), so a crash cannot leave a half-written model behind.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.classifier import Classifier
from monitor.classifier.model import CURRENT, LearnedModel, ModelStore
from monitor.classifier.settings import ClassifierSettings
from monitor.classifier.training import train
from monitor.cli import main
from monitor.clock import FakeClock
from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.errors import ConfigError
from monitor.learning import current_model
from tests.classifier.feedback_data import UNSEEN_COMPLAINT, team_feedback
from tests.factories import config_file
from tests.test_daemon import write_feed

NOW = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.fixture(scope="module")
def scorer() -> Classifier:
    return Classifier(ClassifierSettings())


@pytest.fixture(scope="module")
def model(scorer: Classifier) -> LearnedModel:
    return train(team_feedback(), scorer, version=1, now=NOW).model


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def write_config(tmp_path: Path) -> Path:
    path = config_file(tmp_path, classifier={})
    write_feed(tmp_path / "feed.jsonl", {"p1": UNSEEN_COMPLAINT})
    return path


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[Daemon]]:
    daemons: list[Daemon] = []
    yield daemons
    for daemon in daemons:
        daemon.close()


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_item_11_a_truncated_model_is_set_aside_and_the_scorer_runs(
    tmp_path: Path,
    model: LearnedModel,
    scorer: Classifier,
    started: list[Daemon],
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = write_config(tmp_path)
    state = load_config(config).daemon.state_path
    path = ModelStore(state).save(model, promote=True)
    truncate(path)  # what a power loss mid-write left before the fsync

    with caplog.at_level(logging.ERROR):
        assert current_model(ClassifierSettings(), state, scorer.version) is None
    assert str(path) in caplog.text
    assert "EOFError" in caplog.text
    assert "scorer alone" in caplog.text

    daemon = Daemon(load_config(config), clock=FakeClock())
    started.append(daemon)
    daemon.prepare()  # no exception: systemd does not restart it every 5 s
    assert daemon.pipeline.classifier.version == scorer.version
    assert daemon.run_once()


def _with(data: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return data | changes


@pytest.mark.parametrize(
    "damage",
    [
        lambda good: [good],  # a list, not an object: AttributeError before
        lambda good: _with(good, blender=[1, 2, 3, 4]),  # AttributeError before
        lambda good: _with(good, blocks=[{"analyzer": "bogus", "ngram_range": [1, 2]}]),
        lambda good: _with(good, blocks=[_with(good["blocks"][0], analyzer="bogus")]),
        lambda good: _with(good, trained_on=None),  # TypeError
        lambda good: _with(good, version=[1]),  # TypeError
    ],
    ids=["list", "blender-list", "half-block", "unknown-analyzer", "no-trained-on", "version"],
)
def test_item_11_a_model_of_the_wrong_shape_is_set_aside(
    state: Path,
    model: LearnedModel,
    scorer: Classifier,
    damage: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = ModelStore(state)
    path = store.save(model, promote=True)
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        good = json.load(handle)
    path.write_bytes(gzip.compress(json.dumps(damage(good)).encode()))

    with pytest.raises(ConfigError, match="complaint-monitor train"):
        store.current()
    with caplog.at_level(logging.ERROR):
        assert current_model(ClassifierSettings(), state, scorer.version) is None
    assert str(path) in caplog.text


@pytest.mark.parametrize("pointer", ["absolute", "../model-0001.json.gz", "symlink"])
def test_item_11_a_current_pointer_outside_the_state_directory_is_refused(
    tmp_path: Path,
    state: Path,
    model: LearnedModel,
    scorer: Classifier,
    pointer: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = ModelStore(state)
    store.save(model, promote=False)
    outside = state / "model-0001.json.gz"  # a valid model, but not in the model directory
    shutil.copy(store.path_of(1), outside)
    name = {"absolute": str(outside), "symlink": "model-0002.json.gz"}.get(pointer, pointer)
    if pointer == "symlink":
        (store.directory / name).symlink_to(outside)
    (store.directory / CURRENT).write_text(name + "\n", encoding="utf-8")

    with pytest.raises(ConfigError, match="not a model file in"):
        store.current()
    with caplog.at_level(logging.ERROR):
        assert current_model(ClassifierSettings(), state, scorer.version) is None
    assert "is refused" in caplog.text


def test_item_11_etc_passwd_as_the_pointer_is_refused(state: Path, model: LearnedModel) -> None:
    store = ModelStore(state)
    store.save(model, promote=True)
    for name in ("../../etc/passwd", "/etc/passwd"):
        (store.directory / CURRENT).write_text(name, encoding="utf-8")
        with pytest.raises(ConfigError, match="is refused"):
            store.current()


def test_item_11_model_files_are_fsynced_before_the_rename(
    state: Path, model: LearnedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{descriptor}")))
        real_fsync(descriptor)

    def replace(source: Any, target: Any) -> None:
        events.append(("replace", str(target)))
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    store = ModelStore(state)
    path = store.save(model, promote=True)

    directory = str(store.directory.resolve())
    pointer = str((store.directory / CURRENT).resolve())
    assert events == [
        ("fsync", str(path.resolve()) + ".tmp"),
        ("replace", str(path)),
        ("fsync", directory),
        ("fsync", pointer + ".tmp"),
        ("replace", str(store.directory / CURRENT)),
        ("fsync", directory),
    ]
    assert store.current() is not None
    assert not list(store.directory.glob("*.tmp"))


def test_item_11_model_directory_and_files_are_owner_only(state: Path, model: LearnedModel) -> None:
    path = ModelStore(state).save(model, promote=True)
    assert state.stat().st_mode & 0o777 == 0o700
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert path.stat().st_mode & 0o777 == 0o600


def test_item_11_check_config_names_a_damaged_model_and_still_validates(
    tmp_path: Path, model: LearnedModel, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    state = load_config(config).daemon.state_path
    truncate(ModelStore(state).save(model, promote=True))

    assert main(["check-config", "-c", str(config)]) == 0  # the daemon runs: scorer alone
    err = capsys.readouterr().err
    assert "model-0001.json.gz is unreadable" in err
    assert "scorer alone" in err
    assert "Traceback" not in err
