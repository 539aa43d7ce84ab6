"""Persistence, one module per job over one database:

database  the engine, sessions, migrations, outages as `StorageUnavailable`
tables    the schema, and the mappers between rows and `monitor.models` values
posts     what a poll stores (one transaction), known ids, cursors, mutes, replay reads
outbox    pending alerts claimed, attempted, sent or failed: never dropped
leases    which replica polls a source, which sends a day's digest
alerts    the click state machine and the alert's history, escalation, reported misses
storms    bursts on one topic, posted as one thread
reports   read-only figures: stats, response times, the digest's
feedback  labeled texts the classifier learns from
retention old posts purged in short batches that never hold up a poll
text_index  the history view's word index, kept behind the polls in batches
source_status  each source's state (for `status` and the silence watch), the outbox at a glance
"""

from __future__ import annotations

from monitor.storage.alerts import AlertStore
from monitor.storage.database import Database
from monitor.storage.feedback import FeedbackStore
from monitor.storage.leases import Leases
from monitor.storage.outbox import Outbox
from monitor.storage.posts import NewPost, PostStore, StoredPoll, StoredVerdict
from monitor.storage.reports import Reports
from monitor.storage.retention import PurgeRun, Retention
from monitor.storage.source_status import SourceStatus, SourceStatusStore
from monitor.storage.storms import StormStore
from monitor.storage.text_index import IndexRun, TextIndex


class Storage:
    """One handle on the database, with a store per job: the daemon builds one and hands each
    part the store it needs."""

    def __init__(self, database: Database, default_channel: str | None = None) -> None:
        self.database = database
        self.posts = PostStore(database)
        self.outbox = Outbox(database)
        self.leases = Leases(database)
        self.alerts = AlertStore(database)
        self.storms = StormStore(database, default_channel)
        self.reports = Reports(database)
        self.feedback = FeedbackStore(database)
        self.retention = Retention(database)
        self.source_status = SourceStatusStore(database)
        self.text_index = TextIndex(database)


__all__ = [
    "AlertStore",
    "Database",
    "FeedbackStore",
    "IndexRun",
    "Leases",
    "NewPost",
    "Outbox",
    "PostStore",
    "PurgeRun",
    "Reports",
    "Retention",
    "SourceStatus",
    "SourceStatusStore",
    "Storage",
    "StoredPoll",
    "StoredVerdict",
    "StormStore",
    "TextIndex",
]
