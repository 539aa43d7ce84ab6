"""App Store connector throughput, and its cost per page beyond the HTTP round trip.

Fills a fake App Store Connect API (tests/fakes/app_store_api.py, a real HTTP server on
127.0.0.1 that verifies every ES256 token) with N reviews (default 3,000, a title and a body
each) and has the connector read them all in one first poll: pages of 200 followed by
``links.next``, each review turned into a post, normalised, ordered, the cursor's window built.
In the same run, plain `requests` GETs the same pages (the same token) and decodes the JSON: the
round trip any client pays. Each side runs `--repeat` times, interleaved; the median is reported
(bench/_fetch.py). The fake's token check (an ECDSA verify per request) is on both sides.

    .venv/bin/python bench/app_store_fetch.py [--items 3000] [--repeat 5]
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
from connectors.app_store import FIELDS, AppStoreConnector, AppStoreSettings
from monitor.brand import BrandSettings
from monitor.clock import FakeClock
from tests.fakes.app_store_api import APP_ID, ISSUER_ID, KEY_ID, FakeAppStore, new_key

PAGE = 200
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BODY = (
    "Since the last update acme logs me out every time I open it, order {n} is stuck and "
    "support never answers. Fix it please, it used to work fine."
)


def raw_pages(session: requests.Session, store: FakeAppStore, token: str) -> None:
    url: str | None = f"{store.base_url}/v1/apps/{APP_ID}/customerReviews"
    params: dict[str, str | int] | None = {
        "sort": "-createdDate",
        "limit": PAGE,
        "fields[customerReviews]": FIELDS,
    }
    while url:
        response = session.get(
            url, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        response.raise_for_status()
        url, params = response.json()["links"].get("next"), None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=3_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    clock = FakeClock(START)
    now = START.timestamp()

    with tempfile.TemporaryDirectory() as directory:
        key_file = Path(directory) / f"AuthKey_{KEY_ID}.p8"
        public_key = new_key(key_file).public_key()
        with FakeAppStore(public_key, clock=lambda: clock.now().timestamp()) as store:
            for n in range(args.items):  # one a minute, the newest now
                created = now - (args.items - n) * 60
                store.review(APP_ID, f"Broken since update {n}", BODY.format(n=n), created=created)
            pages = -(-args.items // PAGE)
            settings = AppStoreSettings.model_validate(
                {
                    "type": "app_store",
                    "app_ids": [APP_ID],
                    "issuer_id": ISSUER_ID,
                    "key_id": KEY_ID,
                    "private_key_path": str(key_file),
                    "api_url": store.base_url,
                    "page_size": PAGE,
                    "max_pages_per_poll": min(100, pages + 1),
                    "backfill_seconds": args.items * 60 + 3600,
                }
            )
            source = AppStoreConnector(settings, BrandSettings(name="Acme", terms=["acme"]), clock)
            token = source.signer.bearer()
            session = requests.Session()

            runs = interleaved(
                args.repeat,
                poll=lambda: len(source.poll(None).posts),
                raw=lambda: raw_pages(session, store, token),
                served=lambda: len(store.requests),
            )
            source.close()

    report(args.items, pages, runs)


if __name__ == "__main__":
    main()
