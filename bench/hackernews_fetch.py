"""Hacker News connector throughput, and its cost per page beyond the HTTP round trip.

Fills the fake Algolia API (tests/fakes/hackernews_api.py, a real HTTP server on 127.0.0.1) with
N comments (default 5,000; HTML text as HN sends it) and has the connector read them all in one
poll: pages of 100, read from the last page back (one extra request for the count), each comment
turned from HTML into plain text (BeautifulSoup), normalised, ordered, the cursor built. In the
same run, plain `requests` GETs the same pages and decodes the JSON: the round trip any client
pays. Each side runs `--repeat` times, interleaved; the median is reported (bench/_fetch.py).

    .venv/bin/python bench/hackernews_fetch.py [--items 5000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._fetch import interleaved, report
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

        runs = interleaved(
            args.repeat,
            poll=lambda: len(source.poll(None).posts),
            raw=lambda: raw_pages(session, hn.api_url, pages, floor),
            served=lambda: len(hn.requests),
        )
        source.close()

    report(args.items, pages, runs)


if __name__ == "__main__":
    main()
