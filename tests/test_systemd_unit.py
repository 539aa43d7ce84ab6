"""The shipped unit is valid for systemd and hardened as the README promises."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

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
