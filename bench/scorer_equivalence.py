"""Does an optimised scorer still give every verdict it gave before? Save, change, compare.

A speed-up of the rule scorer must not move a single verdict: this scores every text of the
given CSVs (by default the shared dev sets and the project's labelled examples) under two
configurations (default settings; a brand with handles, names, configured phrases, star
ratings, reach and unsupported languages, through `classify_many`), and writes one JSON line
per post: label, score rounded to 1e-9, severity, sentiment and every reason. Keep the output
outside the repository (it derives from the shared data, which the project may not ship).

    .venv/bin/python bench/scorer_equivalence.py --save /tmp/scorer_before.jsonl
    .venv/bin/python bench/scorer_equivalence.py --check /tmp/scorer_before.jsonl
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.brand import BrandSettings
from monitor.classifier import Classifier
from monitor.classifier.settings import ClassifierSettings
from monitor.models import Verdict

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILES = [
    *sorted((ROOT.parent / "shared" / "data").glob("*.csv")),
    ROOT / "tests" / "classifier" / "labeled_examples.csv",
    ROOT / "tests" / "classifier" / "invented_posts.csv",
]
BRAND = BrandSettings(
    name="Acme",
    handles=["AmericanAir", "united", "SouthwestAir", "JetBlue", "VirginAmerica", "acme"],
    terms=["american airlines", "united", "verizon", "comcast", "acme app", "delta"],
)
EXTRA = {"rip off": 1.2, "love it": -0.7, "on hold": 0.3, "@united": 0.4}
RATINGS: list[int | None] = [None, 1, 2, 3, 4, 5, None]
LANGUAGES: list[str | None] = [None, "en", "en-GB", "fr", "und", None, "EN_us"]


def texts(paths: list[Path]) -> list[str]:
    found: list[str] = []
    for path in paths:
        with path.open(encoding="utf-8", errors="replace", newline="") as handle:
            found.extend(row["text"] for row in csv.DictReader(handle))
    return found


def _line(config: str, number: int, verdict: Verdict) -> str:
    return json.dumps(
        [
            config,
            number,
            verdict.label.value,
            round(verdict.score, 9),
            verdict.severity.value,
            {k: round(v, 9) for k, v in sorted(verdict.sentiment.items())},
            [[r.cue, round(r.weight, 9), r.detail] for r in verdict.reasons],
        ],
        ensure_ascii=False,
    )


def verdict_lines(posts: list[str]) -> Iterator[str]:
    plain = Classifier(ClassifierSettings())
    for number, text in enumerate(posts):
        yield _line("default", number, plain.classify(text))
    branded = Classifier(ClassifierSettings(extra_cues=EXTRA), BRAND)
    batch = 50
    for start in range(0, len(posts), batch):
        part = posts[start : start + batch]
        numbers = range(start, start + len(part))
        verdicts = branded.classify_many(
            part,
            languages=[LANGUAGES[n % len(LANGUAGES)] for n in numbers],
            followers=[(n * 7919) % 30_000 if n % 3 else None for n in numbers],
            vips=[n % 17 == 0 for n in numbers],
            ratings=[RATINGS[n % len(RATINGS)] for n in numbers],
        )
        for number, verdict in zip(numbers, verdicts, strict=True):
            yield _line("brand", number, verdict)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--save", type=Path, help="write the verdicts here")
    group.add_argument("--check", type=Path, help="compare with verdicts saved earlier")
    parser.add_argument("files", nargs="*", type=Path, help="CSVs with a text column")
    args = parser.parse_args(argv)
    posts = texts(args.files or [p for p in DEFAULT_FILES if p.exists()])
    lines = list(verdict_lines(posts))
    if args.save:
        args.save.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"saved {len(lines)} verdicts of {len(posts)} posts to {args.save}")
        return 0
    saved = args.check.read_text(encoding="utf-8").splitlines()
    differing = [(a, b) for a, b in zip(saved, lines, strict=False) if a != b]
    if len(saved) != len(lines):
        print(f"{len(saved)} saved verdicts, {len(lines)} now", file=sys.stderr)
    for before, after in differing[:10]:
        print(f"- {before}\n+ {after}", file=sys.stderr)
    if differing or len(saved) != len(lines):
        print(f"{len(differing)} of {len(lines)} verdicts differ", file=sys.stderr)
        return 1
    print(f"all {len(lines)} verdicts identical")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
