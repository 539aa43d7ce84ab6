"""Hacker News connector throughput, and its cost per page beyond the HTTP round trip.

Fills the fake Algolia API (tests/fakes/hackernews_api.py, a real HTTP server on 127.0.0.1) with
N comments (default 5,000; HTML text as HN sends it) and has the connector read them all in one
poll: pages of 100, read from the last page back (one extra request for the count), each comment
turned from HTML into plain text (BeautifulSoup), normalised, ordered, the cursor built. In the
same run, plain `requests` GETs the same pages and decodes the JSON: the round trip any client
pays. Each side runs `--repeat` times, interleaved; the median is reported.

    .venv/bin/python bench/hackernews_fetch.py [--items 5000] [--repeat 5]
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

from connectors.hackernews import HackerNewsConnector, HackerNewsSettings
from monitor.brand import BrandSettings
from monitor.clock import FakeClock
from tests.fakes.hackernews_api import FakeHackerNews

PAGE = 100
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
HTML = (
    "Acme&#x27;s support <i>never</i> answered my ticket {n}<p>I waited three weeks and "
    '<a href="https://acme.example/t/{n}" rel="nofollow">https://acme.example/t/{n}</a> '
    "still says <code>pending</code>.<p>Anyone else?"
)


def raw_pages(session: requests.Session, api_url: str, pages: int, floor: int) -> None:
    for page in range(pages):
        response = session.get(
            f"{api_url}/search_by_date",
            params={
                "query": "acme",
                "tags": "(story,comment)",
                "numericFilters": f"created_at_i>={floor}",
                "hitsPerPage": PAGE,
                "page": page,
            },
            timeout=10,
        )
        response.raise_for_status()
        assert response.json()["hits"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    clock = FakeClock(START)
    now = int(START.timestamp())

    with FakeHackerNews(clock=lambda: clock.now().timestamp(), reach=args.items) as hn:
        story = hn.add_story("Ask HN: Support tickets", created=now - args.items - 10)
        for n in range(args.items):
            hn.add_comment("", story=story, created=now - args.items + n, raw_html=HTML.format(n=n))
        settings = HackerNewsSettings.model_validate(
            {
                "type": "hackernews",
                "api_url": hn.api_url,
                "queries": ["acme"],
                "kinds": ["comment"],
                "hits_per_page": PAGE,
                "max_pages_per_poll": args.items // PAGE + 5,
                "max_posts_per_poll": args.items,
                "backfill_seconds": args.items + 3600,
            }
        )
        source = HackerNewsConnector(settings, BrandSettings(name="Acme", terms=["acme"]), clock)
        session = requests.Session()
        pages = -(-args.items // PAGE)
        floor = now - args.items - 3600

        ours: list[float] = []
        raw: list[float] = []
        posts = requests_made = 0
        for _ in range(args.repeat):
            before = len(hn.requests)
            started = time.perf_counter()
            result = source.poll(None)
            ours.append(time.perf_counter() - started)
            requests_made = len(hn.requests) - before
            posts = len(result.posts)
            started = time.perf_counter()
            raw_pages(session, hn.api_url, pages, floor)
            raw.append(time.perf_counter() - started)
        source.close()

    assert posts == args.items, posts
    ours_s, raw_s = statistics.median(ours), statistics.median(raw)
    raw_page = raw_s / pages
    beyond = ours_s - raw_page * requests_made  # our requests, each at the raw round trip
    print(f"items / pages                 {args.items} / {pages} ({requests_made} requests a poll)")
    print(f"connector poll                {args.items / ours_s:10.0f} items/s  ({ours_s:.3f} s)")
    print(f"raw requests + json           {args.items / raw_s:10.0f} items/s  ({raw_s:.3f} s)")
    print(f"round trip per page (raw)     {raw_page * 1000:10.2f} ms")
    print(f"cost per page beyond it       {beyond / pages * 1000:10.2f} ms")
    print(f"cost per item beyond it       {beyond / args.items * 1e6:10.1f} us")
    print(f"median of {args.repeat} interleaved runs each")


if __name__ == "__main__":
    main()
