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
overflow ``cm_more`` (``mute:<id>``, ``unmute:<id>``, ``reopen:<id>``) and, in storm threads,
``cm_item`` (``<action>:<id>``). ``/complaint-monitor missed <url>`` records a missed complaint.

Nothing a payload says is trusted: a click counts only when it comes from the message that shows
the alert (its channel and ts as stored: the alert's own message, or the storm reply holding it);
the command only in a channel this config posts to; and, with ``[slack] allowed_users`` or
``allowed_group``, only from those people. A refusal is logged and told to the clicker alone.
"""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from monitor.clock import Clock
from monitor.errors import MonitorError, StorageUnavailable
from monitor.health import Health, Outage
from monitor.models import Alert, Person
from monitor.slack.blocks import ACTION_PREFIX, USER_ID, VIP_MUTE_ACTION, vip_mute_question
from monitor.slack.client import SlackClient
from monitor.slack.escaping import escape_mrkdwn
from monitor.slack.settings import SlackSettings
from monitor.slack.storm_blocks import message_layout
from monitor.storage.alerts import Action, AlertStore
from monitor.text import safe_url

log = logging.getLogger(__name__)

SLASH_BUDGET_SECONDS = 2.0
"""A slash command is answered in its ack when the work takes less than this (Slack's limit
is 3 s); otherwise the ack says it is still being recorded, and when the work finishes a
follow-up note (chat.postEphemeral) says whether it was stored."""
GROUP_CACHE_SECONDS = 60.0
"""How long the members of ``[slack] allowed_group`` are trusted before being asked again."""
NOT_RECORDED = (
    "Sorry, your report could not be recorded (the database is unavailable). Please try again "
    "in a minute."
)
STILL_RECORDING = (
    "Recording your report: the database is slow. You will get a note here once it is stored, "
    "or if it cannot be."
)
USAGE = (
    "Usage: `/complaint-monitor missed <link to the post>`: report a complaint the monitor "
    "did not alert on, so the classifier learns from it."
)


VIP_MUTE_QUESTION_SECONDS = 600.0
"""How long the second question before a VIP is muted can be answered."""


@dataclass(frozen=True, slots=True)
class Click:
    action: Action
    alert_id: int
    person: Person
    channel: str | None
    message_ts: str | None
    second_confirmation: bool = False
    """The answer to the question asked, only of this person, before muting a VIP."""


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
        second = action_id == ACTION_PREFIX + VIP_MUTE_ACTION and name == Action.MUTE
        clicks.append(
            Click(Action(name), int(raw_id), person, channel, container.get("message_ts"), second)
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
    if any(c.isspace() or unicodedata.category(c).startswith("C") for c in raw):
        return None  # one link, nothing after it: no newline can end up in a log line
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
        self._members: tuple[float, frozenset[str]] | None = None
        self._members_lock = threading.Lock()
        self._vip_questions: dict[tuple[int, str], float] = {}
        """(alert, person) → when (monotonic) the question before muting a VIP lapses."""

    def handle_block_actions(self, payload: dict[str, Any]) -> None:
        for click in parse_click(payload):
            self.apply(click)

    def apply(self, click: Click) -> None:
        now = self.clock.now()
        try:
            refusal, alert_shown = self._click_refusal(click)
            if refusal is not None:
                self._tell(click, refusal)
                return
            if click.action is Action.MUTE and alert_shown is not None and alert_shown.vip:
                self._ask_before_muting_a_vip(click, alert_shown)
                return
            days = self.settings.mute_days
            result = self.alerts.apply(
                click.alert_id,
                click.action,
                click.person,
                now,
                mute_for=timedelta(days=days) if days else None,
            )
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
        if result.refused is not None:
            log.info(
                "alert=%d: %s by %s refused: %s",
                click.alert_id,
                click.action,
                click.person.id,
                result.refused,
            )
            self._tell(click, f"Not done: {escape_mrkdwn(result.refused, limit=500)}.")
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

    def _ask_before_muting_a_vip(self, click: Click, alert: Alert) -> None:
        """A VIP is muted only after a second confirmation, asked of the clicker alone."""
        key = (click.alert_id, click.person.id)
        with self._members_lock:
            self._vip_questions[key] = self.clock.monotonic() + VIP_MUTE_QUESTION_SECONDS
        log.info(
            "alert=%d: mute of a VIP asked by %s; waiting for a second confirmation",
            click.alert_id,
            click.person.id,
        )
        if click.channel:
            text, blocks = vip_mute_question(alert)
            self.client.ephemeral(click.channel, click.person.id, text, blocks)

    def _click_refusal(self, click: Click) -> tuple[str | None, Alert | None]:
        """Why this click must not count (logged here), or None; and the alert as its message
        shows it. Raises StorageUnavailable."""
        if click.second_confirmation:
            return self._second_confirmation_refusal(click), None
        shown = (
            self.alerts.alerts_in_message(click.channel, click.message_ts)
            if click.channel and click.message_ts
            else []
        )
        if click.alert_id not in {alert.alert_id for alert in shown}:
            log.warning(
                "click %s on alert=%d by %s refused: it came from message %r in channel %r, "
                "which does not show that alert",
                click.action,
                click.alert_id,
                click.person.id,
                click.message_ts,
                click.channel,
            )
            return (
                f"Not done: that button does not belong to the message of alert "
                f"#{click.alert_id}, so nothing was changed. Use the buttons on the alert itself."
            ), None
        alert = next(a for a in shown if a.alert_id == click.alert_id)
        what = f"{click.action} on {click.alert_id}"
        return self._permission_refusal(click.person.id, what), alert

    def _second_confirmation_refusal(self, click: Click) -> str | None:
        """The VIP mute button counts once, from the person it was asked of, in time."""
        with self._members_lock:
            deadline = self._vip_questions.pop((click.alert_id, click.person.id), None)
        if deadline is None or self.clock.monotonic() > deadline:
            log.warning(
                "VIP mute of alert=%d by %s refused: no open question (expired, answered, or "
                "asked of someone else)",
                click.alert_id,
                click.person.id,
            )
            return (
                "Not done: that question has expired or was already answered. Pick Mute "
                "author on the alert again."
            )
        return self._permission_refusal(click.person.id, f"VIP mute on {click.alert_id}")

    def _permission_refusal(self, user_id: str, what: str) -> str | None:
        """None when `user_id` may change alerts (``[slack] allowed_users``/``allowed_group``);
        else the note for them, the refusal logged."""
        settings = self.settings
        if not settings.restricted or user_id in settings.allowed_users:
            return None
        if settings.allowed_group is not None:
            try:
                if user_id in self._group_members(settings.allowed_group):
                    return None
            except MonitorError as err:
                log.error(
                    "%s by %s refused: the members of %s could not be listed: %s",
                    what,
                    user_id,
                    settings.allowed_group,
                    err,
                )
                return (
                    "Sorry, Slack did not say whether you may do this (the allowed user group "
                    "could not be read); nothing was changed. Please try again in a minute."
                )
        log.warning(
            "%s by %s refused: not in [slack] allowed_users or allowed_group", what, user_id
        )
        return (
            "Not done: only the people this monitor's configuration allows "
            "([slack] allowed_users, allowed_group) can change alerts or report missed ones."
        )

    def _group_members(self, group: str) -> frozenset[str]:
        with self._members_lock:
            cached = self._members
            if cached is not None and time.monotonic() - cached[0] < GROUP_CACHE_SECONDS:
                return cached[1]
        members = self.client.group_members(group)
        with self._members_lock:
            self._members = (time.monotonic(), members)
        return members

    def handle_slash_command(self, payload: dict[str, Any]) -> str:
        """The text shown (only) to the person who typed the command. Never raises for a
        database outage: the answer says it was not recorded (and the log says so)."""
        user_id = str(payload.get("user_id") or "")
        if not USER_ID.match(user_id):
            return USAGE
        channel = str(payload.get("channel_id") or "")
        allowed = self.settings.command_channels()
        if channel not in allowed:
            log.warning(
                "/complaint-monitor by %s refused: typed in channel %r, not one this monitor "
                "posts to",
                user_id,
                channel,
            )
            places = ", ".join(f"<#{c}>" for c in sorted(allowed)) or "the alert channel"
            return f"Not done: use `/complaint-monitor` in the alert channel ({places})."
        url = parse_missed_url(str(payload.get("text") or ""))
        if url is None:
            return USAGE
        refusal = self._permission_refusal(user_id, "/complaint-monitor missed")
        if refusal is not None:
            return refusal
        person = Person(user_id, str(payload.get("user_name") or "") or None)
        try:
            report = self.alerts.report_missed(url, person, self.clock.now())
        except StorageUnavailable as err:
            log.error("missed complaint reported by %s NOT recorded: %r: %s", user_id, url, err)
            return NOT_RECORDED
        log.info("missed complaint reported by %s: %r (post %s)", user_id, url, report.post_id)
        known = "a post the monitor had seen" if report.post_id else "a post the monitor never saw"
        return (
            f"Thanks: recorded {escape_mrkdwn(url, limit=500)} as a missed complaint ({known}); "
            "it is labeled feedback for the classifier now."
        )

    def follow_up(self, payload: dict[str, Any], work: Future[str]) -> None:
        """A slash command answered late: tell its author, in a note only they see, whether it
        was stored (`handle_slash_command` logged which)."""
        try:
            text = work.result()
        except Exception:
            log.exception("/complaint-monitor by %r failed", payload.get("user_id"))
            text = NOT_RECORDED
        channel = str(payload.get("channel_id") or "")
        user_id = str(payload.get("user_id") or "")
        if channel and USER_ID.match(user_id):
            self.client.ephemeral(channel, user_id, text)

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
            payload = request.payload
            future = self._work.submit(self.interactions.handle_slash_command, payload)
            late = False
            try:
                text = future.result(timeout=SLASH_BUDGET_SECONDS)
            except FutureTimeout:
                late = True
                text = STILL_RECORDING
            except Exception:
                log.exception("/complaint-monitor by %r failed", payload.get("user_id"))
                text = NOT_RECORDED
            client.send_socket_mode_response(
                SocketModeResponse(
                    request.envelope_id, {"response_type": "ephemeral", "text": text}
                )
            )
            if late:  # after the ack, so the follow-up never arrives before it
                future.add_done_callback(lambda done: self.interactions.follow_up(payload, done))
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
