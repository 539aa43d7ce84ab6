"""Timing shared by the bench/<platform>_fetch.py scripts.

Each script fills its platform's fake (a real HTTP server on 127.0.0.1) and gives two callables:
one poll of the connector, and plain `requests` GETs of the same pages with the JSON decoded (the
round trip any client pays). They run `repeat` times, interleaved, and the medians are reported
the same way for every platform: items/s, the raw round trip per page, and what the connector
costs per page and per item beyond it (its requests counted at the raw round trip each).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Runs:
    ours: list[float]
    """Seconds per connector poll."""
    raw: list[float]
    """Seconds per raw read of the same pages."""
    posts: int
    """Posts the last poll returned."""
    requests: int
    """Requests the last poll made."""


def interleaved(
    repeat: int, poll: Callable[[], int], raw: Callable[[], None], served: Callable[[], int]
) -> Runs:
    """`poll` (returns its post count) and `raw` timed `repeat` times each, alternately;
    `served` is the fake's request count so far."""
    ours: list[float] = []
    raws: list[float] = []
    posts = requests_made = 0
    for _ in range(repeat):
        before = served()
        started = time.perf_counter()
        posts = poll()
        ours.append(time.perf_counter() - started)
        requests_made = served() - before
        started = time.perf_counter()
        raw()
        raws.append(time.perf_counter() - started)
    return Runs(ours, raws, posts, requests_made)


def report(items: int, pages: int, runs: Runs) -> None:
    """Print the medians; fails if the poll did not return every item."""
    assert runs.posts == items, runs.posts
    ours_s, raw_s = statistics.median(runs.ours), statistics.median(runs.raw)
    raw_page = raw_s / pages
    beyond = ours_s - raw_page * runs.requests  # our requests, each at the raw round trip
    print(f"items / pages                 {items} / {pages} ({runs.requests} requests a poll)")
    print(f"connector poll                {items / ours_s:10.0f} items/s  ({ours_s:.3f} s)")
    print(f"raw requests + json           {items / raw_s:10.0f} items/s  ({raw_s:.3f} s)")
    print(f"round trip per page (raw)     {raw_page * 1000:10.2f} ms")
    print(f"cost per page beyond it       {beyond / pages * 1000:10.2f} ms")
    print(f"cost per item beyond it       {beyond / items * 1e6:10.1f} us")
    print(f"median of {len(runs.ours)} interleaved runs each")
