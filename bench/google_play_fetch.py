"""Google Play connector throughput, and its cost per page beyond the HTTP round trip.

Fills a fake Android Publisher API (tests/fakes/google_play_api.py, a real HTTP server on
127.0.0.1) with N reviews (default 3,000, title and body, stars, device, app version) and has the
connector read them all in one first poll: pages of 100 through google-api-python-client with
``tokenPagination.nextPageToken`` (a service-account JWT traded for a token once, at the first
poll; not timed), each review turned into a post, normalised, ordered, the cursor built. In the
same run, plain `requests` GETs the same pages with the same bearer token and decodes the JSON:
the round trip any client pays. Each side runs `--repeat` times, interleaved; the median is
reported (bench/_fetch.py).

    .venv/bin/python bench/google_play_fetch.py [--items 3000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._fetch import interleaved, report
from connectors.google_play import GooglePlayConnector, GooglePlaySettings
from monitor.brand import BrandSettings
from monitor.clock import FakeClock
from tests.fakes.google_play_api import PACKAGE, FakeGooglePlay

PAGE = 100
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TEXT = "Order {n} never arrived and the app crashes at checkout, support won't answer"


def raw_pages(session: requests.Session, play: FakeGooglePlay, token: str, pages: int) -> None:
    url = f"{play.root_url}/androidpublisher/v3/applications/{PACKAGE}/reviews"
    params: dict[str, str | int] = {"maxResults": PAGE, "alt": "json"}
    for _ in range(pages):
        response = session.get(
            url, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        response.raise_for_status()
        page = response.json()
        params["token"] = page.get("tokenPagination", {}).get("nextPageToken", "")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=3_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    clock = FakeClock(START)

    with (
        FakeGooglePlay(clock=lambda: clock.now().timestamp()) as play,
        tempfile.TemporaryDirectory() as tmp,
    ):
        for n in range(args.items):
            play.review(TEXT.format(n=n), title="Broken", rating=1 + n % 5)
        pages = -(-args.items // PAGE)
        settings = GooglePlaySettings.model_validate(
            {
                "type": "google_play",
                "service_account_file": str(play.service_account(Path(tmp) / "key.json")),
                "apps": [{"package_name": PACKAGE, "console_app_id": "4972000000000000001"}],
                "developer_id": "5550001111222233334",
                "api_endpoint": f"{play.root_url}/",
                "page_size": PAGE,
                "max_pages_per_poll": min(100, pages + 1),
            }
        )
        source = GooglePlayConnector(settings, BrandSettings(name="Acme", terms=["acme"]), clock)
        source.check_credentials()  # the token exchange, once, before the timing
        (token,) = play.tokens
        session = requests.Session()

        runs = interleaved(
            args.repeat,
            poll=lambda: len(source.poll(None).posts),
            raw=lambda: raw_pages(session, play, token, pages),
            served=lambda: len(play.requests),
        )
        source.close()

    report(args.items, pages, runs)


if __name__ == "__main__":
    main()
