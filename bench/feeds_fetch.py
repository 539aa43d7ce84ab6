"""Feeds connector throughput, its cost per feed beyond the HTTP round trip, and a 304's cost.

Serves F Reddit-style Atom feeds of 100 entries each (default 20, Reddit's largest page; HTML
content as Reddit sends it) from the fake feed server (tests/fakes/feeds.py, a real HTTP server on
127.0.0.1) and has one connector read them all in one poll: conditional GET, feedparser, the
post's own text out of Reddit's HTML (BeautifulSoup), keys, ordering, the cursor. In the same
run, plain `requests` GETs the same feeds: the round trip any client pays. Then the poll that
follows, where every feed answers 304. Each side runs `--repeat` times, interleaved; the median
is reported.

    .venv/bin/python bench/feeds_fetch.py [--feeds 20] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.feeds import FeedConnector, FeedSettings
from monitor.brand import BrandSettings
from monitor.clock import FakeClock
from tests.fakes.feeds import FakeFeeds

ENTRIES = 100
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TEXT = "Acme charged me twice for order {n}.\n\nSupport never answers, day {n} of waiting."


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    clock = FakeClock(START)
    now = START.timestamp()

    with FakeFeeds(clock=lambda: clock.now().timestamp()) as fake:
        urls = []
        for f in range(args.feeds):
            path = f"/r/sub{f}/new/.rss"
            urls.append(fake.feed(path, "reddit", f"newest submissions : sub{f}") + "?limit=100")
            for n in range(ENTRIES):
                fake.add(path, f"Acme problem {f}-{n}", TEXT.format(n=n), published=now - 3600 + n)
        settings = FeedSettings.model_validate(
            {
                "type": "feed",
                "urls": urls,
                "platform": "reddit",
                "max_posts_per_poll": args.feeds * ENTRIES,
            }
        )
        source = FeedConnector(settings, BrandSettings(name="Acme", terms=["acme"]), clock)
        session = requests.Session()

        ours: list[float] = []
        raw: list[float] = []
        unchanged: list[float] = []
        posts = 0
        for _ in range(args.repeat):
            started = time.perf_counter()
            result = source.poll(None)
            ours.append(time.perf_counter() - started)
            posts = len(result.posts)
            started = time.perf_counter()
            again = source.poll(result.cursor)
            unchanged.append(time.perf_counter() - started)
            assert again.posts == []
            started = time.perf_counter()
            for url in urls:
                response = session.get(url, timeout=10)
                response.raise_for_status()
                assert response.content
            raw.append(time.perf_counter() - started)
        source.close()

    items = args.feeds * ENTRIES
    assert posts == items, posts
    ours_s, raw_s, same_s = (statistics.median(v) for v in (ours, raw, unchanged))
    print(f"feeds / entries               {args.feeds} / {items}")
    print(f"connector poll                {items / ours_s:10.0f} items/s  ({ours_s:.3f} s)")
    print(f"raw requests (bytes only)     {items / raw_s:10.0f} items/s  ({raw_s:.3f} s)")
    print(f"round trip per feed (raw)     {raw_s / args.feeds * 1000:10.2f} ms")
    print(f"cost per feed beyond it       {(ours_s - raw_s) / args.feeds * 1000:10.2f} ms")
    print(f"cost per item beyond it       {(ours_s - raw_s) / items * 1e6:10.1f} us")
    print(f"poll when every feed is 304   {same_s / args.feeds * 1000:10.2f} ms per feed")
    print(f"median of {args.repeat} interleaved runs each")


if __name__ == "__main__":
    main()
