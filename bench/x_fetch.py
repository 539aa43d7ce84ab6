"""X connector throughput, and its cost per page beyond the HTTP round trip.

The fake X API (tests/fakes/x_api.py, a real HTTP server on 127.0.0.1) serves N mentions
(default 10,000) in pages of 100. In one run:

1. connector: `XConnector.fetch` reads them all (tweepy over a socket, parse, normalize);
2. raw HTTP: the same requests (same URLs, tokens, headers) replayed with a plain
   `requests.Session`, body read but not decoded: the HTTP round trip alone;
3. stored: the same posts through the daemon's pipeline into SQLite (fetch, dedup, brand
   match, classify, store posts + verdicts + alerts + cursor in one transaction per poll).

Connector overhead per page = (1) - (2) per page; medians of `--rounds` alternating runs.

    .venv/bin/python bench/x_fetch.py [--posts 10000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.x import XConnector, XSettings
from monitor.brand import BrandSettings
from monitor.clock import SystemClock
from monitor.config import parse_config
from monitor.daemon import Daemon
from tests.fakes.x_api import FakeXApi

TEXTS = [
    "@acme still waiting on my refund for order {n}, three weeks now",
    "Thanks @acme, sorted out in five minutes. Great service! {n}",
    "@acme does the summer sale include order {n}?",
    "@acme you charged me twice for order {n} and nobody answers",
]
PAGE = 100


def fill(x: FakeXApi, posts: int) -> str:
    """Authors and posts; returns the seed post every run starts after."""
    for n in range(50):
        x.add_user(f"user{n}", followers=n * 37)
    x.add_user("acme")
    seed = x.post("@acme hello", author="user0")
    for n in range(posts):
        x.post(TEXTS[n % len(TEXTS)].format(n=n), author=f"user{n % 50}")
    return seed


def connector_run(x: FakeXApi, posts: int, cursor: dict[str, Any]) -> tuple[float, int, int]:
    settings = XSettings.model_validate(
        {
            "type": "x",
            "api_base_url": x.base_url,
            "mentions_username": "acme",
            "searches": [],
            "page_size": PAGE,
            "max_pages_per_poll": 100,
        },
        context={"env": {"X_BEARER_TOKEN": x.bearer_token}},
    )
    connector = XConnector(settings, BrandSettings(name="Acme"), SystemClock())
    first_request = len(x.requests)
    fetched = 0
    started = time.perf_counter()
    while True:
        result = connector.poll(cursor)
        fetched += len(result.posts)
        cursor = result.cursor
        if not result.more:
            break
    seconds = time.perf_counter() - started
    connector.close()
    pages = len(x.requests) - first_request
    assert fetched == posts, (fetched, posts)
    return seconds, pages, first_request


def raw_run(x: FakeXApi, first_request: int, pages: int) -> tuple[float, float]:
    """Replay the connector's requests: HTTP alone, and the JSON decode on its own."""
    replay = x.requests[first_request : first_request + pages]
    session = requests.Session()
    headers = {"Authorization": f"Bearer {x.bearer_token}"}
    session.get(x.base_url + "/2/users/by/username/acme", headers=headers)  # connect
    bodies = []
    started = time.perf_counter()
    for request in replay:
        response = session.get(x.base_url + request.path, params=request.params, headers=headers)
        bodies.append(response.content)
        assert response.status_code == 200
    http_seconds = time.perf_counter() - started
    session.close()
    decode_started = time.perf_counter()
    for body in bodies:
        json.loads(body)
    return http_seconds, time.perf_counter() - decode_started


def stored_run(x: FakeXApi, posts: int, seed: str, tmp: str) -> float:
    config = parse_config(
        {
            "brand": {"name": "Acme", "handles": ["acme"], "terms": ["acme"]},
            "database": {"url": f"sqlite:///{tmp}/bench.db"},
            "daemon": {"state_dir": tmp},
            "slack": {"sink": "console"},
            "sources": [
                {
                    "type": "x",
                    "api_base_url": x.base_url,
                    "bearer_token_env": "BENCH_X_TOKEN",
                    "mentions_username": "acme",
                    "searches": [],
                    "page_size": PAGE,
                    "max_pages_per_poll": 10,
                }
            ],
        },
        env={"BENCH_X_TOKEN": x.bearer_token},
    )
    daemon = Daemon(config, clock=SystemClock())
    daemon.prepare()
    (runner,) = daemon.runners
    seed_cursor = {"v": 1, "queries": {"mentions:@acme": {"since_id": seed}}}
    daemon.storage.posts.store_poll(
        source="x", platform="x", new_posts=[], cursor=seed_cursor, now=SystemClock().now()
    )
    started = time.perf_counter()
    stored = 0
    while (report := runner.poll()) is not None:
        stored += report.stored
        if not report.more:
            break
    seconds = time.perf_counter() - started
    daemon.close()
    assert stored == posts, (stored, posts)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with FakeXApi() as x, tempfile.TemporaryDirectory() as tmp:
        seed = fill(x, args.posts)
        cursor = {
            "v": 1,
            "user": {"username": "acme", "id": x.user_id("acme")},  # no lookup in the timing
            "queries": {"mentions:@acme": {"since_id": seed}},
        }
        fetch_times: list[float] = []
        http_times: list[float] = []
        decode_times: list[float] = []
        pages = 0
        for _ in range(args.rounds):
            seconds, pages, first = connector_run(x, args.posts, cursor)
            http, decode = raw_run(x, first, pages)
            fetch_times.append(seconds)
            http_times.append(http)
            decode_times.append(decode)
        stored_seconds = stored_run(x, args.posts, seed, tmp)

    fetch = statistics.median(fetch_times)
    http = statistics.median(http_times)
    decode = statistics.median(decode_times)
    per_page = 1000 / pages
    print(f"posts {args.posts} in {pages} pages of {PAGE}; medians of {args.rounds} rounds")
    print(f"connector fetch        {args.posts / fetch:10.0f} posts/s  ", end="")
    print(f"{fetch * per_page:7.2f} ms/page")
    print(
        f"raw HTTP round trip    {args.posts / http:10.0f} posts/s  {http * per_page:7.2f} ms/page"
    )
    print(
        f"connector overhead                          {(fetch - http) * per_page:7.2f} ms/page "
        f"(of which json decode {decode * per_page:.2f} ms)"
    )
    print(
        f"fetched and stored     {args.posts / stored_seconds:10.0f} posts/s  "
        f"{stored_seconds * per_page:7.2f} ms/page (pipeline: classify + SQLite, 10 pages/poll)"
    )


if __name__ == "__main__":
    main()
