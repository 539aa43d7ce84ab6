"""What X's pay-per-use reads cost a month for the example configuration's X source, at a given
number of brand mentions a day.

The X source of config/monitor.example.toml (mentions of @acme, the search
`(acme OR "acme air") -is:retweet lang:en`, no monthly_budget) reads the fake X API
(tests/fakes/x_api.py, a real HTTP server on 127.0.0.1, which bills as X does: each post and
each user once per UTC day) through the real connector for a simulated November (30 days,
injected clock; a poll every `--poll-minutes`, the traffic spread evenly over the day).

Traffic model (stated, not measured): half the brand mentions address @acme, half only name
the brand; authors are drawn at random from a pool of `--pool` x (mentions a day) people, so
about 63% of a day's posts (pool 1.0) come from an author not yet read that day. Prices: the
defaults (0.005 a post read, 0.010 a user read, X's published prices in August 2026).

Prints, per rate: posts and users billed, the month's cost (the connector's count, checked
against the fake's own bill), the projection `status` showed on the 15th, and the cost a day.

    .venv/bin/python bench/x_spend.py [--per-day 200 2000] [--poll-minutes 60] [--budget 50]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.x import XConnector, XSettings, spend_report
from monitor.brand import BrandSettings
from monitor.clock import FakeClock
from tests.fakes.x_api import FakeXApi

BRAND = BrandSettings(name="Acme", handles=["acme"], terms=["acme", "acme air"])
EXAMPLE_SOURCE = {  # config/monitor.example.toml's [[sources]] type = "x"
    "type": "x",
    "name": "x",
    "mentions_username": "acme",
    "searches": ['(acme OR "acme air") -is:retweet lang:en'],
    "interval_seconds": 60,
    "backfill_seconds": 3600,
}
START = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 30


def run(per_day: int, poll_minutes: int, pool: float, budget: float | None) -> dict[str, Any]:
    clock = FakeClock(START)
    rng = random.Random(per_day)
    with FakeXApi(clock=lambda: clock.now().timestamp()) as x:
        x.add_user("acme")
        authors = [x.add_user(f"person{n}") for n in range(max(1, round(per_day * pool)))]
        raw = {
            **EXAMPLE_SOURCE,
            "api_base_url": x.base_url,
            "interval_seconds": poll_minutes * 60,
            "max_pages_per_poll": 100,
        }
        if budget is not None:
            raw["monthly_budget"] = budget
        settings = XSettings.model_validate(raw, context={"env": {"X_BEARER_TOKEN": "t"}})
        x.bearer_token = "t"
        source = XConnector(settings, BRAND, clock)
        cursor: dict[str, Any] | None = None
        polls = DAYS * 24 * 60 // poll_minutes
        per_poll = per_day * poll_minutes / (24 * 60)
        owed = 0.0
        mid_month: float | None = None
        n = 0
        last = clock.now()
        for _ in range(polls):
            owed += per_poll
            while owed >= 1:
                owed -= 1
                author = rng.choice(authors)
                text = "@acme my order {n} never came" if n % 2 else "acme lost my order {n}"
                x.post(text.format(n=n), author=str(author))
                n += 1
            clock.advance(poll_minutes * 60)
            if clock.now() >= START + timedelta(days=DAYS):
                break
            result = source.poll(cursor)
            cursor = json.loads(json.dumps(result.cursor))
            last = clock.now()
            _forget_read(x, clock.now())
            if mid_month is None and clock.now() >= START + timedelta(days=15):
                mid_month = spend_report(settings, cursor, clock.now()).projected
        report = spend_report(settings, cursor, last)
        billed = x.cost()
        source.close()
    return {
        "mentions_per_day": per_day,
        "posts_billed": report.post_reads,
        "users_billed": report.user_reads,
        "month_cost": round(report.spent, 2),
        "fake_x_bill": round(billed, 2),
        "projected_on_15th": round(mid_month or 0.0, 2),
        "cost_per_day": round(report.spent / DAYS, 2),
        "budget": budget,
    }


def _forget_read(x: FakeXApi, now: datetime) -> None:
    """Posts older than two days are never asked for again here; dropping them keeps the
    fake's scans short over a month of traffic."""
    horizon = (now - timedelta(days=2)).timestamp()
    with x._lock:
        for tweet_id in [t.id for t in x.tweets.values() if t.created < horizon]:
            del x.tweets[tweet_id]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-day", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--poll-minutes", type=int, default=60)
    parser.add_argument("--pool", type=float, default=1.0, help="authors per daily mention")
    parser.add_argument("--budget", type=float, default=None, help="monthly_budget to set")
    args = parser.parse_args()
    print(
        "example X source, simulated 30-day month, prices 0.005/post 0.010/user, "
        f"poll every {args.poll_minutes} min, author pool {args.pool} x mentions a day"
    )
    for per_day in args.per_day:
        print(json.dumps(run(per_day, args.poll_minutes, args.pool, args.budget)))


if __name__ == "__main__":
    main()
