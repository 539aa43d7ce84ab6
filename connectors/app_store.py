"""App Store customer reviews through the App Store Connect API (platform-apis-2.md section 6).

``GET /v1/apps/{id}/customerReviews?sort=-createdDate&limit=200`` answers newest first, JSON:API
(``data``, ``links.next`` on every page but the last, followed as given). The credential is the
team's API key: an ES256 token signed with its ``.p8`` file for every request
(`connectors._app_store_token`; renewed before its 20 minutes run out). The key file is named by
a path in the config; its contents are read at validation (when secrets are needed) and kept as
a secret, so `check-config` prints it masked and a missing or damaged file is a `ConfigError`
naming the fix before the daemon starts.

The listing has no "since": each app's cursor keeps a `SeenWindow` (the newest ``createdDate``
read and the ids read within `lookback_seconds` below it). A poll reads down to that floor and
skips the ids in the window, so a review Apple lists late (moderation) inside the lookback is
read once. The first poll reads back `backfill_seconds`.

Bursts. At most `max_pages_per_poll` pages an app a poll. When they run out while the reviews
are still newer than anything read before, the cursor keeps a `Burst`: the ``links.next`` URL to
go on from, the floor to stop at, and the oldest position walked (with its ids) so a review that
a shifted page lists again is not read twice. The next poll goes on there (``more``), then reads
from the top again in what is left of its pages, for what arrived meanwhile. When pages run out
inside the lookback only, the rest is left: that part is a second look, not new reviews.
A stale ``links.next`` (400/404) restarts the burst from the top, skipping what it already read.

Faults. 401 is retried once with a new token, then is `AuthError` naming the key id (the key,
key id and issuer id must belong together; a revoked key answers the same); 403 is `AuthError`
(the key's role may not read reviews, or not this app); 429 and 5xx, timeouts, refused
connections and bodies that are not JSON:API are `TransientError` (a 429 pauses for
``Retry-After``, 60 s when absent); other 4xx are `ConfigError` (a wrong app id). One app failing
fails the poll.

Posts. Rating -> `Post.rating`; title then body as the text; the territory (ISO 3166 alpha-3,
"USA") in `extra`. Apple gives no link to one review: `url` and `contact_url` open the app's
Ratings and Reviews page in App Store Connect, where the team replies (`reply_url`, with
``{app_id}`` and ``{review_id}``). Apple's reply is public, shown under the review.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from connectors._app_store_token import TokenSigner, read_private_key
from connectors._web import Http, Reply
from connectors.base import (
    Connector,
    CursorState,
    Fetched,
    SeenWindow,
    SourceSettings,
    http_base_url,
)
from monitor.brand import BrandSettings
from monitor.clock import Clock
from monitor.errors import AuthError, ConfigError, TransientError
from monitor.models import Author, Post
from monitor.settings_base import base_dir_from, secrets_required

log = logging.getLogger(__name__)

__all__ = ["AppStoreConnector", "AppStoreCursor", "AppStoreSettings"]

PLATFORM = "App Store Connect"
API_URL = "https://api.appstoreconnect.apple.com"
REPLY_URL = (
    "https://appstoreconnect.apple.com/apps/{app_id}/distribution/activity/ios/ratingsResponses"
)
FIELDS = "rating,title,body,reviewerNickname,createdDate,territory"
MAX_SEEN = 5000
"""Ids kept per app inside the lookback window."""
MAX_BYTES = 20_000_000
"""200 reviews of at most ~6,000 characters each is about 2.5 MB; more is not an answer."""
USER_AGENT = "complaint-monitor/0.1 (+app_store connector)"
_ISSUER = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class AppStoreSettings(SourceSettings):
    """One ``[[sources]]`` table with ``type = "app_store"``."""

    type: Literal["app_store"]
    interval_seconds: float = Field(default=600.0, ge=60, le=86_400)
    """Reviews come slowly and each key has 3,500 requests a rolling hour for everything."""
    app_ids: list[str] = Field(min_length=1)
    """The apps' Apple IDs (App Store Connect > App Information > Apple ID), e.g. "682658836"."""
    issuer_id: str = Field(pattern=_ISSUER)
    """Users and Access > Integrations > App Store Connect API: "Issuer ID" above the keys."""
    key_id: str = Field(pattern=r"^[A-Za-z0-9]{1,64}$")
    """The key's "Key ID" in the same list (also in the file name AuthKey_<key id>.p8)."""
    private_key_path: Path
    """The downloaded ``.p8`` file; relative paths are relative to the config file. Its
    contents never go in the config."""
    ratings: list[int] = Field(default_factory=list)
    """Only these stars (``filter[rating]``), e.g. [1, 2, 3]; empty: every review."""
    territories: list[str] = Field(default_factory=list)
    """Only these storefronts (``filter[territory]``, ISO alpha-3 such as "USA"); empty: all."""
    api_url: str = API_URL
    reply_url: str = REPLY_URL
    """Where an alert's link and the reply step go; ``{app_id}`` and ``{review_id}`` are filled."""
    page_size: int = Field(default=200, ge=1, le=200)
    max_pages_per_poll: int = Field(default=10, ge=1, le=100)
    """Requests one app may make in one poll; a bigger burst goes on at the next poll."""
    lookback_seconds: float = Field(default=86_400.0, ge=0, le=30 * 86_400)
    """Re-read this far below the newest review read, for reviews Apple lists late."""
    backfill_seconds: float = Field(default=7 * 86_400.0, ge=0, le=365 * 86_400)
    """An app's first poll reads reviews this recent."""
    timeout_seconds: float = Field(default=20.0, gt=0, le=120)

    @field_validator("app_ids")
    @classmethod
    def _app_ids(cls, values: list[str]) -> list[str]:
        ids = [value.strip() for value in values]
        bad = [value for value in ids if not value.isdigit()]
        if bad:
            raise ValueError(f"{bad[0]!r} is not an Apple ID (digits, e.g. 682658836)")
        return list(dict.fromkeys(ids))

    @field_validator("ratings")
    @classmethod
    def _ratings(cls, values: list[int]) -> list[int]:
        if any(not 1 <= value <= 5 for value in values):
            raise ValueError("ratings are stars from 1 to 5")
        return sorted(set(values))

    @field_validator("territories")
    @classmethod
    def _territories(cls, values: list[str]) -> list[str]:
        codes = [value.strip().upper() for value in values]
        if any(len(code) != 3 or not code.isalpha() for code in codes):
            raise ValueError('territories are ISO 3166 alpha-3 codes such as "USA" or "GBR"')
        return list(dict.fromkeys(codes))

    @field_validator("api_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return http_base_url(value, API_URL)

    @field_validator("reply_url")
    @classmethod
    def _reply_url(cls, value: str) -> str:
        try:
            filled = value.format(app_id="1", review_id="r")
        except (KeyError, IndexError, ValueError) as err:
            raise ValueError("reply_url may only use {app_id} and {review_id}") from err
        http_base_url(filled, REPLY_URL)
        return value

    @field_validator("private_key_path")
    @classmethod
    def _resolve(cls, path: Path, info: ValidationInfo) -> Path:
        path = path.expanduser()
        return path if path.is_absolute() else base_dir_from(info) / path

    @model_validator(mode="after")
    def _read_key(self, info: ValidationInfo) -> AppStoreSettings:
        """The key file is read where secrets are read: `check-config` says what is wrong."""
        if secrets_required(info):
            try:
                self._secrets["private_key"] = SecretStr(read_private_key(self.private_key_path))
            except ConfigError as err:
                raise ValueError(str(err)) from err
        return self


# -- the cursor ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Burst:
    """Where a listing too long for one poll goes on."""

    next_url: str
    """``links.next`` of the last page read (our own API URL, checked)."""
    floor: float
    """Read down to this ``createdDate`` (epoch seconds)."""
    fresh_above: float
    """New reviews at or above this were never read before the burst: worth going on for."""
    oldest: float
    """The oldest position walked so far; everything above it was read."""
    oldest_ids: tuple[str, ...] = ()
    """The ids walked at `oldest` (several reviews may share a second)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AppPosition:
    window: SeenWindow
    burst: Burst | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AppStoreCursor(CursorState):
    apps: dict[str, AppPosition] = field(default_factory=dict)
    """By app id; an app removed from the config is forgotten."""


# -- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Scan:
    """One walk down the listing: where it starts, where it stops, what it already read."""

    url: str
    floor: float
    fresh_above: float
    oldest: float = math.inf
    oldest_ids: frozenset[str] = frozenset()
    continues: bool = False
    """A burst going on (not a read from the top)."""


@dataclass(slots=True)
class _Walk:
    """What one app's poll has read so far."""

    seen: Mapping[str, float]
    posts: list[tuple[tuple[float, int, int], Post]] = field(default_factory=list)
    """Each post with its order: (createdDate, scan number, minus its place in the listing)."""
    walked: list[tuple[str, float]] = field(default_factory=list)
    scans: int = 0


@dataclass(frozen=True, slots=True)
class _Page:
    reviews: list[Mapping[str, Any]]
    next_url: str | None


class AppStoreConnector(Connector[AppStoreSettings, AppStoreCursor]):
    kind = "app_store"
    settings_class = AppStoreSettings
    cursor_class = AppStoreCursor
    requires = {"jwt": "app_store", "cryptography": "app_store"}

    def __init__(
        self, settings: AppStoreSettings, brand: BrandSettings, clock: Clock | None = None
    ) -> None:
        super().__init__(settings, brand, clock)
        secret = settings.secret("private_key")
        pem = secret.get_secret_value() if secret else None
        if pem is None:  # settings loaded without secrets (not for `run`): read it now
            try:
                pem = read_private_key(settings.private_key_path)
            except ConfigError as err:
                raise ConfigError(f"source {self.name}: {err}") from err
        self.signer = TokenSigner(
            private_key=pem, key_id=settings.key_id, issuer_id=settings.issuer_id, clock=self.clock
        )
        self._http = Http(
            timeout=settings.timeout_seconds,
            max_bytes=MAX_BYTES,
            user_agent=USER_AGENT,
            clock=self.clock,
            platform=PLATFORM,
        )
        self._origin = urlsplit(settings.api_url)[:2]

    # -- fetch ------------------------------------------------------------------------------

    def fetch(self, cursor: AppStoreCursor | None) -> Fetched[AppStoreCursor]:
        saved = cursor.apps if cursor else {}
        positions: dict[str, AppPosition] = {}
        posts: list[Post] = []
        more = False
        for app_id in self.settings.app_ids:
            app_posts, positions[app_id], app_more = self._read_app(app_id, saved.get(app_id))
            posts += app_posts
            more = more or app_more
        posts.sort(key=lambda post: post.created_at)  # stable: each app's order kept in a tie
        return Fetched(posts, AppStoreCursor(apps=positions), more)

    def _read_app(
        self, app_id: str, position: AppPosition | None
    ) -> tuple[list[Post], AppPosition, bool]:
        """One app's new reviews (oldest first), its next position, and whether more remain."""
        budget = self.settings.max_pages_per_poll
        if position is None:  # the first poll: the backfill, every review in it new
            now = self.clock.now().timestamp()
            start = now - self.settings.backfill_seconds
            window = SeenWindow(newest=now)  # read up to now: the lookback starts from here
            scan = _Scan(self._first_url(app_id), floor=start, fresh_above=start)
        else:
            window = position.window
            scan = self._top(app_id, window)
            if position.burst is not None:
                burst = position.burst
                scan = _Scan(
                    burst.next_url,
                    burst.floor,
                    burst.fresh_above,
                    burst.oldest,
                    frozenset(burst.oldest_ids),
                    continues=True,
                )
        walk = _Walk(window.seen)
        next_burst: Burst | None = None
        more = False
        while True:
            pages, next_burst = self._walk(app_id, scan, budget, walk)
            budget -= pages
            window = window.advanced(
                walk.walked, lookback=self.settings.lookback_seconds, keep=MAX_SEEN
            )
            walk.walked.clear()
            if next_burst is not None or not scan.continues:
                more = next_burst is not None
                break
            if budget <= 0:  # the burst is done; the top is read at once, next poll
                more = True
                break
            scan = self._top(app_id, window)  # what arrived while the burst was read
            walk.seen = window.seen
        walk.posts.sort(key=lambda item: item[0])
        return [post for _, post in walk.posts], AppPosition(window=window, burst=next_burst), more

    def _top(self, app_id: str, window: SeenWindow) -> _Scan:
        floor = window.floor(self.settings.lookback_seconds)
        if len(window.seen) >= MAX_SEEN:  # ids below the oldest kept one are forgotten
            floor = max(floor, min(window.seen.values()))
        return _Scan(self._first_url(app_id), floor=floor, fresh_above=window.newest)

    def _walk(self, app_id: str, scan: _Scan, budget: int, walk: _Walk) -> tuple[int, Burst | None]:
        """Reads `scan` down to its floor within `budget` pages into `walk`; the pages read
        and, when the budget ran out among new reviews, the burst to go on with."""
        walk.scans += 1
        url, oldest, oldest_ids = scan.url, scan.oldest, set(scan.oldest_ids)
        unread = False
        pages = 0
        while pages < budget:
            restart = scan.continues and pages == 0  # a saved link may have gone stale
            page = self._page(app_id, url, restart=self._first_url(app_id) if restart else None)
            pages += 1
            unread = False  # this page was among reviews new since the last top read
            for review in page.reviews:
                review_id, created = _id_and_created(review)
                if review_id is None or created is None:
                    continue
                position = created.timestamp()
                if position < scan.floor:
                    return pages, None
                new = position >= scan.fresh_above
                if position > oldest or (position == oldest and review_id in oldest_ids):
                    unread = unread or new  # read earlier in this burst (a shifted page, or
                    continue  # a restart from the top): the burst goes on below it
                if position < oldest:
                    oldest, oldest_ids = position, set()
                oldest_ids.add(review_id)
                walk.walked.append((review_id, position))
                if review_id in walk.seen:
                    continue
                unread = unread or new
                post = to_post(review, app_id, created, self.settings.reply_url)
                walk.posts.append(((position, walk.scans, -len(walk.posts)), post))
            if page.next_url is None:
                return pages, None
            url = page.next_url
        if not unread:  # only the lookback's second look is left: not worth a burst
            return pages, None
        return pages, Burst(
            next_url=url,
            floor=scan.floor,
            fresh_above=scan.fresh_above,
            oldest=oldest,
            oldest_ids=tuple(sorted(oldest_ids)),
        )

    def _first_url(self, app_id: str) -> str:
        return f"{self.settings.api_url}/v1/apps/{app_id}/customerReviews"

    def _params(self) -> dict[str, str | int]:
        params: dict[str, str | int] = {
            "sort": "-createdDate",
            "limit": self.settings.page_size,
            "fields[customerReviews]": FIELDS,
        }
        if self.settings.ratings:
            params["filter[rating]"] = ",".join(map(str, self.settings.ratings))
        if self.settings.territories:
            params["filter[territory]"] = ",".join(self.settings.territories)
        return params

    def _page(self, app_id: str, url: str, *, restart: str | None = None) -> _Page:
        """One page of reviews. `restart`: the first page's URL, read instead when `url` (a
        burst's saved ``links.next``) is refused as stale."""
        first = url == self._first_url(app_id)
        what = f"app {app_id} reviews"
        reply = self._get(url, self._params() if first else None, what)
        if restart is not None and not first and reply.status in (400, 404):
            log.info(
                "source=%s app %s: the saved page link was refused (%d); reading from the top",
                self.name,
                app_id,
                reply.status,
            )
            reply = self._get(restart, self._params(), what)
        self._refused(reply, what)
        data = _json(reply, what)
        reviews = data.get("data")
        if not isinstance(reviews, list):
            raise TransientError(f"{PLATFORM} sent JSON without a data list ({what})")
        links = data.get("links")
        next_url = links.get("next") if isinstance(links, Mapping) else None
        if next_url is not None and not self._ours(next_url):
            raise TransientError(
                f"{PLATFORM} sent a next link outside {self.settings.api_url} ({what}); not "
                "followed (the token would go with it)"
            )
        return _Page([r for r in reviews if isinstance(r, Mapping)], next_url or None)

    def _ours(self, url: Any) -> bool:
        return isinstance(url, str) and urlsplit(url)[:2] == self._origin

    def _get(self, url: str, params: Mapping[str, str | int] | None, what: str) -> Reply:
        """A GET with the bearer token; a 401 is tried once more with a new token (Apple's
        clock and ours may disagree about the old one)."""
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.signer.bearer()}"}
            reply = self._http.get(url, params=params, headers=headers, what=what)
            if reply.status != 401 or attempt == 2:
                return reply
            self.signer.forget()
        raise AssertionError("unreachable")

    def _refused(self, reply: Reply, what: str) -> None:
        """A status other than 200 as the project's error."""
        if reply.status == 200:
            return
        key = self.settings.key_id
        reason = _error(reply.body)
        if reply.status == 401:
            raise AuthError(
                f"{PLATFORM} refused the API key {key} (401, {reason}): check that key_id, "
                f"issuer_id ({self.settings.issuer_id}) and private_key_path "
                f"({self.settings.private_key_path}) belong to one key that is not revoked",
                credential=key,
            )
        if reply.status == 403:
            raise AuthError(
                f"{PLATFORM} forbade the API key {key} {what} (403, {reason}): give the key a "
                "role that reads customer reviews (Customer Support, App Manager or Admin) with "
                "access to this app",
                credential=key,
            )
        raise ConfigError(
            f"{PLATFORM} refused the request ({what}) with HTTP {reply.status} ({reason}): check "
            "app_ids, ratings and territories"
        )

    # -- the rest of the interface ----------------------------------------------------------

    def check_credentials(self) -> str:
        """Each app's name, read with the token: proves the key and its access to the app."""
        names = []
        for app_id in self.settings.app_ids:
            what = f"app {app_id}"
            url = f"{self.settings.api_url}/v1/apps/{app_id}"
            reply = self._get(url, {"fields[apps]": "name,bundleId"}, what)
            self._refused(reply, what)
            data = _json(reply, what).get("data")
            attributes = data.get("attributes") if isinstance(data, Mapping) else None
            name = attributes.get("name") if isinstance(attributes, Mapping) else None
            names.append(f"{name or '?'} ({app_id})")
        return f"authenticated with API key {self.settings.key_id}; apps: {', '.join(names)}"

    def close(self) -> None:
        self._http.close()


def to_post(review: Mapping[str, Any], app_id: str, created: datetime, reply_url: str) -> Post:
    """A review as a post: the title first, then the body."""
    review_id = str(review["id"])
    attributes = review.get("attributes")
    fields: Mapping[str, Any] = attributes if isinstance(attributes, Mapping) else {}
    nickname = _str(fields.get("reviewerNickname")) or "(no nickname)"
    text = "\n\n".join(
        part for part in (_str(fields.get("title")), _str(fields.get("body"))) if part
    )
    rating = fields.get("rating")
    extra: dict[str, Any] = {"app_id": app_id}
    if _str(fields.get("territory")):
        extra["territory"] = _str(fields.get("territory"))
    link = reply_url.format(app_id=app_id, review_id=review_id)
    return Post(
        platform="app_store",
        external_id=review_id,
        author=Author(id=nickname, handle=nickname),
        text=text,
        url=link,
        created_at=created,
        contact_url=link,
        extra=extra,
        rating=rating if isinstance(rating, int) and not isinstance(rating, bool) else None,
    )


def _id_and_created(review: Mapping[str, Any]) -> tuple[str | None, datetime | None]:
    review_id = review.get("id")
    attributes = review.get("attributes")
    stamp = attributes.get("createdDate") if isinstance(attributes, Mapping) else None
    if not isinstance(review_id, str) or not review_id or not isinstance(stamp, str):
        return None, None
    try:
        created = datetime.fromisoformat(stamp)
    except ValueError:
        return review_id, None
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return review_id, created.astimezone(UTC)


def _json(reply: Reply, what: str) -> Mapping[str, Any]:
    try:
        data = json.loads(reply.body)
    except (ValueError, RecursionError) as err:
        raise TransientError(f"{PLATFORM} sent a body that is not JSON ({what})") from err
    if not isinstance(data, Mapping):
        raise TransientError(f"{PLATFORM} sent JSON that is not an object ({what})")
    return data


def _error(body: bytes) -> str:
    """The first JSON:API error's code and title, cut short (Apple's words, no customer text)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return "no error message"
    errors = data.get("errors") if isinstance(data, dict) else None
    first = errors[0] if isinstance(errors, list) and errors else None
    if not isinstance(first, dict):
        return "no error message"
    words = " ".join(str(first.get(key) or "") for key in ("code", "title")).split()
    return " ".join(words)[:200] or "no error message"


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""
