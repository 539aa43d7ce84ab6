"""`bench/history.py` at a small N, so CI notices when the benchmark behind the README's
history figures breaks (a store method renamed, a column added): it fills a history through the
pipeline, times every recurring operation and prints its table. Only that it runs and what it
prints are checked, never how long anything took."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_ADMIN_URL

ROOT = Path(__file__).resolve().parents[1]
OPERATIONS = (
    "claim (nothing due)",
    "storm detection",
    "escalation scan",
    "reminder scan",
    "digest",
    "stats --since 7d",
    "poll of 100 new posts",
)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_bench_history_fills_a_small_history_and_prints_its_table(
    backend: str, request: pytest.FixtureRequest
) -> None:
    if backend == "postgresql":
        request.getfixturevalue("postgres_url")  # skips, saying why, where no server answers
    command = [sys.executable, "bench/history.py", "--posts", "3000", "--per-day", "1000"]
    command += ["--database", backend, "--postgres-url", POSTGRES_ADMIN_URL]

    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)

    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"{backend}: 3,000 posts (2,000 bulk-inserted")
    header = next(line for line in lines if line.startswith("ms, median"))
    assert header.split()[-1] == backend
    for operation in OPERATIONS:  # each row: the operation, then its median in ms
        [row] = [line for line in lines if line.startswith(operation + " ")]
        assert re.fullmatch(r"[\d,]+\.\d", row.removeprefix(operation).strip()), row
    [purge] = [line for line in lines if line.startswith("purge of one day")]
    assert "(1,000 posts;" in purge  # the oldest day purged while polls ran, not FAILED


def test_bench_postgres_store_costs_stores_into_each_schema_variant(
    postgres_url: str,  # skips, saying why, where no server answers
) -> None:
    """Every variant's statements still name what the migrations create (an index renamed
    would stop the script), and each prints its figures; our own invented posts, not ../shared."""
    command = [sys.executable, "bench/postgres_store_costs.py", "--posts", "200", "--rounds", "1"]
    command += ["--texts", "tests/classifier/invented_posts.csv"]
    command += ["--database-url", POSTGRES_ADMIN_URL]

    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)

    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("store_poll on PostgreSQL, polls of 100, 200 posts")
    figures = [line for line in lines if re.search(r"\s[\d.]+\s+[\d.]+\s+([\d.]+|n/a)", line)]
    assert [line.split("  ")[1].strip() for line in figures[:1]] == ["as shipped"]
    assert len(figures) == 5, done.stdout
