"""The Slack Web API as this app uses it: one request per call, every failure sorted once.

slack_sdk's default retry handler is switched off (the deliverer and the storm sender retry; the
library would resend a message after a dropped connection, and post it twice). Whatever slack_sdk
or the network raises becomes one of `monitor.errors`: a refused token is `AuthError` naming the
variable, a wrong or unreachable channel is `ConfigError` with the fix, a 429 or 5xx is
`TransientError` (429 carries Slack's ``Retry-After``), a request Slack refuses as such
(``invalid_blocks``, ``msg_too_long``...) is `PermanentError`, and a request whose answer never
came is `OutcomeUnknown`.

Private channels only, failing closed: `verify_channels` (start-up, ``check-config --online``)
proves each configured channel private with conversations.info. Slack answers ``missing_scope``
(needed ``channels:read``) for a public channel when the app has only ``groups:read``: that
channel cannot be proven private, so it is refused like a public one unless its table says
``allow_public_channel = true``. Once `verify_channels` has run, `post` sends only to channels
proven private (or allowed public) in this process: one that start-up could not check (Slack
unreachable) is checked before its first message, and a failed check keeps the message waiting.

Every message of ours carries metadata (``event_type`` and an ``event_payload``), so that after a
lost answer `messages_with_metadata` can tell whether Slack has it: the one paged search, used for
a channel's history (alerts) and a thread's replies (storm replies).

Scopes the Slack app needs: ``chat:write`` (post), ``groups:history`` (find a message after a lost
answer, in a private channel), ``groups:read`` and ``channels:read`` (start-up and ``check-config
--online`` verify every channel is private and the bot is in it; without ``channels:read`` a
public channel cannot be told apart and is refused all the same); with buttons, an app-level
token with ``connections:write`` for Socket Mode and the ``commands`` scope for
``/complaint-monitor``.
"""

from __future__ import annotations

import http.client
import logging
import socket
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse

from monitor.errors import AuthError, ConfigError, OutcomeUnknown, PermanentError, TransientError
from monitor.notify import Delivered
from monitor.slack.settings import ChannelTarget, SlackSettings
from monitor.text import aware

log = logging.getLogger(__name__)

AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked", "account_inactive"})
CHANNEL_ERRORS = frozenset({"channel_not_found", "not_in_channel", "is_archived"})
PERMANENT_ERRORS = frozenset(
    {
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "msg_blocks_too_long",
        "invalid_arguments",
        "invalid_array_arg",
        "invalid_metadata_format",
        "invalid_metadata_schema",
        "metadata_too_large",
        "metadata_must_be_sent_from_app",
        "no_text",
        "too_many_attachments",
        "invalid_attachments",
        "markdown_text_conflict",
        "json_not_object",
    }
)
"""Slack refused the request itself: the same message sent again can never succeed."""
HISTORY_PAGE_SIZE = 200
HISTORY_MAX_PAGES = 25
"""A metadata search reads at most this many pages (5,000 messages)."""
QUIET: dict[str, Any] = {
    "unfurl_links": False,  # don't let Slack fetch the customer's links
    "unfurl_media": False,
    "link_names": False,
    "parse": "none",
}
"""Sent with every message: nothing in it pings, links or previews beyond what we wrote."""


class SlackClient:
    """The bot token's Web API client (``[slack] token_env``) and the channel it defaults to."""

    def __init__(self, settings: SlackSettings) -> None:
        token = settings.secret("token")
        if token is None:
            raise ConfigError(
                f"no Slack token: the environment variable {settings.token_env or '(token_env)'} "
                'is not set; export it, or set [slack] sink = "console"'
            )
        self.settings = settings
        self._proven: set[str] | None = None
        """Channels proven private (or allowed public); None until `verify_channels` runs."""
        self._web = WebClient(
            token=token.get_secret_value(),
            base_url=settings.base_url or WebClient.BASE_URL,
            timeout=settings.timeout_seconds,  # type: ignore[arg-type]  # urllib takes a float
            retry_handlers=[],
            logger=_sdk_logger(),
        )

    def tokenless(self) -> WebClient:
        """A client on the same server with no bot token (Socket Mode, the app-level token)."""
        return WebClient(
            base_url=self._web.base_url,
            timeout=self._web.timeout,
            retry_handlers=[],
            logger=_sdk_logger(),
        )

    def channel(self, channel: str | None) -> str:
        """The channel a message for `channel` lands in (None: ``[slack] channel``)."""
        chosen = channel or self.settings.channel
        if not chosen:
            raise ConfigError(
                'no Slack channel: set [slack] channel = "C0123456789" (the id of a private '
                "channel the bot has been invited to)"
            )
        return chosen

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
        chosen = self.channel(channel)
        if self._proven is not None and chosen not in self._proven:
            self._verify(self._target(chosen))  # fail closed: never post before the proof
        arguments: dict[str, Any] = {"channel": chosen, "text": text, **QUIET}
        if blocks is not None:
            arguments["blocks"] = blocks
        if thread_ts is not None:
            arguments["thread_ts"] = thread_ts
        if metadata is not None:
            arguments["metadata"] = metadata
        with self.errors("chat.postMessage", chosen):
            response = self._web.chat_postMessage(**arguments)
        return Delivered(channel=str(response.get("channel") or chosen), ts=str(response["ts"]))

    def update(
        self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> None:
        """Rewrite a message we posted (a click's result, a storm's count)."""
        arguments: dict[str, Any] = {"channel": channel, "ts": ts, "text": text}
        if blocks is not None:
            arguments["blocks"] = blocks
        with self.errors("chat.update", channel):
            self._web.chat_update(**arguments, link_names=False, parse="none")

    def ephemeral(
        self, channel: str, user: str, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> None:
        """A note only `user` sees (a click that could not be recorded, a question before a
        VIP is muted). Never raises."""
        try:
            with self.errors("chat.postEphemeral", channel):
                self._web.chat_postEphemeral(channel=channel, user=user, text=text, blocks=blocks)
        except Exception as err:
            log.warning("could not tell %s in %s: %s (%s)", user, channel, text, err)

    def group_members(self, group: str) -> frozenset[str]:
        """The user ids in a user group (``usergroups.users.list``, scope ``usergroups:read``).
        Raises what `errors` raises."""
        with self.errors("usergroups.users.list", None):
            response = self._web.usergroups_users_list(usergroup=group)
        return frozenset(str(user) for user in response.get("users") or [])

    def permalink(self, channel: str, ts: str) -> str | None:
        """A link to a message, for copies posted elsewhere; None when Slack won't say."""
        try:
            with self.errors("chat.getPermalink", channel):
                response = self._web.chat_getPermalink(channel=channel, message_ts=ts)
        except Exception as err:
            log.debug("no permalink for %s/%s: %s", channel, ts, err)
            return None
        link = response.get("permalink")
        return str(link) if link else None

    def messages_with_metadata(
        self,
        channel: str,
        event_type: str,
        *,
        what: str,
        oldest: datetime | None = None,
        thread_ts: str | None = None,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(ts, event_payload) of our messages carrying `event_type` metadata, newest first: in
        the channel back to `oldest`, or in the thread of `thread_ts`.

        Any failure is raised as `OutcomeUnknown` ("could not `what`"): whatever the caller is
        looking for may still be there, so it must look again before posting it again.
        """
        cursor: str | None = None
        for _ in range(HISTORY_MAX_PAGES):
            try:
                page = self._page(channel, cursor, oldest=oldest, thread_ts=thread_ts)
            except TransientError as err:
                if isinstance(err, OutcomeUnknown):
                    raise
                raise OutcomeUnknown(
                    f"could not {what}: {err}", retry_after=err.retry_after
                ) from err
            for item in page.get("messages") or []:
                payload = _payload(item, event_type)
                if payload is not None:
                    yield str(item["ts"]), payload
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not page.get("has_more") or not cursor:
                return
        log.warning(
            "looked through %d messages in %s without reaching the oldest one (to %s); "
            "what was not found is taken as not posted",
            HISTORY_MAX_PAGES * HISTORY_PAGE_SIZE,
            channel,
            what,
        )

    def _page(
        self, channel: str, cursor: str | None, *, oldest: datetime | None, thread_ts: str | None
    ) -> SlackResponse:
        common: dict[str, Any] = {
            "channel": channel,
            "include_all_metadata": True,
            "limit": HISTORY_PAGE_SIZE,
            "cursor": cursor,
        }
        if thread_ts is not None:
            with self.errors("conversations.replies", channel):
                return self._web.conversations_replies(ts=thread_ts, **common)
        if oldest is not None:  # Slack's ts are Unix seconds; a naive time is taken as UTC
            common["oldest"] = f"{aware(oldest).timestamp():.6f}"
        with self.errors("conversations.history", channel):
            return self._web.conversations_history(**common)

    def check(self) -> str:
        """``check-config --online``: the bot token, every channel, the app-level token."""
        with self.errors("auth.test", None):
            auth = self._web.auth_test()
        who = f"authenticated as {auth.get('user', '?')} in {auth.get('team', '?')}"
        return "; ".join([who, *self.verify_channels(), self._check_app_token()])

    def verify_channels(self) -> list[str]:
        """Prove with conversations.info that every channel the config posts to is private
        (unless its ``allow_public_channel = true``) and has the bot in it; from then on `post`
        sends only to proven channels (a channel not proven here is checked before its first
        message).

        Raises `ConfigError` naming the key to fix (a channel that cannot be proven private is
        refused like a public one), `AuthError` or `TransientError` when Slack can't answer;
        returns one line per channel checked.
        """
        if self._proven is None:
            self._proven = set()
        return [self._verify(target) for target in self.settings.target_channels()]

    def _target(self, channel: str) -> ChannelTarget:
        for target in self.settings.target_channels():
            if target.channel == channel:
                return target
        return ChannelTarget(f"channel {channel} (an alert's stored channel)", channel, False)

    def _verify(self, target: ChannelTarget) -> str:
        """One channel proven private (or allowed public) with the bot in it; see above."""
        channel = target.channel
        try:
            with self.errors("conversations.info", channel):
                info = self._web.conversations_info(channel=channel)["channel"]
        except ConfigError as err:
            if "missing_scope" not in str(err):
                raise ConfigError(f"{target.key} {channel}: {err}") from err
            if not target.allow_public:
                raise ConfigError(
                    f"{target.key} {channel} cannot be proven private ({err}; Slack answers so "
                    "for a PUBLIC channel when the app lacks channels:read). Alerts quote "
                    "customers and belong in a private channel: give the app the channels:read "
                    "and groups:read scopes so the check can see the channel, or, if this "
                    "channel must stay public, set allow_public_channel = true next to that "
                    "channel key"
                ) from err
            self._prove(channel)
            return f"channel {channel} not verified (missing scope; public allowed by {target.key})"
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
        self._prove(channel)
        if info.get("is_private"):
            return f"posting to private channel #{name}"
        return f"posting to PUBLIC channel #{name} (allowed by {target.key})"

    def _prove(self, channel: str) -> None:
        if self._proven is None:
            self._proven = set()
        self._proven.add(channel)

    def _check_app_token(self) -> str:
        """Buttons need Socket Mode: prove the app-level token opens a connection."""
        token = self.settings.secret("app_token")
        if token is None:
            return f"no app-level token in {self.settings.app_token_env}: alerts have no buttons"
        try:
            with self.errors("apps.connections.open", None):
                self.tokenless().apps_connections_open(app_token=token.get_secret_value())
        except AuthError as err:
            raise AuthError(
                f"Slack refused the app-level token in {self.settings.app_token_env}: create a "
                "new one under Basic Information → App-Level Tokens (scope connections:write) "
                "and enable Socket Mode",
                credential=self.settings.app_token_env,
            ) from err
        return "Socket Mode: the app-level token works, buttons are on"

    @contextmanager
    def errors(self, method: str, channel: str | None) -> Iterator[None]:
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
                    f"Slack {method}: cannot connect to {self._web.base_url} ({err.reason})"
                ) from err
            raise OutcomeUnknown(f"Slack {method}: {_describe(err)}") from err
        except SlackClientError as err:
            raise ConfigError(f"Slack {method}: {err} (check [slack] base_url)") from err
        except (http.client.HTTPException, OSError) as err:
            raise OutcomeUnknown(f"Slack {method}: {_describe(err)}") from err

    def _api_error(
        self, method: str, channel: str | None, err: SlackApiError
    ) -> AuthError | ConfigError | PermanentError | TransientError:
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
                f"Slack {method}: HTTP 404; is [slack] base_url right? ({self._web.base_url})"
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
        if code in PERMANENT_ERRORS:
            detail = "; ".join(str(e) for e in data.get("errors") or [] if e)[:300]
            return PermanentError(
                f"Slack {method}: {code}" + (f" ({detail})" if detail else ""), code=code
            )
        return TransientError(f"Slack {method}: {code or 'unexpected answer'}")


class _DropSdkErrors(logging.Filter):
    """slack_sdk logs each failed request at ERROR before raising; we raise a clearer error and the
    caller logs it once, so the library's duplicate line is dropped (its DEBUG lines stay)."""

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


def _payload(item: Any, event_type: str) -> dict[str, Any] | None:
    """The metadata payload of one of our messages of `event_type`, else None."""
    if not isinstance(item, dict):
        return None
    metadata = item.get("metadata") or {}
    if not isinstance(metadata, dict) or metadata.get("event_type") != event_type:
        return None
    payload = metadata.get("event_payload") or {}
    return payload if isinstance(payload, dict) else None


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
