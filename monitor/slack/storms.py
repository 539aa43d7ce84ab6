"""Storms: when many complaints share a topic at once (an outage), one incident thread.

More than ``threshold`` non-VIP complaints on one topic within ``window_minutes`` make a storm:
one parent message "Possible incident: N complaints about <topic> in the last M minutes", its
count kept current with ``chat.update``, and the complaints as replies in its thread. It runs
before the one-message-each deliverer in every delivery round and takes the storm's alerts out
of the outbox first, so they are never also posted on their own.

Slack takes about one message a second a channel. While catching up, a reply holds up to
``max_per_reply`` complaints (each with its own actions menu), as many as fit in one message
(Slack refuses a message whose blocks hold too much text: `storm_reply_batches`), and replies
are paced ``seconds_between_posts`` apart so the limit is not hit: 1,000 short complaints are a
few dozen messages, visible within a minute instead of a quarter of an hour. A reply Slack still
refuses for good is cut in two and each half sent; a single complaint refused for good is parked
with the reason (never retried as it is), like an alert the deliverer parks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from monitor.clock import Clock
from monitor.errors import AuthError, ConfigError, OutcomeUnknown, PermanentError, TransientError
from monitor.models import Alert
from monitor.notify import Delivered
from monitor.slack.client import SlackClient
from monitor.slack.routing import topic_label
from monitor.slack.settings import StormSettings
from monitor.slack.storm_blocks import (
    STORM_EVENT_TYPE,
    storm_parent_blocks,
    storm_reply_batches,
    storm_reply_blocks,
)
from monitor.storage.outbox import Outbox
from monitor.storage.storms import Storm, StormStore

log = logging.getLogger(__name__)

STORM_REPLY_EVENT_TYPE = "complaint_storm_reply"
LEASE = timedelta(minutes=2)
RETRY = timedelta(seconds=30)
REPLIES_PER_ROUND = 10
"""Replies posted per storm per round (about 10 s at Slack's pace); the delivery loop repeats
rounds while they make progress, serving other alerts in between."""
MAX_CLAIM = 20_000
HOLD = timedelta(seconds=1)
"""Claimed members not posted this round wait this long: past the deliverer's turn in this
round, due again for the storm's next round."""


@dataclass
class StormReport:
    storms: int = 0
    sent: int = 0
    failed: int = 0


class Pacer:
    """At most one post per `interval` seconds per channel (real time: Slack's clock, not the
    daemon's injectable one)."""

    def __init__(
        self,
        interval: float,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self._sleep = sleep
        self._monotonic = monotonic
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, channel: str) -> None:
        with self._lock:
            now = self._monotonic()
            slot = max(now, self._next.get(channel, now))
            self._next[channel] = slot + self.interval
        if slot > now:
            self._sleep(slot - now)

    def hold(self, channel: str, seconds: float) -> None:
        """Slack said wait (429 Retry-After): no post to this channel before then."""
        with self._lock:
            self._next[channel] = max(self._next.get(channel, 0.0), self._monotonic() + seconds)


class StormSender:
    def __init__(
        self,
        settings: StormSettings,
        storms: StormStore,
        outbox: Outbox,
        client: SlackClient,
        clock: Clock,
        *,
        buttons: bool,
        pacer: Pacer | None = None,
    ) -> None:
        self.settings = settings
        self.storms = storms
        self.outbox = outbox
        self.client = client
        self.clock = clock
        self.buttons = buttons
        """Each complaint in a reply gets its actions menu (Socket Mode receives the clicks)."""
        self.pacer = pacer or Pacer(settings.seconds_between_posts)

    def deliver(self) -> StormReport:
        """Find storms going on now and post what they hold that is not in their thread yet."""
        report = StormReport()
        if not self.settings.enabled:
            return report
        now = self.clock.now()
        window = self.settings.window
        for channel, topic, _count in self.storms.storm_topics(
            now, window, self.settings.threshold
        ):
            storm = self.storms.current_storm(channel, topic, now, window)
            report.storms += 1
            self._deliver_storm(storm, report)
        return report

    def _deliver_storm(self, storm: Storm, report: StormReport) -> None:
        """Take every due alert of the storm (so the one-each deliverer never sees them), post
        up to `REPLIES_PER_ROUND` replies, and hold the rest a moment for the next round."""
        window = self.settings.window
        per_reply = self.settings.max_per_reply
        members = self.storms.claim_storm_members(
            storm, window, self.clock.now(), LEASE, limit=MAX_CLAIM
        )
        if storm.parent_ts is None and not members:
            return
        try:
            if storm.parent_ts is None:
                storm = self._post_parent(storm)
            assert storm.parent_ts is not None and storm.parent_channel is not None
            members = self._skip_already_posted(storm, members)
        except (AuthError, ConfigError, PermanentError, TransientError) as err:
            self._give_back(members, err)
            report.failed += len(members)
            return
        chunks = storm_reply_batches(
            members,
            topic_label(storm.topic),
            self.clock.now(),
            buttons=self.buttons,
            per_reply=per_reply,
        )
        posted = 0
        while chunks:
            if posted == REPLIES_PER_ROUND:
                rest = [m.alert_id for c in chunks for m in c]
                self.outbox.release(rest, self.clock.now() + HOLD)
                break
            chunk = chunks.pop(0)
            posted += 1
            try:
                self._post_chunk(storm, chunk)
            except PermanentError as err:
                if len(chunk) > 1:  # refused for its size or one member: each half alone
                    half = len(chunk) // 2
                    chunks[:0] = [chunk[:half], chunk[half:]]
                    continue
                self._park(chunk[0], err)
                report.failed += 1
                continue
            except (AuthError, ConfigError, TransientError) as err:
                waiting = [*chunk, *(m for c in chunks for m in c)]
                unknown = chunk if isinstance(err, OutcomeUnknown) else []
                self._give_back(waiting, err, unknown=unknown)
                report.failed += len(waiting)
                break
            report.sent += len(chunk)
        self._update_count(storm)

    def _post_parent(self, storm: Storm) -> Storm:
        count = self.storms.storm_count(storm, self.settings.window)
        text, blocks = storm_parent_blocks(
            topic_label(storm.topic),
            count,
            self.settings.window_minutes,
            storm.started_at,
            self.clock.now(),
        )
        channel = self.client.channel(storm.channel)
        self.pacer.wait(channel)
        delivered = self._paced(
            channel,
            lambda: self.client.post(
                storm.channel,
                text,
                blocks=blocks,
                metadata={"event_type": STORM_EVENT_TYPE, "event_payload": {"storm_id": storm.id}},
            ),
        )
        self.storms.record_storm_parent(storm.id, delivered.channel, delivered.ts, count)
        log.warning(
            "storm: %d complaints about %s in %s; posting them in one thread (storm=%d)",
            count,
            storm.topic,
            delivered.channel,
            storm.id,
        )
        return replace(
            storm, parent_channel=delivered.channel, parent_ts=delivered.ts, shown_count=count
        )

    def _post_chunk(self, storm: Storm, chunk: list[Alert]) -> None:
        assert storm.parent_ts is not None and storm.parent_channel is not None
        now = self.clock.now()
        text, blocks = storm_reply_blocks(
            chunk, topic_label(storm.topic), now, buttons=self.buttons
        )
        for alert in chunk:
            self.outbox.mark_attempt(alert.alert_id, now)
        ids = ",".join(str(v.alert_id) for v in chunk)
        channel = storm.parent_channel
        thread = storm.parent_ts
        self.pacer.wait(channel)
        delivered = self._paced(
            channel,
            lambda: self.client.post(
                channel,
                text,
                blocks=blocks,
                thread_ts=thread,
                metadata={
                    "event_type": STORM_REPLY_EVENT_TYPE,
                    "event_payload": {"storm_id": storm.id, "alert_ids": ids},
                },
            ),
        )
        for alert in chunk:
            self.outbox.record_sent(
                alert.alert_id, channel=delivered.channel, ts=delivered.ts, now=self.clock.now()
            )

    def _paced(self, channel: str, post: Callable[[], Delivered]) -> Delivered:
        """Post, remembering a 429's Retry-After so the next post waits it out."""
        try:
            return post()
        except TransientError as err:
            if err.retry_after is not None:
                self.pacer.hold(channel, err.retry_after)
            raise

    def _skip_already_posted(self, storm: Storm, members: list[Alert]) -> list[Alert]:
        """Members whose earlier post lost its answer may be in the thread already: record
        those instead of posting them twice."""
        if not any(m.outcome_unknown for m in members):
            return members
        assert storm.parent_channel is not None and storm.parent_ts is not None
        found = self._posted_in_thread(storm.parent_channel, storm.parent_ts)
        rest: list[Alert] = []
        for member in members:
            ts = found.get(member.alert_id) if member.outcome_unknown else None
            if ts is None:
                rest.append(member)
                continue
            self.outbox.record_sent(
                member.alert_id, channel=storm.parent_channel, ts=ts, now=self.clock.now()
            )
        return rest

    def _posted_in_thread(self, channel: str, thread_ts: str) -> dict[int, str]:
        """alert id → ts of our replies in the storm's thread. Failures raise `OutcomeUnknown`."""
        found: dict[int, str] = {}
        replies = self.client.messages_with_metadata(
            channel,
            STORM_REPLY_EVENT_TYPE,
            what=f"read the thread {thread_ts}",
            thread_ts=thread_ts,
        )
        for ts, payload in replies:
            for raw in str(payload.get("alert_ids") or "").split(","):
                if raw.strip().isdigit():
                    found[int(raw)] = ts
        return found

    def _update_count(self, storm: Storm) -> None:
        if storm.parent_ts is None or storm.parent_channel is None:
            return
        count = self.storms.storm_count(storm, self.settings.window)
        if count == storm.shown_count:
            return
        text, blocks = storm_parent_blocks(
            topic_label(storm.topic),
            count,
            self.settings.window_minutes,
            storm.started_at,
            self.clock.now(),
        )
        try:
            self.client.update(storm.parent_channel, storm.parent_ts, text, blocks)
        except (AuthError, ConfigError, PermanentError, TransientError) as err:
            log.warning("storm=%d count not updated (%s); next round tries again", storm.id, err)
            return
        self.storms.record_storm_shown(storm.id, count)

    def _park(self, member: Alert, err: PermanentError) -> None:
        """Slack refuses this complaint for good even alone in a reply: parked with the reason
        (counted in ``stats``, never claimed again) instead of retried forever."""
        reason = f"PermanentError: refused in the storm's thread ({err})"
        self.outbox.record_parked(member.alert_id, reason=reason)
        log.error("alert=%d parked: %s", member.alert_id, reason)

    def _give_back(
        self,
        members: list[Alert],
        err: Exception,
        unknown: list[Alert] | None = None,
    ) -> None:
        """Back to the outbox, still the storm's: retried at the next round after the wait."""
        if not members:
            return
        retry_after = getattr(err, "retry_after", None)
        wait = timedelta(seconds=retry_after) if retry_after is not None else RETRY
        retry_at = self.clock.now() + wait
        unknown_ids = {m.alert_id for m in unknown or []}
        for member in members:
            self.outbox.record_failure(
                member.alert_id,
                error=f"{type(err).__name__}: {err}",
                retry_at=retry_at,
                outcome_unknown=member.alert_id in unknown_ids,
            )
        log.warning(
            "storm: %d complaints wait %.0fs for their thread (%s)",
            len(members),
            wait.total_seconds(),
            err,
        )
