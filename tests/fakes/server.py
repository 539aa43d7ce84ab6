"""The one base for the fake platforms: a real HTTP server on 127.0.0.1, a request log, and
scripted faults.

Every fake platform needs a socket the real client library talks to (so tests meet the library's
own parsing, retries and timeouts), a log of what was asked, and a way to make the next answers
fail the way that platform fails. They live here once; a platform fake adds its `@route`
methods, the headers every answer carries (`headers_for`) and its error format
(`error_response`). Then ``fake.fault(Fault.status(503), match="/v1/items", times=2)``.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self
from urllib.parse import parse_qsl, urlsplit

Match = str | Callable[["Request"], bool] | None
"""Which requests a fault is for: a regex searched in the path, a predicate, or None (all)."""


class Background:
    """`start()`/`close()` plus the context-manager protocol, for every fake that runs beside a
    test (HTTP, WebSocket, TCP): ``with Fake() as fake:`` starts it and always closes it."""

    def start(self) -> Self:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def in_thread(target: Callable[[], object], name: str) -> threading.Thread:
    """A started daemon thread: a test that forgets to close a fake must still exit."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


@dataclass
class Request:
    """One request as the fake read it, and the status it was answered (0: no answer)."""

    method: str
    path: str
    """Without the query string or a trailing slash."""
    query: dict[str, str]
    headers: dict[str, str]
    """Names lower-cased."""
    raw: bytes
    body: Any
    """JSON, or a dict for a form-encoded body; None when empty or unreadable."""
    arrived: float = field(default_factory=time.monotonic)
    status: int = 0

    @property
    def params(self) -> dict[str, Any]:
        """Query parameters and an object or form body, merged (as most APIs read them)."""
        return {**self.query, **(self.body if isinstance(self.body, dict) else {})}

    @property
    def token(self) -> str | None:
        auth = self.headers.get("authorization", "")
        return auth.split(" ", 1)[1].strip() if auth.lower().startswith("bearer ") else None

    @property
    def user_agent(self) -> str:
        return self.headers.get("user-agent", "")


@dataclass
class Response:
    """Bytes or str go out as they are; anything else as JSON."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return b"" if self.body is None else json.dumps(self.body).encode()


@dataclass(frozen=True)
class Fault:
    """What a scripted request gets instead of, or on top of, the fake's own answer. Build one
    with the constructors; the platform fake turns `code`/`error`/`retry_after` into its own
    error body and headers. Frozen, so one value can be scripted many times."""

    code: int = 0
    """Answer this status through `error_response`, without running the route (no effect);
    0: the route answers (and takes effect)."""
    error: str | None = None
    """The platform's error code for the body (Slack's ``ok: false`` error, say)."""
    retry_after: float | None = None
    """Seconds until a rate limit resets, in the platform's own headers."""
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    """Sent instead of the platform's error body."""
    delay: float = 0.0
    """Seconds between deciding the answer and writing it (for client timeouts)."""
    mangle: Callable[[bytes], bytes] | None = None
    hang_up: str | None = None
    """"before": close the connection unanswered, no effect; "after": take effect, then close
    unanswered (the outcome is unknown to the client)."""

    @classmethod
    def status(
        cls,
        code: int,
        *,
        error: str | None = None,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> Fault:
        return cls(code, error, None, headers or {}, body)

    @classmethod
    def rate_limited(cls, retry_after: float | None = None) -> Fault:
        """A 429 with the platform's rate-limit headers (reset `retry_after` s from now)."""
        return cls(429, retry_after=retry_after)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """The normal answer, `seconds` late."""
        return cls(delay=seconds)

    @classmethod
    def malformed(cls, body: bytes | Callable[[bytes], bytes] | None = None) -> Fault:
        """The normal answer with its body replaced by `body`, changed by it (a function), or
        cut in half (None)."""
        if callable(body):
            return cls(mangle=body)
        replacement = body
        return cls(mangle=lambda raw: raw[: len(raw) // 2] if replacement is None else replacement)

    @classmethod
    def drop(cls) -> Fault:
        return cls(hang_up="before")

    @classmethod
    def drop_after(cls) -> Fault:
        return cls(hang_up="after")


@dataclass
class _Scripted:
    fault: Fault
    match: Callable[[Request], bool]
    times: int
    skip: int


def route(method: str, path: str) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Register a handler method for `method` and `path` (regexes, matched whole). It gets the
    `Request` and the path's named groups as keyword arguments."""

    def register(handler: Callable[..., Response]) -> Callable[..., Response]:
        routes = getattr(handler, "_fake_routes", [])
        handler._fake_routes = [*routes, (method, path)]  # type: ignore[attr-defined]
        return handler

    return register


class FakeServer(Background):
    """A ThreadingHTTPServer on 127.0.0.1 (port 0) that routes to `@route` methods, logs every
    request in `requests` and answers scripted faults first."""

    request_type: ClassVar[type[Request]] = Request
    _routes: ClassVar[list[tuple[re.Pattern[str], re.Pattern[str], Callable[..., Response]]]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._routes = [*cls._routes]
        for member in vars(cls).values():
            for method, path in getattr(member, "_fake_routes", []):
                cls._routes.append((re.compile(method), re.compile(path), member))

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._scripted: list[_Scripted] = []
        self._lock = threading.RLock()
        self._closing = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        self._closing.clear()
        server = self._server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        # shutdown() waits up to one poll interval
        self._thread = in_thread(lambda: server.serve_forever(0.05), type(self).__name__)
        return self

    def close(self) -> None:
        self._closing.set()  # wakes handlers sleeping on a fault's delay
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def root_url(self) -> str:
        assert self._server is not None, f"start the {type(self).__name__} first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        return self.root_url

    # -- faults and the log ------------------------------------------------------------------

    def fault(self, fault: Fault, *, match: Match = None, times: int = 1, skip: int = 0) -> None:
        """The next `times` requests that `match` get `fault`, after `skip` of them pass.
        Scripted faults are tried in order; the first that matches (and skips none) wins."""
        if match is None:
            test: Callable[[Request], bool] = lambda request: True  # noqa: E731
        elif isinstance(match, str):
            pattern = re.compile(match)
            test = lambda request: pattern.search(request.path) is not None  # noqa: E731
        else:
            test = match
        with self._lock:
            self._scripted.append(_Scripted(fault, test, times, skip))

    def take_fault(self, request: Request) -> Fault | None:
        """The fault for a request that just arrived (called under the lock); a fake may add
        its own, such as a rate-limit storm."""
        for scripted in self._scripted:
            if not scripted.match(request):
                continue
            if scripted.skip > 0:
                scripted.skip -= 1
                continue
            scripted.times -= 1
            if scripted.times <= 0:
                self._scripted.remove(scripted)
            return scripted.fault
        return None

    def served(self, match: str | None = None) -> list[Request]:
        """The requests so far, or those whose path `match` (a regex) is found in."""
        with self._lock:
            return [r for r in self.requests if match is None or re.search(match, r.path)]

    def paths(self, match: str | None = None) -> list[str]:
        return [r.path for r in self.served(match)]

    # -- hooks for the platform fakes --------------------------------------------------------

    def error_response(self, request: Request, fault: Fault) -> Response:
        """This platform's answer to a refused request: its error body and headers."""
        return Response(fault.code, {"error": fault.error or fault.code})

    def headers_for(self, request: Request) -> dict[str, str]:
        """Headers every answer to `request` carries (rate-limit counters); called once per
        answered request, before it is answered."""
        return {}

    def dispatch(self, request: Request) -> Response:
        """The route's answer; a fake overrides this to check auth before any route."""
        for method, path, handler in self._routes:
            found = path.fullmatch(request.path)
            if found and method.fullmatch(request.method):
                return handler(self, request, **found.groupdict())
        return self.error_response(request, Fault.status(404))

    # -- serving (handler threads) -----------------------------------------------------------

    def _serve(self, handler: _Handler) -> None:
        request = self._read(handler)
        with self._lock:
            self.requests.append(request)
            fault = self.take_fault(request)
        if fault is not None and fault.hang_up == "before":
            return _hang_up(handler)
        response = self._answer(request, fault)
        if fault is not None and fault.delay and self._closing.wait(fault.delay):
            return _hang_up(handler)  # the fake is shutting down: no answer
        if fault is not None and fault.hang_up == "after":
            return _hang_up(handler)
        request.status = response.status
        _write(handler, request, response)

    def _answer(self, request: Request, fault: Fault | None) -> Response:
        common = self.headers_for(request)
        if fault is not None and fault.code:
            response = self.error_response(request, fault)
            if fault.body is not None:
                response.body = fault.body
        else:
            response = self.dispatch(request)
            if fault is not None and fault.mangle is not None:
                response.body = fault.mangle(response.payload())
        extra = fault.headers if fault is not None else {}
        response.headers = {**common, **response.headers, **extra}
        return response

    def _read(self, handler: _Handler) -> Request:
        split = urlsplit(handler.path)
        headers = {name.lower(): value for name, value in handler.headers.items()}
        length = int(headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        return self.request_type(
            method=handler.command,
            path=split.path.rstrip("/") or "/",
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers=headers,
            raw=raw,
            body=_parse(raw, headers.get("content-type", "")),
        )


def _parse(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    if "x-www-form-urlencoded" in content_type:
        return dict(parse_qsl(text, keep_blank_values=True))
    try:
        return json.loads(text)
    except ValueError:
        return None


def _hang_up(handler: _Handler) -> None:
    handler.close_connection = True
    with contextlib.suppress(OSError):
        handler.connection.shutdown(socket.SHUT_RDWR)


def _write(handler: _Handler, request: Request, response: Response) -> None:
    payload = response.payload()
    headers = {name.lower(): value for name, value in response.headers.items()}
    headers.setdefault("content-type", "application/json; charset=utf-8")
    headers["content-length"] = str(len(payload))
    if request.headers.get("connection", "").lower() == "close":
        headers["connection"] = "close"  # as real servers answer, e.g. prawcore's token POST
    try:
        handler.send_response(response.status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)
    except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
        handler.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out and hung up is expected; a bug in a fake is not."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as a real server would

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without this, Nagle's algorithm and delayed
        # ACKs add 40 ms to every keep-alive response
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest shows the test's own output, not an access log."""

    def _serve(self) -> None:
        self.server.fake._serve(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


__all__ = ["Background", "FakeServer", "Fault", "Request", "Response", "in_thread", "route"]
