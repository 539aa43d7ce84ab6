"""A TCP proxy on loopback that can cut every connection: a database outage without stopping
the shared PostgreSQL server."""

from __future__ import annotations

import contextlib
import socket
import threading
from functools import partial
from typing import Self

from tests.fakes.server import Background, in_thread


class TcpProxy(Background):
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._cut = threading.Event()
        self._closed = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> Self:
        in_thread(self._accept, "tcp-proxy")
        return self

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        self.cut()

    def cut(self) -> None:
        """Drop every open connection and refuse new ones until `restore`."""
        self._cut.set()
        with self._lock:
            for sock in list(self._sockets):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def restore(self) -> None:
        self._cut.clear()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._cut.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                in_thread(partial(self._pipe, source, sink), "tcp-proxy-pipe")

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.close()
            with self._lock:
                self._sockets -= {source, sink}
