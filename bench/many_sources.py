"""Many slow sources at once: does every poll run, and does delivery keep up?

Runs the real `Daemon` and its scheduler (`Daemon.prepare` and `run_forever`, SQLite) over N
sources of a fake platform whose fetch takes `--latency` seconds (standing for the platform's
answer time) and returns a few new complaints each poll, created at random moments since the
previous poll, as a platform would show them. Alerts go to a notifier that records when each
arrives. After `--seconds` it stops the daemon and prints: polls run vs due, the warnings
(skipped polls and delivery rounds, missed runs, anything else), the post-created -> delivered
latency (p50/p95/max), and how long stopping took, or that the daemon did not stop.

    .venv/bin/python bench/many_sources.py [--sources 50] [--interval 5] [--latency 2] \
        [--seconds 60] [--posts-per-poll 3] [--poll-workers N]

The machine's other load shows in the figures (it has 2 cores): compare runs made side by side.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import math
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors import RegistryEntry, registry
from connectors.base import Connector, CursorState, Fetched, SourceSettings
from monitor.config import parse_config
from monitor.daemon import Daemon
from monitor.models import Alert, Author, Post
from monitor.notify import Delivered

STOP_LIMIT_SECONDS = 30.0
"""How long the bench waits for the daemon to stop (its own grace for work in flight is 8 s)."""

COMPLAINTS = (
    "@acme still waiting on my refund for order {n}, three weeks now",
    "@acme you charged me twice for order {n} and nobody answers",
    "@acmehelp where is my package {n}? tracking hasn't moved in 6 days",
    "worst experience with acme ever, cancelled order {n} and no refund",
)


class SlowSettings(SourceSettings):
    type: Literal["bench_slow"]
    latency_seconds: float = 2.0
    posts_per_poll: int = 3


@dataclass(frozen=True, slots=True)
class SlowCursor(CursorState):
    last_poll: float = 0.0
    """Wall-clock seconds of the previous fetch: new posts were written since then."""


class SlowPlatform(Connector[SlowSettings, SlowCursor]):
    """A platform that answers after `latency_seconds` with `posts_per_poll` new complaints."""

    kind: ClassVar[str] = "bench_slow"
    settings_class = SlowSettings
    cursor_class = SlowCursor
    ids = itertools.count(1)
    started: ClassVar[list[tuple[str, float]]] = []
    """(source, monotonic time) of every fetch."""

    def fetch(self, cursor: SlowCursor | None) -> Fetched[SlowCursor]:
        self.started.append((self.name, time.monotonic()))  # list.append is atomic
        asked = time.time()
        since = cursor.last_poll if cursor and cursor.last_poll else asked - 1.0
        time.sleep(self.settings.latency_seconds)
        posts = []
        for _ in range(self.settings.posts_per_poll):
            n = next(self.ids)
            created = datetime.fromtimestamp(random.uniform(since, asked), UTC)
            posts.append(
                Post(
                    platform="x",
                    external_id=f"bench-{n}",
                    author=Author(id=str(n), handle=f"customer{n}"),
                    text=random.choice(COMPLAINTS).format(n=n),
                    url=f"https://x.com/customer{n}/status/{n}",
                    created_at=created,
                    language="en",
                )
            )
        posts.sort(key=lambda post: post.created_at)
        return Fetched(posts, SlowCursor(last_poll=asked))


class RecordingNotifier:
    """Delivers instantly and records how long each alert took since its post was written."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self._lock = threading.Lock()
        self._ts = itertools.count(1)

    def send(self, alert: Alert, now: datetime) -> Delivered:
        latency = time.time() - alert.post.created_at.timestamp()
        with self._lock:
            self.latencies.append(latency)
            return Delivered("bench", str(next(self._ts)))

    def send_minimal(self, alert: Alert, now: datetime) -> Delivered:
        return self.send(alert, now)

    def find_existing(
        self, alert_id: int, channel: str | None, since: datetime
    ) -> Delivered | None:
        return None

    def notify(self, text: str) -> None:
        pass

    def check(self) -> str:
        return "bench recorder"

    def close(self) -> None:
        pass


class WarningCounter(logging.Handler):
    """Counts warnings by what they say (a skipped poll, a missed run, anything else)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.kinds: Counter[str] = Counter()
        self.samples: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "_deliver_job" in message and "skipped" in message:
            kind = f"skipped delivery round ({record.name})"
        elif "maximum number of running instances" in message or "skipped" in message:
            kind = f"skipped poll ({record.name})"
        elif "missed" in message:
            kind = "missed run"
        elif "slower than its interval" in message:
            kind = "slower than its interval"
        else:
            kind = "other"
        self.kinds[kind] += 1
        self.samples.setdefault(kind, message[:200])


def lingering_threads(before: set[threading.Thread], deadline: float) -> list[threading.Thread]:
    """Threads the daemon started that are still alive at `deadline` (monotonic): its worker
    threads are joined when the interpreter exits, so they would keep its process running."""
    while True:
        alive = [thread for thread in threading.enumerate() if thread not in before]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.1)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=50)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--posts-per-poll", type=int, default=3)
    parser.add_argument("--poll-workers", type=int, default=None, help="[daemon] poll_workers")
    args = parser.parse_args()

    # the fake platform is a source type for this process only (the registry is its cache)
    registry()["bench_slow"] = RegistryEntry("bench_slow", SlowPlatform)
    counter = WarningCounter()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().addHandler(counter)
    logging.getLogger().handlers[0].setLevel(logging.ERROR)  # the counter sees warnings

    with tempfile.TemporaryDirectory() as tmp:
        daemon_table: dict[str, Any] = {"state_dir": tmp}
        if args.poll_workers is not None:
            daemon_table["poll_workers"] = args.poll_workers
        config = parse_config(
            {
                "daemon": daemon_table,
                "brand": {"name": "Acme", "handles": ["acme", "acmehelp"]},
                "sources": [
                    {
                        "type": "bench_slow",
                        "name": f"slow{n:02d}",
                        "interval_seconds": args.interval,
                        "latency_seconds": args.latency,
                        "posts_per_poll": args.posts_per_poll,
                    }
                    for n in range(args.sources)
                ],
            }
        )
        notifier = RecordingNotifier()
        daemon = Daemon(config, notifier=notifier)
        daemon.prepare()
        stop = threading.Event()
        runner = threading.Thread(target=daemon.run_forever, args=(stop,), daemon=True)
        before = set(threading.enumerate())
        runner.start()
        time.sleep(args.seconds)
        stopping = time.monotonic()
        stop.set()
        runner.join(STOP_LIMIT_SECONDS)
        stop_seconds = time.monotonic() - stopping
        lingering = lingering_threads(before, stopping + STOP_LIMIT_SECONDS)
        stuck = runner.is_alive() or bool(lingering)
        since = datetime.now(UTC) - timedelta(days=1)
        alerts_by_status = daemon.storage.reports.stats(since)["alerts_by_status"]
        daemon.close()

    per_source = math.ceil(args.seconds / args.interval)  # due at 0, interval, ... < seconds
    expected = per_source * args.sources
    before_stop = Counter(name for name, at in SlowPlatform.started if at < stopping)
    polls_run = sum(before_stop.values())
    latencies = notifier.latencies
    print(
        f"{args.sources} sources, every {args.interval:g}s, platform latency {args.latency:g}s, "
        f"{args.posts_per_poll} complaints/poll, run {args.seconds:g}s; "
        f"stopping took {stop_seconds:.1f}s"
    )
    if stuck:
        print(
            f"the daemon did NOT stop: {STOP_LIMIT_SECONDS:g}s after it was told to, "
            f"{len(lingering)} worker thread(s) still ran, which keeps the process from exiting"
        )
    fewest = min((before_stop[f"slow{n:02d}"] for n in range(args.sources)), default=0)
    print(
        f"polls run: {polls_run} of {expected} due ({100 * polls_run / expected:.0f}%); "
        f"fewest for one source: {fewest} of {per_source}"
    )
    for kind, count in sorted(counter.kinds.items()):
        print(f"warnings, {kind}: {count}  e.g. {counter.samples[kind]!r}")
    if not counter.kinds:
        print("warnings: none")
    if latencies:
        print(
            f"delivered: {len(latencies)} alerts; post created -> delivered: "
            f"p50 {statistics.median(latencies):.1f}s, p95 {percentile(latencies, 0.95):.1f}s, "
            f"max {max(latencies):.1f}s (goal: p95 < {2 * args.interval:g}s)"
        )
    else:
        print("delivered: none")
    print(f"alerts by status at stop: {alerts_by_status} (pending: stored after the last round)")
    if stuck:  # its worker threads would keep the interpreter from exiting
        sys.stdout.flush()
        os._exit(1)


if __name__ == "__main__":
    main()
