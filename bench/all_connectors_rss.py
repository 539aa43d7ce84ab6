"""The daemon's memory with every connector enabled at once.

The parent process starts every fake platform and the fake Slack (tests/fakes/, real HTTP
servers on 127.0.0.1) and writes a config with one source of each type (x, reddit, jsonl,
hackernews, feed, mastodon, bluesky; configured as the contract suite's end-to-end run does,
tests/connectors/test_contract.py). A child process runs the daemon on it (`Daemon.prepare`,
SQLite, then `run_once` per poll: every source polled, every alert delivered to the fake Slack),
so the fakes' own memory is not counted. Before each poll the parent posts `--posts` complaints
on every platform. The child prints its RSS (``VmRSS`` from /proc/self/status) after its imports,
once the daemon is prepared and after each poll, and the peak (``resource.getrusage`` maxrss).

    .venv/bin/python bench/all_connectors_rss.py [--polls 5] [--posts 20] [--only jsonl ...]

`--only jsonl` gives the daemon without the platform connectors, to compare with.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config import load_config
from monitor.daemon import Daemon

COMPLAINT = "@acme still waiting on my refund for order {poll}-{{n}}, three weeks now"


def rss_mib() -> float:
    """This process's resident set now, in MiB."""
    return status_mib("VmRSS")


def peak_mib() -> float:
    """This process's peak resident set (Linux reports ru_maxrss in KiB), in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def status_mib(field: str) -> float:
    """A size from /proc/self/status (VmRSS: now, VmHWM: the peak), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def run_daemon(config: Path, polls: int) -> None:
    """The child: the daemon on `config`, one poll each time the parent says the posts are in."""
    print(f"after imports                 RSS {rss_mib():7.1f} MiB", flush=True)
    daemon = Daemon(load_config(config))
    daemon.prepare()
    print(f"daemon prepared               RSS {rss_mib():7.1f} MiB", flush=True)
    try:
        for n in range(1, polls + 1):
            sys.stdin.readline()
            healthy = daemon.run_once()
            sources = len(daemon.runners)
            label = f"poll {n} ({sources} sources, {'healthy' if healthy else 'A SOURCE FAILED'})"
            print(f"{label:<30}RSS {rss_mib():7.1f} MiB", flush=True)
        print(f"peak (getrusage maxrss)       RSS {peak_mib():7.1f} MiB", flush=True)
        print(f"peak (VmHWM)                  RSS {status_mib('VmHWM'):7.1f} MiB", flush=True)
    finally:
        daemon.close()


def run_fakes(polls: int, posts: int, only: list[str]) -> None:
    """The parent: the fakes, the config, the posts before each poll; the child does the rest."""
    from connectors import registry
    from monitor.clock import FakeClock
    from tests.connectors.test_contract import (
        AppStoreHarness,
        BlueskyHarness,
        FeedHarness,
        GooglePlayHarness,
        HackerNewsHarness,
        Harness,
        JsonlHarness,
        MastodonHarness,
        RedditHarness,
        XHarness,
    )
    from tests.factories import SLACK_TOKEN_ENV, config_file
    from tests.fakes.app_store_api import FakeAppStore, new_key
    from tests.fakes.bluesky_api import FakeBluesky
    from tests.fakes.feeds import FakeFeeds
    from tests.fakes.google_play_api import FakeGooglePlay
    from tests.fakes.hackernews_api import FakeHackerNews
    from tests.fakes.mastodon_api import FakeMastodon
    from tests.fakes.reddit_api import FakeReddit
    from tests.fakes.slack import FakeSlack
    from tests.fakes.x_api import FakeXApi

    clock = FakeClock(datetime.now(UTC))  # the harnesses' own connectors are not used
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        directory = Path(tmp)
        slack = stack.enter_context(FakeSlack())
        harnesses: dict[str, Harness] = {
            "bluesky": BlueskyHarness(stack.enter_context(FakeBluesky()), clock),
            "feed": FeedHarness(stack.enter_context(FakeFeeds()), clock),
            "hackernews": HackerNewsHarness(stack.enter_context(FakeHackerNews()), clock),
            "jsonl": JsonlHarness(directory),
            "mastodon": MastodonHarness(stack.enter_context(FakeMastodon()), clock),
            "reddit": RedditHarness(stack.enter_context(FakeReddit(page_size=100)), clock),
            "x": XHarness(stack.enter_context(FakeXApi()), clock),
            "google_play": GooglePlayHarness(
                stack.enter_context(FakeGooglePlay()), clock, directory
            ),
            "app_store": AppStoreHarness(
                stack.enter_context(FakeAppStore(new_key(directory / "AuthKey.p8").public_key())),
                clock,
                directory / "AuthKey.p8",
            ),
        }
        assert sorted(harnesses) == sorted(registry()), "a connector type is missing here"
        harnesses = {kind: h for kind, h in harnesses.items() if not only or kind in only}
        env = {SLACK_TOKEN_ENV: slack.token}
        sources: list[dict[str, Any]] = []
        for kind, harness in harnesses.items():
            harness.real_time = True  # the daemon runs on the system clock
            sources.append({"name": kind, **harness.source_table(env)})
        for source in sources:
            if source["type"] == "feed":
                source["platform"] = "feed"  # else it shares the fake Reddit posts' ids
        config = config_file(
            directory,
            slack_url=slack.base_url,
            database={"url": f"sqlite:///{directory / 'monitor.db'}"},
            brand={"terms": ["acme"]},
            sources=sources,
        )
        child = subprocess.Popen(
            [sys.executable, __file__, "--daemon", str(config), "--polls", str(polls)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ | env,
        )
        assert child.stdin is not None and child.stdout is not None
        for poll in range(1, polls + 1):
            _relay_until_ready(child.stdout)
            for harness in harnesses.values():
                harness.add(posts, COMPLAINT.format(poll=poll))
            child.stdin.write("go\n")
            child.stdin.flush()
        child.stdin.close()
        for line in child.stdout:
            print(line, end="")
        if child.wait() != 0:
            raise SystemExit(f"the daemon process failed ({child.returncode})")
        print(f"{len(slack.messages)} alerts delivered to the fake Slack ({polls} polls)")


def _relay_until_ready(lines: IO[str]) -> None:
    """Print the child's lines until it waits for the next poll's posts."""
    for line in lines:
        print(line, end="")
        if line.startswith(("daemon prepared", "poll ")):
            return
    raise SystemExit("the daemon process ended early")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--polls", type=int, default=5)
    parser.add_argument("--posts", type=int, default=20, help="new posts per platform per poll")
    parser.add_argument(
        "--only", action="append", default=[], help="this source type only (repeatable)"
    )
    parser.add_argument("--daemon", type=Path, help=argparse.SUPPRESS)  # the child's config
    args = parser.parse_args()
    if args.daemon is not None:
        run_daemon(args.daemon, args.polls)
    else:
        run_fakes(args.polls, args.posts, args.only)


if __name__ == "__main__":
    main()
