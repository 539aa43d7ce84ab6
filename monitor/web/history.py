"""The read-only history view: server-rendered pages over `storage.history` (Flask, Jinja2).

Search stored posts, open one (its verdict, reasons, second opinion, its alert's life in Slack,
the author's earlier posts), daily counts and the classifier's precision as SVG drawn here, the
sources' health, and a CSV export of any search. Nothing here writes, so there is nothing for a
forged request to do (CSRF is moot); every page but the login needs the token.

What keeps customer text harmless: Jinja2 escapes everything (Flask turns autoescape on for
.html templates), a link to a post is drawn only for http(s) URLs, the Content-Security-Policy
allows no script at all, and CSV cells that a spreadsheet would run as a formula are quoted.
"""

from __future__ import annotations

import csv
import hmac
import io
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response as BaseResponse

from monitor.classifier.cues import SECOND_OPINION_CUE
from monitor.clock import Clock, SystemClock
from monitor.errors import ConfigError, StorageUnavailable
from monitor.models import Reason
from monitor.storage.history import (
    NO_ALERT,
    Choices,
    DailyCounts,
    FeedbackWeek,
    HistoryStore,
    PageKey,
    PostSummary,
    Search,
)

SESSION_KEY = "history_login"
SESSION_HOURS = 12
"""A login lasts this long (and never past the process: the session key is made per process)."""
AUTHOR_WINDOW = timedelta(days=90)
"""The window of "N earlier complaints from this author" on a post's page, as in Slack."""
CHART_DAYS = (7, 30, 90, 365)
FEEDBACK_WEEKS = 26
CSV_COLUMNS = (
    "post_id",
    "created_at",
    "platform",
    "source",
    "external_id",
    "author_handle",
    "author_name",
    "label",
    "score",
    "severity",
    "alert_state",
    "alert_status",
    "url",
    "text",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A cell starting with one of these is a formula to Excel, LibreOffice and Sheets (OWASP)."""
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
PLATFORM_COLORS = ("#3b6ea8", "#e07b39", "#5a9e5a", "#9b59b6", "#c0392b", "#7f8c8d")
SEVERITY_COLORS = {"low": "#9fb7d0", "medium": "#e0a339", "high": "#c0392b"}


def history_blueprint(store: HistoryStore, token: str, *, clock: Clock | None = None) -> Blueprint:
    """The pages, mounted at `/` by `monitor.web.app.create_app`. `token` is the login token
    (from the environment variable `[daemon] web_token_env` names); an empty one is refused,
    since it would let anyone in."""
    if not token.strip():
        raise ConfigError(
            "the history view needs a login token: set the environment variable that "
            "[daemon] web_token_env names, or leave web_token_env unset to turn the view off"
        )
    expected = token.strip().encode()
    now = (clock or SystemClock()).now
    pages = Blueprint(
        "history",
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/assets",  # not /static: the app may serve its own there
    )
    pages.record_once(_secure_sessions)

    @pages.before_request
    def require_login() -> BaseResponse | None:
        if request.endpoint in ("history.login", "history.static"):
            return None
        started = session.get(SESSION_KEY)
        if isinstance(started, int | float) and 0 <= now().timestamp() - started < (
            SESSION_HOURS * 3600
        ):
            return None
        session.pop(SESSION_KEY, None)
        return redirect(url_for("history.login", next=request.full_path.rstrip("?")))

    @pages.after_request
    def protect(response: BaseResponse) -> BaseResponse:
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"  # a post's id never leaves with a click
        response.headers["Cache-Control"] = "no-store"  # customer text stays out of disk caches
        return response

    @pages.errorhandler(StorageUnavailable)
    def database_down(err: StorageUnavailable) -> tuple[str, int]:
        return render_template("unavailable.html"), 503

    @pages.route("/login", methods=["GET", "POST"])
    def login() -> BaseResponse | str | tuple[str, int]:
        target = _local_path(request.values.get("next", ""))
        if request.method == "GET":
            return render_template("login.html", next=target, refused=False)
        given = request.form.get("token", "").strip().encode()
        if not hmac.compare_digest(given, expected):
            return render_template("login.html", next=target, refused=True), 403
        session.clear()
        session[SESSION_KEY] = now().timestamp()
        return redirect(target or url_for("history.search"))

    @pages.post("/logout")
    def logout() -> BaseResponse:
        session.clear()
        return redirect(url_for("history.login"))

    @pages.get("/")
    def search() -> str:
        form = SearchForm.parse(request.args)
        after = PageKey.decode(request.args.get("after", ""))
        page = store.search(form.search, after)
        next_url = (
            url_for("history.search", **form.params(), after=page.next_key.encode())
            if page.next_key
            else None
        )
        return render_template(
            "search.html",
            form=form,
            choices=store.choices(),
            page=page,
            paged=after is not None,
            next_url=next_url,
            first_url=url_for("history.search", **form.params()),
            export_url=url_for("history.export", **form.params()),
        )

    @pages.get("/export.csv")
    def export() -> Response:
        form = SearchForm.parse(request.args)
        rows = store.export(form.search)
        stamp = now().strftime("%Y%m%d-%H%M")
        return Response(
            stream_with_context(csv_lines(rows)),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="posts-{stamp}.csv"'},
        )

    @pages.get("/posts/<int:post_id>")
    def post(post_id: int) -> str:
        detail = store.post(post_id)
        if detail is None:
            abort(404)
        author = store.author_history(
            detail.post.platform,
            detail.post.author.id,
            detail.post.created_at,
            since=detail.post.created_at - AUTHOR_WINDOW,
        )
        reasons = detail.verdict.reasons if detail.verdict else ()
        return render_template(
            "post.html",
            detail=detail,
            post_url=safe_url(detail.post.url),
            contact_url=safe_url(detail.post.contact_url),
            reasons=[r for r in reasons if r.cue != SECOND_OPINION_CUE],
            second_opinion=_second_opinion(reasons),
            author=author,
            author_days=AUTHOR_WINDOW.days,
        )

    @pages.get("/trends")
    def trends() -> str:
        days = request.args.get("days", type=int)
        days = days if days in CHART_DAYS else 30
        last = now().astimezone(UTC).date()
        counts = store.daily_counts(last - timedelta(days=days - 1), last)
        weeks = store.feedback_weeks(now() - timedelta(weeks=FEEDBACK_WEEKS))
        return render_template(
            "trends.html",
            days=days,
            day_choices=CHART_DAYS,
            platforms=stacked_bars(counts.days, counts.by_platform, _platform_colors(counts)),
            severities=stacked_bars(counts.days, counts.by_severity, SEVERITY_COLORS),
            weeks=weeks,
            precision=precision_line(weeks),
            totals=_totals(counts),
        )

    @pages.get("/sources")
    def sources() -> str:
        return render_template("sources.html", sources=store.sources(now()), now=now())

    pages.add_app_template_filter(_when, "utc")
    return pages


def _secure_sessions(state: BlueprintSetupState) -> None:
    """The login cookie: HttpOnly and SameSite=Strict, signed with a key made for this process
    unless the app brings its own (a restart logs everyone out, which is fine)."""
    app = state.app
    if not app.secret_key:
        app.secret_key = secrets.token_bytes(32)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Strict"


# -- the search form ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchForm:
    """The query string as typed, the `Search` it means, and what was not understood."""

    values: dict[str, str]
    search: Search
    problems: list[str]

    FIELDS = ("q", "platform", "source", "author", "label", "severity", "state", "since", "until")

    @classmethod
    def parse(cls, args: Mapping[str, str]) -> SearchForm:
        values = {name: (args.get(name) or "").strip() for name in cls.FIELDS}
        problems: list[str] = []
        choices = Choices(platforms=[], sources=[])
        for name, allowed in (
            ("label", choices.labels),
            ("severity", choices.severities),
            ("state", choices.alert_states),
        ):
            if values[name] and values[name] not in allowed:
                problems.append(f"unknown {name} {values[name]!r}: ignored")
                values[name] = ""
        since = _day(values, "since", problems)
        until = _day(values, "until", problems)
        search = Search(
            text=values["q"],
            platform=values["platform"],
            source=values["source"],
            author=values["author"],
            label=values["label"],
            severity=values["severity"],
            alert_state=values["state"],
            since=datetime.combine(since, datetime.min.time(), UTC) if since else None,
            until=datetime.combine(until + timedelta(days=1), datetime.min.time(), UTC)
            if until
            else None,
        )
        return cls(values, search, problems)

    def params(self) -> dict[str, Any]:
        """The non-empty fields, for links that keep the search (next page, CSV)."""
        return {name: value for name, value in self.values.items() if value}


def _day(values: dict[str, str], name: str, problems: list[str]) -> date | None:
    if not values[name]:
        return None
    try:
        return date.fromisoformat(values[name])
    except ValueError:
        problems.append(f"{name} {values[name]!r} is not a date (YYYY-MM-DD): ignored")
        values[name] = ""
        return None


# -- CSV ----------------------------------------------------------------------------------------


def csv_lines(rows: Iterable[PostSummary]) -> Iterator[str]:
    """The CSV export, a line at a time (the `csv` module quotes; this defuses formulas)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: Sequence[object]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        return buffer.getvalue()

    yield line(CSV_COLUMNS)
    for row in rows:
        yield line(
            [
                row.post_id,
                row.created_at.astimezone(UTC).isoformat(),
                *(
                    defuse(value)
                    for value in (
                        row.platform,
                        row.source,
                        row.external_id,
                        row.author_handle,
                        row.author_name or "",
                        row.label or "",
                    )
                ),
                "" if row.score is None else round(row.score, 4),
                row.severity or "",
                row.alert_state or NO_ALERT,
                row.alert_status or "",
                defuse(row.url),
                defuse(row.text),
            ]
        )


def defuse(value: str) -> str:
    """Customer text that a spreadsheet would evaluate ("=HYPERLINK(...)", "@SUM(...)") gets a
    leading apostrophe, which spreadsheets show as text; the rest is left exactly as stored."""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


# -- what the templates draw --------------------------------------------------------------------


def safe_url(url: str | None) -> str | None:
    """A link only to http(s): a platform (or a JSONL file) could hand us `javascript:`."""
    if not url:
        return None
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


def _local_path(target: str) -> str:
    """Where to go after logging in: a path on this site, never another site."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return ""


def _second_opinion(reasons: Sequence[Reason]) -> Reason | None:
    return next((r for r in reasons if r.cue == SECOND_OPINION_CUE), None)


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "—"


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    title: str


@dataclass(frozen=True, slots=True)
class Chart:
    """An SVG chart's geometry, computed here so the template only draws rectangles."""

    width: int
    height: int
    bars: list[Bar]
    top: int
    """The value of the top grid line."""
    middle: str
    """The value of the middle one, as shown."""
    labels: list[tuple[float, str]]
    """(x, text) under the axis."""
    legend: list[tuple[str, str]]
    """(name, color)."""


CHART_WIDTH, CHART_HEIGHT, CHART_LEFT, CHART_BOTTOM = 760, 220, 40, 20


def stacked_bars(
    days: Sequence[date], series: Mapping[str, Sequence[int]], colors: Mapping[str, str]
) -> Chart:
    """One bar per day, stacked by series (platform or severity)."""
    totals = [sum(values[n] for values in series.values()) for n in range(len(days))]
    top = _nice_ceiling(max(totals, default=0))
    plot_width = CHART_WIDTH - CHART_LEFT
    plot_height = CHART_HEIGHT - CHART_BOTTOM
    step = plot_width / max(1, len(days))
    bars: list[Bar] = []
    for n, day in enumerate(days):
        y = float(plot_height)
        for name, values in series.items():
            if not values[n]:
                continue
            height = plot_height * values[n] / top
            y -= height
            bars.append(
                Bar(
                    x=CHART_LEFT + n * step + step * 0.1,
                    y=y,
                    width=max(1.0, step * 0.8),
                    height=height,
                    color=colors.get(name, "#888"),
                    title=f"{day.isoformat()} {name}: {values[n]}",
                )
            )
    every = max(1, len(days) // 6)
    labels = [
        (CHART_LEFT + n * step + step / 2, day.strftime("%b %d"))
        for n, day in enumerate(days)
        if n % every == 0
    ]
    legend = [(name, colors.get(name, "#888")) for name in series]
    middle = f"{top // 2}" if top % 2 == 0 else f"{top / 2:g}"
    return Chart(CHART_WIDTH, CHART_HEIGHT, bars, top, middle, labels, legend)


@dataclass(frozen=True, slots=True)
class Line:
    width: int
    height: int
    points: str
    """SVG polyline points: precision by week, 100% at the top."""
    dots: list[tuple[float, float, str]]


def precision_line(weeks: Sequence[FeedbackWeek]) -> Line:
    plot_width = CHART_WIDTH - CHART_LEFT
    plot_height = 160
    step = plot_width / max(1, len(weeks))
    dots = [
        (
            CHART_LEFT + n * step + step / 2,
            plot_height * (1 - week.precision),
            f"week of {week.week.isoformat()}: {week.precision:.0%} "
            f"({week.confirmed} right, {week.false_alarms} wrong, {week.misses} missed)",
        )
        for n, week in enumerate(weeks)
        if week.precision is not None
    ]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in dots)
    return Line(CHART_WIDTH, plot_height + CHART_BOTTOM, points, dots)


def _nice_ceiling(value: int) -> int:
    """The grid's top: 1, 2 or 5 times a power of ten, at least `value` (and at least 1)."""
    ceiling = 1
    while True:
        for factor in (1, 2, 5):
            if ceiling * factor >= value:
                return ceiling * factor
        ceiling *= 10


def _platform_colors(counts: DailyCounts) -> dict[str, str]:
    return {
        name: PLATFORM_COLORS[n % len(PLATFORM_COLORS)] for n, name in enumerate(counts.by_platform)
    }


def _totals(counts: DailyCounts) -> dict[str, Any]:
    return {
        "platforms": {name: sum(values) for name, values in counts.by_platform.items()},
        "severities": {name: sum(values) for name, values in counts.by_severity.items()},
    }
