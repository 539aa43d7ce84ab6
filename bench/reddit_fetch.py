"""Reddit connector throughput, and its cost per page beyond the HTTP round trip.

Fills the fake Reddit (tests/fakes/reddit_api.py, a real HTTP server on 127.0.0.1) with N posts
(default 10,000) in one subreddit and has the connector read them all in one fetch: pages of 100
through praw (token, bearer auth, ``after`` paging), then our per-item work (prefilter against the
brand's terms, normalization to `Post`, ordering, cursor). In the same run, plain `requests` GETs
the same pages with the same token and decodes the JSON: the round trip any client pays. The
difference per page is praw's objects plus ours. Each side runs `--repeat` times, interleaved;
the median is reported.

    .venv/bin/python bench/reddit_fetch.py [--items 10000] [--repeat 5]
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

from connectors.reddit import RedditConnector, RedditSettings
from monitor.brand import BrandSettings
from monitor.clock import FakeClock
from tests.fakes.reddit_api import BASE_CREATED, FakeReddit

PAGE = 100
USER_AGENT = "linux:com.acme.complaint-monitor.bench:0.1.0 (by u/acme_support)"
TEXTS = [
    "Acme charged me twice for order {n} and support never answers",
    "Is the acme app down for anyone else? ({n})",
    "acme refund still missing after three weeks, order {n}",
    "Thanks Acme, the replacement for {n} arrived quickly",
]


def connector(fake: FakeReddit, items: int, clock: FakeClock) -> RedditConnector:
    env = {"REDDIT_CLIENT_ID": fake.client_id, "REDDIT_CLIENT_SECRET": fake.client_secret}
    settings = RedditSettings.model_validate(
        {
            "type": "reddit",
            "user_agent": USER_AGENT,
            "oauth_url": fake.base_url,
            "reddit_url": fake.base_url,
            "subreddits": ["acme"],
            "include_comments": False,
            "search": False,
            "limit": items,
            "max_posts_per_poll": items,
            "lookback_seconds": 0,
            "backfill_seconds": items + 3600,
        },
        context={"env": env},
    )
    return RedditConnector(settings, BrandSettings(name="Acme", terms=["acme"]), clock)


def raw_pages(session: requests.Session, base_url: str, token: str) -> int:
    """The same requests praw makes, with nothing on top but JSON decoding."""
    after: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": PAGE, "raw_json": 1}
        if after:
            params["after"] = after
        response = session.get(
            f"{base_url}/r/acme/new",
            params=params,
            headers={"Authorization": f"bearer {token}"},
            timeout=10,
        )
        response.raise_for_status()
        data = response.json()["data"]
        pages += 1
        after = data["after"]
        if not after:
            return pages


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with FakeReddit(page_size=PAGE) as fake:
        for n in range(args.items):
            fake.add_post("acme", TEXTS[n % len(TEXTS)].format(n=n), "details " * 20)
        clock = FakeClock(datetime.fromtimestamp(BASE_CREATED + args.items + 60, UTC))
        source = connector(fake, args.items, clock)
        source.check_credentials()  # token fetched outside the timings
        token = next(iter(fake.tokens))
        session = requests.Session()
        expected_pages = -(-args.items // PAGE)

        ours: list[float] = []
        raw: list[float] = []
        posts = 0
        for _ in range(args.repeat):
            started = time.perf_counter()
            result = source.poll(None)
            ours.append(time.perf_counter() - started)
            posts = len(result.posts)
            started = time.perf_counter()
            pages = raw_pages(session, fake.base_url, token)
            raw.append(time.perf_counter() - started)
            assert pages == expected_pages, pages
        source.close()

    ours_s, raw_s = statistics.median(ours), statistics.median(raw)
    print(f"items / pages                 {args.items} / {expected_pages} (posts kept: {posts})")
    print(f"connector fetch (praw)        {args.items / ours_s:10.0f} items/s  ({ours_s:.3f} s)")
    print(f"raw requests + json           {args.items / raw_s:10.0f} items/s  ({raw_s:.3f} s)")
    print(f"round trip per page (raw)     {raw_s / expected_pages * 1000:10.2f} ms")
    print(f"overhead per page beyond it   {(ours_s - raw_s) / expected_pages * 1000:10.2f} ms")
    print(f"overhead per item             {(ours_s - raw_s) / args.items * 1e6:10.1f} us")
    print(f"median of {args.repeat} interleaved runs each")


if __name__ == "__main__":
    main()
