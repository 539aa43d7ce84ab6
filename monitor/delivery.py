"""The deliverer: sends what the outbox holds, records Slack's answer, never drops an alert.

Each attempt is recorded as started before the message is sent. If the answer never comes
(timeout, reset connection, a crash), the alert keeps `outcome_unknown`, and the next attempt first
looks for the message in the channel by its metadata; so Slack sees at most one copy more than
it acknowledged, and the daemon records that copy instead of sending a third.

Failures are sorted once, here: a 429 pauses that channel for Slack's `Retry-After`; a 5xx or a
timeout backs off exponentially with jitter up to a cap; a bad token or channel keeps the alert
waiting, retried every minute and logged once a minute, until someone fixes the configuration.

A refusal that can never succeed (`PermanentError`: ``invalid_blocks``, ``msg_too_long``...) is
not retried as it is: the alert is sent once more in its minimal form (`Notifier.send_minimal`:
the escaped text, the link, the buttons); if that is refused too, the alert is parked with the
reason (never claimed again, counted in ``stats``) and a notice says so, once.

Two clocks. The outbox's times (`next_attempt_at`, a claim's lease) are wall-clock and stored,
because replicas share them: a wall-clock step moves them with it (after a step back of an hour,
an alert due in 30 s waits an hour and 30 s, and an alert claimed by a process that died waits
for its lease to run out an hour later; a step forward makes them due at once, which the
check-before-resend makes safe). A batch is worked on for at most half the lease, measured on
both clocks, so the claim never outlives the lease. What waits in memory (a rate-limited
channel, the once-a-minute error log) is measured on the monotonic clock and is not moved.

The console notifier is a preview, not a delivery: what it prints is recorded as `previewed`,
which the console never prints again and a Slack deliverer still sends.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.clock import Clock
from monitor.errors import (
    AuthError,
    ConfigError,
    OutcomeUnknown,
    PermanentError,
    StorageUnavailable,
    TransientError,
)
from monitor.health import Throttle, backoff
from monitor.models import Alert
from monitor.notify import ConsoleNotifier, Delivered, Notifier
from monitor.storage import Outbox

log = logging.getLogger(__name__)

CONFIG_RETRY = timedelta(seconds=60)
"""A refused token or channel needs a human; retry each minute so the fix takes effect soon."""


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    found_in_channel: int = 0
    previewed: int = 0
    """Printed by the console notifier: not delivered, Slack still owes them."""
    parked: int = 0
    """Refused by Slack for good, in full and in minimal form."""
    sent_latencies: list[float] = field(default_factory=list)
    """For each alert sent: seconds from the post's creation to Slack's acknowledgement."""

    def __bool__(self) -> bool:
        return bool(
            self.sent
            or self.failed
            or self.deferred
            or self.found_in_channel
            or self.previewed
            or self.parked
        )


class Deliverer:
    def __init__(
        self,
        outbox: Outbox,
        notifier: Notifier,
        clock: Clock,
        *,
        lease: timedelta = timedelta(seconds=120),
        backoff_base: float = 5.0,
        backoff_cap: float = 900.0,
        rng: random.Random | None = None,
        on_report: Callable[[DeliveryReport], None] | None = None,
    ) -> None:
        self.outbox = outbox
        self.on_report = on_report
        """Told of each round's report (the metrics)."""
        self.notifier = notifier
        self.clock = clock
        self.lease = lease
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.rng = rng or random.Random()
        self._channel_paused_until: dict[str | None, float] = {}
        """Per channel, when Slack's rate limit ends on the monotonic clock (`Clock.monotonic`):
        a wall-clock step must not hold a channel for an hour."""
        self._throttle = Throttle(60.0, clock.monotonic)
        self.preview = isinstance(notifier, ConsoleNotifier)
        """The console prints a preview: never recorded as delivered to Slack."""

    def backoff(self, attempts: int) -> timedelta:
        """Exponential with jitter (half to full step), capped: `monitor.health.backoff`."""
        return timedelta(seconds=backoff(attempts, self.backoff_base, self.backoff_cap, self.rng))

    def deliver_due(self, limit: int = 50) -> DeliveryReport:
        """Claim a batch of due alerts and send them; what is not tried goes back to the outbox."""
        report = DeliveryReport()
        claimed_at = self.clock.now()
        started = self.clock.monotonic()
        half_lease = self.lease.total_seconds() / 2
        batch = self.outbox.claim_due(claimed_at, self.lease, limit, previews=not self.preview)
        for index, due in enumerate(batch):
            now = self.clock.now()
            # elapsed on either clock: the claim's expiry in the database is wall-clock (other
            # replicas read it), so a step forward shortens it; a step back must not lengthen it
            elapsed = max((now - claimed_at).total_seconds(), self.clock.monotonic() - started)
            if elapsed >= half_lease:
                # The claim runs out soon and another replica may take these: give them back
                # untried rather than risk two senders (the next round claims them again).
                rest = [d.alert_id for d in batch[index:]]
                self.outbox.release(rest, now)
                report.deferred += len(rest)
                break
            resume_at = self._channel_paused_until.get(due.channel)
            left = resume_at - self.clock.monotonic() if resume_at is not None else 0.0
            if left > 0:
                # the outbox's next_attempt_at is wall-clock (shared between replicas): the
                # remaining seconds, counted from the wall clock's now
                self.outbox.release([due.alert_id], now + timedelta(seconds=left))
                report.deferred += 1
                continue
            if self._deliver_one(due, report):
                rest = [d.alert_id for d in batch[index + 1 :]]
                self.outbox.release(rest, now + CONFIG_RETRY)
                report.deferred += len(rest)
                break
        if report:
            log.info(
                "delivery sent=%d found_in_channel=%d failed=%d deferred=%d previewed=%d parked=%d",
                report.sent,
                report.found_in_channel,
                report.failed,
                report.deferred,
                report.previewed,
                report.parked,
            )
        if self.on_report is not None:
            self.on_report(report)
        return report

    def _deliver_one(self, due: Alert, report: DeliveryReport) -> bool:
        """Returns True when the rest of this round is pointless (e.g. the token is refused)."""
        now = self.clock.now()
        self.outbox.mark_attempt(due.alert_id, now)
        try:
            if self._found_in_channel(due, now):
                report.found_in_channel += 1
                return False
            delivered = self._send(due, now)
        except StorageUnavailable:
            raise  # the database, not Slack: the daemon sorts that, the alert is untouched
        except Exception as err:
            report.failed += 1
            return self._failed(due, err, now)
        if delivered is None:
            report.parked += 1
            return False
        if self.preview:
            self.outbox.record_previewed(due.alert_id)
            report.previewed += 1
            return False
        sent_at = self.clock.now()
        self.outbox.record_sent(
            due.alert_id, channel=delivered.channel, ts=delivered.ts, now=sent_at
        )
        report.sent += 1
        report.sent_latencies.append((sent_at - due.post.created_at).total_seconds())
        return False

    def _send(self, due: Alert, now: datetime) -> Delivered | None:
        """Send the alert; refused for good, send its minimal form once; refused again, park
        it (None). Any other failure is raised for `_failed` to sort."""
        try:
            return self.notifier.send(due, now)
        except PermanentError as err:
            first = err
        log.warning(
            "alert=%d refused for good (%s); sending its minimal form instead", due.alert_id, first
        )
        try:
            return self.notifier.send_minimal(due, now)
        except PermanentError as err:
            reason = f"refused in full ({first}) and in minimal form ({err})"
        self.outbox.record_parked(due.alert_id, reason=f"PermanentError: {reason}")
        log.error("alert=%d parked: %s", due.alert_id, reason)
        self.notifier.notify(
            f"Alert #{due.alert_id} could not be posted: Slack {reason}. It is parked (not "
            "retried); `complaint-monitor stats` lists parked alerts and why."
        )
        return None

    def _found_in_channel(self, due: Alert, now: datetime) -> bool:
        """After a lost answer, the copy Slack may already have is recorded, not sent again."""
        if not (due.outcome_unknown and due.last_attempt_at is not None):
            return False
        since = due.last_attempt_at - timedelta(seconds=60)
        existing = self.notifier.find_existing(due.alert_id, due.channel, since)
        if existing is None:
            return False
        self.outbox.record_sent(due.alert_id, channel=existing.channel, ts=existing.ts, now=now)
        log.warning(
            "alert=%d was already in %s (ts=%s) from an attempt whose answer was lost; recorded "
            "it instead of sending again",
            due.alert_id,
            existing.channel,
            existing.ts,
        )
        return True

    def _failed(self, due: Alert, err: Exception, now: datetime) -> bool:
        """Sort one failure: when the alert is retried, and whether the round should stop."""
        retry = now + self.backoff(due.attempts + 1)
        if isinstance(err, AuthError | ConfigError):
            self._record(due, err, now + CONFIG_RETRY, outcome_unknown=False)
            if self._throttle.allow(f"{type(err).__name__}:{err}"):
                log.error(
                    "alert delivery refused: %s (alerts stay pending, retried each minute)", err
                )
            return isinstance(err, AuthError)
        if isinstance(err, OutcomeUnknown):  # also a failed look-up: check before any resend
            if err.retry_after is not None:
                retry = now + timedelta(seconds=err.retry_after)
            self._record(due, err, retry, outcome_unknown=True)
            log.warning(
                "alert=%d outcome unknown (%s); will check the channel before resending",
                due.alert_id,
                err,
            )
        elif isinstance(err, TransientError) and err.retry_after is not None:
            until = now + timedelta(seconds=err.retry_after)
            self._channel_paused_until[due.channel] = self.clock.monotonic() + err.retry_after
            self._record(due, err, until, outcome_unknown=False)
            log.warning(
                "slack rate-limited channel=%s for %.0fs", due.channel or "default", err.retry_after
            )
        elif isinstance(err, TransientError):
            self._record(due, err, retry, outcome_unknown=False)
            log.warning(
                "alert=%d delivery failed (%s); retry at %s",
                due.alert_id,
                err,
                retry.isoformat(timespec="seconds"),
            )
        else:  # a bug or a library surprise: the alert waits, others go on
            log.error("alert=%d unexpected delivery error", due.alert_id, exc_info=err)
            self._record(due, err, retry, outcome_unknown=True)
        return False

    def _record(
        self, due: Alert, err: Exception, retry_at: datetime, *, outcome_unknown: bool
    ) -> None:
        self.outbox.record_failure(
            due.alert_id,
            error=f"{type(err).__name__}: {err}",
            retry_at=retry_at,
            outcome_unknown=outcome_unknown,
        )
