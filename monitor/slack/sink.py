"""Where alerts go: a private Slack channel (`SlackSink`) or the terminal (`ConsoleSink`).

The deliverer owns retries and backoff, so a sink makes exactly one HTTP request per call and
sorts every failure into `monitor.errors`: a refused token is `AuthError`, a wrong or unreachable
channel is `ConfigError`, a 429 or 5xx is `TransientError` (429 carries Slack's ``Retry-After``),
and a request whose answer never came is `OutcomeUnknown`. slack_sdk's default retry handler is
switched off: it would resend a message after a dropped connection, and post it twice.

Every alert carries message metadata ``{"event_type": "complaint_alert", "event_payload":
{"alert_id": N}}`` so that after a lost answer `find_existing` can tell whether Slack has it.

Scopes the Slack app needs: ``chat:write`` (post), ``groups:history`` (find an alert after a lost
answer, in a private channel), ``groups:read`` (start-up and ``check-config --online`` verify
every channel is private and the bot is in it); with buttons, an app-level token with
``connections:write`` for Socket Mode and the ``commands`` scope for ``/complaint-monitor``.
"""

from __future__ import annotations

import http.client
import itertools
import logging
import socket
import sys
import threading
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any, Protocol, TextIO

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from monitor.errors import AuthError, ConfigError, OutcomeUnknown, TransientError
from monitor.models import Label
from monitor.slack.blocks import alert_blocks, platform_name, ranked_reasons, time_ago
from monitor.slack.escaping import (
    SECTION_TEXT_LIMIT,
    clean_text,
    escape_mrkdwn,
    safe_url,
    truncate_plain,
)
from monitor.slack.message import ALERT_EVENT_TYPE, AlertMessage, Delivered
from monitor.slack.settings import SlackSettings

log = logging.getLogger(__name__)

NOTICE_EVENT_TYPE = "complaint_monitor_notice"
AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked", "account_inactive"})
CHANNEL_ERRORS = frozenset({"channel_not_found", "not_in_channel", "is_archived"})
HISTORY_PAGE_SIZE = 200
HISTORY_MAX_PAGES = 25
"""find_existing reads at most this many pages (5,000 messages) back to `since`."""

__all__ = [
    "AlertMessage",
    "ConsoleSink",
    "Delivered",
    "Sink",
    "SlackSink",
    "build_sink",
]


class Sink(Protocol):
    def send(self, message: AlertMessage, now: datetime) -> Delivered:
        """Post one alert; raises a `monitor.errors` exception saying what to do next."""
        ...

    def find_existing(
        self, alert_id: int, channel: str | None, since: datetime
    ) -> Delivered | None:
        """The copy of this alert already in the channel (posted after `since`), if any."""
        ...

    def notify(self, text: str) -> None:
        """An operational notice (source paused, quota reached) for humans. Never raises."""
        ...

    def check(self) -> str:
        """Prove the credentials work; returns a one-line description for ``check-config``."""
        ...

    def close(self) -> None: ...


class SlackSink:
    """Posts alerts to a Slack channel with the bot token named by ``[slack] token_env``."""

    def __init__(self, settings: SlackSettings) -> None:
        token = settings.secret("token")
        if token is None:
            raise ConfigError(
                f"no Slack token: the environment variable {settings.token_env or '(token_env)'} "
                'is not set; export it, or set [slack] sink = "console"'
            )
        self.settings = settings
        self.default_channel = settings.channel
        self._client = WebClient(
            token=token.get_secret_value(),
            base_url=settings.base_url or WebClient.BASE_URL,
            timeout=settings.timeout_seconds,  # type: ignore[arg-type]  # urllib takes a float
            retry_handlers=[],  # the deliverer retries; slack_sdk's would double-post
            logger=_sdk_logger(),
        )

    def resolve_channel(self, channel: str | None) -> str:
        """The channel a message for `channel` lands in (None: ``[slack] channel``)."""
        return self._channel(channel)

    def find_in_thread(self, channel: str, thread_ts: str, event_type: str) -> dict[int, str]:
        """alert id → ts of our replies in a thread carrying `event_type` metadata with
        ``alert_ids`` (a storm reply whose answer was lost). Failures raise `OutcomeUnknown`."""
        found: dict[int, str] = {}
        cursor: str | None = None
        for _ in range(HISTORY_MAX_PAGES):
            try:
                with self._errors("conversations.replies", channel):
                    page = self._client.conversations_replies(
                        channel=channel,
                        ts=thread_ts,
                        include_all_metadata=True,
                        limit=HISTORY_PAGE_SIZE,
                        cursor=cursor,
                    )
            except TransientError as err:
                if isinstance(err, OutcomeUnknown):
                    raise
                raise OutcomeUnknown(
                    f"could not read the thread {thread_ts}: {err}", retry_after=err.retry_after
                ) from err
            for item in page.get("messages") or []:
                metadata = item.get("metadata") or {}
                if not isinstance(metadata, dict) or metadata.get("event_type") != event_type:
                    continue
                payload = metadata.get("event_payload") or {}
                for raw in str(payload.get("alert_ids") or "").split(","):
                    if raw.strip().isdigit():
                        found[int(raw)] = str(item["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not page.get("has_more") or not cursor:
                break
        return found

    def _channel(self, channel: str | None) -> str:
        chosen = channel or self.default_channel
        if not chosen:
            raise ConfigError(
                'no Slack channel: set [slack] channel = "C0123456789" (the id of a private '
                "channel the bot has been invited to)"
            )
        return chosen

    @property
    def client(self) -> WebClient:
        """The bot's Web API client (Socket Mode reuses its base URL and timeout)."""
        return self._client

    def render(self, message: AlertMessage, now: datetime) -> tuple[str, list[dict[str, Any]]]:
        """An alert as this workspace shows it: buttons with Socket Mode, a ping for VIPs."""
        mention = self.settings.vip.mention if message.vip else None
        return alert_blocks(message, now, buttons=self.settings.interactive, mention=mention)

    def send(self, message: AlertMessage, now: datetime) -> Delivered:
        channel = self._channel(message.channel)
        text, blocks = self.render(message, now)
        with self._errors("chat.postMessage", channel):
            response = self._client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=blocks,
                metadata={
                    "event_type": ALERT_EVENT_TYPE,
                    "event_payload": {"alert_id": message.alert_id},
                },
                unfurl_links=False,  # don't let Slack fetch the customer's links
                unfurl_media=False,
                link_names=False,
                parse="none",
            )
        return Delivered(channel=str(response.get("channel") or channel), ts=str(response["ts"]))

    def find_existing(
        self, alert_id: int, channel: str | None, since: datetime
    ) -> Delivered | None:
        """Page back through the channel to `since` looking for this alert's metadata.

        Any failure is raised as `OutcomeUnknown`: the earlier attempt's fate is still unknown,
        so the deliverer must keep checking before it sends again.
        """
        chosen = self._channel(channel)
        aware = since if since.tzinfo is not None else since.replace(tzinfo=UTC)
        oldest = aware.timestamp()  # Slack's ts are Unix seconds; a naive time is taken as UTC
        cursor: str | None = None
        for _ in range(HISTORY_MAX_PAGES):
            try:
                with self._errors("conversations.history", chosen):
                    page = self._client.conversations_history(
                        channel=chosen,
                        oldest=f"{oldest:.6f}",
                        include_all_metadata=True,
                        limit=HISTORY_PAGE_SIZE,
                        cursor=cursor,
                    )
            except TransientError as err:
                if isinstance(err, OutcomeUnknown):
                    raise
                raise OutcomeUnknown(
                    f"could not look for alert {alert_id} in the channel: {err}",
                    retry_after=err.retry_after,
                ) from err
            for item in page.get("messages") or []:
                if _is_alert(item, alert_id):
                    return Delivered(channel=chosen, ts=str(item["ts"]))
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not page.get("has_more") or not cursor:
                return None
        log.warning(
            "looked through %d messages in %s without reaching %s; assuming alert=%d not sent",
            HISTORY_MAX_PAGES * HISTORY_PAGE_SIZE,
            chosen,
            since.isoformat(timespec="seconds"),
            alert_id,
        )
        return None

    def post(
        self,
        channel: str | None,
        text: str,
        *,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Delivered:
        """One message (our own text: the caller escapes anything a customer wrote)."""
        chosen = self._channel(channel)
        arguments: dict[str, Any] = {
            "channel": chosen,
            "text": text,
            "unfurl_links": False,
            "unfurl_media": False,
            "link_names": False,
            "parse": "none",
        }
        if blocks is not None:
            arguments["blocks"] = blocks
        if thread_ts is not None:
            arguments["thread_ts"] = thread_ts
        if metadata is not None:
            arguments["metadata"] = metadata
        with self._errors("chat.postMessage", chosen):
            response = self._client.chat_postMessage(**arguments)
        return Delivered(channel=str(response.get("channel") or chosen), ts=str(response["ts"]))

    def update(
        self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> None:
        """Rewrite a message we posted (a click's result, a storm's count)."""
        arguments: dict[str, Any] = {"channel": channel, "ts": ts, "text": text}
        if blocks is not None:
            arguments["blocks"] = blocks
        with self._errors("chat.update", channel):
            self._client.chat_update(**arguments, link_names=False, parse="none")

    def ephemeral(self, channel: str, user: str, text: str) -> None:
        """A note only `user` sees (a click that could not be recorded). Never raises."""
        try:
            with self._errors("chat.postEphemeral", channel):
                self._client.chat_postEphemeral(channel=channel, user=user, text=text)
        except Exception as err:
            log.warning("could not tell %s in %s: %s (%s)", user, channel, text, err)

    def permalink(self, channel: str, ts: str) -> str | None:
        """A link to a message, for copies posted elsewhere; None when Slack won't say."""
        try:
            with self._errors("chat.getPermalink", channel):
                response = self._client.chat_getPermalink(channel=channel, message_ts=ts)
        except Exception as err:
            log.debug("no permalink for %s/%s: %s", channel, ts, err)
            return None
        link = response.get("permalink")
        return str(link) if link else None

    def verify_channels(self) -> list[str]:
        """Check with conversations.info that every channel the config posts to is private
        (unless its ``allow_public_channel = true``) and has the bot in it.

        Raises `ConfigError` naming the key to fix; returns one line per channel checked.
        Without the groups:read scope a channel can't be checked: that is said, not fatal.
        """
        lines: list[str] = []
        for target in self.settings.target_channels():
            channel = target.channel
            try:
                with self._errors("conversations.info", channel):
                    info = self._client.conversations_info(channel=channel)["channel"]
            except ConfigError as err:
                if "missing_scope" in str(err):
                    lines.append(
                        f"channel {channel} not verified (add the groups:read scope to check it)"
                    )
                    continue
                raise ConfigError(f"{target.key} {channel}: {err}") from err
            name = info.get("name", channel)
            if not info.get("is_private") and not target.allow_public:
                raise ConfigError(
                    f"{target.key} {channel} (#{name}) is a public channel: alerts quote "
                    "customers and belong in a private channel. Create a private channel and "
                    "invite the bot, or, if this channel must stay public, set "
                    "allow_public_channel = true next to that channel key"
                )
            if not info.get("is_member", True):
                raise ConfigError(
                    f"{target.key} {channel} (#{name}): the bot is not a member; invite it "
                    "with /invite @app in that channel"
                )
            if info.get("is_private"):
                lines.append(f"posting to private channel #{name}")
            else:
                lines.append(f"posting to PUBLIC channel #{name} (allowed by {target.key})")
        return lines

    def notify(self, text: str) -> None:
        try:
            channel = self._channel(None)
            with self._errors("chat.postMessage", channel):
                self._client.chat_postMessage(
                    channel=channel,
                    text=f":information_source: {escape_mrkdwn(text, limit=SECTION_TEXT_LIMIT)}",
                    metadata={"event_type": NOTICE_EVENT_TYPE, "event_payload": {"kind": "notice"}},
                    unfurl_links=False,
                    unfurl_media=False,
                    link_names=False,
                    parse="none",
                )
        except Exception as err:  # a notice must never stop the caller
            log.warning("could not post a notice to Slack (%s): %s", err, clean_text(text)[:500])

    def check(self) -> str:
        with self._errors("auth.test", None):
            auth = self._client.auth_test()
        who = f"authenticated as {auth.get('user', '?')} in {auth.get('team', '?')}"
        checked = self.verify_channels()
        return "; ".join([who, *checked, self._check_app_token()])

    def _check_app_token(self) -> str:
        """Buttons need Socket Mode: prove the app-level token opens a connection."""
        token = self.settings.secret("app_token")
        if token is None:
            return f"no app-level token in {self.settings.app_token_env}: alerts have no buttons"
        client = WebClient(
            base_url=self._client.base_url,
            timeout=self._client.timeout,
            retry_handlers=[],
            logger=_sdk_logger(),
        )
        try:
            with self._errors("apps.connections.open", None):
                client.apps_connections_open(app_token=token.get_secret_value())
        except AuthError as err:
            raise AuthError(
                f"Slack refused the app-level token in {self.settings.app_token_env}: create a "
                "new one under Basic Information → App-Level Tokens (scope connections:write) "
                "and enable Socket Mode",
                credential=self.settings.app_token_env,
            ) from err
        return "Socket Mode: the app-level token works, buttons are on"

    def close(self) -> None:
        """Nothing to release: slack_sdk's urllib client opens a connection per request."""

    @contextmanager
    def _errors(self, method: str, channel: str | None) -> Iterator[None]:
        """Translate whatever slack_sdk or the network raised into one of our errors."""
        try:
            yield
        except SlackApiError as err:
            raise self._api_error(method, channel, err) from err
        except (TimeoutError, http.client.RemoteDisconnected) as err:
            raise OutcomeUnknown(f"Slack {method}: no answer ({_describe(err)})") from err
        except ConnectionResetError as err:
            raise OutcomeUnknown(f"Slack {method}: connection reset ({err})") from err
        except urllib.error.URLError as err:
            if isinstance(err.reason, ConnectionRefusedError | socket.gaierror):
                raise TransientError(
                    f"Slack {method}: cannot connect to {self._client.base_url} ({err.reason})"
                ) from err
            raise OutcomeUnknown(f"Slack {method}: {_describe(err)}") from err
        except SlackClientError as err:
            raise ConfigError(f"Slack {method}: {err} (check [slack] base_url)") from err
        except (http.client.HTTPException, OSError) as err:
            raise OutcomeUnknown(f"Slack {method}: {_describe(err)}") from err

    def _api_error(
        self, method: str, channel: str | None, err: SlackApiError
    ) -> AuthError | ConfigError | TransientError:
        response = err.response
        status = response.status_code
        data = response.data if isinstance(response.data, dict) else {}
        code = str(data.get("error") or "")
        if status == 429:
            retry_after = _retry_after(response.headers)
            return TransientError(
                f"Slack {method}: rate limited (retry after {retry_after or '?'} s)",
                retry_after=retry_after,
            )
        if status >= 500:
            return TransientError(f"Slack {method}: HTTP {status} from Slack")
        if status == 404:
            return ConfigError(
                f"Slack {method}: HTTP 404; is [slack] base_url right? ({self._client.base_url})"
            )
        if status != 200:
            return TransientError(f"Slack {method}: HTTP {status}")
        if code in AUTH_ERRORS:
            variable = self.settings.token_env
            return AuthError(
                f"Slack refused the bot token in {variable} ({code}): create or reinstall the "
                "app's token and export it again",
                credential=variable,
            )
        if code in CHANNEL_ERRORS or code == "restricted_action":
            return ConfigError(_channel_fix(channel, code))
        if code == "missing_scope":
            needed = data.get("needed", "?")
            return ConfigError(
                f"Slack {method}: missing_scope, the app needs the {needed} scope: add it under "
                "OAuth & Permissions and reinstall the app"
            )
        return TransientError(f"Slack {method}: {code or 'unexpected answer'}")


class _DropSdkErrors(logging.Filter):
    """slack_sdk logs each failed request at ERROR before raising; we raise a clearer error and the
    deliverer logs it once, so the library's duplicate line is dropped (its DEBUG lines stay)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.ERROR


def _sdk_logger() -> logging.Logger:
    logger = logging.getLogger("monitor.slack.sdk")
    if not any(isinstance(f, _DropSdkErrors) for f in logger.filters):
        logger.addFilter(_DropSdkErrors())
    return logger


def _channel_fix(channel: str | None, code: str) -> str:
    where = f"[slack] channel {channel}" if channel else "the Slack channel"
    fixes = {
        "channel_not_found": "no such channel visible to the bot: check the id, and invite the "
        "bot with /invite @app (a private channel is invisible until then)",
        "not_in_channel": "the bot is not a member: invite it with /invite @app in the channel",
        "is_archived": "the channel is archived: unarchive it or configure another channel",
        "restricted_action": "the workspace doesn't let the bot post there: ask an admin, or "
        "invite the bot with /invite @app to a channel where apps may post",
    }
    return f"{where}: {code}; {fixes.get(code, 'check the channel configuration')}"


def _is_alert(item: Any, alert_id: int) -> bool:
    if not isinstance(item, dict):
        return False
    metadata = item.get("metadata") or {}
    if not isinstance(metadata, dict) or metadata.get("event_type") != ALERT_EVENT_TYPE:
        return False
    payload = metadata.get("event_payload") or {}
    return isinstance(payload, dict) and str(payload.get("alert_id")) == str(alert_id)


def _retry_after(headers: Any) -> float | None:
    for name, value in dict(headers or {}).items():
        if str(name).lower() == "retry-after":
            try:
                seconds = float(value)
            except (TypeError, ValueError):
                return None
            return seconds if seconds >= 0 else None
    return None


def _describe(err: BaseException) -> str:
    reason = getattr(err, "reason", None)
    return f"{type(err).__name__}: {reason if reason is not None else err}"


class ConsoleSink:
    """Prints each alert as readable text: the demo, and a safe default before Slack is set up."""

    def __init__(self, stream: TextIO | None = None, *, reason: str = "no Slack token set") -> None:
        self._stream = stream
        self.reason = reason
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stdout  # resolved late: capsys

    def send(self, message: AlertMessage, now: datetime) -> Delivered:
        text = format_console_alert(message, now)
        with self._lock:
            ts = str(next(self._counter))
            self._write(text)
        return Delivered(channel="console", ts=ts)

    def find_existing(
        self, alert_id: int, channel: str | None, since: datetime
    ) -> Delivered | None:
        return None  # printed lines can't be read back; a rare duplicate on screen is harmless

    def notify(self, text: str) -> None:
        try:
            with self._lock:
                self._write(f"notice: {truncate_plain(text, 2000)}\n")
        except Exception as err:
            log.warning("could not print a notice: %s", err)

    def check(self) -> str:
        return f"console output ({self.reason})"

    def close(self) -> None:
        with suppress(OSError, ValueError):  # a closed stream has nothing left to flush
            self.stream.flush()

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


def format_console_alert(message: AlertMessage, now: datetime) -> str:
    """A plain-text alert. Customer text is stripped of control characters (terminal escapes)."""
    post, verdict = message.post, message.verdict
    author = post.author
    if verdict.label is Label.UNSUPPORTED_LANGUAGE:
        kind = f"post in an unsupported language ({clean_text(post.language or 'unknown')})"
    else:
        kind = f"{verdict.severity.value.upper()} complaint"
    handle = clean_text(author.handle.lstrip("@"))
    who = f"@{handle}"
    if author.display_name and author.display_name != author.handle:
        who += f" ({clean_text(author.display_name)})"
    if message.vip:
        who += " [VIP]"
    followers = "unknown" if author.followers is None else f"{author.followers:,}"
    reasons = ", ".join(
        f"{clean_text(r.cue)} {r.weight:+.2f}" for r in ranked_reasons(verdict.reasons)[:8]
    )
    contact = safe_url(post.contact_url) if post.contact_url else None
    step = (
        f"open a direct message: {contact}"
        if contact
        else f"contact @{handle} privately (direct message or your support channel)"
    )
    url = safe_url(post.url) or ("(not an http(s) link, not shown)" if post.url.strip() else "none")
    body = truncate_plain(post.text, 2000).strip() or "(the post has no text)"
    quoted = "\n".join(f"  | {line}" for line in body.splitlines())
    platform = platform_name(post.platform)
    ago = time_ago(post.created_at, now)
    return (
        f"=== alert #{message.alert_id}: {kind} on {platform}, {ago} ===\n"
        f"  from:   {who}, {followers} followers\n"
        f"{quoted}\n"
        f"  link:   {url}\n"
        f"  why:    score {verdict.score:.2f}; {reasons or 'no cue recorded'}\n"
        f"  next:   {step}; don't reply in public\n\n"
    )


def build_sink(settings: SlackSettings) -> Sink:
    """Choose where alerts go. "auto" uses Slack only when both a token and a channel are set."""
    if settings.sink == "console":
        return ConsoleSink(reason='[slack] sink = "console"')
    if settings.sink == "slack":
        return SlackSink(settings)
    has_token = settings.secret("token") is not None
    if has_token and settings.channel:
        return SlackSink(settings)
    if has_token:
        log.warning(
            "%s is set but [slack] channel is not: alerts print to stdout until you set it",
            settings.token_env,
        )
        return ConsoleSink(reason="no [slack] channel set")
    return ConsoleSink()
