"""What progress reporting costs `eval`: the same rows scored bare, counted for log lines (stderr
not a terminal), and drawn as a tqdm bar on a real pseudo-terminal, in one process.

    .venv/bin/python bench/progress_overhead.py [FILE.csv] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import os
import pty
import threading
import time
import timeit
from pathlib import Path

from monitor.classifier import Classifier
from monitor.classifier.evaluation import evaluate, read_labeled_csv
from monitor.classifier.settings import ClassifierSettings
from monitor.cli.learn import _Counted
from monitor.cli.progress import Progress

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared/data/airline_sentiment_2015.csv"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("file", nargs="?", default=str(DEFAULT))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows = read_labeled_csv(args.file).rows
    classifier = Classifier(ClassifierSettings())
    main_end, terminal_fd = pty.openpty()
    terminal = os.fdopen(terminal_fd, "w")
    threading.Thread(target=_drain, args=(main_end,), daemon=True).start()

    def bare() -> None:
        evaluate(classifier, rows)

    def logged() -> None:
        with Progress("eval", total=len(rows), stream=io.StringIO()) as progress:
            evaluate(_Counted(classifier, progress), rows)

    def drawn() -> None:
        with Progress("eval", total=len(rows), stream=terminal) as progress:
            evaluate(_Counted(classifier, progress), rows)

    bare()  # warm-up: first-call costs (caches, lazy imports) land on no one
    best: dict[str, float] = {}
    runs = [("bare", bare), ("log lines", logged), ("tqdm bar", drawn)]
    for round_ in range(args.rounds):  # interleaved and rotated: no variant is always first
        for name, run in runs[round_ % 3 :] + runs[: round_ % 3]:
            started = time.perf_counter()
            run()
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - started)
    print(f"{len(rows):,} rows, best of {args.rounds}")
    per_row = best["bare"] / len(rows) * 1e6
    for name, stream in (("log lines", io.StringIO()), ("tqdm bar", terminal)):
        with Progress("advance", total=10**6, stream=stream) as progress:
            cost = timeit.timeit(progress.advance, number=10**6)  # µs per call, as 10**6 calls
        print(f"  {name}: {cost:.3f} µs per row counted, {cost / per_row:.2%} of scoring a row")
    for name, seconds in sorted(best.items(), key=lambda item: item[0] != "bare"):
        ratio = seconds / best["bare"]
        print(f"  {name:<10} {seconds:6.2f} s  {len(rows) / seconds:8,.0f} rows/s  {ratio:.3f}x")


def _drain(fd: int) -> None:
    while True:
        try:
            if not os.read(fd, 65536):
                return
        except OSError:
            return


if __name__ == "__main__":
    main()
