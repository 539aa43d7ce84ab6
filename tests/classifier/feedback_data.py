"""Labeled feedback for the learning tests: our own examples plus a brand-specific problem the
scorer cannot know about ("the hub is blinking orange" means the customer is offline)."""

from __future__ import annotations

import csv
from pathlib import Path

from monitor.classifier.evaluation import read_labeled_csv
from monitor.models import LabeledRow

EXAMPLES = Path(__file__).with_name("labeled_examples.csv")
SUBJECTS = ["hub", "router", "box", "home hub", "new hub", "hub upstairs", "modem", "the light"]
ENDINGS = ["", " again", " today", " since 9am", " all evening", " after the update"]
UNSEEN_COMPLAINT = "@acme the garage hub is blinking orange this afternoon"


def blinking_orange() -> list[LabeledRow]:
    """Complaints the scorer misses: it reads them as neutral statements (score 0.40)."""
    return [
        LabeledRow(f"@acme {subject} is blinking orange{ending}", 1)
        for subject in SUBJECTS
        for ending in ENDINGS
    ]


def team_feedback() -> list[LabeledRow]:
    return list(read_labeled_csv(EXAMPLES).rows) + blinking_orange()


def write_csv(path: Path, rows: list[LabeledRow]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "label"])
        for number, row in enumerate(rows):
            writer.writerow([f"t{number}", row.text, row.label])
    return path
