"""Bluesky connector throughput, and its cost per page beyond the HTTP round trip.

Fills the fake Bluesky AppView (tests/fakes/bluesky_api.py, a real HTTP server on 127.0.0.1)
with N posts (default 3,000, one a second) and has the connector read them all in one poll:
``app.bsky.feed.searchPosts`` for the brand's term, pages of 100 through `atproto`'s typed
models, each post normalised, deduplicated by AT URI, ordered, the cursor built. The login
(``createSession``) happens once, in an untimed poll first, as the session lives as long as the
connector. In the same run, plain `requests` GETs the same pages with the same access token and
decodes the JSON: the round trip any client pays. Each side runs `--repeat` times, interleaved;
the median is reported (bench/_fetch.py).

    .venv/bin/python bench/bluesky_fetch.py [--items 3000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._fetch import interleaved, report
from connectors.bluesky import BlueskyConnector, BlueskySettings
from monitor.brand import BrandSettings
from monitor.clock import FakeClock
from tests.fakes.bluesky_api import FakeBluesky

PAGE = 100
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TEXT = "acme charged my card twice for order {n} and support won't answer, see acme.example/t/{n}"


def raw_pages(session: requests.Session, bsky: FakeBluesky, since: str, token: str) -> None:
    params: dict[str, str | int] = {"q": "acme", "sort": "latest", "since": since, "limit": PAGE}
    while True:
        response = session.get(
            f"{bsky.base_url}/xrpc/app.bsky.feed.searchPosts",
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        response.raise_for_status()
        page = response.json()
        assert page["posts"]
        if "cursor" not in page:
            return
        params["cursor"] = page["cursor"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=3_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    clock = FakeClock(START)
    now = START.timestamp()
    pages = -(-args.items // PAGE)

    with FakeBluesky(clock=lambda: clock.now().timestamp()) as bsky:
        bsky.limit = 1_000_000  # the budget is not what is measured
        for n in range(args.items):
            bsky.add_post(TEXT.format(n=n), created=now - args.items + n)
        backfill = args.items + 600
        settings = BlueskySettings.model_validate(
            {
                "type": "bluesky",
                "service_url": bsky.base_url,
                "queries": ["acme"],
                "mentions": False,
                "page_size": PAGE,
                "max_pages_per_poll": min(100, pages + 1),
                "max_posts_per_poll": args.items,
                "backfill_seconds": backfill,
            },
            context={"env": {"BLUESKY_HANDLE": bsky.handle, "BLUESKY_APP_PASSWORD": bsky.password}},
        )
        source = BlueskyConnector(settings, BrandSettings(name="Acme", terms=["acme"]), clock)
        source.poll(None)  # logs in: once per connector, not per poll
        login = requests.post(
            f"{bsky.base_url}/xrpc/com.atproto.server.createSession",
            json={"identifier": bsky.handle, "password": bsky.password},
            timeout=10,
        )
        login.raise_for_status()
        token = login.json()["accessJwt"]
        since = (
            datetime.fromtimestamp(now - backfill, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )
        session = requests.Session()
        runs = interleaved(
            args.repeat,
            poll=lambda: len(source.poll(None).posts),
            raw=lambda: raw_pages(session, bsky, since, token),
            served=lambda: len(bsky.requests),
        )
        source.close()

    report(args.items, pages, runs)


if __name__ == "__main__":
    main()
