"""A fake OpenAI-compatible chat endpoint on 127.0.0.1, spoken to over a real socket.

It serves ``POST /v1/chat/completions`` in OpenAI's wire format, as llama.cpp, vLLM and Ollama
do: a JSON body with ``model`` and ``messages``, a ``chat.completion`` object back, errors as
``{"error": {"message", "type", "param", "code"}}`` with the status. With `api_key` set, a
request without ``Authorization: Bearer <api_key>`` gets OpenAI's 401. Every request is recorded
(headers and parsed body) so tests can check what left the process.

Answers are scripted per request, in order; when the script is empty, `default_content` is the
answer. A step may answer other content, any status (with OpenAI's error JSON or a raw body), a
slow answer (for client timeouts), a cut-off answer (``finish_reason: length``) or no answer.

    with FakeOpenAI() as llm:
        llm.then(content=llm.verdict(True, "the customer reports a late refund"))
        llm.then(status=500)
        settings: llm_base_url = llm.base_url, llm_model = llm.model
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

ERRORS: dict[int, dict[str, Any]] = {
    400: {"message": "Invalid request.", "type": "invalid_request_error", "code": None},
    401: {
        "message": "Incorrect API key provided. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error",
        "code": "invalid_api_key",
    },
    403: {"message": "Forbidden.", "type": "invalid_request_error", "code": "forbidden"},
    404: {
        "message": "The model does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "code": "model_not_found",
    },
    429: {
        "message": "Rate limit reached for requests. Please try again later.",
        "type": "requests",
        "code": "rate_limit_exceeded",
    },
    500: {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "code": None,
    },
    503: {
        "message": "The engine is currently overloaded, please try again later.",
        "type": "server_error",
        "code": None,
    },
}


@dataclass
class FakeRequest:
    method: str
    path: str
    headers: dict[str, str]
    """Header names lower-cased."""
    body: Any
    """The parsed JSON body (None when it was not JSON)."""
    status: int = 0
    """The status answered (0: no answer was written)."""

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self.body.get("messages") if isinstance(self.body, dict) else None
        return messages if isinstance(messages, list) else []


@dataclass
class Step:
    """What one request gets. `content` None means the fake's `default_content`."""

    content: str | None = None
    status: int = 200
    body: bytes | None = None
    """Sent as is instead of the JSON the status would carry (a proxy's HTML, a truncated body)."""
    delay: float = 0.0
    drop: bool = False
    """Close the connection without answering."""
    finish_reason: str = "stop"
    headers: dict[str, str] = field(default_factory=dict)


class FakeOpenAI:
    """An in-process chat-completions endpoint; a context manager. Attributes are safe to read."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        model: str = "test-model",
        default_content: str = '{"complaint": false, "reason": "a neutral remark"}',
    ) -> None:
        self.api_key = api_key
        self.model = model
        self.default_content = default_content
        self.requests: list[FakeRequest] = []
        self._script: deque[Step] = deque()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> FakeOpenAI:
        fake = self

        class Handler(_Handler):
            api = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing.set()  # wakes handlers sleeping on a scripted delay
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def root_url(self) -> str:
        assert self._server is not None, "use FakeOpenAI as a context manager"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def base_url(self) -> str:
        """What `llm_base_url` is set to: the part before ``/chat/completions``."""
        return f"{self.root_url}/v1"

    # -- scripting ---------------------------------------------------------------------------

    def then(self, content: str | None = None, *, times: int = 1, **step: Any) -> None:
        """The next `times` requests (after those already scripted) get this `Step`."""
        with self._lock:
            self._script.extend(Step(content, **step) for _ in range(times))

    @staticmethod
    def verdict(complaint: bool, reason: str = "") -> str:
        """An answer in the shape the system prompt asks for."""
        return json.dumps({"complaint": complaint, "reason": reason})

    # -- serving -----------------------------------------------------------------------------

    def _take(self, request: FakeRequest) -> Step:
        with self._lock:
            self.requests.append(request)
            return self._script.popleft() if self._script else Step()

    def _respond(self, request: FakeRequest, step: Step) -> tuple[int, bytes, dict[str, str]]:
        headers = dict(step.headers)
        if step.body is not None:
            return step.status, step.body, headers
        if step.status != 200:
            return step.status, _error(step.status), headers
        if request.method != "POST" or request.path != "/v1/chat/completions":
            return 404, _error(404, f"Unknown request URL: {request.method} {request.path}"), {}
        if self.api_key is not None and request.headers.get("authorization") != (
            f"Bearer {self.api_key}"
        ):
            return 401, _error(401), {}
        problem = _invalid(request.body)
        if problem is not None:
            return 400, _error(400, problem), {}
        content = step.content if step.content is not None else self.default_content
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in request.messages)
        completion_tokens = len(content.split())
        completion = {
            "id": f"chatcmpl-{next(self._ids):06d}",
            "object": "chat.completion",
            "created": 1_795_000_000,
            "model": request.body.get("model", self.model),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "logprobs": None,
                    "finish_reason": step.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        return 200, json.dumps(completion).encode(), headers


class _Handler(BaseHTTPRequestHandler):
    api: FakeOpenAI
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without this, Nagle's algorithm and delayed
        # ACKs add 40 ms to every keep-alive response
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest shows the test's own output, not an access log."""

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            body = None
        request = FakeRequest(
            self.command,
            self.path.split("?", 1)[0],
            {name.lower(): value for name, value in self.headers.items()},
            body,
        )
        step = self.api._take(request)
        if step.delay and self.api._closing.wait(step.delay):
            return  # the fake is shutting down: drop the answer
        if step.drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        status, payload, headers = self.api._respond(request, step)
        request.status = status
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            self.close_connection = True


def _error(status: int, message: str | None = None) -> bytes:
    error = dict(
        ERRORS.get(status) or {"message": f"HTTP {status}", "type": "server_error", "code": None}
    )
    if message is not None:
        error["message"] = message
    error.setdefault("param", None)
    return json.dumps({"error": error}).encode()


def _invalid(body: Any) -> str | None:
    """What OpenAI would refuse with a 400, or None."""
    if not isinstance(body, dict):
        return "We could not parse the JSON body of your request."
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array"
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in (
            "system",
            "user",
            "assistant",
        ):
            return f"Invalid 'messages[{index}].role'"
        if not isinstance(message.get("content"), str):
            return f"Invalid 'messages[{index}].content': expected a string"
    return None
