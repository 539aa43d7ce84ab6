"""Deliverer throughput against the fake Slack, with and without 429s.

Stores N complaints in the outbox (SQLite), then lets the deliverer send them through slack-sdk
over HTTP to the fake Slack; the second run has the fake answer every third call with 429 and
``Retry-After: 1``, which the deliverer must honour for that channel.

    .venv/bin/python bench/delivery.py [--alerts 1000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.clock import SystemClock
from monitor.config import parse_config
from monitor.delivery import Deliverer
from monitor.models import Author, Label, Post, Reason, Severity, Verdict
from monitor.slack.sink import SlackNotifier
from monitor.storage import Database, NewPost, Outbox, PostStore
from tests.fakes.slack import FakeSlack


def fill_outbox(store: PostStore, count: int) -> None:
    now = datetime.now(UTC)
    verdict = Verdict(Label.COMPLAINT, 0.9, Severity.MEDIUM, (Reason("refund", 1.1),), {}, "bench")
    posts = [
        NewPost(
            Post(
                "x",
                str(n),
                Author(str(n), f"user{n}"),
                f"@acme refund {n}",
                f"https://x.com/u/{n}",
                now,
            ),
            verdict,
            False,
            20,
        )
        for n in range(count)
    ]
    store.store_poll(source="bench", platform="x", new_posts=posts, cursor={}, now=now)


def run(count: int, rate_limit_every: int) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as slack:
        slack.rate_limit_every = rate_limit_every
        slack.rate_limit_retry_after = 1
        config = parse_config(
            {
                "brand": {"name": "Acme"},
                "sources": [{"type": "jsonl", "path": "unused"}],
                "slack": {
                    "sink": "slack",
                    "token_env": "T",
                    "channel": "C1",
                    "base_url": slack.base_url,
                },
            },
            env={"T": slack.token},
        )
        database = Database(f"sqlite:///{tmp}/bench.db")
        database.upgrade()
        fill_outbox(PostStore(database), count)
        deliverer = Deliverer(Outbox(database), SlackNotifier(config.slack), SystemClock())
        started = time.perf_counter()
        while len(slack.messages) < count:
            if not deliverer.deliver_due():
                time.sleep(0.05)
        seconds = time.perf_counter() - started
        copies = Counter(m["metadata"]["event_payload"]["alert_id"] for m in slack.messages)
        database.close()
        return seconds, len(copies), sum(c - 1 for c in copies.values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=1000)
    args = parser.parse_args()
    for label, every in (("no 429s", 0), ("429 on every 3rd call, Retry-After 1", 3)):
        seconds, delivered, duplicates = run(args.alerts, every)
        print(
            f"{label:38s} {args.alerts / seconds:8.1f} alerts/s  "
            f"({delivered} delivered, {duplicates} duplicates, {seconds:.1f}s)"
        )


if __name__ == "__main__":
    main()
