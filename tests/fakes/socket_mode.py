"""A fake Slack Socket Mode endpoint: a real WebSocket server on 127.0.0.1.

`FakeSlack` answers ``apps.connections.open`` with this server's ``ws://127.0.0.1:PORT/link/``
URL, so slack_sdk's real `SocketModeClient` connects here, reads ``{"type": "hello"}``, and gets
the envelopes a test pushes (``interactive`` for button clicks, ``slash_commands``). The client
must acknowledge each with ``{"envelope_id": ...}``; the fake records when, so tests can check
Slack's 3-second rule. Like Slack, an envelope not acknowledged when its connection drops is
delivered again on the next connection with ``retry_attempt`` raised.

    socket_mode = FakeSocketMode().start()
    envelope = socket_mode.push("interactive", {"type": "block_actions", ...})
    ack = socket_mode.wait_for_ack(envelope)
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Self

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from tests.fakes.server import Background, in_thread

ACK_DEADLINE_SECONDS = 3.0
"""Slack shows the user an error when an envelope is not acknowledged within this."""


@dataclass
class Envelope:
    envelope_id: str
    type: str
    payload: dict[str, Any]
    accepts_response_payload: bool
    retry_attempt: int = 0
    sent_at: float | None = None
    acked_at: float | None = None
    ack: dict[str, Any] | None = None
    acked: threading.Event = field(default_factory=threading.Event)

    @property
    def ack_seconds(self) -> float | None:
        if self.sent_at is None or self.acked_at is None:
            return None
        return self.acked_at - self.sent_at

    def wire(self) -> str:
        return json.dumps(
            {
                "envelope_id": self.envelope_id,
                "type": self.type,
                "payload": self.payload,
                "accepts_response_payload": self.accepts_response_payload,
                "retry_attempt": self.retry_attempt,
                "retry_reason": "timeout" if self.retry_attempt else "",
            }
        )


class FakeSocketMode(Background):
    """The WebSocket side of Socket Mode. Thread-safe; attributes are safe to read anytime."""

    def __init__(self) -> None:
        self.connections_opened = 0
        self.tickets_issued = 0
        self.envelopes: dict[str, Envelope] = {}
        self.received: list[dict[str, Any]] = []
        """Every message a client sent us (acks and anything else), parsed."""
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._active: list[ServerConnection] = []
        self._connected = threading.Condition(self._lock)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        server = serve(
            self._serve,
            "127.0.0.1",
            0,
            compression=None,  # slack_sdk's builtin client speaks plain frames
            ping_interval=None,
        )
        self._server = server
        self._thread = in_thread(server.serve_forever, "fake-socket-mode")
        self.url = f"ws://127.0.0.1:{server.socket.getsockname()[1]}/link/"
        return self

    def close(self) -> None:
        if self._server is not None:
            self.drop_connections()
            self._server.shutdown()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def issue_url(self) -> str:
        """What ``apps.connections.open`` answers: a fresh ticket per call, as Slack does."""
        with self._lock:
            self.tickets_issued += 1
            return f"{self.url}?ticket=t{self.tickets_issued}&app_id=A0APP0001"

    # -- test controls -----------------------------------------------------------------------

    def wait_for_connection(self, timeout: float = 5.0, count: int = 1) -> bool:
        """Until `count` connections have been opened in total and one is active."""
        deadline = time.monotonic() + timeout
        with self._connected:
            while self.connections_opened < count or not self._active:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._connected.wait(left)
            return True

    def push(
        self, kind: str, payload: dict[str, Any], *, accepts_response_payload: bool = False
    ) -> Envelope:
        """Send an envelope on the active connection (or the next one, if none is open)."""
        envelope = Envelope(
            envelope_id=f"env-{next(self._ids):04d}",
            type=kind,
            payload=payload,
            accepts_response_payload=accepts_response_payload,
        )
        with self._lock:
            self.envelopes[envelope.envelope_id] = envelope
            connection = self._active[-1] if self._active else None
        if connection is not None:
            self._send(connection, envelope)
        return envelope

    def wait_for_ack(self, envelope: Envelope, timeout: float = ACK_DEADLINE_SECONDS) -> bool:
        return envelope.acked.wait(timeout)

    def drop_connections(self) -> None:
        """Cut every connection without a close handshake, as a network failure does."""
        with self._lock:
            active = list(self._active)
        for connection in active:
            connection.close_socket()

    def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """Slack's polite version: ``{"type": "disconnect"}``, then the client reconnects."""
        with self._lock:
            active = list(self._active)
        for connection in active:
            with contextlib.suppress(ConnectionClosed):
                connection.send(json.dumps({"type": "disconnect", "reason": reason}))

    # -- the server side ---------------------------------------------------------------------

    def _send(self, connection: ServerConnection, envelope: Envelope) -> None:
        envelope.sent_at = time.monotonic()
        # on a closed connection it stays unacknowledged: redelivered on the next one
        with contextlib.suppress(ConnectionClosed):
            connection.send(envelope.wire())

    def _serve(self, connection: ServerConnection) -> None:
        connection.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": {"host": "fake-socket-mode", "approximate_connection_time": 3600},
                    "connection_info": {"app_id": "A0APP0001"},
                }
            )
        )
        with self._connected:
            self.connections_opened += 1
            self._active.append(connection)
            unacked = [e for e in self.envelopes.values() if not e.acked.is_set()]
            self._connected.notify_all()
        for envelope in unacked:
            if envelope.sent_at is not None:
                envelope.retry_attempt += 1
            self._send(connection, envelope)
        try:
            for raw in connection:
                self._receive(raw)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                if connection in self._active:
                    self._active.remove(connection)

    def _receive(self, raw: str | bytes) -> None:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        try:
            message = json.loads(text)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        with self._lock:
            self.received.append(message)
            envelope = self.envelopes.get(str(message.get("envelope_id")))
        if envelope is not None and not envelope.acked.is_set():
            envelope.acked_at = time.monotonic()
            envelope.ack = message
            envelope.acked.set()


__all__ = ["ACK_DEADLINE_SECONDS", "Envelope", "FakeSocketMode"]
