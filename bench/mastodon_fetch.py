"""Mastodon connector throughput, and its cost per page beyond the HTTP round trip.

Fills a fake Mastodon instance (tests/fakes/mastodon_api.py, a real HTTP server on 127.0.0.1)
with N mentions (default 3,000; content HTML as Mastodon renders it, an h-card mention, a link)
and has the connector read them all from an empty stream in one poll: pages of 40 through
Mastodon.py with ``min_id``, each status turned from HTML into plain text (BeautifulSoup),
normalised, ordered, the cursor built. In the same run, plain `requests` GETs the same pages and
decodes the JSON: the round trip any client pays. Each side runs `--repeat` times, interleaved;
the median is reported (bench/_fetch.py).

    .venv/bin/python bench/mastodon_fetch.py [--items 3000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._fetch import interleaved, report
from connectors.mastodon import EMPTY, MastodonConnector, MastodonSettings
from monitor.brand import BrandSettings
from monitor.clock import FakeClock
from tests.fakes.mastodon_api import FakeMastodon

PAGE = 40
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TEXT = "@acme my order {n} never arrived & support won't answer\n\nsee https://acme.example/t/{n}"


def raw_pages(session: requests.Session, social: FakeMastodon, pages: int) -> None:
    newest = EMPTY
    for _ in range(pages):
        params: dict[str, str | int] = {"types[]": "mention", "min_id": newest, "limit": PAGE}
        response = session.get(
            f"{social.base_url}/api/v1/notifications",
            params=params,
            headers={"Authorization": f"Bearer {social.token}"},
            timeout=10,
        )
        response.raise_for_status()
        page = response.json()
        newest = max((item["id"] for item in page), key=lambda i: (len(i), i))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=3_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    clock = FakeClock(START)

    with FakeMastodon(clock=lambda: clock.now().timestamp()) as social:
        for n in range(args.items):
            social.mention(TEXT.format(n=n), remote="example.social")
        pages = -(-args.items // PAGE)
        settings = MastodonSettings.model_validate(
            {
                "type": "mastodon",
                "instances": [{"url": social.base_url, "name": "bench"}],
                "page_size": PAGE,
                "max_pages_per_poll": min(100, pages + 1),
            },
            context={"env": {"MASTODON_ACCESS_TOKEN": social.token}},
        )
        source = MastodonConnector(settings, BrandSettings(name="Acme", terms=["acme"]), clock)
        cursor = {"v": 1, "instances": {"bench": {"mentions": EMPTY}}}
        session = requests.Session()

        runs = interleaved(
            args.repeat,
            poll=lambda: len(source.poll(cursor).posts),
            raw=lambda: raw_pages(session, social, pages),
            served=lambda: len(social.requests),
        )
        source.close()

    report(args.items, pages, runs)


if __name__ == "__main__":
    main()
