"""A fake Slack Web API on 127.0.0.1, spoken to over a real socket by the real slack_sdk client.

It speaks the wire format slack_sdk's `WebClient` sends (``POST /api/<method>`` with a JSON or
form body and ``Authorization: Bearer xoxb-...``) so tests exercise the library's own parsing,
error raising and timeouts instead of a patched stand-in. Faults are scripted with the base's
`fault` (tests/fakes/server.py), matched on the method name: ``Fault.status(200, error="x")`` is
an ``ok: false`` error, ``Fault.rate_limited(s)`` a 429 with ``Retry-After``, a 5xx an HTML page;
``Fault.drop_after()`` stores the message and loses the answer.

    with FakeSlack() as slack:
        client = WebClient(token=slack.token, base_url=slack.base_url)
        client.chat_postMessage(channel=slack.channel, text="hi")
        assert slack.messages[0]["text"] == "hi"
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import time
from collections.abc import Callable
from typing import Any

from tests.fakes.server import FakeServer, Fault, Request, Response, route
from tests.fakes.socket_mode import Envelope, FakeSocketMode

DEFAULT_CHANNEL = "C1"
"""A private channel the bot is a member of; `FakeSlack.channel` names it."""

_JSON_FIELDS = ("blocks", "metadata", "attachments")
"""Form-encoded bodies carry these as JSON strings; decode them so tests see structures."""
_APP_TOKEN_METHODS = frozenset({"apps.connections.open"})
"""Methods Slack only accepts with the app-level token (xapp-...)."""
MESSAGE_BLOCK_TEXT_LIMIT = 12_000
"""Slack answers ``msg_blocks_too_long`` when a message's blocks hold more text than about this
in total, each block within its own limit or not (slackapi/bolt-js#2509, #2867; not in Slack's
reference). Counted here in UTF-16 units over every ``text`` string in the blocks, like every
other length in this fake: the cautious reading of Slack's "characters"."""
DEFAULT_USERS = {"U0ALICE01": "alice", "U0BOB0002": "bob"}
README_SCOPES = frozenset({"chat:write", "groups:read", "groups:history", "commands"})
"""The scopes the README once listed: no channels:read, so a public channel can't be seen."""
DEFAULT_SCOPES = README_SCOPES | {"channels:read", "usergroups:read"}


class FakeSlack(FakeServer):
    """An in-process Slack Web API; a context manager. Its attributes are safe to read anytime.

    `clock` gives the time used for message ``ts`` values (default `time.time`): pass your test
    clock so ``conversations.history(oldest=...)`` filters the way it would in Slack.
    """

    def __init__(
        self,
        *,
        token: str = "xoxb-test-token",
        app_token: str = "xapp-1-test-app-token",
        channels: dict[str, dict[str, Any]] | None = None,
        clock: Callable[[], float] | None = None,
        team: str = "Acme Corp",
        bot_name: str = "complaint-monitor",
        scopes: frozenset[str] | None = None,
    ) -> None:
        super().__init__()
        self.token = token
        self.app_token = app_token
        self.team = team
        self.team_id = "T0TEAM001"
        self.bot_name = bot_name
        self.bot_user_id = "U0BOT0001"
        self.bot_id = "B0BOT0001"
        self.channel = DEFAULT_CHANNEL
        self.channels: dict[str, dict[str, Any]] = (
            channels
            if channels is not None
            else {DEFAULT_CHANNEL: {"is_private": True, "is_member": True, "name": "complaints"}}
        )
        self.scopes = frozenset(scopes if scopes is not None else DEFAULT_SCOPES)
        """The bot token's scopes: conversations.info on a public channel needs channels:read,
        on a private one groups:read; without it Slack answers ``missing_scope`` with
        ``needed``, as the real API does."""
        self.messages: list[dict[str, Any]] = []
        """Every message stored: channel, text, blocks, ts, thread_ts, and metadata when given."""
        self.rate_limit_every: int | None = None
        """Every Nth chat.postMessage call answers 429 with ``Retry-After: rate_limit_retry_after``
        (a storm, beside the scripted faults)."""
        self.rate_limit_retry_after: int | None = 1
        self.rate_limit_per_second: float | None = None
        """Slack's posting limit per channel (e.g. 1.0): a post beyond it answers 429 with
        ``Retry-After: 1`` and takes no effect. `rate_limit_burst` posts may go at once."""
        self.rate_limit_burst = 3
        self._buckets: dict[str, tuple[float, float]] = {}
        self.message_times: dict[str, float] = {}
        """ts → time.monotonic() when the message became visible (for benchmarks)."""
        self.ephemerals: list[dict[str, Any]] = []
        """chat.postEphemeral calls: channel, user, text (only that user saw them)."""
        self.users: dict[str, str] = dict(DEFAULT_USERS)
        self.user_groups: dict[str, list[str]] = {}
        """User group id → member ids (``usergroups.users.list``)."""
        self._socket_mode: FakeSocketMode | None = None
        self._trigger_ids = itertools.count(1)
        self._post_count = 0
        self._clock = clock or time.time
        self._last_ts = 0.0

    def close(self) -> None:
        if self._socket_mode is not None:
            self._socket_mode.close()
        super().close()

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/api/"

    # -- the log, by API method ----------------------------------------------------------------

    @property
    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        """(method, arguments) of every call, in arrival order."""
        return [(_method(r), _arguments(r) or {}) for r in self.served()]

    @property
    def call_times(self) -> list[tuple[str, float]]:
        """(method, time.monotonic()) of every call, in arrival order."""
        return [(_method(r), r.arrived) for r in self.served()]

    @property
    def post_statuses(self) -> list[int]:
        """The HTTP status of each chat.postMessage call, aligned with its `call_times` entries
        (0: the connection was dropped without an answer)."""
        return [r.status for r in self.served("/chat.postMessage$")]

    # -- test controls -----------------------------------------------------------------------

    @property
    def socket_mode(self) -> FakeSocketMode:
        """The Socket Mode WebSocket server, started on first use."""
        with self._lock:
            if self._socket_mode is None:
                self._socket_mode = FakeSocketMode().start()
            return self._socket_mode

    def click(
        self,
        ts: str,
        action_id: str,
        *,
        user: str = "U0ALICE01",
        option: str | None = None,
        block_id: str | None = None,
    ) -> Envelope:
        """Press a button (or pick an overflow `option`, by its value or text) that is on the
        stored message `ts`, as `user`; Slack sends the ``block_actions`` envelope over Socket
        Mode. Raises LookupError when the message shows no such control: a test can only click
        what a person would see."""
        with self._lock:
            stored = self.message(ts)
            element, found_block = _find_element(stored.get("blocks") or [], action_id, block_id)
            action: dict[str, Any] = {
                "type": element["type"],
                "action_id": action_id,
                "block_id": found_block,
                "action_ts": f"{time.time():.6f}",
            }
            if element["type"] == "overflow":
                chosen = _find_option(element, option)
                action["selected_option"] = chosen
            else:
                action["text"] = element.get("text")
                action["value"] = element.get("value")
            channel_id = stored["channel"]
            payload = {
                "type": "block_actions",
                "user": {
                    "id": user,
                    "username": self.users.get(user, user.lower()),
                    "name": self.users.get(user, user.lower()),
                    "team_id": self.team_id,
                },
                "api_app_id": "A0APP0001",
                "token": "verification-token-unused-in-socket-mode",
                "container": {
                    "type": "message",
                    "message_ts": ts,
                    "channel_id": channel_id,
                    "is_ephemeral": False,
                    **({"thread_ts": stored["thread_ts"]} if stored.get("thread_ts") else {}),
                },
                "trigger_id": f"{next(self._trigger_ids)}.trigger",
                "team": {"id": self.team_id, "domain": "acme"},
                "channel": {
                    "id": channel_id,
                    "name": self.channels.get(channel_id, {}).get("name", channel_id),
                },
                "message": self._as_history_item(stored, with_metadata=True),
                "response_url": "https://hooks.slack.invalid/actions/T0TEAM001/1/x",
                "actions": [action],
            }
        return self.socket_mode.push("interactive", payload)

    def click_ephemeral(self, index: int, action_id: str, *, user: str) -> Envelope:
        """Press a button on the `index`-th note only `user` sees (chat.postEphemeral): Slack
        sends it with an ephemeral container and no message. Raises LookupError when that note
        is someone else's or shows no such button."""
        with self._lock:
            note = self.ephemerals[index]
            if note["user"] != user:
                raise LookupError(f"{user} cannot see a note posted for {note['user']}")
            element, found_block = _find_element(note["blocks"], action_id, None)
            payload = {
                "type": "block_actions",
                "user": {"id": user, "username": self.users.get(user, user.lower())},
                "api_app_id": "A0APP0001",
                "container": {
                    "type": "message",
                    "message_ts": note["ts"],
                    "channel_id": note["channel"],
                    "is_ephemeral": True,
                },
                "trigger_id": f"{next(self._trigger_ids)}.trigger",
                "team": {"id": self.team_id, "domain": "acme"},
                "channel": {"id": note["channel"]},
                "response_url": "https://hooks.slack.invalid/actions/T0TEAM001/2/x",
                "actions": [
                    {
                        "type": element["type"],
                        "action_id": action_id,
                        "block_id": found_block,
                        "value": element.get("value"),
                        "action_ts": f"{time.time():.6f}",
                    }
                ],
            }
        return self.socket_mode.push("interactive", payload)

    def slash_command(
        self,
        text: str,
        *,
        user: str = "U0ALICE01",
        command: str = "/complaint-monitor",
        channel: str | None = None,
    ) -> Envelope:
        """Someone types ``/complaint-monitor <text>`` in `channel` (default: `self.channel`): a
        ``slash_commands`` envelope."""
        channel = channel or self.channel
        payload = {
            "token": "verification-token-unused-in-socket-mode",
            "team_id": self.team_id,
            "team_domain": "acme",
            "channel_id": channel,
            "channel_name": self.channels.get(channel, {}).get("name", "complaints"),
            "user_id": user,
            "user_name": self.users.get(user, user.lower()),
            "command": command,
            "text": text,
            "api_app_id": "A0APP0001",
            "is_enterprise_install": "false",
            "response_url": "https://hooks.slack.invalid/commands/T0TEAM001/1/x",
            "trigger_id": f"{next(self._trigger_ids)}.trigger",
        }
        return self.socket_mode.push("slash_commands", payload, accepts_response_payload=True)

    def thread(self, ts: str) -> list[dict[str, Any]]:
        """The replies in a message's thread, oldest first."""
        with self._lock:
            return [m for m in self.messages if m.get("thread_ts") == ts and m["ts"] != ts]

    def top_level(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Messages not in a thread (what the channel shows), oldest first."""
        with self._lock:
            return [
                m
                for m in self.messages
                if not m.get("thread_ts") and (channel is None or m["channel"] == channel)
            ]

    def message(self, ts: str) -> dict[str, Any]:
        with self._lock:
            for stored in self.messages:
                if stored["ts"] == ts:
                    return stored
        raise KeyError(ts)

    def add_message(
        self,
        text: str,
        *,
        channel: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """Put a message in a channel directly (history for a test to search); returns its ts."""
        with self._lock:
            stored: dict[str, Any] = {
                "channel": channel or self.channel,
                "text": text,
                "blocks": None,
                "ts": self._next_ts(),
                "thread_ts": None,
            }
            if metadata is not None:
                stored["metadata"] = metadata
            self.messages.append(stored)
            return str(stored["ts"])

    # -- dispatch (called from handler threads) ----------------------------------------------

    def take_fault(self, request: Request) -> Fault | None:
        """The scripted fault, else Slack's own posting limits: a storm (`rate_limit_every`)
        and a per-channel rate; a refused post has no effect."""
        fault = super().take_fault(request)
        if _method(request) != "chat.postMessage":
            return fault
        self._post_count += 1
        every = self.rate_limit_every
        if fault is None and every and self._post_count % every == 0:
            fault = Fault.rate_limited(self.rate_limit_retry_after)
        if fault is None and self.rate_limit_per_second and not self._take_token(request):
            fault = Fault.rate_limited(1)
        return fault

    def error_response(self, request: Request, fault: Fault) -> Response:
        """``ok: false`` with the error (HTTP 200 unless a status says otherwise); a 429 says
        ``ratelimited`` with ``Retry-After``; a 5xx is a proxy's HTML page, as Slack's edge
        answers."""
        if fault.code >= 500:
            html = {"content-type": "text/html; charset=utf-8"}
            return Response(fault.code, "<html><body>upstream error</body></html>", html)
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(int(fault.retry_after))
        error = fault.error or {404: "not_found", 429: "ratelimited"}.get(fault.code, "error")
        return Response(fault.code, _fail(error), headers)

    @route("GET|POST", r"/api/(?P<method>[\w.]+)")
    def _call(self, request: Request, method: str) -> Response:
        arguments = _arguments(request)
        if arguments is None:
            return Response(200, _fail("invalid_json"))
        token = request.token or request.params.get("token")
        return Response(200, self._handle(method, arguments, token))

    def _take_token(self, request: Request) -> bool:
        """A token bucket per channel: `rate_limit_burst` deep, refilled at the rate set."""
        assert self.rate_limit_per_second
        channel = str((_arguments(request) or {}).get("channel") or "")
        now = time.monotonic()
        tokens, last = self._buckets.get(channel, (float(self.rate_limit_burst), now))
        tokens = min(
            float(self.rate_limit_burst), tokens + (now - last) * self.rate_limit_per_second
        )
        if tokens < 1.0:
            self._buckets[channel] = (tokens, now)
            return False
        self._buckets[channel] = (tokens - 1.0, now)
        return True

    def _next_ts(self) -> str:
        with self._lock:
            now = max(self._clock(), self._last_ts + 0.0001)
            self._last_ts = round(now, 6)
            return f"{self._last_ts:.6f}"

    def _handle(self, method: str, body: dict[str, Any], token: str | None) -> dict[str, Any]:
        """The API's answer; raises nothing: every problem is an ``ok: false`` reply."""
        if token is None:
            return _fail("not_authed")
        if method in _APP_TOKEN_METHODS:
            if token != self.app_token:
                return _fail("not_allowed_token_type" if token == self.token else "invalid_auth")
        elif token == self.app_token:
            return _fail("not_allowed_token_type")
        elif token != self.token:
            return _fail("invalid_auth")
        handler = _METHODS.get(method)
        if handler is None:
            return _fail("unknown_method")
        with self._lock:
            return handler(self, body)

    def _channel_for_write(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]] | str:
        """Resolve ``channel`` (an id, or a name like Slack accepts on writes) or name the error."""
        wanted = str(body.get("channel") or "")
        if not wanted:
            return "channel_not_found"
        found = self._find_channel(wanted, by_name=True)
        if found is None:
            return "channel_not_found"
        channel_id, info = found
        if info.get("is_archived"):
            return "is_archived"
        if not info.get("is_member", True):
            return "not_in_channel"
        return channel_id, info

    def _find_channel(self, wanted: str, *, by_name: bool) -> tuple[str, dict[str, Any]] | None:
        if wanted in self.channels:
            return wanted, self.channels[wanted]
        if by_name:
            name = wanted.removeprefix("#")
            for channel_id, info in self.channels.items():
                if info.get("name") == name:
                    return channel_id, info
        return None

    def _auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://acme.slack.com/",
            "team": self.team,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _post_message(self, body: dict[str, Any]) -> dict[str, Any]:
        resolved = self._channel_for_write(body)
        if isinstance(resolved, str):
            return _fail(resolved)
        channel_id, _ = resolved
        if not body.get("text") and not body.get("blocks") and not body.get("attachments"):
            return _fail("no_text")
        if _units(str(body.get("text") or "")) > 40_000:
            return _fail("msg_too_long")
        blocks = body.get("blocks")
        problem = _block_problem(blocks) if blocks is not None else None
        if problem is not None:
            return {**_fail("invalid_blocks"), "errors": [problem]}
        if _block_text(blocks) > MESSAGE_BLOCK_TEXT_LIMIT:
            return _fail("msg_blocks_too_long")
        metadata = body.get("metadata")
        if metadata is not None and not (
            isinstance(metadata, dict)
            and isinstance(metadata.get("event_type"), str)
            and isinstance(metadata.get("event_payload"), dict)
        ):
            return _fail("invalid_metadata_format")
        stored: dict[str, Any] = {
            "channel": channel_id,
            "text": body.get("text", ""),
            "blocks": blocks,
            "ts": self._next_ts(),
            "thread_ts": body.get("thread_ts"),
        }
        if metadata is not None:
            stored["metadata"] = metadata  # absent otherwise, as in Slack's own history
        thread_ts = body.get("thread_ts")
        if thread_ts is not None and not any(
            m["ts"] == thread_ts and m["channel"] == channel_id for m in self.messages
        ):
            return _fail("thread_not_found")
        self.messages.append(stored)
        self.message_times[stored["ts"]] = time.monotonic()
        return {
            "ok": True,
            "channel": channel_id,
            "ts": stored["ts"],
            "message": self._as_history_item(stored, with_metadata=True),
        }

    def _update(self, body: dict[str, Any]) -> dict[str, Any]:
        resolved = self._channel_for_write(body)
        if isinstance(resolved, str):
            return _fail(resolved)
        channel_id, _ = resolved
        blocks = body.get("blocks")
        problem = _block_problem(blocks) if blocks else None
        if problem is not None:
            return {**_fail("invalid_blocks"), "errors": [problem]}
        if _block_text(blocks) > MESSAGE_BLOCK_TEXT_LIMIT:
            return _fail("msg_blocks_too_long")
        for stored in self.messages:
            if stored["channel"] == channel_id and stored["ts"] == body.get("ts"):
                for key in ("text", "blocks", "metadata"):
                    if key in body:
                        stored[key] = body[key]
                return {
                    "ok": True,
                    "channel": channel_id,
                    "ts": stored["ts"],
                    "text": stored["text"],
                    "message": self._as_history_item(stored, with_metadata=True),
                }
        return _fail("message_not_found")

    def _history(self, body: dict[str, Any]) -> dict[str, Any]:
        wanted = str(body.get("channel") or "")
        found = self._find_channel(wanted, by_name=False)
        if found is None:
            return _fail("channel_not_found")
        channel_id, info = found
        if not info.get("is_member", True):
            return _fail("not_in_channel")
        inclusive = _truthy(body.get("inclusive"))
        oldest = float(body.get("oldest") or 0)
        latest = float(body.get("latest") or "inf")
        limit = max(1, min(int(body.get("limit") or 100), 999))
        with_metadata = _truthy(body.get("include_all_metadata"))

        def within(ts: float) -> bool:
            if inclusive:
                return oldest <= ts <= latest
            return oldest < ts < latest

        matching = [
            m for m in self.messages if m["channel"] == channel_id and within(float(m["ts"]))
        ]
        matching.sort(key=lambda m: float(m["ts"]), reverse=True)
        offset = _decode_cursor(body.get("cursor"))
        page = matching[offset : offset + limit]
        has_more = offset + limit < len(matching)
        reply: dict[str, Any] = {
            "ok": True,
            "messages": [self._as_history_item(m, with_metadata=with_metadata) for m in page],
            "has_more": has_more,
            "pin_count": 0,
        }
        if has_more:
            reply["response_metadata"] = {"next_cursor": _encode_cursor(offset + limit)}
        return reply

    def _info(self, body: dict[str, Any]) -> dict[str, Any]:
        found = self._find_channel(str(body.get("channel") or ""), by_name=False)
        if found is None:
            return _fail("channel_not_found")
        channel_id, info = found
        needed = "groups:read" if info.get("is_private") else "channels:read"
        if needed not in self.scopes:
            return {
                **_fail("missing_scope"),
                "needed": needed,
                "provided": ",".join(sorted(self.scopes)),
            }
        return {
            "ok": True,
            "channel": {
                "id": channel_id,
                "name": info.get("name", channel_id.lower()),
                "is_channel": True,
                "is_group": bool(info.get("is_private", False)),
                "is_private": bool(info.get("is_private", False)),
                "is_archived": bool(info.get("is_archived", False)),
                "is_member": bool(info.get("is_member", True)),
            },
        }

    def _replies(self, body: dict[str, Any]) -> dict[str, Any]:
        found = self._find_channel(str(body.get("channel") or ""), by_name=False)
        if found is None:
            return _fail("channel_not_found")
        channel_id, info = found
        if not info.get("is_member", True):
            return _fail("not_in_channel")
        ts = str(body.get("ts") or "")
        parent = [m for m in self.messages if m["channel"] == channel_id and m["ts"] == ts]
        if not parent:
            return _fail("thread_not_found")
        replies = [m for m in self.messages if m["channel"] == channel_id and m["thread_ts"] == ts]
        replies.sort(key=lambda m: float(m["ts"]))
        with_metadata = _truthy(body.get("include_all_metadata"))
        return {
            "ok": True,
            "messages": [
                self._as_history_item(m, with_metadata=with_metadata) for m in parent + replies
            ],
            "has_more": False,
        }

    def _ephemeral(self, body: dict[str, Any]) -> dict[str, Any]:
        resolved = self._channel_for_write(body)
        if isinstance(resolved, str):
            return _fail(resolved)
        if not body.get("user"):
            return _fail("user_not_in_channel")
        ts = self._next_ts()
        blocks = body.get("blocks")
        self.ephemerals.append(
            {
                "channel": resolved[0],
                "user": body["user"],
                "text": body.get("text", ""),
                "ts": ts,
                "blocks": json.loads(blocks) if isinstance(blocks, str) else blocks or [],
            }
        )
        return {"ok": True, "message_ts": ts}

    def _permalink(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = str(body.get("channel") or "")
        ts = str(body.get("message_ts") or "")
        if not any(m["channel"] == channel and m["ts"] == ts for m in self.messages):
            return _fail("message_not_found")
        return {
            "ok": True,
            "channel": channel,
            "permalink": f"https://acme.slack.com/archives/{channel}/p{ts.replace('.', '')}",
        }

    def _usergroup_users(self, body: dict[str, Any]) -> dict[str, Any]:
        if "usergroups:read" not in self.scopes:
            return {**_fail("missing_scope"), "needed": "usergroups:read"}
        members = self.user_groups.get(str(body.get("usergroup") or ""))
        if members is None:
            return _fail("no_such_subteam")
        return {"ok": True, "users": list(members)}

    def _connections_open(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.socket_mode.issue_url()}

    def _as_history_item(self, stored: dict[str, Any], *, with_metadata: bool) -> dict[str, Any]:
        item: dict[str, Any] = {
            "type": "message",
            "subtype": "bot_message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "text": stored["text"],
            "ts": stored["ts"],
        }
        if stored["blocks"] is not None:
            item["blocks"] = stored["blocks"]
        if stored["thread_ts"] is not None:
            item["thread_ts"] = stored["thread_ts"]
        if with_metadata and stored.get("metadata") is not None:
            item["metadata"] = stored["metadata"]
        return item


_METHODS: dict[str, Callable[[FakeSlack, dict[str, Any]], dict[str, Any]]] = {
    "auth.test": FakeSlack._auth_test,
    "chat.postMessage": FakeSlack._post_message,
    "chat.update": FakeSlack._update,
    "conversations.history": FakeSlack._history,
    "conversations.info": FakeSlack._info,
    "conversations.replies": FakeSlack._replies,
    "chat.postEphemeral": FakeSlack._ephemeral,
    "chat.getPermalink": FakeSlack._permalink,
    "usergroups.users.list": FakeSlack._usergroup_users,
    "apps.connections.open": FakeSlack._connections_open,
}


def _method(request: Request) -> str:
    return request.path.removeprefix("/api/")


def _arguments(request: Request) -> dict[str, Any] | None:
    """A call's arguments: query, then a JSON or form body (None: a body that is not JSON)."""
    if request.raw and not isinstance(request.body, dict):
        return None
    arguments = dict(request.params)
    arguments.pop("token", None)
    for key in _JSON_FIELDS:  # form-encoded bodies carry these as JSON strings
        if isinstance(arguments.get(key), str) and arguments[key][:1] in "[{":
            arguments[key] = json.loads(arguments[key])
    return arguments


def _units(text: str) -> int:
    """A length as Slack counts it, cautiously: UTF-16 code units (an emoji is often 2)."""
    return len(text.encode("utf-16-le")) // 2


def _block_text(node: Any) -> int:
    """Every ``text`` string in the blocks, at any depth, in UTF-16 units."""
    if isinstance(node, list):
        return sum(_block_text(item) for item in node)
    if not isinstance(node, dict):
        return 0
    return sum(
        _units(value) if key == "text" and isinstance(value, str) else _block_text(value)
        for key, value in node.items()
    )


def _block_problem(blocks: Any) -> str | None:
    """The first Block Kit size rule broken (Slack answers ``invalid_blocks``), or None."""
    if not isinstance(blocks, list) or not blocks:
        return "blocks must be a non-empty list"
    if len(blocks) > 50:
        return "more than 50 blocks"
    for index, block in enumerate(blocks):
        where = f"blocks[{index}]"
        if not isinstance(block, dict) or "type" not in block:
            return f"{where}: not a block"
        text = block.get("text")
        if text is not None and not (isinstance(text, dict) and isinstance(text.get("text"), str)):
            return f"{where}.text: must be a text object"
        if block["type"] == "header":
            if text is None or text.get("type") != "plain_text" or _units(text["text"]) > 150:
                return f"{where}: a header needs plain_text of at most 150 characters"
        elif block["type"] == "section":
            fields = block.get("fields") or []
            if text is None and not fields:
                return f"{where}: a section needs text or fields"
            if text is not None and not 1 <= _units(text["text"]) <= 3000:
                return f"{where}.text: must be 1 to 3000 characters"
            if len(fields) > 10:
                return f"{where}.fields: more than 10"
            for field in fields:
                if not 1 <= _units(str(field.get("text", ""))) <= 2000:
                    return f"{where}.fields: each must be 1 to 2000 characters"
            accessory = block.get("accessory")
            if accessory is not None:
                problem = _element_problem(accessory, f"{where}.accessory")
                if problem:
                    return problem
        elif block["type"] == "context":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 10:
                return f"{where}.elements: 1 to 10 elements"
            for element in elements:
                if _units(str(element.get("text", ""))) > 2000:
                    return f"{where}.elements: text over 2000 characters"
        elif block["type"] == "actions":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 25:
                return f"{where}.elements: 1 to 25 elements"
            for n, element in enumerate(elements):
                problem = _element_problem(element, f"{where}.elements[{n}]")
                if problem:
                    return problem
        if len(str(block.get("block_id") or "")) > 255:
            return f"{where}.block_id: over 255 characters"
    ids = [b.get("block_id") for b in blocks if b.get("block_id")]
    if len(ids) != len(set(ids)):
        return "block_id values must be unique in a message"
    return None


_ACTION_ID = re.compile(r"^.{1,255}$", re.DOTALL)


def _element_problem(element: Any, where: str) -> str | None:
    """Slack's rules for the interactive elements we use: buttons and overflow menus."""
    if not isinstance(element, dict) or element.get("type") not in {"button", "overflow"}:
        return f"{where}: unsupported element"
    if not _ACTION_ID.match(str(element.get("action_id") or "")):
        return f"{where}.action_id: 1 to 255 characters"
    if element["type"] == "button":
        text = element.get("text") or {}
        if text.get("type") != "plain_text" or not 1 <= len(str(text.get("text", ""))) <= 75:
            return f"{where}.text: plain_text of 1 to 75 characters"
        if len(str(element.get("value") or "")) > 2000:
            return f"{where}.value: over 2000 characters"
        if element.get("style") not in {None, "primary", "danger"}:
            return f"{where}.style: primary or danger"
        return None
    options = element.get("options") or []
    if not 2 <= len(options) <= 5:
        return f"{where}.options: 2 to 5 options"
    for option in options:
        text = option.get("text") or {}
        if text.get("type") != "plain_text" or not 1 <= len(str(text.get("text", ""))) <= 75:
            return f"{where}.options: each text plain_text of 1 to 75 characters"
        if not 1 <= len(str(option.get("value") or "")) <= 150:
            return f"{where}.options: each value 1 to 150 characters"
    return None


def _find_element(
    blocks: list[dict[str, Any]], action_id: str, block_id: str | None
) -> tuple[dict[str, Any], str]:
    for block in blocks:
        if block_id is not None and block.get("block_id") != block_id:
            continue
        candidates = list(block.get("elements") or []) if block.get("type") == "actions" else []
        if block.get("accessory"):
            candidates.append(block["accessory"])
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return element, str(block.get("block_id") or "")
    raise LookupError(f"no control with action_id {action_id!r} on this message")


def _find_option(element: dict[str, Any], wanted: str | None) -> dict[str, Any]:
    for option in element.get("options") or []:
        if wanted is None or wanted in (option.get("value"), option["text"].get("text")):
            return dict(option)
    raise LookupError(f"the overflow menu has no option {wanted!r}")


def _fail(error: str) -> dict[str, Any]:
    return {"ok": False, "error": error}


def _truthy(value: Any) -> bool:
    return str(value).lower() in {"1", "true"}


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode("ascii")


def _decode_cursor(cursor: Any) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.b64decode(str(cursor)).decode("ascii").removeprefix("offset:"))
    except ValueError:
        return 0


__all__ = ["DEFAULT_CHANNEL", "DEFAULT_SCOPES", "README_SCOPES", "FakeSlack"]
