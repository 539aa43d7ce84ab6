"""Buttons and the slash command, over Socket Mode: no public HTTP endpoint on the server.

`SocketModeListener` keeps a WebSocket open to Slack with the app-level token (slack_sdk's own
`SocketModeClient`, which reconnects after drops) and acknowledges every envelope at once: Slack
shows the user an error when the ack takes more than 3 seconds, so the work happens after it.
`Interactions` turns a click into a recorded action (who, what, when) and rewrites the message
with ``chat.update`` so the whole channel sees who took it.

Clicks understood (action_id → effect): ``cm_claim``, ``cm_resolve``, ``cm_not_complaint``, the
overflow ``cm_more`` (``mute:<id>``, ``reopen:<id>``) and, in storm threads, ``cm_item``
(``<action>:<id>``). ``/complaint-monitor missed <url>`` records a missed complaint.
"""

from __future__ import annotations

import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from monitor.clock import Clock
from monitor.errors import MonitorError, StorageUnavailable
from monitor.slack.blocks import ACTION_PREFIX
from monitor.slack.escaping import escape_mrkdwn, safe_url
from monitor.slack.render import refresh_message
from monitor.slack.settings import SlackSettings
from monitor.slack.sink import SlackSink
from monitor.storage.workflow import ACTIONS, Person, WorkflowStore

log = logging.getLogger(__name__)

SLASH_BUDGET_SECONDS = 2.0
"""A slash command is answered in its ack when the work takes less than this (Slack's limit
is 3 s); otherwise the ack says it is being recorded and the work finishes after."""
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
USAGE = (
    "Usage: `/complaint-monitor missed <link to the post>`: report a complaint the monitor "
    "did not alert on, so the classifier learns from it."
)


@dataclass(frozen=True, slots=True)
class Click:
    action: str
    alert_id: int
    person: Person
    channel: str | None
    message_ts: str | None


def parse_click(payload: dict[str, Any]) -> list[Click]:
    """Our actions in a ``block_actions`` payload; anything else (other apps' blocks, forged
    values) is ignored."""
    user = payload.get("user") or {}
    user_id = str(user.get("id") or "")
    if not _USER_ID.match(user_id):
        return []
    person = Person(user_id, str(user.get("username") or user.get("name") or "") or None)
    container = payload.get("container") or {}
    channel = container.get("channel_id") or (payload.get("channel") or {}).get("id")
    clicks: list[Click] = []
    for action in payload.get("actions") or []:
        action_id = str(action.get("action_id") or "")
        if not action_id.startswith(ACTION_PREFIX):
            continue
        selected = action.get("selected_option") or {}
        value = str(selected.get("value") or action.get("value") or "")
        name, _, raw_id = value.rpartition(":")
        if not name:
            name = action_id.removeprefix(ACTION_PREFIX)
        if name not in ACTIONS or not raw_id.isdigit():
            continue
        clicks.append(Click(name, int(raw_id), person, channel, container.get("message_ts")))
    return clicks


def parse_missed_url(text: str) -> str | None:
    """``missed <url>``, with or without Slack's ``<url|label>`` wrapping."""
    parts = text.strip().split(maxsplit=1)
    if len(parts) != 2 or parts[0].lower() != "missed":
        return None
    raw = parts[1].strip()
    if raw.startswith("<") and raw.endswith(">"):
        raw = raw[1:-1].split("|", 1)[0]
    return raw if safe_url(raw) else None


class Interactions:
    """What a click or a command does. Every method is safe to call from any thread."""

    def __init__(self, store: WorkflowStore, sink: SlackSink, clock: Clock) -> None:
        self.store = store
        self.sink = sink
        self.clock = clock

    def handle_block_actions(self, payload: dict[str, Any]) -> None:
        for click in parse_click(payload):
            self.apply(click)

    def apply(self, click: Click) -> None:
        now = self.clock.now()
        try:
            result = self.store.apply(click.alert_id, click.action, click.person, now)
        except StorageUnavailable as err:
            log.error("click %s on alert=%d not recorded: %s", click.action, click.alert_id, err)
            self._tell(
                click,
                "Sorry, your click could not be recorded (the database is "
                "unavailable). Please try again in a minute.",
            )
            return
        if result is None:
            self._tell(click, "This alert is no longer in the monitor's database.")
            return
        view = result.view
        log.info(
            "alert=%d %s by %s (%s)%s",
            click.alert_id,
            click.action,
            click.person.name or click.person.id,
            click.person.id,
            "" if result.changed else ", no change",
        )
        if view.channel is None or view.slack_ts is None:
            return
        try:
            refresh_message(self.sink, self.store, view.channel, view.slack_ts, now)
        except MonitorError as err:
            log.warning(
                "alert=%d: %s recorded but the message not updated: %s",
                click.alert_id,
                click.action,
                err,
            )
            self._tell(
                click,
                "Your click was recorded, but Slack did not let the message be "
                "updated; it will show on the next change.",
            )

    def handle_slash_command(self, payload: dict[str, Any]) -> str:
        """The text shown (only) to the person who typed the command."""
        user_id = str(payload.get("user_id") or "")
        if not _USER_ID.match(user_id):
            return USAGE
        url = parse_missed_url(str(payload.get("text") or ""))
        if url is None:
            return USAGE
        person = Person(user_id, str(payload.get("user_name") or "") or None)
        report = self.store.report_missed(url, person, self.clock.now())
        log.info("missed complaint reported by %s: %s (post %s)", user_id, url, report.post_id)
        known = "a post the monitor had seen" if report.post_id else "a post the monitor never saw"
        return (
            f"Thanks: recorded {escape_mrkdwn(url, limit=500)} as a missed complaint ({known}); "
            "it is labeled feedback for the classifier now."
        )

    def _tell(self, click: Click, text: str) -> None:
        if click.channel:
            self.sink.ephemeral(click.channel, click.person.id, text)


class SocketModeListener:
    """The Socket Mode connection: connect (retrying until Slack answers), ack, dispatch."""

    def __init__(
        self,
        settings: SlackSettings,
        sink: SlackSink,
        interactions: Interactions,
        *,
        ping_interval: float = 10.0,
        retry_seconds: float = 30.0,
    ) -> None:
        token = settings.secret("app_token")
        if token is None:
            raise ValueError("Socket Mode needs [slack] app_token_env set")
        self._app_token = token.get_secret_value()
        self.sink = sink
        self.interactions = interactions
        self.ping_interval = ping_interval
        self.retry_seconds = retry_seconds
        self._client: SocketModeClient | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._work = ThreadPoolExecutor(max_workers=4, thread_name_prefix="slack-click")

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.is_connected()

    def start(self) -> None:
        """Connect in the background: a Slack outage at start-up must not hold the daemon."""
        self._thread = threading.Thread(target=self._connect_loop, name="socket-mode", daemon=True)
        self._thread.start()

    def _connect_loop(self) -> None:
        web = self.sink.client
        failures = 0
        while not self._stop.is_set():
            client = SocketModeClient(
                app_token=self._app_token,
                web_client=WebClient(base_url=web.base_url, timeout=web.timeout, retry_handlers=[]),
                ping_interval=self.ping_interval,
                auto_reconnect_enabled=True,
                logger=logging.getLogger("monitor.slack.socket_mode"),
            )
            client.socket_mode_request_listeners.append(self._on_request)
            try:
                client.connect()
            except Exception as err:
                client.close()
                failures += 1
                if failures == 1 or failures % 10 == 0:
                    log.error(
                        "Socket Mode: cannot connect (%s: %s); buttons wait, alerts still go "
                        "out; retrying every %.0fs",
                        type(err).__name__,
                        err,
                        self.retry_seconds,
                    )
                self._stop.wait(self.retry_seconds)
                continue
            self._client = client
            log.info("Socket Mode connected: buttons and /complaint-monitor are live")
            return

    def _on_request(self, client: Any, request: SocketModeRequest) -> None:
        """Ack first (Slack's 3 s), then work; a slash command answers in its ack if quick."""
        if request.type == "slash_commands":
            future = self._work.submit(self.interactions.handle_slash_command, request.payload)
            try:
                text = future.result(timeout=SLASH_BUDGET_SECONDS)
            except FutureTimeout:
                text = "Got it: recording your report."
            except Exception as err:
                log.error("slash command failed: %s", err)
                text = "Sorry, that could not be recorded; please try again in a minute."
            client.send_socket_mode_response(
                SocketModeResponse(
                    request.envelope_id, {"response_type": "ephemeral", "text": text}
                )
            )
            return
        client.send_socket_mode_response(SocketModeResponse(request.envelope_id))
        if request.type == "interactive" and request.payload.get("type") == "block_actions":
            self._work.submit(self._safely, request.payload)

    def _safely(self, payload: dict[str, Any]) -> None:
        try:
            self.interactions.handle_block_actions(payload)
        except Exception:
            log.exception("a click could not be handled")

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._client is not None:
            self._client.close()
        self._work.shutdown(wait=True, cancel_futures=False)
