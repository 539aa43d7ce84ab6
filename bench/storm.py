"""A storm of complaints against Slack's rate limit: how long until the last one is visible?

Runs the real daemon (scheduler, JSONL source, pipeline, SQLite, storms, deliverer, slack-sdk)
against the fake Slack with its per-channel posting limit on (about one message a second, a
burst of 3; beyond it Slack answers 429). N outage complaints (default 1,000) arrive at once
(or spread over --spread seconds); the bench prints when the last one became visible in Slack
and the worst lag between a complaint arriving and Slack showing it. The issue's bar: never
more than a minute behind.

    .venv/bin/python bench/storm.py [--complaints 1000] [--spread 0] [--rate 1.0]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config import parse_config
from monitor.daemon import Daemon
from tests.fakes.slack import FakeSlack

OUTAGES = [
    "@acme site is down again, can't log in ({n})",
    "@acme your website is not loading at all ({n})",
    "@acme getting a 502 on checkout, can't pay ({n})",
    "@acme is the app down? nothing loads ({n})",
    "@acme down again?! I need my boarding pass ({n})",
]


def visible_times(slack: FakeSlack) -> dict[int, float]:
    """alert id → monotonic time its message appeared (on its own or in a storm reply)."""
    seen: dict[int, float] = {}
    for message in list(slack.messages):
        metadata = message.get("metadata") or {}
        payload = metadata.get("event_payload") or {}
        at = slack.message_times.get(message["ts"])
        if at is None:
            continue
        if metadata.get("event_type") == "complaint_alert":
            seen.setdefault(int(payload["alert_id"]), at)
        elif metadata.get("event_type") == "complaint_storm_reply":
            for raw in str(payload.get("alert_ids") or "").split(","):
                if raw:
                    seen.setdefault(int(raw), at)
    return seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--complaints", type=int, default=1000)
    parser.add_argument("--spread", type=float, default=0.0, help="seconds the storm lasts")
    parser.add_argument("--rate", type=float, default=1.0, help="Slack posts/s/channel")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # "skipped: job still running"

    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as slack:
        slack.rate_limit_per_second = args.rate
        slack.rate_limit_burst = 3
        feed = Path(tmp) / "feed.jsonl"
        feed.touch()
        data: dict[str, Any] = {
            "daemon": {"state_dir": tmp, "deliver_interval_seconds": 1, "log_level": "WARNING"},
            "brand": {"name": "Acme", "handles": ["acme"]},
            "slack": {
                "sink": "slack",
                "token_env": "BENCH_TOKEN",
                "channel": "C1",
                "base_url": slack.base_url,
                "storms": {
                    "enabled": True,
                    "threshold": 10,
                    "window_minutes": 10,
                    "topics": {"outage": ["down", "not loading", "502"]},
                    "seconds_between_posts": 1.0 / args.rate,
                },
            },
            "sources": [
                {"type": "jsonl", "name": "storm", "path": str(feed), "interval_seconds": 1}
            ],
        }
        config = parse_config(data, env={"BENCH_TOKEN": slack.token})
        daemon = Daemon(config)
        daemon.prepare()
        stop = threading.Event()
        runner = threading.Thread(target=daemon.run_forever, args=(stop,), daemon=True)
        runner.start()

        arrived: dict[int, float] = {}
        started = time.monotonic()
        with feed.open("a", encoding="utf-8") as handle:
            for n in range(args.complaints):
                if args.spread:
                    time.sleep(
                        max(0.0, started + args.spread * n / args.complaints - time.monotonic())
                    )
                line = {
                    "id": str(n),
                    "platform": "x",
                    "author": f"user{n}",
                    "text": OUTAGES[n % len(OUTAGES)].format(n=n),
                    "lang": "en",
                }
                handle.write(json.dumps(line) + "\n")
                handle.flush()
                arrived[n + 1] = time.monotonic()  # alert ids follow the feed's order
        deadline = started + args.timeout
        seen: dict[int, float] = {}
        while time.monotonic() < deadline:
            seen = visible_times(slack)
            if len(seen) >= args.complaints:
                break
            time.sleep(0.2)
        stop.set()
        runner.join(timeout=15)
        daemon.close()

        last = max(seen.values()) - started if seen else float("nan")
        lags = [seen[i] - arrived[i] for i in seen if i in arrived]
        statuses = slack.post_statuses
        top = [m for m in slack.messages if not m.get("thread_ts")]
        print(f"complaints:                 {args.complaints} (spread over {args.spread:g}s)")
        print(f"slack limit:                {args.rate:g} post/s/channel, burst 3")
        print(f"visible in slack:           {len(seen)}")
        print(f"time until the last visible: {last:.1f}s after the storm began")
        print(f"worst lag (arrival→visible): {max(lags):.1f}s" if lags else "worst lag: n/a")
        print(f"messages posted:            {len(slack.messages)} ({len(top)} top level)")
        print(f"chat.postMessage calls:     {len(statuses)}, 429 answers: {statuses.count(429)}")
        ok = len(seen) >= args.complaints and lags and max(lags) <= 60.0
        print("PASS: never more than a minute behind" if ok else "FAIL: fell behind")
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
