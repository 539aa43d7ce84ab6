"""The seed set ships with the package: its shape, and that it never overlaps the test set.

A model trained on the seed set is judged on `invented_posts.csv`, so a text in both would be
graded on its own homework; texts are compared after folding case and whitespace.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from importlib import resources
from pathlib import Path

INVENTED = Path(__file__).with_name("invented_posts.csv")
COLUMNS = ["text", "label", "category"]


def normalised(text: str) -> str:
    return " ".join(text.lower().split())


def read(text: str) -> tuple[list[str] | None, list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    return (list(reader.fieldnames) if reader.fieldnames else None), rows


def seed() -> tuple[list[str] | None, list[dict[str, str]]]:
    """Read as an installed package reads it, so a wheel missing the file fails here too."""
    data = resources.files("monitor.classifier.seed").joinpath("seed_posts.csv")
    return read(data.read_text(encoding="utf-8"))


def test_the_seed_set_has_its_columns_labels_and_size() -> None:
    columns, rows = seed()
    assert columns == COLUMNS
    assert len(rows) >= 3000
    assert {row["label"] for row in rows} == {"0", "1"}
    assert all(row["text"].strip() and row["category"].strip() for row in rows)
    share = sum(row["label"] == "1" for row in rows) / len(rows)
    assert 0.35 <= share <= 0.60


def test_the_seed_set_has_no_duplicates() -> None:
    _, rows = seed()
    counts = Counter(normalised(row["text"]) for row in rows)
    assert [text for text, n in counts.items() if n > 1] == []


def test_every_category_of_the_test_set_is_in_the_seed_set_with_the_same_label() -> None:
    _, rows = seed()
    _, invented = read(INVENTED.read_text(encoding="utf-8"))
    seed_labels = {(row["category"], row["label"]) for row in rows}
    wanted = {(row["category"], row["label"]) for row in invented}
    assert wanted - seed_labels == set()
    # a category means one thing: all complaints or none
    by_category: dict[str, set[str]] = {}
    for row in rows:
        by_category.setdefault(row["category"], set()).add(row["label"])
    assert {category for category, labels in by_category.items() if len(labels) > 1} == set()


def test_no_text_is_in_both_the_seed_set_and_the_test_set() -> None:
    _, rows = seed()
    _, invented = read(INVENTED.read_text(encoding="utf-8"))
    shared = {normalised(row["text"]) for row in rows} & {normalised(r["text"]) for r in invented}
    assert shared == set()
