"""A migrated database on SQLite and on PostgreSQL (`database_url`), and the stores over it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from monitor.storage import Database, Storage


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.upgrade()
    yield database
    database.close()


@pytest.fixture
def storage(database: Database) -> Storage:
    """Every store; alerts stored without a channel go to C1."""
    return Storage(database, "C1")
