"""A fake OpenAI-compatible chat endpoint on 127.0.0.1, spoken to over a real socket.

It serves ``POST /v1/chat/completions`` in OpenAI's wire format, as llama.cpp, vLLM and Ollama
do: a JSON body with ``model`` and ``messages``, a ``chat.completion`` object back, errors as
``{"error": {"message", "type", "param", "code"}}`` with the status. With `api_key` set, a
request without ``Authorization: Bearer <api_key>`` gets OpenAI's 401. Every request is recorded
(headers and parsed body) so tests can check what left the process.

Replies are scripted with `then`, in order; when none is left, `default_content` is the answer,
and ``finish_reason="length"`` makes a cut-off one. Faults (any status with OpenAI's error JSON,
a raw body, a slow answer, no answer) are scripted with the base's `fault`
(tests/fakes/server.py); a request that gets a fault uses up no reply. How the next answers'
bodies go out is scripted with `trickle` (a few bytes per interval: every socket read gets
something, so only a total deadline stops the wait) and `huge` (a completion of any size, made
as it is sent, with or without a Content-Length); `body_bytes_sent` says how much of it left.

    with FakeOpenAI() as llm:
        llm.then(llm.verdict(True, "the customer reports a late refund"))
        llm.fault(Fault.status(500), skip=1)  # the request after it
        settings: llm_base_url = llm.base_url, llm_model = llm.model
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.fakes.server import FakeServer, Fault, Request, Response, route

if TYPE_CHECKING:
    from tests.fakes.server import _Handler

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


class ChatRequest(Request):
    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self.body.get("messages") if isinstance(self.body, dict) else None
        return messages if isinstance(messages, list) else []


@dataclass
class _Reply:
    content: str | None
    """None: the fake's `default_content`."""
    finish_reason: str


@dataclass(frozen=True)
class _Delivery:
    """How one answer's body is written."""

    step: int = 64 * 1024
    """Bytes per write."""
    interval: float = 0.0
    """Seconds between writes."""
    delay: float = 0.0
    """Seconds before the status line and headers."""
    size: int | None = None
    """A completion of this many bytes, made while it is sent, instead of the route's answer."""
    chunked: bool = False
    """Transfer-Encoding: chunked, no Content-Length (the client cannot refuse it unread)."""


class FakeOpenAI(FakeServer):
    """An in-process chat-completions endpoint; a context manager. Attributes are safe to read."""

    request_type = ChatRequest

    def __init__(
        self,
        *,
        api_key: str | None = None,
        model: str = "test-model",
        default_content: str = '{"complaint": false, "reason": "a neutral remark"}',
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.model = model
        self.default_content = default_content
        self.requests: list[ChatRequest] = []  # type: ignore[assignment]
        self._replies: deque[_Reply] = deque()
        self._deliveries: deque[_Delivery] = deque()
        self._ids = itertools.count(1)
        self.body_bytes_sent = 0
        """Body bytes written by `trickle` and `huge` answers (before the client hung up)."""

    @property
    def base_url(self) -> str:
        """What `llm_base_url` is set to: the part before ``/chat/completions``."""
        return f"{self.root_url}/v1"

    # -- scripting ---------------------------------------------------------------------------

    def then(
        self, content: str | None = None, *, times: int = 1, finish_reason: str = "stop"
    ) -> None:
        """The next `times` answered requests (after those already scripted) get `content`;
        faults are scripted with `fault`, and a request that gets one uses up no reply."""
        with self._lock:
            self._replies.extend(_Reply(content, finish_reason) for _ in range(times))

    def trickle(
        self, step: int = 4, interval: float = 0.05, *, delay: float = 0.0, times: int = 1
    ) -> None:
        """The next `times` requests get their normal answer: status and headers after `delay`
        seconds, then the body `step` bytes every `interval` seconds."""
        with self._lock:
            self._deliveries.extend(_Delivery(step, interval, delay) for _ in range(times))

    def huge(self, size: int, *, chunked: bool = True) -> None:
        """The next request gets a 200 completion of `size` bytes (its content a long run of
        text), written as fast as the client reads it; `chunked` leaves out Content-Length."""
        with self._lock:
            self._deliveries.append(_Delivery(size=size, chunked=chunked))

    @staticmethod
    def verdict(complaint: bool, reason: str = "") -> str:
        """An answer in the shape the system prompt asks for."""
        return json.dumps({"complaint": complaint, "reason": reason})

    # -- serving -----------------------------------------------------------------------------

    def error_response(self, request: Request, fault: Fault) -> Response:
        """OpenAI's ``{"error": {...}}``; a 429 with a reset sends ``Retry-After``."""
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(int(fault.retry_after))
        return Response(fault.code, _error(fault.code, fault.error), headers)

    @route("POST", "/v1/chat/completions")
    def _complete(self, request: ChatRequest) -> Response:
        if self.api_key is not None and request.token != self.api_key:
            return self.error_response(request, Fault.status(401))
        problem = _invalid(request.body)
        if problem is not None:
            return Response(400, _error(400, problem))
        with self._lock:
            reply = self._replies.popleft() if self._replies else _Reply(None, "stop")
        content = reply.content if reply.content is not None else self.default_content
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
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        return Response(200, completion)

    # -- bodies written slowly or at length ----------------------------------------------------

    def _serve(self, handler: _Handler) -> None:
        with self._lock:
            delivery = self._deliveries.popleft() if self._deliveries else None
        if delivery is None:
            return super()._serve(handler)
        request = self._read(handler)
        with self._lock:
            self.requests.append(request)
        if delivery.size is None:
            response = self._answer(request, None)
            payload = response.payload()
            pieces: Iterator[bytes] = iter([payload])
            length: int | None = len(payload)
        else:
            response = Response(200)
            pieces, length = _huge_completion(delivery.size), delivery.size
        if delivery.delay and self._closing.wait(delivery.delay):
            return
        request.status = response.status
        handler.close_connection = True  # the client may hang up halfway
        with contextlib.suppress(OSError):  # it did (that is the point of most tests)
            handler.send_response(response.status)
            handler.send_header("content-type", "application/json; charset=utf-8")
            handler.send_header("connection", "close")
            if delivery.chunked:
                handler.send_header("transfer-encoding", "chunked")
            else:
                handler.send_header("content-length", str(length))
            handler.end_headers()
            handler.wfile.flush()
            for piece in pieces:
                for start in range(0, len(piece), delivery.step):
                    part = piece[start : start + delivery.step]
                    if delivery.chunked:
                        part = b"%x\r\n%s\r\n" % (len(part), part)
                    handler.wfile.write(part)
                    with self._lock:
                        self.body_bytes_sent += len(part)
                    if delivery.interval and self._closing.wait(delivery.interval):
                        return
            if delivery.chunked:
                handler.wfile.write(b"0\r\n\r\n")

    @route("[A-Z]+", ".*")  # after the routes above: they are tried in order
    def _unknown(self, request: Request) -> Response:
        return Response(404, _error(404, f"Unknown request URL: {request.method} {request.path}"))


def _huge_completion(size: int, block: int = 64 * 1024) -> Iterator[bytes]:
    """A chat completion of exactly `size` bytes (at least its frame), made block by block."""
    head = (
        b'{"id": "chatcmpl-huge", "object": "chat.completion", "choices": [{"index": 0, '
        b'"message": {"role": "assistant", "content": "'
    )
    tail = b'"}, "finish_reason": "stop"}]}'
    yield head
    left = max(0, size - len(head) - len(tail))
    while left > 0:
        yield b"a" * min(block, left)
        left -= block
    yield tail


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
