"""A fake Bluesky PDS/AppView on 127.0.0.1 speaking XRPC JSON (platform-apis-2.md §1).

Served: ``com.atproto.server.createSession`` and ``refreshSession`` (JWT-shaped tokens, HS256,
integer ``exp`` on the fake's clock; the access token lives `access_lifetime` seconds, refresh
tokens rotate), ``app.bsky.feed.searchPosts`` (``q`` words all present, ``since`` inclusive and
``until`` exclusive on sortAt, ``sort=latest`` newest first, an offset ``cursor`` absent on the
last page, ``limit`` 1..100), ``app.bsky.notification.listNotifications`` (mentions of the
account, newest first by indexedAt, cursor paging). Every answer carries ``ratelimit-limit``,
``-remaining``, ``-reset`` (epoch seconds) and ``-policy``. Errors are XRPC's
``{"error": ..., "message": ...}``: an expired access token is 400 ``ExpiredToken`` (as a PDS
answers), an unknown one 401 ``InvalidToken``, a bad password 401 ``AuthenticationRequired``.
``Fault.rate_limited(s)`` answers 429 with the budget spent and the reset `s` seconds away.

    with FakeBluesky(clock=lambda: clock.now().timestamp()) as bsky:
        bsky.add_post("@acme.bsky.social my order never arrived", author="alice.bsky.social")
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.fakes.server import FakeServer, Fault, Request, Response, route

XRPC = "/xrpc/"
_SECRET = b"fake-pds-signing-key"
_RKEY_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable, as TIDs are


@dataclass
class FakePost:
    uri: str
    did: str
    handle: str
    text: str
    created: float
    indexed: float
    mentions_brand: bool

    @property
    def sort_at(self) -> float:
        return min(self.created, self.indexed)


def _iso(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FakeBluesky(FakeServer):
    """An in-process XRPC server for one brand account; a context manager."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] | None = None,
        handle: str = "acme.bsky.social",
        password: str = "abcd-efgh-ijkl-mnop",
        access_lifetime: float = 1_200,
    ) -> None:
        super().__init__()
        self._clock = clock or time.time
        self.handle = handle
        self.did = "did:plc:acmebrand0000000000000"
        self.password = password
        self.access_lifetime = access_lifetime
        """Seconds an access JWT is valid (Bluesky: 2 h; short here so tests see renewals)."""
        self.posts: list[FakePost] = []
        self.access: dict[str, float] = {}
        """Live access tokens -> their exp."""
        self.refresh: set[str] = set()
        self.sessions_created = 0
        self.refreshed = 0
        self.limit = 3000
        self.window = 300
        self._used = 0
        self._window_start = self._clock()
        self._ids = itertools.count(1)

    def use_system_clock(self) -> None:
        with self._lock:
            self._clock = time.time

    # -- content --------------------------------------------------------------------------

    def add_post(
        self,
        text: str,
        *,
        author: str = "alice.bsky.social",
        created: float | None = None,
        indexed: float | None = None,
        mention: bool | None = None,
    ) -> str:
        """A post (indexed now unless told); returns its AT URI. It is a mention of the brand
        when `mention`, by default when its text names ``@<handle>``."""
        with self._lock:
            n = next(self._ids)
            now = self._clock()
            rkey = "3l" + "".join(_RKEY_ALPHABET[(n >> (5 * i)) & 31] for i in reversed(range(11)))
            did = "did:plc:" + hashlib.sha256(author.encode()).hexdigest()[:24]
            post = FakePost(
                uri=f"at://{did}/app.bsky.feed.post/{rkey}",
                did=did,
                handle=author,
                text=text,
                created=now if created is None else created,
                indexed=now if indexed is None else indexed,
                mentions_brand=f"@{self.handle}" in text if mention is None else mention,
            )
            self.posts.append(post)
            return post.uri

    def add_many(self, count: int, text: str = "acme broke {n}", **kwargs: Any) -> list[str]:
        return [self.add_post(text.format(n=n), **kwargs) for n in range(count)]

    def expire_sessions(self) -> None:
        """Every access token expires now (the server's view; the client's JWT still says later)."""
        with self._lock:
            self.access.clear()

    def revoke_refresh_tokens(self) -> None:
        with self._lock:
            self.refresh.clear()

    # -- tokens ---------------------------------------------------------------------------

    def _jwt(self, claims: dict[str, Any], typ: str) -> str:
        header = _b64(json.dumps({"alg": "HS256", "typ": typ}).encode())
        payload = _b64(json.dumps(claims).encode())
        signature = hmac.new(_SECRET, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"

    def _session(self) -> Response:
        now = int(self._clock())
        exp = now + int(self.access_lifetime)
        serial = next(self._ids)
        access = self._jwt(
            {"scope": "com.atproto.access", "sub": self.did, "aud": "did:web:fake.pds",
             "iat": now, "exp": exp, "n": serial},
            "at+jwt",
        )  # fmt: skip
        refresh = self._jwt(
            {"scope": "com.atproto.refresh", "sub": self.did, "aud": "did:web:fake.pds",
             "iat": now, "exp": now + 90 * 86_400, "jti": f"r{serial}"},
            "refresh+jwt",
        )  # fmt: skip
        self.access[access] = exp
        self.refresh.add(refresh)
        body = {
            "did": self.did,
            "handle": self.handle,
            "accessJwt": access,
            "refreshJwt": refresh,
            "active": True,
        }
        return Response(200, body)

    # -- the API --------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        """Every method but the two session ones needs a live access token."""
        method = request.path.removeprefix(XRPC)
        if method not in ("com.atproto.server.createSession", "com.atproto.server.refreshSession"):
            token = request.token
            if token is None:
                return _error(401, "AuthMissing", "Authentication Required")
            with self._lock:
                exp = self.access.get(token)
            if exp is None:
                return _error(400, "ExpiredToken", "Token has expired")  # or never issued
            if self._clock() >= exp:
                return _error(400, "ExpiredToken", "Token has expired")
        return super().dispatch(request)

    @route("POST", "/xrpc/com.atproto.server.createSession")
    def create_session(self, request: Request) -> Response:
        body = request.body if isinstance(request.body, dict) else {}
        if (
            body.get("identifier") not in (self.handle, self.did)
            or body.get("password") != self.password
        ):
            return _error(401, "AuthenticationRequired", "Invalid identifier or password")
        with self._lock:
            self.sessions_created += 1
            return self._session()

    @route("POST", "/xrpc/com.atproto.server.refreshSession")
    def refresh_session(self, request: Request) -> Response:
        with self._lock:
            if request.token not in self.refresh:
                return _error(400, "ExpiredToken", "Token has been revoked")
            self.refresh.discard(request.token)  # rotated: each refresh token works once
            self.refreshed += 1
            return self._session()

    @route("GET", "/xrpc/app.bsky.feed.searchPosts")
    def search_posts(self, request: Request) -> Response:
        params = request.query
        try:
            limit = int(params.get("limit", "25"))
            offset = int(params.get("cursor", "0"))
            since = _parse_time(params.get("since"))
            until = _parse_time(params.get("until"))
        except ValueError as err:
            return _error(400, "InvalidRequest", str(err))
        if not 1 <= limit <= 100 or params.get("sort", "latest") not in ("latest", "top"):
            return _error(400, "InvalidRequest", "invalid limit or sort")
        words = params.get("q", "").lower().split()
        if not words:
            return _error(400, "InvalidRequest", 'Params must have the property "q"')
        with self._lock:
            matched = [
                p
                for p in self.posts
                if all(word in p.text.lower() for word in words)
                and (since is None or p.sort_at >= since)
                and (until is None or p.sort_at < until)
            ]
        matched.sort(key=lambda p: (p.sort_at, p.uri), reverse=True)
        page = matched[offset : offset + limit]
        body: dict[str, Any] = {
            "posts": [self._view(p) for p in page],
            "hitsTotal": len(matched),
        }
        if offset + limit < len(matched):
            body["cursor"] = str(offset + limit)
        return Response(200, body)

    @route("GET", "/xrpc/app.bsky.notification.listNotifications")
    def list_notifications(self, request: Request) -> Response:
        params = request.query
        try:
            limit = int(params.get("limit", "50"))
            offset = int(params.get("cursor", "0"))
        except ValueError as err:
            return _error(400, "InvalidRequest", str(err))
        if not 1 <= limit <= 100:
            return _error(400, "InvalidRequest", "invalid limit")
        # parse_qsl keeps the last of repeated ``reasons``: the connector sends only "mention"
        if params.get("reasons", "mention") != "mention":
            return Response(200, {"notifications": []})
        with self._lock:
            mentions = [p for p in self.posts if p.mentions_brand]
        mentions.sort(key=lambda p: (p.indexed, p.uri), reverse=True)
        page = mentions[offset : offset + limit]
        body: dict[str, Any] = {
            "notifications": [
                {
                    "uri": p.uri,
                    "cid": "bafyrei" + hashlib.sha256(p.uri.encode()).hexdigest()[:40],
                    "author": {"did": p.did, "handle": p.handle, "displayName": p.handle[:5]},
                    "reason": "mention",
                    "record": self._record(p),
                    "isRead": False,
                    "indexedAt": _iso(p.indexed),
                    "labels": [],
                }
                for p in page
            ],
            "seenAt": _iso(self._clock()),
        }
        if offset + limit < len(mentions):
            body["cursor"] = str(offset + limit)
        return Response(200, body)

    def _record(self, post: FakePost) -> dict[str, Any]:
        return {
            "$type": "app.bsky.feed.post",
            "text": post.text,
            "createdAt": _iso(post.created),
            "langs": ["en"],
        }

    def _view(self, post: FakePost) -> dict[str, Any]:
        return {
            "uri": post.uri,
            "cid": "bafyrei" + hashlib.sha256(post.uri.encode()).hexdigest()[:40],
            "author": {"did": post.did, "handle": post.handle, "displayName": post.handle[:5]},
            "record": self._record(post),
            "indexedAt": _iso(post.indexed),
            "likeCount": 0,
            "replyCount": 0,
            "repostCount": 0,
            "labels": [],
        }

    # -- rate limits and errors -----------------------------------------------------------

    def headers_for(self, request: Request) -> dict[str, str]:
        with self._lock:
            now = self._clock()
            if now >= self._window_start + self.window:
                self._window_start, self._used = now, 0
            self._used += 1
            return {
                "ratelimit-limit": str(self.limit),
                "ratelimit-remaining": str(max(0, self.limit - self._used)),
                "ratelimit-reset": str(int(self._window_start + self.window)),
                "ratelimit-policy": f"{self.limit};w={self.window}",
            }

    def error_response(self, request: Request, fault: Fault) -> Response:
        if fault.code == 429:
            reset = self._clock() + (fault.retry_after if fault.retry_after is not None else 60)
            return Response(
                429,
                {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                {"ratelimit-remaining": "0", "ratelimit-reset": str(int(reset))},
            )
        names = {400: "InvalidRequest", 401: "AuthenticationRequired", 404: "MethodNotImplemented"}
        error = fault.error or names.get(fault.code, "InternalServerError")
        return _error(fault.code, error, "scripted")


def _error(status: int, error: str, message: str) -> Response:
    return Response(status, {"error": error, "message": message})


def _parse_time(value: str | None) -> float | None:
    """An ISO datetime (or date) as epoch seconds; naive means UTC. Raises ValueError."""
    if not value:
        return None
    when = datetime.fromisoformat(value)
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
