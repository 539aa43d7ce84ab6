"""What one pass of the silence watch costs on four weeks of stored posts.

Fills a database with `--sources` sources posting `--per-hour` posts an hour (as stored rows, in
bulk) over the last 28 days, then times `SilenceWatch.check` (one grouped query over the posts'
`fetched_at` index, the rhythm learned in Python) and `status`'s per-source counts over 24 h.
Prints the median of `--repeat` runs of each. The daemon runs the check every 10 minutes.

    .venv/bin/python bench/silence_check.py [--sources 10] [--per-hour 20] [--repeat 5] \
        [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Default: SQLite in a temporary directory. On PostgreSQL the tables are created in a schema of
their own, dropped at the end. The machine's other load shows in the figures (2 cores).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _scratch import scratch_schema
from sqlalchemy import insert

from monitor.clock import FakeClock
from monitor.silence import SilenceSettings, SilenceWatch
from monitor.storage import Database, SourceStatus, Storage
from monitor.storage.tables import PostRow

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def fill(storage: Storage, sources: int, per_hour: int) -> int:
    rows = []
    start = NOW - timedelta(days=28)
    step = timedelta(hours=1) / per_hour
    for s in range(sources):
        source = f"source-{s}"
        moment = start
        n = 0
        while moment < NOW - timedelta(hours=s):  # source-s has been silent s hours
            rows.append(
                {
                    "platform": "x",
                    "external_id": f"{s}-{n}",
                    "source": source,
                    "author_id": "a",
                    "author_handle": "a",
                    "url": "https://x.com/a/status/1",
                    "text": "acme refund",
                    "extra": {},
                    "created_at": moment,
                    "fetched_at": moment + timedelta(seconds=30),
                }
            )
            moment += step
            n += 1
        storage.source_status.record(
            SourceStatus(source, "x", "ok", since=start, updated_by="bench"), NOW
        )
    with storage.database.session() as session:
        for chunk in range(0, len(rows), 5000):
            session.execute(insert(PostRow), rows[chunk : chunk + 5000])
    return len(rows)


def timed(action: object, repeat: int) -> float:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()  # type: ignore[operator]
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=10)
    parser.add_argument("--per-hour", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--url", help="a PostgreSQL URL (default: SQLite in a temporary file)")
    args = parser.parse_args()

    with contextlib.ExitStack() as opened:
        directory = opened.enter_context(tempfile.TemporaryDirectory())
        url = f"sqlite:///{directory}/monitor.db"
        if args.url:
            url = opened.enter_context(scratch_schema(args.url, "bench_silence"))
        database = Database(url)
        try:
            database.upgrade()
            storage = Storage(database)
            posts = fill(storage, args.sources, args.per_hour)
            notices: list[str] = []
            watch = SilenceWatch(
                storage.source_status,
                [f"source-{s}" for s in range(args.sources)],
                SilenceSettings(),
                FakeClock(NOW),
                notices.append,
            )
            check = timed(watch.check, args.repeat)
            activity = timed(lambda: storage.source_status.activity(NOW - timedelta(days=1)), 5)
            print(f"database: {database.display_url.split('?')[0]} ({database.engine.name})")
            print(f"posts stored: {posts:,} ({args.sources} sources, {args.per_hour}/hour, 28 d)")
            print(f"silence check, one pass: {check * 1000:.0f} ms (median of {args.repeat})")
            print(f"status, posts and alerts by source over 24 h: {activity * 1000:.0f} ms")
            print(f"notices on the first pass: {len(notices)} (sources silent 2 h or more)")
        finally:
            database.close()


if __name__ == "__main__":
    main()
