"""Leases on SQLite and PostgreSQL: one replica polls a source, one sends a day's digest."""

from __future__ import annotations

from datetime import timedelta

from monitor.storage import Storage
from tests.storage.factories import LEASE, NOW


def test_a_source_lease_is_held_by_one_replica_until_it_expires(storage: Storage) -> None:
    leases = storage.leases
    assert leases.acquire("x", "replica-a", NOW, LEASE)
    assert not leases.acquire("x", "replica-b", NOW + LEASE / 2, LEASE)
    assert leases.acquire("x", "replica-a", NOW + LEASE / 2, LEASE)
    assert leases.owner("x", NOW + LEASE / 2) == "replica-a"
    takeover = NOW + LEASE * 2
    assert leases.acquire("x", "replica-b", takeover, LEASE)
    assert leases.owner("x", takeover) == "replica-b"
    leases.release("x", "replica-b")
    assert leases.acquire("x", "replica-a", takeover, LEASE)


def test_a_digest_is_claimed_once_a_day(storage: Storage) -> None:
    leases = storage.leases
    day = NOW.date()
    stale = timedelta(minutes=30)
    assert leases.claim_digest(day, NOW, stale)
    assert not leases.claim_digest(day, NOW + timedelta(minutes=1), stale)
    assert leases.claim_digest(day, NOW + timedelta(hours=1), stale), "its sender died"
    leases.record_digest(day, "1.0", NOW)
    assert not leases.claim_digest(day, NOW + timedelta(hours=5), stale)
    assert leases.claim_digest(day + timedelta(days=1), NOW + timedelta(days=1), stale)
