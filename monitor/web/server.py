"""The daemon's HTTP port: waitress serving the Flask app in a background thread.

`[daemon] http_listen = "127.0.0.1:9464"` turns it on (unset: no port at all). Bound to
loopback by default: the metrics and health endpoints carry no secret and need no login, but
nothing beyond the machine (or its Prometheus) has reason to read them.
"""

from __future__ import annotations

import errno
import logging
import threading
from typing import Any

from monitor.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_PORT = 9464
"""Prometheus' registry of default ports has 9464 for exporters of this kind."""


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9464`` for IPv6) into its parts; ValueError says what is wrong."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"{value!r} is not host:port, e.g. 127.0.0.1:{DEFAULT_PORT}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    number = int(port)
    if not 0 <= number < 65536:
        raise ValueError(f"port {number} is out of range (1-65535; 0: any free port)")
    return host, number


class WebServer:
    """One waitress server on one address, run in a daemon thread; `close` stops it."""

    def __init__(self, app: Any, listen: str, *, threads: int = 4) -> None:
        self.app = app
        self.host, self.port = parse_listen(listen)
        self.threads = threads
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        """Bind and serve; a taken port or a bad address is a `ConfigError` naming the key."""
        from waitress.server import create_server  # here: no web stack without http_listen

        try:
            self._server = create_server(
                self.app,
                host=self.host,
                port=self.port,
                threads=self.threads,
                ident="complaint-monitor",
                clear_untrusted_proxy_headers=True,
            )
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                why = (
                    "the port is already in use (another complaint-monitor, or another "
                    "program, listens there): stop it or choose another port"
                )
            else:
                why = f"{err.strerror or err}: use an address of this machine"
            raise ConfigError(f"[daemon] http_listen = {self.host}:{self.port}: {why}") from err
        if self.port == 0:  # tests ask for any free port
            self.port = int(self._server.effective_port)
        self._thread = threading.Thread(target=self._server.run, name="http", daemon=True)
        self._thread.start()
        log.info("serving /metrics, /healthz and /readyz on %s", self.url)

    def close(self, timeout: float = 5.0) -> None:
        """Stop listening, drop open connections and stop the worker threads (waiting at most
        `timeout` for requests in progress).

        The sockets are closed by the serving thread itself, through waitress' trigger (its
        way to run code in that thread): closed from here, under its feet, the loop would
        trip over a socket closed mid-poll."""
        server, self._server = self._server, None
        if server is None:
            return
        from waitress import wasyncore
        from waitress.trigger import trigger

        sockets: dict[int, Any] = getattr(server, "map", None) or server._map
        waker = next((d for d in list(sockets.values()) if isinstance(d, trigger)), None)
        thread = self._thread

        def close_sockets(_: None = None) -> None:  # waitress calls it with no argument
            wasyncore.close_all(sockets)

        if waker is not None and thread is not None and thread.is_alive():
            try:
                waker.pull_trigger(close_sockets)
            except OSError:  # the loop is already closing its sockets: its trigger is gone
                close_sockets()  # what is left (close_all ignores those already closed)
        else:
            close_sockets()
        server.task_dispatcher.shutdown(timeout=timeout)
        if thread is not None:
            thread.join(timeout)
            self._thread = None
