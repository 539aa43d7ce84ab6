"""What the metrics cost the pipeline: the same work with and without them, in the same run.

Two daemons on two copies of one generated JSONL feed (SQLite each, one fake Slack): one feeds
its `Metrics` (the poll, error and delivery callbacks, and a /metrics scrape after every round,
far more often than Prometheus' 15 s), the other has the callbacks removed. They take turns, a
round each (poll `--lines` posts, deliver the alerts), the order swapping every round so neither
always runs on a warmer cache. Prints each side's time, the ratio (goal: under 1.05), and the
cost of one callback and of one scrape on their own.

    .venv/bin/python bench/metrics.py [--posts 20000] [--lines 500] [--complaint-share 0.1]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.pipeline import generate
from monitor.clock import SystemClock
from monitor.config import parse_config
from monitor.daemon import Daemon
from monitor.delivery import DeliveryReport
from monitor.metrics import Metrics
from monitor.pipeline import PollReport
from monitor.web.ops import Ops
from tests.fakes.slack import FakeSlack


def build(directory: Path, feed: Path, slack: FakeSlack, lines: int, with_metrics: bool) -> Daemon:
    directory.mkdir()
    config = parse_config(
        {
            "daemon": {"state_dir": str(directory)},
            "brand": {"name": "Acme", "handles": ["acme", "acmehelp"]},
            "slack": {
                "sink": "slack",
                "token_env": "BENCH_TOKEN",
                "channel": "C1",
                "base_url": slack.base_url,
            },
            "sources": [{"type": "jsonl", "path": str(feed), "max_lines_per_poll": lines}],
        },
        env={"BENCH_TOKEN": slack.token},
    )
    daemon = Daemon(config, clock=SystemClock())
    daemon.prepare()
    if not with_metrics:  # the callbacks are optional: this is the daemon without metrics
        for runner in daemon.runners:
            runner.on_poll = runner.on_error = None
        daemon.deliverer.on_report = None
    return daemon


def ops_for(daemon: Daemon) -> Ops:
    return Ops(
        metrics=daemon.metrics,
        heartbeat=daemon.heartbeat,
        database=daemon.database,
        outbox=daemon.storage.outbox,
        alerts=daemon.storage.alerts,
        runners=daemon.runners,
        clock=daemon.clock,
        outbox_max_age=900,
    )


def round_of(daemon: Daemon, ops: Ops | None) -> tuple[float, bool]:
    """One poll and the deliveries it made due; seconds taken, and whether there is more."""
    started = time.perf_counter()
    (runner,) = daemon.runners
    report = runner.poll()
    daemon.deliver()
    if ops is not None:
        ops.scrape()
    return time.perf_counter() - started, report is not None and report.more


def callback_costs(calls: int) -> tuple[float, float]:
    """Microseconds per `Metrics.polled` (each poll) and per `Metrics.delivered` (each
    delivery round, here with 50 alerts sent)."""
    metrics = Metrics(SystemClock())
    report = PollReport("feed", 500, 0, 0, 10, 490, 49, True, 0.5, platform="x", flagged=45)
    started = time.perf_counter()
    for _ in range(calls):
        metrics.polled(report)
    polled = (time.perf_counter() - started) / calls * 1e6
    delivery = DeliveryReport(sent=50, sent_latencies=[30.0] * 50)
    started = time.perf_counter()
    for _ in range(calls // 10):
        metrics.delivered(delivery)
    return polled, (time.perf_counter() - started) / (calls // 10) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--lines", type=int, default=500, help="posts read per poll")
    parser.add_argument("--complaint-share", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as slack:
        root = Path(tmp)
        feed = root / "mentions.jsonl"
        generate(feed, args.posts, args.complaint_share, random.Random(args.seed), [])
        with_metrics = build(root / "with", feed, slack, args.lines, True)
        without = build(root / "without", feed, slack, args.lines, False)
        ops = ops_for(with_metrics)
        times: dict[bool, list[float]] = {True: [], False: []}
        more = {True: True, False: True}
        turn = 0
        while more[True] or more[False]:
            order = (True, False) if turn % 2 == 0 else (False, True)
            for measured in order:
                if more[measured]:
                    daemon = with_metrics if measured else without
                    seconds, more[measured] = round_of(daemon, ops if measured else None)
                    times[measured].append(seconds)
            turn += 1
        scrape_started = time.perf_counter()
        for _ in range(20):
            text = ops.scrape()
        scrape_ms = (time.perf_counter() - scrape_started) / 20 * 1000
        sent = len(slack.messages)
        with_metrics.close()
        without.close()

    total_with, total_without = sum(times[True]), sum(times[False])
    polled_us, delivered_us = callback_costs(100_000)
    rounds = len(times[True])
    # per round: one poll, at most a few delivery rounds (3 counted), one scrape
    accounted = rounds * ((polled_us + 3 * delivered_us) / 1e6 + scrape_ms / 1000)
    paired = [w / o for w, o in zip(times[True], times[False], strict=False) if o > 0]
    print(f"posts per daemon               {args.posts} ({args.lines} per poll, {turn} rounds)")
    print(f"alerts delivered (both)        {sent}")
    for label, total in (("with metrics   ", total_with), ("without metrics", total_without)):
        print(f"{label}                {total:8.2f} s  ({args.posts / total:.0f} posts/s)")
    print(f"ratio with / without           {total_with / total_without:8.3f}  (goal < 1.05)")
    print(f"median ratio of paired rounds  {statistics.median(paired):8.3f}")
    print(f"one Metrics.polled call        {polled_us:8.1f} µs")
    print(f"one Metrics.delivered call     {delivered_us:8.1f} µs (50 alerts)")
    print(f"one /metrics scrape            {scrape_ms:8.1f} ms ({len(text)} bytes of text)")
    print(
        f"accounted cost                 {accounted:8.3f} s = {accounted / total_without:.2%} "
        f"of the run (callbacks and a scrape per round, timed alone)"
    )


if __name__ == "__main__":
    main()
