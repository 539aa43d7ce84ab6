"""Buttons and the slash command, over Socket Mode: no public HTTP endpoint on the server.

`SocketModeListener` keeps a WebSocket open to Slack with the app-level token (slack_sdk's own
`SocketModeClient`, which reconnects after drops) and acknowledges every envelope at once: Slack
shows the user an error when the ack takes more than 3 seconds, so the work happens after it.
Its `Health` says once that it cannot connect and once that it is connected again.
`Interactions` turns a click into a recorded action (who, what, when) and rewrites the message
with ``chat.update`` from what the database says now, so the whole channel sees who took it.
The database is the truth: a message is always rebuilt from the alerts it shows, never patched
from what the click payload claims the message looked like.

Clicks understood (action_id → effect): ``cm_claim``, ``cm_resolve``, ``cm_not_complaint``, the
overflow ``cm_more`` (``mute:<id>``, ``reopen:<id>``) and, in storm threads, ``cm_item``
(``<action>:<id>``). ``/complaint-monitor missed <url>`` records a missed complaint.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from monitor.clock import Clock
from monitor.errors import MonitorError, StorageUnavailable
from monitor.health import Health, Outage
from monitor.models import Person
from monitor.slack.blocks import ACTION_PREFIX, USER_ID
from monitor.slack.client import SlackClient
from monitor.slack.escaping import escape_mrkdwn
from monitor.slack.settings import SlackSettings
from monitor.slack.storm_blocks import message_layout
from monitor.storage.alerts import Action, AlertStore
from monitor.text import safe_url

log = logging.getLogger(__name__)

SLASH_BUDGET_SECONDS = 2.0
"""A slash command is answered in its ack when the work takes less than this (Slack's limit
is 3 s); otherwise the ack says it is being recorded and the work finishes after."""
USAGE = (
    "Usage: `/complaint-monitor missed <link to the post>`: report a complaint the monitor "
    "did not alert on, so the classifier learns from it."
)


@dataclass(frozen=True, slots=True)
class Click:
    action: Action
    alert_id: int
    person: Person
    channel: str | None
    message_ts: str | None


def parse_click(payload: dict[str, Any]) -> list[Click]:
    """Our actions in a ``block_actions`` payload; anything else (other apps' blocks, forged
    values) is ignored."""
    user = payload.get("user") or {}
    user_id = str(user.get("id") or "")
    if not USER_ID.match(user_id):
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
        if name not in set(Action) or not raw_id.isdigit():
            continue
        clicks.append(
            Click(Action(name), int(raw_id), person, channel, container.get("message_ts"))
        )
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

    def __init__(
        self, alerts: AlertStore, client: SlackClient, settings: SlackSettings, clock: Clock
    ) -> None:
        self.alerts = alerts
        self.client = client
        self.settings = settings
        self.clock = clock

    def handle_block_actions(self, payload: dict[str, Any]) -> None:
        for click in parse_click(payload):
            self.apply(click)

    def apply(self, click: Click) -> None:
        now = self.clock.now()
        try:
            result = self.alerts.apply(click.alert_id, click.action, click.person, now)
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
        alert = result.alert
        log.info(
            "alert=%d %s by %s (%s)%s",
            click.alert_id,
            click.action,
            click.person.name or click.person.id,
            click.person.id,
            "" if result.changed else ", no change",
        )
        if alert.channel is None or alert.slack_ts is None:
            return
        try:
            self.refresh_message(alert.channel, alert.slack_ts, now)
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

    def refresh_message(self, channel: str, ts: str, now: datetime) -> bool:
        """chat.update the message at (channel, ts) from the database; False if it shows no
        alert. Raises what `SlackClient.update` raises: the caller decides whom to tell."""
        alerts = self.alerts.alerts_in_message(channel, ts)
        if not alerts:
            return False
        text, blocks = message_layout(alerts, now, self.settings)
        self.client.update(channel, ts, text, blocks)
        return True

    def handle_slash_command(self, payload: dict[str, Any]) -> str:
        """The text shown (only) to the person who typed the command."""
        user_id = str(payload.get("user_id") or "")
        if not USER_ID.match(user_id):
            return USAGE
        url = parse_missed_url(str(payload.get("text") or ""))
        if url is None:
            return USAGE
        person = Person(user_id, str(payload.get("user_name") or "") or None)
        report = self.alerts.report_missed(url, person, self.clock.now())
        log.info("missed complaint reported by %s: %s (post %s)", user_id, url, report.post_id)
        known = "a post the monitor had seen" if report.post_id else "a post the monitor never saw"
        return (
            f"Thanks: recorded {escape_mrkdwn(url, limit=500)} as a missed complaint ({known}); "
            "it is labeled feedback for the classifier now."
        )

    def _tell(self, click: Click, text: str) -> None:
        if click.channel:
            self.client.ephemeral(click.channel, click.person.id, text)


class SocketModeListener:
    """The Socket Mode connection: connect (retrying until Slack answers), ack, dispatch."""

    def __init__(
        self,
        settings: SlackSettings,
        client: SlackClient,
        interactions: Interactions,
        clock: Clock,
        *,
        ping_interval: float = 10.0,
        retry_seconds: float = 30.0,
    ) -> None:
        token = settings.secret("app_token")
        if token is None:
            raise ValueError("Socket Mode needs [slack] app_token_env set")
        self._app_token = token.get_secret_value()
        self.client = client
        self.health = Health("Socket Mode", log, clock, remind_seconds=10 * retry_seconds)
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
        while not self._stop.is_set():
            client = SocketModeClient(
                app_token=self._app_token,
                web_client=self.client.tokenless(),
                ping_interval=self.ping_interval,
                auto_reconnect_enabled=True,
                logger=logging.getLogger("monitor.slack.socket_mode"),
            )
            client.socket_mode_request_listeners.append(self._on_request)
            try:
                client.connect()
            except Exception as err:
                client.close()
                self.health.fail(
                    "cannot connect",
                    f"{type(err).__name__}: {err}",
                    self._cannot_connect,
                    reminder=self._cannot_connect,
                    level=logging.ERROR,
                )
                self._stop.wait(self.retry_seconds)
                continue
            self._client = client
            if self.health.recover(self._connected_again) is None:
                log.info("Socket Mode connected: buttons and /complaint-monitor are live")
            return

    def _cannot_connect(self, outage: Outage) -> str:
        return (
            f"Socket Mode: cannot connect ({outage.error}); buttons wait, alerts still go out; "
            f"retrying every {self.retry_seconds:.0f}s"
        )

    def _connected_again(self, outage: Outage) -> str:
        return (
            f"Socket Mode connected after {outage.failures} failed attempts: buttons and "
            "/complaint-monitor are live"
        )

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
