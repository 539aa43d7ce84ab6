"""A daemon wired to the fake Slack (Web API + Socket Mode) with a fake clock, for workflow tests.

Everything runs for real: the JSONL source, the pipeline, SQLite, the deliverer, slack_sdk's
WebClient and SocketModeClient over sockets to the fakes. Only time is injected.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from monitor.clock import FakeClock
from monitor.config import parse_config
from monitor.daemon import Daemon
from monitor.storage import Storage
from tests.fakes.slack import FakeSlack

TOKEN_ENV = "TEST_SLACK_TOKEN"
APP_TOKEN_ENV = "TEST_SLACK_APP_TOKEN"

REFUND = "@acme still waiting on my refund for order 48213, three weeks now"
OUTAGE = "@acme your site is down again, can't log in"


def wait_until(condition: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll a condition (a click is handled on another thread); fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.02)


class Harness:
    def __init__(
        self,
        tmp_path: Path,
        slack: FakeSlack,
        *,
        buttons: bool = True,
        slack_table: dict[str, Any] | None = None,
        brand: dict[str, Any] | None = None,
        clock: FakeClock | None = None,
        database_url: str | None = None,
    ) -> None:
        self.tmp_path = tmp_path
        self.slack = slack
        self.clock = clock or FakeClock()
        self.feed_path = tmp_path / "feed.jsonl"
        self.feed_path.touch()
        self._ids = 0
        table: dict[str, Any] = {
            "sink": "slack",
            "token_env": TOKEN_ENV,
            "app_token_env": APP_TOKEN_ENV,
            "channel": "C1",
            "base_url": slack.base_url,
            "timeout_seconds": 2,
            "storms": {"seconds_between_posts": 0},
        }
        table.update(slack_table or {})
        self.env = {TOKEN_ENV: slack.token}
        if buttons:
            self.env[APP_TOKEN_ENV] = slack.app_token
        self.data: dict[str, Any] = {
            "daemon": {"state_dir": str(tmp_path / "state")},
            "brand": {"name": "Acme", "handles": ["acme"], **(brand or {})},
            "slack": table,
            "sources": [{"type": "jsonl", "name": "feed", "path": str(self.feed_path)}],
        }
        if database_url is not None:
            self.data["database"] = {"url": database_url}
        self.config = parse_config(self.data, base_dir=tmp_path, env=self.env)
        self.daemon = Daemon(self.config, clock=self.clock)

    @property
    def storage(self) -> Storage:
        return self.daemon.storage

    def feed(self, text: str, **fields: Any) -> str:
        """Append one mention to the JSONL source; returns its id."""
        self._ids += 1
        record = {
            "id": fields.pop("id", f"p{self._ids}"),
            "platform": "x",
            "author": "dana",
            "text": text,
            "lang": "en",
            "url": f"https://x.com/dana/status/{self._ids}",
            **fields,
        }
        with self.feed_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        return str(record["id"])

    def run_once(self) -> bool:
        return self.daemon.run_once()

    def start_buttons(self, ping_interval: float = 10.0) -> None:
        """Open the Socket Mode connection as `run` does, and wait for it."""
        app = self.daemon.slack_app
        assert app is not None and app.listener is not None
        app.listener.ping_interval = ping_interval
        app.start()
        assert self.slack.socket_mode.wait_for_connection(timeout=10)
        wait_until(lambda: app.listener is not None and app.listener.connected)

    def alerts(self) -> list[dict[str, Any]]:
        """Top-level alert messages in the channels, oldest first."""
        return [
            m
            for m in self.slack.top_level()
            if (m.get("metadata") or {}).get("event_type") == "complaint_alert"
        ]

    def close(self) -> None:
        self.daemon.close()


@contextmanager
def harness(tmp_path: Path, slack: FakeSlack, **options: Any) -> Iterator[Harness]:
    built = Harness(tmp_path, slack, **options)
    built.daemon.prepare()
    try:
        yield built
    finally:
        built.close()


def blocks_text(message: dict[str, Any]) -> str:
    """Everything a reader sees in a message's blocks, as one string."""
    return json.dumps(message.get("blocks") or [], ensure_ascii=False)


def action_ids(message: dict[str, Any]) -> list[str]:
    ids: list[str] = []
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if isinstance(element, dict) and "action_id" in element:
                ids.append(element["action_id"])
        if isinstance(block.get("accessory"), dict):
            ids.append(block["accessory"]["action_id"])
    return ids
