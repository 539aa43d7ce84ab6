"""sd_notify as systemd reads it: datagrams on a real ``NOTIFY_SOCKET`` the test opens (a path,
and a name in the abstract namespace), sent by the notifier and by a running daemon."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.systemd_notify import SystemdNotifier
from tests.factories import config_file


class NotifySocket:
    """What systemd listens on: a datagram socket, bound to a path or an abstract name."""

    def __init__(self, sock: socket.socket, address: str) -> None:
        self.sock = sock
        self.address = address
        """As it goes in $NOTIFY_SOCKET."""

    def read(self, timeout: float = 5.0) -> dict[str, str]:
        """The next notification, as its KEY=value lines."""
        self.sock.settimeout(timeout)
        data = self.sock.recv(4096).decode()
        return dict(line.split("=", 1) for line in data.splitlines())

    def read_until(self, key: str, timeout: float = 5.0) -> list[dict[str, str]]:
        """Notifications up to and including the first carrying `key`."""
        deadline = time.monotonic() + timeout
        seen: list[dict[str, str]] = []
        while not seen or key not in seen[-1]:
            seen.append(self.read(max(0.01, deadline - time.monotonic())))
        return seen

    def quiet_for(self, seconds: float) -> bool:
        self.sock.settimeout(seconds)
        try:
            self.sock.recv(4096)
        except TimeoutError:
            return True
        return False


@pytest.fixture(params=["path", "abstract"])
def notify_socket(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NotifySocket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "path":
        address = str(tmp_path / "notify")
        sock.bind(address)
    else:
        name = f"complaint-monitor-test-{os.getpid()}-{id(sock)}"
        sock.bind("\0" + name)
        address = "@" + name
    yield NotifySocket(sock, address)
    sock.close()


def test_ready_alive_status_and_stopping_reach_the_socket(notify_socket: NotifySocket) -> None:
    notifier = SystemdNotifier.from_environment({"NOTIFY_SOCKET": notify_socket.address})
    notifier.ready("sources: 1 ok")
    assert notify_socket.read() == {"READY": "1", "STATUS": "sources: 1 ok"}
    notifier.alive("sources: 1 failing\nREADY=1")  # a status is one line, never a second key
    assert notify_socket.read() == {"WATCHDOG": "1", "STATUS": "sources: 1 failing READY=1"}
    notifier.stopping()
    assert notify_socket.read()["STOPPING"] == "1"
    notifier.close()


def test_outside_systemd_nothing_is_sent_and_nothing_fails() -> None:
    notifier = SystemdNotifier.from_environment({})
    assert not notifier.enabled
    assert notifier.notify("READY=1") is False
    assert notifier.watchdog_seconds is None


def test_a_vanished_socket_is_logged_once_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = SystemdNotifier(str(tmp_path / "gone"))
    assert notifier.notify("WATCHDOG=1") is False
    assert notifier.notify("WATCHDOG=1") is False
    assert len([r for r in caplog.records if "cannot notify systemd" in r.message]) == 1


@pytest.mark.parametrize(
    ("env", "seconds"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),  # meant for another process
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
    ],
)
def test_the_watchdog_period_comes_from_systemd(env: dict[str, str], seconds: float | None) -> None:
    assert SystemdNotifier.from_environment(env).watchdog_seconds == seconds


def test_the_daemon_is_ready_after_prepare_feeds_the_watchdog_and_says_it_stops(
    tmp_path: Path, notify_socket: NotifySocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """READY=1 once the daemon runs; WATCHDOG=1 from the scheduler's heartbeat job, at half
    of WatchdogSec; nothing more once the scheduler is stopped (a wedged or dead scheduler
    stops feeding, and systemd restarts the service); STOPPING=1 at shutdown."""
    monkeypatch.setenv("NOTIFY_SOCKET", notify_socket.address)
    monkeypatch.setenv("WATCHDOG_USEC", "400000")  # WatchdogSec=0.4s: a beat every 0.2 s
    (tmp_path / "feed.jsonl").write_text("", encoding="utf-8")
    daemon = Daemon(load_config(config_file(tmp_path)))
    assert daemon.heartbeat.interval == pytest.approx(0.2)
    stop = threading.Event()
    try:
        daemon.prepare()
        runner = threading.Thread(target=daemon.run_forever, args=(stop,), daemon=True)
        runner.start()
        ready = notify_socket.read_until("READY")[-1]
        assert ready["STATUS"].startswith("sources: 1 ok; database ok; model ")
        beats = [notify_socket.read_until("WATCHDOG") for _ in range(3)]
        assert all(beat[-1]["WATCHDOG"] == "1" for beat in beats)

        stop.set()
        stopping = notify_socket.read_until("STOPPING")
        assert stopping[-1]["STOPPING"] == "1"
        runner.join(10)
        assert not runner.is_alive()
        assert notify_socket.quiet_for(0.6), "no heartbeat once the scheduler is stopped"
    finally:
        stop.set()
        daemon.close()
