"""Issue 15, item 19: bad input on the command line ends with a message, never a traceback.

Each test runs the real command line: `monitor.cli.main([...])`, and for the broken pipe a real
`python -m monitor` whose reader closes early.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.cli import main
from tests.factories import config_file

ROOT = Path(__file__).resolve().parent.parent


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exit:  # argparse's usage errors
        code = int(exit.code or 0)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.mark.parametrize("command", ["stats", "replay"])
@pytest.mark.parametrize("age", ["999999999d", "99999999999999d", "1e400w", "999999999w"])
def test_item_19_an_enormous_since_is_a_message_or_everything_never_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, age: str
) -> None:
    config = config_file(tmp_path)
    assert main(["db", "upgrade", "-c", str(config)]) == 0  # stats/replay never create one
    code, out, err = run(capsys, command, "--since", age, "-c", str(config))
    if code == 0:  # as far back as there is: everything
        assert out
    else:
        assert code == 2
        assert "--since" in err
        assert "is too long a duration" in err or "is not a duration" in err


def test_item_19_since_everything_counts_old_posts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_file(tmp_path)
    assert main(["db", "upgrade", "-c", str(config)]) == 0  # stats never creates one
    code, out, _ = run(capsys, "stats", "--since", "999999999d", "-c", str(config))
    assert code == 0
    assert isinstance(json.loads(out), dict)


def test_item_19_a_reader_that_closes_early_gets_no_traceback(tmp_path: Path) -> None:
    """`complaint-monitor ... | head -c 10`: far more output than a pipe holds, the reader
    leaves after 10 bytes; the writer stops quietly."""
    texts = [f"@acme text number {n} is here" for n in range(3000)]  # ~700 kB of JSON
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "classify", *texts],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.read(10) == b'{"text": "'
    process.stdout.close()  # the reader leaves
    err = process.stderr.read().decode()
    code = process.wait(timeout=60)
    assert "Traceback" not in err
    assert "BrokenPipeError" not in err
    assert "Exception ignored" not in err
    assert code == 1


def test_item_19_classify_an_empty_text_is_a_clear_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "classify", "@acme fine", "  ")
    assert code == 2
    assert out == ""
    assert "text 2 is empty" in err


def csv_file(path: Path, rows: list[tuple[str, str]]) -> Path:
    lines = ["text,label", *(f'"{text}",{label}' for text, label in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


WORDS = [
    ("@acme my refund never came", "TRUE"),
    ("@acme love the new app", "false"),
    ("@acme the app crashes every time", "Yes"),
    ("@acme thanks for the quick fix", "no"),
    ("@acme charged twice, nobody answers", "complaint"),
    ("@acme great support today", "Not"),
    ("@acme still waiting for my parcel", "1"),
    ("@acme nice update", "0"),
]


def test_item_19_label_words_are_accepted_by_eval_and_feedback_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = csv_file(tmp_path / "words.csv", WORDS)
    code, out, _ = run(capsys, "eval", str(path))
    assert code == 0
    result = json.loads(out)
    assert result["n"] == 8
    assert result["tp"] + result["fn"] == 4  # four complaints, whichever words said so

    config = config_file(tmp_path)
    code, out, _ = run(capsys, "feedback", "import", str(path), "-c", str(config))
    assert code == 0
    report = json.loads(out)
    assert report["added"] == 8
    assert report["feedback_complaints"] == 4


@pytest.mark.parametrize("command", ["eval", "feedback"])
def test_item_19_a_label_that_is_not_one_is_refused_with_its_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    path = csv_file(tmp_path / "bad.csv", [*WORDS[:3], ("@acme where is it", "maybe")])
    config = config_file(tmp_path)
    argv = ["eval", str(path)] if command == "eval" else ["feedback", "import", str(path)]
    code, out, err = run(capsys, *argv, "-c", str(config))
    assert code == 2
    assert out == ""
    assert "row 5" in err  # the header is row 1, as in a spreadsheet
    assert "'maybe'" in err


@pytest.mark.parametrize("command", ["eval", "feedback"])
def test_item_19_zero_usable_rows_exit_non_zero_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    path = tmp_path / "empty-texts.csv"
    path.write_text("text,label\n,1\n   ,0\n", encoding="utf-8")
    config = config_file(tmp_path)
    argv = ["eval", str(path)] if command == "eval" else ["feedback", "import", str(path)]
    code, out, err = run(capsys, *argv, "-c", str(config))
    assert code == 2
    assert out == ""
    assert "no usable rows" in err

    header_only = tmp_path / "header-only.csv"
    header_only.write_text("text,label\n", encoding="utf-8")
    argv[-1] = str(header_only)
    code, _, err = run(capsys, *argv, "-c", str(config))
    assert code == 2
    assert "no usable rows" in err
