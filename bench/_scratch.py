"""A PostgreSQL schema of a bench run's own, shared by the bench/*.py scripts that take a
PostgreSQL URL: runs, and the tests, share one server, so each run's tables go in a schema of
their own (`search_path` set in the URL's `options`), dropped afterwards unless kept.

Imported as `_scratch` (the script's own directory is first on `sys.path`), not `bench._scratch`:
`store_poll.py --tree DIR` imports `monitor` from an older checkout, which has no such module.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from sqlalchemy import Engine, create_engine, text


@contextlib.contextmanager
def scratch_schema(
    url: str, prefix: str, *, name: str | None = None, keep: bool = False, options: str = ""
) -> Iterator[str]:
    """The URL with its tables in schema `name` (default: `prefix` and a random suffix), created
    when missing and dropped afterwards unless `keep`; `options`: more of the URL's query."""
    schema = name or f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
        joiner = "&" if "?" in url else "?"
        yield f"{url}{joiner}options=-csearch_path%3D{schema}{options}"
    finally:
        if not keep:
            _drop(admin, schema)
        admin.dispose()


def drop_schema(url: str, name: str) -> None:
    """Drop a schema a run kept (`history_search.py --keep`), once it is no longer wanted."""
    admin = create_engine(url)
    try:
        _drop(admin, name)
    finally:
        admin.dispose()


def _drop(admin: Engine, schema: str) -> None:
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))


def schema_exists(url: str, name: str) -> bool:
    """Whether a kept schema is there to reuse (`history_search.py --keep`)."""
    admin = create_engine(url)
    try:
        with admin.connect() as connection:
            query = text("SELECT count(*) FROM information_schema.schemata WHERE schema_name = :s")
            return bool(connection.scalar(query, {"s": name}))
    finally:
        admin.dispose()
