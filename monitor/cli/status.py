"""`complaint-monitor status`: how the monitor is doing, for a person at a terminal (or `--json`
for a script): each source's state, the outbox, the model, the database; exit 0 when all is well,
1 when something needs a person.

Read-only, like `stats`: it opens the service's database without creating or migrating it
(`open_storage`), and reads what the daemon recorded (`SourceStatusStore`). A database it cannot
reach is reported as such (exit 1); a schema behind this version is a configuration error (2).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from monitor.cli.common import EXIT_FAILED, EXIT_OK, config_from, open_storage, print_json
from monitor.config import MonitorConfig
from monitor.errors import StorageUnavailable
from monitor.sources import SourceState

if TYPE_CHECKING:
    from connectors.x import SpendReport
    from monitor.storage import Database, SourceStatus
    from monitor.storage.source_status import OutboxState

DAY = timedelta(days=1)
STALE_INTERVALS = 3
"""A source not polled for this many of its intervals is not being polled at all."""
STALE_AT_LEAST = timedelta(minutes=3)
"""...and never sooner (a poll of a short-interval source can take a while)."""


@dataclass(frozen=True, slots=True)
class SourceLine:
    name: str
    platform: str
    state: str
    """A `SourceState` value, or "never_polled" / "not_polled" (the service is not polling)."""
    summary: str
    """In words: ok, paused until T and why, rate-limited until T, auth refused since T..."""
    problem: str | None
    """Why a person is needed, or None."""
    reason: str | None
    last_success_at: datetime | None
    last_post_at: datetime | None
    posts_24h: int
    alerts_24h: int
    spend: SpendReport | None = None
    """An X source's spend this month, projection and budget."""

    def as_json(self) -> dict[str, Any]:
        spend = {"spend": self.spend.as_json()} if self.spend is not None else {}
        return spend | {
            "source": self.name,
            "platform": self.platform,
            "state": self.state,
            "summary": self.summary,
            "needs_a_person": self.problem,
            "reason": self.reason,
            "last_success_at": _iso(self.last_success_at),
            "last_post_at": _iso(self.last_post_at),
            "posts_24h": self.posts_24h,
            "alerts_24h": self.alerts_24h,
        }


@dataclass
class Status:
    checked_at: datetime
    database: dict[str, Any]
    model: dict[str, Any]
    sources: list[SourceLine] = field(default_factory=list)
    outbox: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    """What needs a person, one line each."""

    def as_json(self) -> dict[str, Any]:
        return {
            "checked_at": self.checked_at.isoformat(),
            "ok": not self.problems,
            "needs_a_person": self.problems,
            "sources": [line.as_json() for line in self.sources],
            "outbox": self.outbox,
            "model": self.model,
            "database": self.database,
        }


def cmd_status(args: argparse.Namespace) -> int:
    from monitor.clock import SystemClock

    config = config_from(args)
    status = collect(config, SystemClock().now())
    if args.json:
        print_json(status.as_json())
    else:
        print(render(status))
    return EXIT_FAILED if status.problems else EXIT_OK


def collect(config: MonitorConfig, now: datetime) -> Status:
    """Everything `status` shows. A schema behind this version raises `ConfigError` (exit 2)."""
    status = Status(checked_at=now, database={}, model=_model(config))
    if status.model.get("problem"):
        status.problems.append(f"model: {status.model['problem']}")
    try:
        with open_storage(config, read_only=True, command="status") as database:
            status.database = _database(database, reachable=True)
            _read(config, database, now, status)
    except StorageUnavailable as err:
        status.database = {"url": _display_url(config), "reachable": False, "error": str(err)}
        status.problems.append(f"database: unreachable ({err})")
    return status


def _read(config: MonitorConfig, database: Database, now: datetime, status: Status) -> None:
    from monitor.storage import SourceStatusStore

    store = SourceStatusStore(database)
    recorded = {row.source: row for row in store.all()}
    activity = store.activity(now - DAY)
    for settings in config.enabled_sources():
        row = recorded.get(settings.name)
        posts, alerts = activity.get(settings.name, (0, 0))
        interval = timedelta(seconds=settings.interval_seconds)
        state, summary, problem = describe(row, interval, now)
        line = SourceLine(
            name=settings.name,
            platform=row.platform if row else settings.type,
            state=state,
            summary=summary,
            problem=problem,
            reason=row.reason if row else None,
            last_success_at=row.last_success_at if row else None,
            last_post_at=row.last_post_at if row else None,
            posts_24h=posts,
            alerts_24h=alerts,
            spend=_spend(settings, database, now),
        )
        status.sources.append(line)
        if problem:
            status.problems.append(f"source {settings.name}: {problem}")
    outbox = store.outbox()
    max_age = timedelta(seconds=config.daemon.ready_outbox_max_age_seconds)
    status.outbox = _outbox(outbox, now)
    if outbox.oldest_pending is not None and now - outbox.oldest_pending > max_age:
        status.problems.append(
            f"outbox: the oldest of {outbox.pending} pending alert(s) has waited since "
            f"{_at(outbox.oldest_pending, now)}: is Slack refusing them? (`complaint-monitor "
            "stats` shows why)"
        )
    if outbox.parked:
        status.problems.append(
            f"outbox: {sum(outbox.parked.values())} alert(s) parked (Slack refused them for "
            "good): read them in the history view or `complaint-monitor stats`"
        )


def _spend(settings: Any, database: Database, now: datetime) -> SpendReport | None:
    """An X source's spend this month, from the cursor stored with its posts."""
    if getattr(settings, "type", None) != "x":
        return None  # connectors.x (and tweepy) are imported only for an X source
    from connectors.x import XSettings, spend_report
    from monitor.storage import PostStore

    if not isinstance(settings, XSettings):
        return None
    return spend_report(settings, PostStore(database).load_cursor(settings.name), now)


def describe(
    row: SourceStatus | None, interval: timedelta, now: datetime
) -> tuple[str, str, str | None]:
    """A source's state, the same in words, and why a person is needed (None when not)."""
    if row is None:
        return (
            "never_polled",
            "never polled",
            ("never polled: is the service running, and restarted since the source was added?"),
        )
    stale_after = max(STALE_AT_LEAST, STALE_INTERVALS * interval)
    last_poll = row.last_poll_at or row.since
    expected_by = max(last_poll, row.paused_until) if row.paused_until else last_poll
    if now - expected_by > stale_after:
        last = _short(last_poll, now)
        return (
            "not_polled",
            f"not polled since {last}",
            (f"not polled since {last}: is the service running?"),
        )
    state = row.state
    if state == SourceState.OK:
        if row.silent_since is not None:
            text = f"silent since {_short(row.silent_since, now)}"
            return state, text, f"{text}, far longer than its usual rhythm allows"
        return state, "ok", None
    until = _short(row.paused_until, now) if row.paused_until else "its next poll"
    since = _short(row.since, now)
    if state == SourceState.RATE_LIMITED:
        text = f"rate-limited until {until}"
    elif state == SourceState.AUTH_FAILED:
        text = f"auth refused since {since}, next try {until}"
    elif state == SourceState.QUOTA_EXHAUSTED:
        text = f"budget spent, paused until {until}"
    elif state == SourceState.FAILING:
        polls = f"{row.consecutive_failures} poll{'s' if row.consecutive_failures != 1 else ''}"
        text = f"failing since {since} ({polls}), next try {until}"
    else:
        text = f"{state} since {since}"
    person = row.told is not None or state in (
        SourceState.AUTH_FAILED,
        SourceState.QUOTA_EXHAUSTED,
    )
    return state, text, f"{text}: {row.reason}" if person else None


def _outbox(outbox: OutboxState, now: datetime) -> dict[str, Any]:
    oldest = outbox.oldest_pending
    return {
        "pending": outbox.pending,
        "oldest_pending_at": _iso(oldest),
        "oldest_pending_seconds": round((now - oldest).total_seconds()) if oldest else None,
        "previewed_only": outbox.previewed,
        "parked": sum(outbox.parked.values()),
        "parked_reasons": outbox.parked,
        "last_sent_at": _iso(outbox.last_sent),
    }


def _model(config: MonitorConfig) -> dict[str, Any]:
    """The model `train` promoted, from the state directory (by name: loading it is the
    daemon's job and would take a while)."""
    from monitor.classifier.model import ModelStore

    if not config.classifier.use_model:
        return {"current": None, "in_use": False, "note": "use_model = false: the scorer alone"}
    store = ModelStore(config.daemon.state_path)
    name = store.current_name()
    if name is None:
        return {"current": None, "in_use": False, "note": "none promoted yet: the scorer alone"}
    if not (store.directory / name).is_file():
        return {
            "current": name,
            "in_use": False,
            "problem": f"the current model {name} is missing from {store.directory}: the "
            "daemon runs with the scorer alone; run `complaint-monitor train`",
        }
    return {"current": name, "in_use": True}


def _database(database: Database, *, reachable: bool) -> dict[str, Any]:
    revision = database.schema_revision()
    return {
        "url": database.display_url,
        "reachable": reachable,
        "schema": revision.current,
        "schema_head": revision.head,
    }


def _display_url(config: MonitorConfig) -> str:
    from sqlalchemy.engine import make_url

    return make_url(config.database_url).render_as_string(hide_password=True)


# -- for people ------------------------------------------------------------------------------

COLUMNS = (
    "SOURCE",
    "PLATFORM",
    "STATE",
    "LAST POLL OK",
    "LAST POST STORED",
    "POSTS 24H",
    "ALERTS 24H",
)
RIGHT_ALIGNED = {"POSTS 24H", "ALERTS 24H"}


def render(status: Status) -> str:
    now = status.checked_at
    lines = [f"complaint-monitor status at {now:%Y-%m-%d %H:%M:%S} UTC (times in UTC)", ""]
    rows = [
        (
            s.name,
            s.platform,
            s.summary,
            _ago(s.last_success_at, now),
            _ago(s.last_post_at, now),
            str(s.posts_24h),
            str(s.alerts_24h),
        )
        for s in status.sources
    ]
    if status.database.get("reachable"):
        lines += [*_table(COLUMNS, rows), ""]
        lines += [f"spend     {s.name}: {s.spend.line()}" for s in status.sources if s.spend]
    lines.append(f"outbox    {_outbox_line(status.outbox, now)}")
    lines.append(f"deliverer {_deliverer_line(status.outbox, now)}")
    lines.append(f"model     {_model_line(status.model)}")
    lines.append(f"database  {_database_line(status.database)}")
    lines.append("")
    if status.problems:
        lines.append("Needs a person:")
        lines += [f"  - {problem}" for problem in status.problems]
    else:
        lines.append("All is well.")
    return "\n".join(lines)


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            cell.rjust(width) if name in RIGHT_ALIGNED else cell.ljust(width)
            for cell, width, name in zip(cells, widths, header, strict=True)
        ).rstrip()

    return [line(header)] + [line(row) for row in rows]


def _outbox_line(outbox: dict[str, Any] | None, now: datetime) -> str:
    if outbox is None:
        return "unknown (no database)"
    oldest = outbox["oldest_pending_at"]
    text = f"{outbox['pending']} pending"
    if oldest:
        text += f", the oldest since {_at(datetime.fromisoformat(oldest), now)}"
    if outbox["previewed_only"]:
        text += f"; {outbox['previewed_only']} printed by the console only, owed to Slack"
    parked = outbox["parked_reasons"]
    if parked:
        reasons = "; ".join(f"{reason} ({count})" for reason, count in parked.items())
        text += f"; {outbox['parked']} parked: {reasons}"
    return text


def _deliverer_line(outbox: dict[str, Any] | None, now: datetime) -> str:
    if outbox is None:
        return "unknown (no database)"
    last = outbox["last_sent_at"]
    if last is None:
        return "has sent no alert to Slack yet"
    return f"last alert sent to Slack {_at(datetime.fromisoformat(last), now)}"


def _model_line(model: dict[str, Any]) -> str:
    return str(model.get("problem") or model.get("note") or model["current"])


def _database_line(database: dict[str, Any]) -> str:
    if not database.get("reachable"):
        return f"{database.get('url')}: UNREACHABLE ({database.get('error')})"
    schema = database["schema"]
    head = (
        " (head)" if schema == database["schema_head"] else f" (head is {database['schema_head']})"
    )
    return f"{database['url']}: reachable, schema {schema}{head}"


def _at(moment: datetime, now: datetime) -> str:
    """ "2026-11-23 09:12 (3 h ago)": for a line of its own."""
    return f"{moment:%Y-%m-%d %H:%M} ({_span(now - moment)})"


def _short(moment: datetime, now: datetime) -> str:
    """ "09:12" today, "11-22 09:12" another day this year, else the full date: for the table."""
    if moment.date() == now.date():
        return f"{moment:%H:%M}"
    if moment.year == now.year:
        return f"{moment:%m-%d %H:%M}"
    return f"{moment:%Y-%m-%d %H:%M}"


def _ago(moment: datetime | None, now: datetime) -> str:
    """ "09:12 (3 h ago)", or "never"."""
    return "never" if moment is None else f"{_short(moment, now)} ({_span(now - moment)})"


def _span(delta: timedelta) -> str:
    """ "3 h ago", "in 15 min"."""
    seconds = delta.total_seconds()
    size = abs(seconds)
    if size < 60:
        span = f"{size:.0f} s"
    elif size < 3 * 3600:
        span = f"{size / 60:.0f} min"
    elif size < 3 * 86_400:
        span = f"{size / 3600:.0f} h"
    else:
        span = f"{size / 86_400:.0f} d"
    return f"{span} ago" if seconds >= 0 else f"in {span}"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
