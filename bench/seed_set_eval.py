"""How far the shipped seed set carries the learned model, before and beside a team's labels.

The seed set (`monitor/classifier/seed/seed_posts.csv`, written for this project) is imported as
feedback into a throwaway state directory, a model is trained with the project's own commands
(`feedback import`, `train --force`), and each dev set is scored with `complaint-monitor eval`:
the scorer alone (`--scorer-only`) and the scorer plus the model learned from the seed set only.
Nothing of the dev sets is learned from: the zero-shot figure issue 17 item 2b asks for.

With `--with-first-half`, each dev set is also measured the way a team would use it: the first
half of the file (the rows `eval --holdout-fraction 0.5` learns from) is imported as feedback,
alone and beside the seed set, and `eval --config` judges the rest (it leaves out every row the
model learned from). The halves are written only to the throwaway directory.

    .venv/bin/python bench/seed_set_eval.py                     # about 1 min on 2 cores
    .venv/bin/python bench/seed_set_eval.py --with-first-half   # about 7 min
    .venv/bin/python bench/seed_set_eval.py --data ../shared/data --keep DIR

`train --force` is used so the figures always describe the model named, even where `train` would
not promote it on its own (each `train` report, printed first, says whether it would have).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.classifier.evaluation import read_labeled_csv

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "monitor" / "classifier" / "seed" / "seed_posts.csv"
DEV_SETS = ("customer_service_uva2015.csv", "airline_sentiment_2015.csv")
CONFIG = """\
[daemon]
state_dir = "{state}"

[brand]
name = "Seed"
handles = ["seed"]

[slack]
sink = "console"

[[sources]]
type = "jsonl"
name = "feed"
path = "{feed}"
interval_seconds = 60
"""


def command() -> list[str]:
    """The installed entry point beside this interpreter, else the package run as a module."""
    script = Path(sys.executable).with_name("complaint-monitor")
    return [str(script)] if script.exists() else [sys.executable, "-m", "monitor.cli"]


def run(*argv: str) -> dict[str, Any]:
    """One CLI call; its JSON report, or the process's own error when it failed."""
    done = subprocess.run([*command(), *argv], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:2])} failed ({done.returncode}): {done.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout) if done.stdout.strip() else {}
    return report


def trained_state(work: Path, name: str, feedback: list[Path]) -> Path:
    """A fresh state directory holding a model trained on `feedback`; returns its config."""
    directory = work / name
    directory.mkdir()
    feed = directory / "feed.jsonl"
    feed.touch()
    config = directory / "monitor.toml"
    config.write_text(CONFIG.format(state=directory / "state", feed=feed), encoding="utf-8")
    for path in feedback:
        run("feedback", "import", str(path), "-c", str(config))
    report = run("train", "--force", "-c", str(config))
    figures = {key: report[key] for key in ("examples", "complaints", "beats_scorer", "promoted")}
    print(f"train [{name}]: {json.dumps(figures)}")
    return config


def halves(path: Path, work: Path) -> tuple[Path, Path]:
    """The rows `eval --holdout-fraction 0.5` learns from and judges on, as text,label files."""
    rows = read_labeled_csv(path, strict=True).rows
    cut = round(len(rows) * 0.5)
    written: list[Path] = []
    for part, chunk in (("first", rows[:cut]), ("second", rows[cut:])):
        out = work / f"{part}-half-{path.name}"
        with out.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows((row.text, row.label) for row in chunk)
        written.append(out)
    return written[0], written[1]


def line(data: str, what: str, got: dict[str, Any]) -> None:
    print(
        f"{data:<40} {what:<34} {got['n']:>6} {got['precision']:>9.3f} {got['recall']:>7.3f} "
        f"{got['macro_f1']:>8.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--seed", type=Path, default=SEED)
    parser.add_argument("--with-first-half", action="store_true")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="seed-eval-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        seeded = trained_state(work, "seed", [args.seed])
        results: list[tuple[str, str, dict[str, Any]]] = []
        for name in DEV_SETS:
            path = args.data / name
            if not path.exists():
                print(f"{name}: missing under {args.data}, skipped")
                continue
            results.append(
                (name, "scorer only", run("eval", str(path), "-c", str(seeded), "--scorer-only"))
            )
            results.append((name, "scorer + seed model", run("eval", str(path), "-c", str(seeded))))
            if args.with_first_half:
                first, second = halves(path, work)
                stem = Path(name).stem
                alone = trained_state(work, f"half-{stem}", [first])
                both = trained_state(work, f"seed-and-half-{stem}", [args.seed, first])
                judged = f"{stem} (2nd half)"
                for what, config, extra in (
                    ("scorer only", seeded, ["--scorer-only"]),
                    ("scorer + seed model", seeded, []),
                    ("scorer + first-half model", alone, []),
                    ("scorer + seed & first-half model", both, []),
                ):
                    results.append(
                        (judged, what, run("eval", str(second), "-c", str(config), *extra))
                    )
        heading = ("data set", "classifier", "n", "precision", "recall", "macro_f1")
        print("{:<40} {:<34} {:>6} {:>9} {:>7} {:>8}".format(*heading))
        for data, what, got in results:
            line(data, what, got)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
