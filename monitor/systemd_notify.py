"""systemd's service notifications (sd_notify): ready, alive, what it is doing, stopping (a leaf).

Under ``Type=notify`` systemd passes a datagram socket in ``$NOTIFY_SOCKET`` (a path, or a name
in the abstract namespace written with a leading ``@``) and, with ``WatchdogSec=``, the period in
``$WATCHDOG_USEC``. The protocol is one datagram of ``KEY=value`` lines, so the standard library
does it in a few lines; the `sdnotify` package does the same but has had no release since 2017.
Outside systemd (no ``$NOTIFY_SOCKET``) every call does nothing. A notification that cannot be
sent is logged once, never raised: the daemon's work does not depend on systemd hearing it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping

log = logging.getLogger(__name__)


class SystemdNotifier:
    def __init__(self, address: str | None, watchdog_seconds: float | None = None) -> None:
        self.address = address
        self.watchdog_seconds = watchdog_seconds
        """systemd's `WatchdogSec=`: feed the watchdog at least twice as often. None: no
        watchdog."""
        self._socket: socket.socket | None = None
        self._failed = False
        self._lock = threading.Lock()  # the heartbeat job's thread and the main thread

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> SystemdNotifier:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET") or None
        watchdog: float | None = None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        # WATCHDOG_PID names the process the watchdog is for (another process may have set it)
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            watchdog = int(usec) / 1_000_000
        return cls(address, watchdog)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def ready(self, status: str) -> None:
        """Start-up is done: systemd considers the service started (and starts the watchdog)."""
        self.notify("READY=1", f"STATUS={status}")

    def alive(self, status: str | None = None) -> None:
        """The scheduler is running: feeds the watchdog, with the current one-line summary."""
        self.notify("WATCHDOG=1", *([f"STATUS={status}"] if status else []))

    def stopping(self) -> None:
        self.notify("STOPPING=1", "STATUS=stopping: finishing work in flight")

    def notify(self, *lines: str) -> bool:
        """Send one notification; False when there is no socket or it could not be sent."""
        if self.address is None:
            return False
        # a status line is one line: a newline in it would start a KEY=value of its own
        payload = "\n".join(line.replace("\n", " ") for line in lines).encode()
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        with self._lock:
            try:
                if self._socket is None:
                    self._socket = socket.socket(
                        socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                    )
                self._socket.sendto(payload, target)
            except OSError as err:
                if not self._failed:
                    log.warning("cannot notify systemd at %s: %s", self.address, err)
                self._failed = True
                return False
            self._failed = False
            return True

    def close(self) -> None:
        with self._lock:
            if self._socket is not None:
                self._socket.close()
                self._socket = None
