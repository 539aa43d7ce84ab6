"""indexes for the queries that run on a timer (issue 16): none of them scans the history

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEXES = {
    # retention: the UPDATE of feedback and the foreign-key check of each deleted post
    "ix_feedback_post_id": ("feedback", ["post_id"]),
    # the digest's "not a complaint" count
    "ix_feedback_created_at": ("feedback", ["created_at"]),
    # storm detection, the digest's and stats' alert counts
    "ix_alerts_created_at": ("alerts", ["created_at"]),
    # the digest's sent count, response times in stats
    "ix_alerts_sent_at": ("alerts", ["sent_at"]),
    # the escalation scan (open, never escalated, sent before the SLA), the digest's oldest open
    "ix_alerts_escalation": ("alerts", ["state", "escalated_at", "sent_at"]),
    # the reminder scan (claimed, never reminded, claimed before the delay)
    "ix_alerts_reminder": ("alerts", ["state", "reminded_at", "claimed_at"]),
    # the digest's time to claim: clicks of the day
    "ix_alert_events_created_at": ("alert_events", ["created_at"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table)
