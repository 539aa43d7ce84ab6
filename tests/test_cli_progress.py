"""Issue 12: long commands show progress on stderr (a bar on a terminal, a log line every few
seconds elsewhere) and their standard output stays exactly what it was.

The real commands run: `monitor.cli.main([...])` with stderr captured (not a terminal), and
`python -m monitor eval` with its stderr on a real pseudo-terminal.
"""

from __future__ import annotations

import fcntl
import io
import json
import logging
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pytest

from monitor.cli import main, progress
from monitor.cli.progress import Progress
from monitor.models import LabeledRow
from tests.classifier.feedback_data import team_feedback, write_csv
from tests.factories import config_file

ROOT = Path(__file__).resolve().parent.parent


def many_rows(count: int) -> list[LabeledRow]:
    rows = team_feedback()
    return [
        LabeledRow(f"{rows[n % len(rows)].text} #{n}", rows[n % len(rows)].label)
        for n in range(count)
    ]


def progress_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if " INFO monitor.progress: " in line]


def test_feedback_import_logs_progress_when_stderr_is_no_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "LOG_EVERY_SECONDS", 0.02)
    config = str(config_file(tmp_path))
    labels = write_csv(tmp_path / "labels.csv", many_rows(3000))

    assert main(["feedback", "import", str(labels), "-c", config]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["added"] == 3000, "stdout is the report, and only the report"
    lines = progress_lines(err)
    assert lines, err
    assert re.search(r"feedback import: storing 3,000 rows: working, 00:0\d so far$", lines[0])
    assert re.search(r"feedback import: storing 3,000 rows: done in 00:\d\d$", lines[-1])


def test_train_logs_progress_while_the_model_is_fitted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fitting is one call into scikit-learn: the lines say how long it has been working."""
    monkeypatch.setattr(progress, "LOG_EVERY_SECONDS", 0.02)
    config = str(config_file(tmp_path))
    labels = write_csv(tmp_path / "labels.csv", team_feedback()[::3])
    assert main(["feedback", "import", str(labels), "-c", config]) == 0
    capsys.readouterr()

    assert main(["train", "-c", config]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["promoted"] in (True, False)
    lines = progress_lines(err)
    assert len(lines) >= 2, err
    assert all("train: fitting a model on the feedback: " in line for line in lines)
    assert lines[-1].endswith(tuple(f"done in 00:{s:02d}" for s in range(60)))


def test_a_short_command_adds_no_progress_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """At the default interval (5 s), an import of ten rows writes what it always wrote."""
    config = str(config_file(tmp_path))
    labels = write_csv(tmp_path / "labels.csv", team_feedback()[:10])
    assert main(["feedback", "import", str(labels), "-c", config]) == 0
    err = capsys.readouterr().err
    assert progress_lines(err) == []


def test_a_log_line_says_how_far_how_fast_and_how_long_is_left(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="monitor.progress")
    with Progress("eval", total=400, stream=io.StringIO(), every=0.01) as bar:
        bar.advance(100)
        deadline = 50
        while not caplog.records and deadline:
            deadline -= 1
            bar._stop.wait(0.01)
    line = caplog.records[0].getMessage()
    assert re.fullmatch(r"eval: 100/400 rows \(25%\), [\d.]+ rows/s, about \d\d:\d\d left", line)
    assert caplog.records[-1].getMessage().startswith("eval: done, 100 rows in 00:0")


def eval_output(csv: Path, stderr: int) -> tuple[dict[str, object], bytes]:
    """`python -m monitor eval CSV`: stdout from a pipe, stderr to `stderr`."""
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "eval", str(csv)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=os.environ | {"PYTHONPATH": str(ROOT), "COLUMNS": "100"},
    )
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 0
    report = json.loads(out)
    report.pop("posts_per_second")
    return report, out


def test_on_a_terminal_a_bar_is_drawn_on_stderr_and_stdout_is_unchanged(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "labels.csv", many_rows(3000))
    piped, _ = eval_output(csv, subprocess.DEVNULL)

    main_end, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    drawn = bytearray()

    def read_screen() -> None:
        while True:
            try:
                chunk = os.read(main_end, 65536)
            except OSError:  # EIO: the terminal's other side closed
                return
            if not chunk:
                return
            drawn.extend(chunk)

    reader = threading.Thread(target=read_screen)
    reader.start()
    try:
        on_terminal, raw_out = eval_output(csv, terminal)
    finally:
        os.close(terminal)
        reader.join(timeout=10)
        os.close(main_end)

    assert on_terminal == piped, "the report is the same with and without a terminal"
    assert b"\r" not in raw_out and b"rows/s" not in raw_out, "nothing of the bar on stdout"
    screen = bytes(drawn).decode("utf-8", "replace")
    assert "eval:" in screen and "/3000" in screen and "rows" in screen, screen
    assert "\r" in screen, "redrawn in place"
