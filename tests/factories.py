"""Test data shared across the suite: posts, verdicts, alerts and configuration files. Defaults
are a plain, typical complaint and a config that runs; pass a field or a table to change it."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.models import Alert, Author, Label, Post, Reason, Severity, Verdict

NOW = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)


def make_post(**changes: Any) -> Post:
    post = Post(
        platform="x",
        external_id="1002",
        author=Author(id="555", handle="dana", display_name="Dana R.", followers=12345),
        text="@acme still waiting on my refund for order 48213, three weeks now",
        url="https://x.com/dana/status/1002",
        created_at=NOW - timedelta(minutes=12),
        language="en",
        contact_url="https://x.com/messages/compose?recipient_id=555",
    )
    return replace(post, **changes)


def make_verdict(**changes: Any) -> Verdict:
    verdict = Verdict(
        label=Label.COMPLAINT,
        score=0.87,
        severity=Severity.HIGH,
        reasons=(
            Reason("refund_request", 0.4, "refund"),
            Reason("waiting_time", 0.3, "three weeks"),
            Reason("brand_mention", 0.05),
        ),
        sentiment={"compound": -0.4},
        classifier_version="rules-1",
    )
    return replace(verdict, **changes)


def make_alert(
    *, alert_id: int = 7, vip: bool = False, channel: str | None = None, **post_changes: Any
) -> Alert:
    """A pending alert (nobody has acted on it) for a post with `post_changes`."""
    return Alert(
        alert_id=alert_id,
        post=make_post(**post_changes),
        verdict=make_verdict(),
        vip=vip,
        channel=channel,
    )


# -- configuration files ------------------------------------------------------------------------

SLACK_TOKEN_ENV = "TEST_SLACK_TOKEN"


def toml(tables: Mapping[str, Any]) -> str:
    """TOML for plain data: tables, arrays of tables (lists of dicts), nested tables (dotted),
    and strings, numbers, booleans, paths and lists of them; None leaves a key out."""
    lines: list[str] = []
    _emit_tables(lines, "", tables)
    return "\n".join(lines) + "\n"


def _emit_tables(lines: list[str], prefix: str, tables: Mapping[str, Any]) -> None:
    for name, value in tables.items():
        key = f"{prefix}{name}"
        if isinstance(value, list) and value and isinstance(value[0], Mapping):
            for item in value:
                lines.append(f"[[{key}]]")
                _emit_table(lines, key, item)
        elif isinstance(value, Mapping):
            lines.append(f"[{key}]")
            _emit_table(lines, key, value)


def _emit_table(lines: list[str], key: str, table: Mapping[str, Any]) -> None:
    nested = {}
    for name, value in table.items():
        if isinstance(value, Mapping) or (
            isinstance(value, list) and value and isinstance(value[0], Mapping)
        ):
            nested[name] = value
        elif value is not None:
            lines.append(f"{name} = {_toml_value(value)}")
    _emit_tables(lines, f"{key}.", nested)


def _toml_value(value: Any) -> str:
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)  # JSON strings, numbers and booleans are valid TOML


def config_file(
    directory: Path,
    *,
    slack_url: str | None = None,
    name: str = "monitor.toml",
    **tables: Any,
) -> Path:
    """A monitor.toml in `directory`, the way most tests want it: state in `directory/state`,
    brand Acme (@acme), the console notifier (or, with `slack_url`, the fake Slack with the token
    in $TEST_SLACK_TOKEN and channel C1), and one JSONL source "feed" on feed.jsonl polled every
    second. Each table given is merged over the default's keys; `sources=[...]` replaces them."""
    slack: dict[str, Any] = {"sink": "console"}
    if slack_url is not None:
        slack = {"sink": "slack", "token_env": SLACK_TOKEN_ENV, "channel": "C1"}
        slack["base_url"] = slack_url
    defaults: dict[str, Any] = {
        "daemon": {"state_dir": directory / "state"},
        "brand": {"name": "Acme", "handles": ["acme"]},
        "slack": slack,
    }
    for table, keys in tables.items():
        if table != "sources":
            defaults[table] = {**defaults.get(table, {}), **keys}
    defaults["sources"] = tables.get("sources") or [
        {"type": "jsonl", "name": "feed", "path": "feed.jsonl", "interval_seconds": 1}
    ]
    path = directory / name
    path.write_text(toml(defaults), encoding="utf-8")
    return path


def same(left: Any, right: Any) -> bool:
    """Equal and of the same types all the way down: dataclasses field by field, dicts in
    order, NaN equal to NaN, datetimes in the very same tzinfo object."""
    if type(left) is not type(right):
        return False
    if dataclasses.is_dataclass(left):
        return all(
            same(getattr(left, f.name), getattr(right, f.name)) for f in dataclasses.fields(left)
        )
    if isinstance(left, dict):
        return list(left) == list(right) and all(same(left[k], right[k]) for k in left)
    if isinstance(left, list | tuple):
        return len(left) == len(right) and all(map(same, left, right))
    if isinstance(left, float) and math.isnan(left):
        return math.isnan(right)
    if isinstance(left, datetime):
        return bool(left == right) and left.tzinfo is right.tzinfo
    return bool(left == right)
