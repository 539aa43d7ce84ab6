"""Issue 12, "Commands an operator runs beside a service": they read the service's database,
never create nor migrate it, and ask for no secret they do not use.

The real command line runs: `monitor.cli.main([...])` in process, and `python -m monitor` in a
subprocess where the environment is the point ($STATE_DIRECTORY, $HOME, $COMPLAINT_MONITOR_CONFIG).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig

from monitor.cli import main
from monitor.storage import Database
from monitor.storage.database import MIGRATIONS_DIR
from tests.classifier.feedback_data import team_feedback, write_csv
from tests.factories import config_file, toml

ROOT = Path(__file__).resolve().parent.parent
READ_ONLY = [["stats"], ["replay", "--since", "30d"], ["status"]]
SECRETS = ("CM_TEST_SLACK_TOKEN", "CM_TEST_APP_TOKEN", "CM_TEST_X_TOKEN", "CM_TEST_REDDIT_ID")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def files_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


def migrate_to(url: str, revision: str) -> None:
    """A database as an older complaint-monitor left it: migrated up to `revision` only."""
    database = Database(url)
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    database.close()


@pytest.mark.parametrize("argv", READ_ONLY, ids=lambda argv: argv[0])
def test_a_read_only_command_on_a_missing_database_says_so_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    config = config_file(tmp_path)
    code, out, err = run(capsys, *argv, "-c", str(config))

    assert code == 2
    assert out == ""
    database = tmp_path / "state" / "monitor.db"
    assert f"no database at {database} (in [daemon] state_dir)" in err
    assert "never creates one" in err
    assert "systemd-run" in err and "-p StateDirectory=complaint-monitor" in err
    assert f"complaint-monitor {argv[0]} --config" in err, "the fix names the command"
    assert files_under(tmp_path / "state") == [], "no database, no directory, no lock file"


@pytest.mark.parametrize("argv", READ_ONLY, ids=lambda argv: argv[0])
def test_a_schema_behind_is_exit_2_and_the_database_is_left_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], database_url: str, argv: list[str]
) -> None:
    migrate_to(database_url, "0003")
    config = config_file(tmp_path, database={"url": database_url})
    sqlite_file = Path(database_url.removeprefix("sqlite:///"))
    before = sqlite_file.read_bytes() if database_url.startswith("sqlite") else b""

    code, out, err = run(capsys, *argv, "-c", str(config))

    assert code == 2
    assert out == ""
    assert "is at revision 0003, behind this version's" in err
    assert "run `complaint-monitor db upgrade`" in err
    database = Database(database_url)
    assert database.schema_revision().current == "0003", "never migrated"
    database.close()
    if database_url.startswith("sqlite"):
        assert sqlite_file.read_bytes() == before, "not a byte changed"

    assert main(["db", "upgrade", "-c", str(config)]) == 0
    capsys.readouterr()
    code, out, _ = run(capsys, *argv, "-c", str(config))
    assert code in (0, 1)  # `status` says 1 when something needs a person (no poll yet)
    assert out


def test_an_empty_database_has_no_schema_yet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], postgres_url: str
) -> None:
    """A PostgreSQL database that exists but was never migrated (the SQLite case is a file
    that does not exist, above)."""
    config = config_file(tmp_path, database={"url": postgres_url})
    code, _, err = run(capsys, "stats", "-c", str(config))
    assert code == 2
    assert "has no schema yet: run `complaint-monitor db upgrade`" in err


def test_a_database_a_newer_version_migrated_is_refused_not_downgraded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    migrate_to(url, "head")
    database = Database(url)
    with database.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    database.close()
    config = config_file(tmp_path, database={"url": url})

    code, _, err = run(capsys, "stats", "-c", str(config))
    assert code == 2
    assert "at revision 9999, which a newer complaint-monitor wrote" in err


def secretive_config(directory: Path) -> Path:
    """Slack, X and Reddit, each with its secret in a variable the environment lacks."""
    return config_file(
        directory,
        slack={
            "sink": "slack",
            "channel": "C0123456789",
            "token_env": "CM_TEST_SLACK_TOKEN",
            "app_token_env": "CM_TEST_APP_TOKEN",
        },
        sources=[
            {"type": "x", "name": "x", "bearer_token_env": "CM_TEST_X_TOKEN"},
            {
                "type": "reddit",
                "name": "reddit",
                "subreddits": ["acme"],
                "user_agent": "linux:com.acme.monitor:0.1.0 (by u/acme_support)",
                "client_id_env": "CM_TEST_REDDIT_ID",
                "client_secret_env": "CM_TEST_REDDIT_ID",
            },
        ],
    )


def test_commands_that_fetch_or_send_nothing_ask_for_no_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    config = str(secretive_config(tmp_path))
    feedback = write_csv(tmp_path / "labels.csv", team_feedback()[::3])

    assert run(capsys, "db", "upgrade", "-c", config)[0] == 0
    code, out, _ = run(capsys, "feedback", "import", str(feedback), "-c", config)
    assert code == 0 and json.loads(out)["added"] > 0
    code, out, _ = run(capsys, "train", "-c", config)
    assert code == 0 and "promoted" in json.loads(out)
    code, out, _ = run(capsys, "stats", "-c", config)
    assert code == 0 and "posts_by_platform" in json.loads(out)
    code, out, _ = run(capsys, "replay", "-c", config)
    assert code == 0 and out.startswith("replayed 0 posts")
    code, out, _ = run(capsys, "match", "@acme my order is late", "-c", config)
    assert code == 0 and json.loads(out)["matches"] is True
    code, out, _ = run(capsys, "status", "--json", "-c", config)
    assert code in (0, 1) and json.loads(out)


@pytest.mark.parametrize("argv", [["check-config"], ["run", "--once"]])
def test_commands_that_fetch_or_send_name_each_missing_variable(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
) -> None:
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    config = str(secretive_config(tmp_path))
    code, _, err = run(capsys, *argv, "-c", config)
    assert code == 2
    assert "environment variable CM_TEST_SLACK_TOKEN is not set" in err
    assert "environment variable CM_TEST_X_TOKEN is not set" in err
    assert "environment variable CM_TEST_REDDIT_ID is not set" in err
    assert files_under(tmp_path / "state") == [], "nothing was started"


def test_a_badly_set_token_stops_run_but_not_stats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bot token in the app-token variable is a `run` problem; `stats` never reads it."""
    monkeypatch.setenv("CM_TEST_SLACK_TOKEN", "xapp-1-A0-123-abcdef")
    config = config_file(
        tmp_path,
        slack={"sink": "slack", "channel": "C0123456789", "token_env": "CM_TEST_SLACK_TOKEN"},
    )
    assert run(capsys, "db", "upgrade", "-c", str(config))[0] == 0
    assert run(capsys, "stats", "-c", str(config))[0] == 0
    code, _, err = run(capsys, "run", "--once", "-c", str(config))
    assert code == 2 and "CM_TEST_SLACK_TOKEN holds an app-level token" in err


def test_a_writing_command_says_when_it_created_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(config_file(tmp_path))
    feedback = write_csv(tmp_path / "labels.csv", team_feedback()[:10])
    code, _, err = run(capsys, "feedback", "import", str(feedback), "-c", config)
    assert code == 0
    assert f"created a new database {tmp_path / 'state' / 'monitor.db'}" in err
    code, _, err = run(capsys, "feedback", "import", str(feedback), "-c", config)
    assert code == 0 and "created a new database" not in err


def test_the_config_can_come_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_file(tmp_path)
    monkeypatch.chdir(tmp_path)  # no config/monitor.toml here
    monkeypatch.setenv("COMPLAINT_MONITOR_CONFIG", str(config))
    assert run(capsys, "db", "upgrade")[0] == 0
    code, out, _ = run(capsys, "stats")
    assert code == 0 and "posts_by_platform" in json.loads(out)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, _, err = run(capsys, "stats", "-c", str(config_file(elsewhere)))
    assert code == 2, "--config wins over the variable"
    assert f"no database at {elsewhere / 'state' / 'monitor.db'}" in err


# -- as an operator's shell runs it: a subprocess with its own environment -------------------


def shell(tmp_path: Path, env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    """`complaint-monitor ARGV` from a shell whose $HOME is a fresh directory and whose
    environment is `env` plus PATH and PYTHONPATH only."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    base = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "monitor", *argv],
        cwd=tmp_path,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def state_free_config(directory: Path) -> Path:
    """A config that leaves the state directory to the environment, as the shipped one does."""
    data: dict[str, Any] = {
        "brand": {"name": "Acme", "handles": ["acme"]},
        "slack": {"sink": "console"},
        "sources": [{"type": "jsonl", "name": "feed", "path": "feed.jsonl"}],
    }
    path = directory / "service.toml"
    path.write_text(toml(data), encoding="utf-8")
    return path


def test_without_state_directory_stats_names_the_home_path_and_creates_nothing(
    tmp_path: Path,
) -> None:
    config = state_free_config(tmp_path)
    result = shell(tmp_path, {"COMPLAINT_MONITOR_CONFIG": str(config)}, "stats")

    assert result.returncode == 2
    assert result.stdout == ""
    expected = tmp_path / "home" / ".local" / "state" / "complaint-monitor" / "monitor.db"
    assert f"no database at {expected}" in result.stderr
    assert "$STATE_DIRECTORY is not set" in result.stderr
    assert files_under(tmp_path / "home") == [], "nothing created under $HOME"


def test_under_the_service_state_directory_stats_reads_the_service_database(
    tmp_path: Path,
) -> None:
    """$STATE_DIRECTORY, which systemd's StateDirectory= sets for the service and for a
    `systemd-run -p StateDirectory=...`, is where the command looks, as the daemon does."""
    config = state_free_config(tmp_path)
    state = tmp_path / "var-lib-complaint-monitor"
    state.mkdir()
    env = {"COMPLAINT_MONITOR_CONFIG": str(config), "STATE_DIRECTORY": str(state)}

    missing = shell(tmp_path, env, "stats")
    assert missing.returncode == 2
    assert f"no database at {state / 'monitor.db'} (in $STATE_DIRECTORY)" in missing.stderr

    (tmp_path / "feed.jsonl").write_text(
        '{"id": "1", "author": "dana", "text": "@acme my order arrived broken"}\n',
        encoding="utf-8",
    )
    with pytest.MonkeyPatch.context() as patch:  # the service itself, in process for speed
        patch.setenv("STATE_DIRECTORY", str(state))
        assert main(["run", "--once", "-c", str(config)]) == 0
    stats = shell(tmp_path, env, "stats")
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["posts_by_platform"] == {"jsonl": 1}
    assert files_under(tmp_path / "home") == []
