"""The shipped unit is valid for systemd and hardened as the README promises."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from monitor.config import parse_config

UNIT = Path("systemd/complaint-monitor.service")


def test_unit_is_hardened_and_keeps_secrets_out_of_the_file() -> None:
    text = UNIT.read_text()
    for directive in (
        "DynamicUser=yes",
        "StateDirectory=complaint-monitor",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "Restart=on-failure",
        "EnvironmentFile=",
    ):
        assert directive in text
    service = _directives(text)
    assert service["Type"] == ["notify"]
    assert service["NotifyAccess"] == ["main"]
    assert service["WatchdogSec"] == ["60s"]  # the heartbeat feeds it every 10 s
    assert service["RestartPreventExitStatus"] == ["2"]  # a config error needs a person
    assert service["SystemCallErrorNumber"] == ["EPERM"]
    assert service["ProcSubset"] == ["pid"]
    service_lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert not any("TOKEN" in line for line in service_lines)
    assert "xoxb-" not in text


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    # Point the commands at a binary that exists here; everything else is verified as shipped.
    unit = tmp_path / "complaint-monitor.service"
    unit.write_text(
        UNIT.read_text().replace("/opt/complaint-monitor/.venv/bin/complaint-monitor", "/bin/true")
    )
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    problems = [
        line
        for line in result.stderr.splitlines()
        if "complaint-monitor.service" in line and "secrets.env" not in line
    ]
    assert result.returncode == 0 or not problems, result.stderr
    assert problems == [], result.stderr


def _directives(text: str) -> dict[str, list[str]]:
    """Key -> values of the uncommented lines of the unit."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_the_unit_shows_load_credential_as_the_alternative_for_each_secret() -> None:
    examples = [
        line.removeprefix("#")
        for line in UNIT.read_text().splitlines()
        if line.startswith("#LoadCredential=")
    ]
    assert examples, "LoadCredential= examples next to EnvironmentFile="
    for example in examples:
        name, _, path = example.removeprefix("LoadCredential=").partition(":")
        assert path.endswith(f"/{name}") and name.isupper()


CONFIG = {
    "brand": {"name": "Acme", "handles": ["acme"]},
    "slack": {"sink": "slack", "token_env": "SLACK_BOT_TOKEN", "channel": "C1"},
    "sources": [{"type": "jsonl", "path": "feed.jsonl"}],
}


def test_a_secret_is_read_from_the_credentials_directory_when_its_variable_is_unset(
    tmp_path: Path,
) -> None:
    """systemd's LoadCredential= puts each secret in $CREDENTIALS_DIRECTORY/<name>."""
    (tmp_path / "SLACK_BOT_TOKEN").write_text("xoxb-from-a-credential\n", encoding="utf-8")
    config = parse_config(CONFIG, env={"CREDENTIALS_DIRECTORY": str(tmp_path)})
    token = config.slack.secret("token")
    assert token is not None and token.get_secret_value() == "xoxb-from-a-credential"


def test_the_environment_variable_wins_over_a_credential(tmp_path: Path) -> None:
    (tmp_path / "SLACK_BOT_TOKEN").write_text("xoxb-credential", encoding="utf-8")
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path), "SLACK_BOT_TOKEN": "xoxb-environment"}
    token = parse_config(CONFIG, env=env).slack.secret("token")
    assert token is not None and token.get_secret_value() == "xoxb-environment"


@pytest.mark.parametrize("content", [None, "", "  \n"])
def test_no_credential_is_no_secret(tmp_path: Path, content: str | None) -> None:
    if content is not None:
        (tmp_path / "SLACK_BOT_TOKEN").write_text(content, encoding="utf-8")
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    config = parse_config(CONFIG, env=env, require_secrets=False)
    assert config.slack.secret("token") is None
