"""Re-render a message we posted from what the database says now (after a click, a mute).

The database is the truth: a message is always rebuilt from the alerts it shows, never patched
from what the click payload claims the message looked like.
"""

from __future__ import annotations

import logging
from datetime import datetime

from monitor.slack.blocks import storm_reply_blocks
from monitor.slack.message import AlertMessage, AlertStatus
from monitor.slack.routing import topic_label
from monitor.slack.sink import SlackSink
from monitor.storage.workflow import AlertView, WorkflowStore

log = logging.getLogger(__name__)


def message_for(view: AlertView) -> AlertMessage:
    return AlertMessage(
        alert_id=view.alert_id,
        post=view.post,
        verdict=view.verdict,
        vip=view.vip,
        channel=view.channel,
        status=AlertStatus(
            state=view.state,
            claimed_by=view.claimed_by.id if view.claimed_by else None,
            claimed_at=view.claimed_at,
            closed_by=view.resolved_by.id if view.resolved_by else None,
            closed_at=view.resolved_at,
            muted_by=view.muted_by.id if view.muted_by else None,
        ),
    )


def render_views(
    sink: SlackSink, views: list[AlertView], now: datetime
) -> tuple[str, list[dict[str, object]]]:
    """One alert on its own, or a storm reply holding several."""
    if len(views) == 1 and views[0].storm_id is None:
        return sink.render(message_for(views[0]), now)
    topic = topic_label(views[0].topic or "one topic")
    return storm_reply_blocks(
        [message_for(v) for v in views], topic, now, buttons=sink.settings.interactive
    )


def refresh_message(
    sink: SlackSink, store: WorkflowStore, channel: str, ts: str, now: datetime
) -> bool:
    """chat.update the message at (channel, ts) from the database; False if it shows no alert.

    Raises what `SlackSink.update` raises: the caller decides whether to tell the user.
    """
    views = store.alerts_in_message(channel, ts)
    if not views:
        return False
    text, blocks = render_views(sink, views, now)
    sink.update(channel, ts, text, blocks)
    return True
