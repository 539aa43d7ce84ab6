"""Where alerts go, as the core sees it: the `Notifier` protocol, and the console notifier.

The deliverer (`monitor.delivery`) owns retries and backoff, so a notifier makes one attempt per
call and sorts every failure into `monitor.errors`: a refused token is `AuthError`, a wrong or
unreachable destination is `ConfigError`, a 429 or 5xx is `TransientError` (with the server's
``Retry-After``), and a request whose answer never came is `OutcomeUnknown`.

The Slack notifier lives in `monitor.slack.sink` (the daemon chooses between it and this one);
the core never imports the Slack adapter.
"""

from __future__ import annotations

import itertools
import logging
import sys
import threading
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TextIO

from monitor.classifier.cues import SECOND_OPINION_CUE
from monitor.models import Alert, Label, Reason
from monitor.text import clean_text, platform_name, safe_url, time_ago, truncate_plain

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivered:
    """Where the alert landed: Slack's channel id and message ts (or the console's counter)."""

    channel: str
    ts: str


class Notifier(Protocol):
    def send(self, alert: Alert, now: datetime) -> Delivered:
        """Post one alert; raises a `monitor.errors` exception saying what to do next."""
        ...

    def send_minimal(self, alert: Alert, now: datetime) -> Delivered:
        """Post the alert in a minimal, safe form (the escaped text, the link, the buttons):
        tried once after `send` was refused for good (`PermanentError`)."""
        ...

    def find_existing(
        self, alert_id: int, channel: str | None, since: datetime
    ) -> Delivered | None:
        """The copy of this alert already delivered (after `since`), if the notifier can tell."""
        ...

    def notify(self, text: str) -> None:
        """An operational notice (source paused, quota reached) for humans. Never raises."""
        ...

    def check(self) -> str:
        """Prove the credentials work; returns a one-line description for ``check-config``."""
        ...

    def close(self) -> None: ...


def ranked_reasons(reasons: Sequence[Reason]) -> list[Reason]:
    """Strongest first, but a second opinion always leads: it carries no weight when it only
    agrees or disagrees, and would otherwise be the reason cut from a long list."""
    return sorted(reasons, key=lambda r: (r.cue != SECOND_OPINION_CUE, -abs(r.weight)))


class ConsoleNotifier:
    """Prints each alert as readable text: the demo, and a safe default before Slack is set up.

    A preview, not a delivery: the deliverer records what it prints as `previewed` (printed once,
    still owed to Slack), never as sent.
    """

    def __init__(self, stream: TextIO | None = None, *, reason: str = "no Slack token set") -> None:
        self._stream = stream
        self.reason = reason
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stdout  # resolved late: capsys

    def send(self, alert: Alert, now: datetime) -> Delivered:
        text = format_console_alert(alert, now)
        with self._lock:
            ts = str(next(self._counter))
            self._write(text)
        return Delivered(channel="console", ts=ts)

    def send_minimal(self, alert: Alert, now: datetime) -> Delivered:
        return self.send(alert, now)  # the console refuses nothing

    def find_existing(
        self, alert_id: int, channel: str | None, since: datetime
    ) -> Delivered | None:
        return None  # printed lines can't be read back; a rare duplicate on screen is harmless

    def notify(self, text: str) -> None:
        try:
            with self._lock:
                self._write(f"notice: {truncate_plain(text, 2000)}\n")
        except Exception as err:
            log.warning("could not print a notice: %s", err)

    def check(self) -> str:
        return f"console output ({self.reason})"

    def close(self) -> None:
        with suppress(OSError, ValueError):  # a closed stream has nothing left to flush
            self.stream.flush()

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


def format_console_alert(alert: Alert, now: datetime) -> str:
    """A plain-text alert. Customer text is stripped of control characters (terminal escapes)."""
    post, verdict = alert.post, alert.verdict
    author = post.author
    if verdict.label is Label.UNSUPPORTED_LANGUAGE:
        kind = f"post in an unsupported language ({clean_text(post.language or 'unknown')})"
    else:
        kind = f"{verdict.severity.value.upper()} complaint"
    handle = clean_text(author.handle.lstrip("@"))
    who = f"@{handle}"
    if author.display_name and author.display_name != author.handle:
        who += f" ({clean_text(author.display_name)})"
    if alert.vip:
        who += " [VIP]"
    followers = "unknown" if author.followers is None else f"{author.followers:,}"
    reasons = ", ".join(
        f"{clean_text(r.cue)} {r.weight:+.2f}" for r in ranked_reasons(verdict.reasons)[:8]
    )
    contact = safe_url(post.contact_url) if post.contact_url else None
    step = (
        f"open a direct message: {contact}"
        if contact
        else f"contact @{handle} privately (direct message or your support channel)"
    )
    url = safe_url(post.url) or ("(not an http(s) link, not shown)" if post.url.strip() else "none")
    body = truncate_plain(post.text, 2000).strip() or "(the post has no text)"
    quoted = "\n".join(f"  | {line}" for line in body.splitlines())
    platform = platform_name(post.platform)
    ago = time_ago(post.created_at, now)
    return (
        f"=== alert #{alert.alert_id}: {kind} on {platform}, {ago} ===\n"
        f"  from:   {who}, {followers} followers\n"
        f"{quoted}\n"
        f"  link:   {url}\n"
        f"  why:    score {verdict.score:.2f}; {reasons or 'no cue recorded'}\n"
        f"  next:   {step}; don't reply in public\n\n"
    )
