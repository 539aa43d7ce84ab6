"""Issue 15, item 18: files and secrets.

A config every user can read that holds a secret is warned about (never quoting it) by
`check-config` and at start-up; the state directory and the SQLite file are created owner-only;
an unusable state directory is a clear exit 2 from `check-config` and `run`, no traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.storage import Database
from tests.factories import config_file

PASSWORD = "s3cret-hunter2"


def check_config(capsys: pytest.CaptureFixture[str], config: Path) -> tuple[int, str]:
    code = main(["check-config", "-c", str(config)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def test_item_18_a_readable_config_with_a_database_password_is_warned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"postgresql+psycopg://monitor:{PASSWORD}@db.example/monitor"
    config = config_file(tmp_path, database={"url": url})

    config.chmod(0o644)
    code, err = check_config(capsys, config)
    assert code == 0
    assert "warning:" in err
    assert "database.url holds a URL with a password" in err
    assert "url_env" in err
    assert f"chmod o-r {config}" in err
    assert PASSWORD not in err

    config.chmod(0o640)  # root:complaint-monitor 0640, as under systemd: nothing to say
    code, err = check_config(capsys, config)
    assert code == 0
    assert "warning:" not in err


def test_item_18_a_token_in_a_readable_config_is_warned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = "xoxb-1234567890-0987654321-abcdefghijklmnop"
    config = config_file(tmp_path, brand={"name": "Acme", "terms": ["acme", token]})
    config.chmod(0o604)
    code, err = check_config(capsys, config)
    assert code == 0
    assert "brand.terms[1] holds what looks like a token" in err
    assert token not in err


def test_item_18_the_warning_is_logged_at_start_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base_url = f"https://bot:{PASSWORD}@slack.example/api/"
    config = config_file(tmp_path, slack={"sink": "console", "base_url": base_url})
    config.chmod(0o644)
    (tmp_path / "feed.jsonl").write_text("", encoding="utf-8")
    assert main(["run", "--once", "-c", str(config)]) == 0
    err = capsys.readouterr().err
    assert "WARNING" in err
    assert "slack.base_url holds a URL with a password" in err
    assert PASSWORD not in err


def test_item_18_the_state_directory_and_sqlite_file_are_owner_only(tmp_path: Path) -> None:
    state = tmp_path / "state"
    database = Database(f"sqlite:///{state / 'monitor.db'}")
    try:
        database.upgrade()
    finally:
        database.close()
    assert state.stat().st_mode & 0o777 == 0o700
    for name in ("monitor.db", "monitor.db-wal", "monitor.db-shm"):
        if (state / name).exists():
            assert (state / name).stat().st_mode & 0o777 == 0o600, name


def test_item_18_an_existing_state_directory_keeps_its_mode(tmp_path: Path) -> None:
    """Under systemd, StateDirectory= made the directory: its mode is systemd's to set."""
    state = tmp_path / "state"
    state.mkdir(mode=0o750)
    state.chmod(0o750)
    Database(f"sqlite:///{state / 'monitor.db'}").close()
    assert state.stat().st_mode & 0o777 == 0o750
    assert (state / "monitor.db").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("command", [["check-config"], ["run", "--once"]])
def test_item_18_an_unwritable_state_directory_is_exit_2_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    config = config_file(tmp_path, daemon={"state_dir": str(blocker / "state")})
    assert main([*command, "-c", str(config)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"state directory {blocker / 'state'} cannot be created" in err
    assert "is not a directory" in err
    assert "[daemon] state_dir" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
@pytest.mark.parametrize("command", [["check-config"], ["run", "--once"]])
def test_item_18_a_read_only_state_directory_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o500)
    try:
        config = config_file(tmp_path)
        assert main([*command, "-c", str(config)]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err
        assert "is not writable by this user" in err
    finally:
        state.chmod(0o700)
