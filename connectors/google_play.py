"""Google Play reviews through google-api-python-client (Android Publisher v3 ``reviews.list``).

What Google gives. ``reviews.list`` answers, per package name, the production reviews that have
text and were created or modified in the last seven days, most recently modified first, paged
with ``tokenPagination.nextPageToken``. Older reviews, and ratings without text, are not in the
API at all: a source stopped for more than a week loses what was written meanwhile (README,
"Google Play"). A review has no creation time, only ``lastModified``; its ``text`` joins an
optional title and the body with a tab.

Credentials. A service-account key file, named by path in the config (never the key itself):
google-auth signs a JWT with its private key and trades it at the file's ``token_uri`` for an
access token (renewed before it expires). The file is read and checked when the config loads;
its content is kept as a secret (masked in ``check-config``), never as a field.

Reading. Each package keeps, in the cursor, a `SeenWindow`: the newest ``lastModified`` read and
the review ids read with their ``lastModified``, for `remember_days`. A poll reads from the top
down to ``newest - lookback_seconds``. A review read before with an older ``lastModified`` was
edited: it comes back as the same id with `Post.edited_at`, so the pipeline judges the new text
again. A burst longer than `max_pages_per_poll` pages is saved as the next page token and the
floor it reads down to; the next poll goes on from there (``more``), and from the top again when
Google refuses an old token (the window skips what was read). Within a poll, posts come oldest
first; a burst spread over polls comes newest pages first.

Faults. A refused JWT (``invalid_grant``: key revoked, account deleted) and 401 are `AuthError`
naming the key file; 403 is `AuthError` too (the service account is not invited to the app in the
Play Console, or the API is off in its Cloud project: Google's reason is quoted); 404 is a
`ConfigError` (no such package in this developer account); 429 and 5xx, timeouts, refused
connections and bodies that are not JSON are `TransientError` (429 with its ``Retry-After``).

Links. `Post.url` opens the review in the Play Console (``review-details``) when the source knows
the console's developer id and the app's console id (both in the console's address bar);
otherwise the store's page for the review. The reply form is on that console page:
`contact_url`. A Play reply is public, shown under the review in the store.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlencode

import google_auth_httplib2
import httplib2
from google.auth.exceptions import GoogleAuthError, RefreshError, TransportError
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from connectors._web import DEFAULT_RATE_LIMIT_WAIT
from connectors.base import Connector, CursorState, Fetched, SeenWindow, SourceSettings
from monitor.brand import BrandSettings
from monitor.clock import Clock
from monitor.errors import AuthError, ConfigError, TransientError
from monitor.models import Author, Post
from monitor.settings_base import StrictModel, base_dir_from, secrets_required

log = logging.getLogger(__name__)

__all__ = ["GooglePlayApp", "GooglePlayConnector", "GooglePlayCursor", "GooglePlaySettings"]

SCOPE = "https://www.googleapis.com/auth/androidpublisher"
API_ENDPOINT = "https://androidpublisher.googleapis.com/"
CONSOLE = "https://play.google.com/console/u/0/developers"
STORE = "https://play.google.com/store/apps/details"
SECRET = "service_account"
"""The key file's content, in `StrictModel.secret` (masked like every secret)."""
_PACKAGE = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+")
_DIGITS = re.compile(r"\d+")
_KEY_FIELDS = ("client_email", "private_key", "private_key_id", "token_uri")


class GooglePlayApp(StrictModel):
    """One app (``[[sources.apps]]``): its package name and, for links into the Play Console,
    its console id (the number after ``/app/`` in the console's address bar)."""

    package_name: str
    console_app_id: str = ""

    @field_validator("package_name")
    @classmethod
    def _package(cls, value: str) -> str:
        if not _PACKAGE.fullmatch(value):
            raise ValueError(f"{value!r} is not an Android package name (com.example.app)")
        return value

    @field_validator("console_app_id")
    @classmethod
    def _app_id(cls, value: str) -> str:
        if value and not _DIGITS.fullmatch(value):
            raise ValueError("console_app_id is the number after /app/ in the console's URL")
        return value


class GooglePlaySettings(SourceSettings):
    """One ``[[sources]]`` table with ``type = "google_play"``."""

    type: Literal["google_play"]
    service_account_file: Path
    """The service account's JSON key (relative paths: to the config file). Keep it readable
    by the service's user only; the config names it, never contains it."""
    apps: list[GooglePlayApp] = Field(min_length=1)
    developer_id: str = ""
    """The number after ``/developers/`` in the Play Console's URL: with an app's
    console_app_id, links open the review in the console."""
    page_size: int = Field(default=100, ge=1, le=100)
    max_pages_per_poll: int = Field(default=10, ge=1, le=100)
    """Requests one app may make in one poll (Google allows 200 GETs an hour per app)."""
    lookback_seconds: float = Field(default=3_600, ge=0, le=7 * 86_400)
    """Re-read below the newest review read, for reviews Google lists late."""
    remember_days: float = Field(default=30, ge=1, le=365)
    """How long a review's id stays in the cursor, so its edits are recognised as edits."""
    remember_reviews: int = Field(default=3_000, ge=100, le=50_000)
    """At most this many review ids per app in the cursor (the newest)."""
    timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    api_endpoint: str = API_ENDPOINT
    """Android Publisher's root (a test's fake server)."""

    @field_validator("service_account_file")
    @classmethod
    def _resolve(cls, path: Path, info: ValidationInfo) -> Path:
        path = path.expanduser()
        return path if path.is_absolute() else base_dir_from(info) / path

    @field_validator("developer_id")
    @classmethod
    def _developer(cls, value: str) -> str:
        if value and not _DIGITS.fullmatch(value):
            raise ValueError("developer_id is the number after /developers/ in the console's URL")
        return value

    @model_validator(mode="after")
    def _key_file(self, info: ValidationInfo) -> GooglePlaySettings:
        names = [app.package_name for app in self.apps]
        if len(names) != len(set(names)):
            raise ValueError("an app is listed twice: list each package name once")
        if secrets_required(info):
            self._secrets[SECRET] = SecretStr(read_key_file(self.service_account_file))
        return self


def read_key_file(path: Path) -> str:
    """The key file's text, checked to be a service-account key; ValueError names the fix."""
    fix = (
        "download a JSON key for the service account (Google Cloud console > IAM & Admin > "
        "Service accounts > Keys > Add key > JSON) and name its path in service_account_file"
    )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"service_account_file {path} does not exist: {fix}") from None
    except PermissionError:
        raise ValueError(
            f"service_account_file {path} is not readable by this user: give the service's "
            "user read access (chmod 600, owned by it)"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"service_account_file {path} cannot be read ({err}): {fix}") from None
    try:
        info = json.loads(text)
    except ValueError:
        raise ValueError(f"service_account_file {path} is not JSON: {fix}") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ValueError(f"service_account_file {path} is not a service-account key: {fix}")
    missing = [name for name in _KEY_FIELDS if not isinstance(info.get(name), str)]
    if missing:
        raise ValueError(f"service_account_file {path} lacks {', '.join(missing)}: {fix}")
    return text


@dataclass(frozen=True, slots=True, kw_only=True)
class GooglePlayBurst:
    """A read stopped by the page cap: go on from `token`, down to `floor` (None: to the end
    of Google's week, a first poll)."""

    token: str
    floor: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GooglePlayAppCursor:
    window: SeenWindow | None = None
    """Newest ``lastModified`` read (epoch seconds) and review id -> its ``lastModified``."""
    burst: GooglePlayBurst | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GooglePlayCursor(CursorState):
    apps: dict[str, GooglePlayAppCursor] = field(default_factory=dict)
    """Package name -> where it was read to. Apps removed from the config are forgotten."""


@dataclass(frozen=True, slots=True)
class _Review:
    review_id: str
    modified: float
    data: Mapping[str, Any]
    comment: Mapping[str, Any]


@dataclass(slots=True)
class _Read:
    reviews: list[_Review]
    cursor: GooglePlayAppCursor
    more: bool


class GooglePlayConnector(Connector[GooglePlaySettings, GooglePlayCursor]):
    kind = "google_play"
    settings_class = GooglePlaySettings
    cursor_class = GooglePlayCursor
    requires = {"googleapiclient": "google_play", "google.auth": "google_play"}

    def __init__(
        self, settings: GooglePlaySettings, brand: BrandSettings, clock: Clock | None = None
    ) -> None:
        super().__init__(settings, brand, clock)
        key = settings.secret(SECRET)
        if key is None:
            raise ConfigError(
                f"source {self.name}: service_account_file {settings.service_account_file} "
                "was not read (the config was loaded without secrets)"
            )
        info = json.loads(key.get_secret_value())
        try:
            self._credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=[SCOPE]
            )
        except (ValueError, GoogleAuthError) as err:
            raise ConfigError(
                f"source {self.name}: service_account_file {settings.service_account_file} "
                "holds no usable private key: download a new JSON key for the service account"
            ) from err
        self.account = str(info["client_email"])
        self._http = google_auth_httplib2.AuthorizedHttp(
            self._credentials, http=httplib2.Http(timeout=settings.timeout_seconds)
        )
        # The discovery document shipped in the package (no request to build); api_endpoint
        # replaces its rootUrl.
        self._service = build(
            "androidpublisher",
            "v3",
            http=self._http,
            client_options={"api_endpoint": settings.api_endpoint},
            cache_discovery=False,
            static_discovery=True,
        )
        self._reviews = self._service.reviews()

    # -- fetch ------------------------------------------------------------------------------

    def fetch(self, cursor: GooglePlayCursor | None) -> Fetched[GooglePlayCursor]:
        saved = cursor.apps if cursor else {}
        posts: list[Post] = []
        positions: dict[str, GooglePlayAppCursor] = {}
        more = False
        for app in self.settings.apps:
            before = saved.get(app.package_name, GooglePlayAppCursor())
            read = self._read(app, before)
            posts += self._posts(app, read.reviews, before.window)
            positions[app.package_name] = read.cursor
            more = more or read.more
        posts.sort(key=lambda p: (p.edited_at or p.created_at, p.external_id))
        return Fetched(posts, GooglePlayCursor(apps=positions), more)

    def _read(self, app: GooglePlayApp, saved: GooglePlayAppCursor) -> _Read:
        """The app's reviews down to the floor, newest first, up to the page cap. A burst resumed
        from an earlier poll, once read, goes on from the top (what came meanwhile)."""
        window = saved.window
        lookback = self.settings.lookback_seconds
        resumed = saved.burst is not None
        if saved.burst is not None:
            token: str | None = saved.burst.token
            floor = saved.burst.floor
        else:
            token, floor = None, window.floor(lookback) if window else None
        found: dict[str, _Review] = {}
        finished = top_unread = False
        for _ in range(self.settings.max_pages_per_poll):
            top_unread = False
            page = self._page(app, token)
            if page is None:  # Google refused an old page token: from the top again
                token = None
                continue
            reviews, token = page
            # a resumed burst reads down to its floor: its pages may repeat (shifted by new ones)
            finished = token is None or (not resumed and _known_ground(reviews, window))
            for review in reviews:
                if floor is not None and review.modified < floor:
                    finished = True
                    break
                if review.review_id not in found:  # a page shifted by a new review repeats
                    found[review.review_id] = review
            if finished and resumed and window is not None:
                resumed, finished, top_unread = False, False, True
                token, floor = None, window.floor(lookback)
            elif finished:
                break
        read = list(found.values())
        if read or window is not None:
            window = (window or SeenWindow(0.0)).advanced(
                ((r.review_id, r.modified) for r in read),
                lookback=self.settings.remember_days * 86_400,
                keep=self.settings.remember_reviews,
            )
        burst = None
        if not finished and token is not None:
            burst = GooglePlayBurst(token=token, floor=floor)
        more = burst is not None or top_unread
        return _Read(read, GooglePlayAppCursor(window=window, burst=burst), more)

    def _page(
        self, app: GooglePlayApp, token: str | None
    ) -> tuple[list[_Review], str | None] | None:
        """One page of ``reviews.list``: its reviews and the next token; None when Google
        refuses `token` (a 400 on a token saved by an earlier poll)."""
        request = self._reviews.list(
            packageName=app.package_name,
            maxResults=self.settings.page_size,
            **({"token": token} if token else {}),
        )
        try:
            with self._translated(app.package_name):
                answer = request.execute()
        except ConfigError as err:
            if token and isinstance(err.__cause__, HttpError) and _status(err.__cause__) == 400:
                log.warning("source=%s page token refused; reading from the top", self.name)
                return None
            raise
        if not isinstance(answer, Mapping):
            raise TransientError(f"Google Play ({app.package_name}) answered no JSON object")
        reviews = answer.get("reviews", [])
        if not isinstance(reviews, list):
            raise TransientError(f"Google Play ({app.package_name}) answered no review list")
        pagination = answer.get("tokenPagination")
        next_token = pagination.get("nextPageToken") if isinstance(pagination, Mapping) else None
        parsed = [review for review in map(_review, reviews) if review is not None]
        return parsed, next_token if isinstance(next_token, str) and next_token else None

    def _posts(
        self, app: GooglePlayApp, reviews: list[_Review], window: SeenWindow | None
    ) -> Iterator[Post]:
        """New reviews, and reviews read before with a newer ``lastModified`` (edits)."""
        seen = window.seen if window else {}
        for review in reviews:
            before = seen.get(review.review_id)
            if before is not None and review.modified <= before:
                continue
            post = to_post(review, app, self.settings.developer_id, edited=before is not None)
            if post is not None:
                yield post

    @contextmanager
    def _translated(self, package: str) -> Iterator[None]:
        """The library's errors as the project's, the library's kept as the cause."""
        where = f"Google Play ({package})"
        key = str(self.settings.service_account_file)
        try:
            yield
        except RefreshError as err:
            if getattr(err, "retryable", False):
                raise TransientError(f"{where}: the token exchange failed; retrying") from err
            raise AuthError(
                f"{where}: Google refused the service-account key in {key} ({_grant_error(err)})"
                ": the key was deleted or the account disabled; create a new JSON key",
                credential=key,
            ) from err
        except HttpError as err:
            raise self._http_error(where, key, err) from err
        except TransportError as err:
            raise TransientError(f"cannot reach Google's token endpoint ({where})") from err
        except TimeoutError as err:
            raise TransientError(f"{where} did not answer in time") from err
        except (OSError, httplib2.HttpLib2Error) as err:
            raise TransientError(f"cannot reach {where}: {type(err).__name__}") from err
        except ValueError as err:  # googleapiclient's json.loads of a body that is not JSON
            raise TransientError(f"{where} sent a body that is not JSON") from err

    def _http_error(self, where: str, key: str, err: HttpError) -> Exception:
        status, reason = _status(err), _reason(err)
        if status == 429:
            wait = _retry_after(err)
            return TransientError(
                f"{where}: rate limit (429); pausing {wait:.0f}s", retry_after=wait
            )
        if status is None or status >= 500:
            return TransientError(f"{where} answered {status} ({reason})")
        if status == 401:
            return AuthError(
                f"{where} refused the access token of the key in {key} (401, {reason})",
                credential=key,
            )
        if status == 403:
            return AuthError(
                f"{where} refused {self.account} (403, {reason}): invite the service account in "
                "the Play Console (Users and permissions > Invite new users, with 'View app "
                "information' and 'Reply to reviews' for this app) and enable the Google Play "
                "Android Developer API in its Cloud project",
                credential=key,
            )
        if status == 404:
            return ConfigError(
                f"{where} answered 404 ({reason}): check the package name; the app must be "
                "published in this developer account"
            )
        return ConfigError(f"{where} refused the request ({status}, {reason})")

    # -- the rest of the interface ----------------------------------------------------------

    def check_credentials(self) -> str:
        """The token exchange and one review of every app: the key works and the account was
        invited to each app."""
        for app in self.settings.apps:
            request = self._reviews.list(packageName=app.package_name, maxResults=1)
            with self._translated(app.package_name):
                request.execute()
        packages = ", ".join(app.package_name for app in self.settings.apps)
        return f"authenticated as {self.account}; reviews readable for {packages}"

    def close(self) -> None:
        for connection in list(self._http.http.connections.values()):
            connection.close()


def _known_ground(reviews: list[_Review], window: SeenWindow | None) -> bool:
    """A page with nothing new that reaches below the newest review read: the rest of the
    lookback was read before (a busy hour must not turn every poll into a burst)."""
    if window is None or not reviews:
        return False
    unseen = any(window.seen.get(r.review_id, -1.0) < r.modified for r in reviews)
    return not unseen and min(r.modified for r in reviews) <= window.newest


def _review(data: Any) -> _Review | None:
    """A review with an id, a user comment and its ``lastModified``; None otherwise."""
    if not isinstance(data, Mapping):
        return None
    review_id = data.get("reviewId")
    comments = data.get("comments")
    if not isinstance(review_id, str) or not review_id or not isinstance(comments, list):
        return None
    for item in comments:
        comment = item.get("userComment") if isinstance(item, Mapping) else None
        if isinstance(comment, Mapping):
            modified = _timestamp(comment.get("lastModified"))
            if modified is not None:
                return _Review(review_id, modified, data, comment)
    return None


def to_post(review: _Review, app: GooglePlayApp, developer_id: str, *, edited: bool) -> Post | None:
    """A review as a post: title and body as text, stars as `rating`, the device, the app's
    version and Android's in `extra`; `edited_at` when it was read before with older text."""
    comment = review.comment
    text = _str(comment.get("text"))
    title, tab, body = text.partition("\t")
    text = "\n\n".join(part for part in (title.strip(), body.strip()) if part) if tab else text
    if not text.strip():
        return None
    modified = datetime.fromtimestamp(review.modified, UTC)
    name = _str(review.data.get("authorName")).strip()
    rating = comment.get("starRating")
    language = _str(comment.get("reviewerLanguage"))
    device = comment.get("deviceMetadata")
    extra: dict[str, Any] = {"package": app.package_name}
    for key, value in (
        ("app_version", _str(comment.get("appVersionName"))),
        ("app_version_code", comment.get("appVersionCode")),
        ("device", _str(comment.get("device"))),
        ("device_name", _str(device.get("productName")) if isinstance(device, Mapping) else ""),
        ("android_version", comment.get("androidOsVersion")),
        ("thumbs_up", comment.get("thumbsUpCount")),
        ("reviewer_language", language),
    ):
        if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
            extra[key] = value
    extra["developer_replied"] = any(
        isinstance(item, Mapping) and "developerComment" in item
        for item in review.data.get("comments", [])
    )
    console = review_url(app, developer_id, review.review_id)
    store = {"id": app.package_name, "reviewId": review.review_id}
    return Post(
        platform="google_play",
        external_id=review.review_id,
        author=Author(
            id=review.review_id, handle=name or "A Google user", display_name=name or None
        ),
        text=text,
        url=console or f"{STORE}?{urlencode(store)}",
        created_at=modified,
        language=language.replace("_", "-").split("-")[0].lower() or None,
        contact_url=console,
        extra=extra,
        edited_at=modified if edited else None,
        rating=rating if isinstance(rating, int) and 1 <= rating <= 5 else None,
    )


def review_url(app: GooglePlayApp, developer_id: str, review_id: str) -> str | None:
    """The review's page in the Play Console (its reply form included); None without the
    console's ids."""
    if not (developer_id and app.console_app_id):
        return None
    return (
        f"{CONSOLE}/{developer_id}/app/{app.console_app_id}/user-feedback/review-details"
        f"?reviewId={quote(review_id, safe=':')}&corpus=PUBLIC_REVIEWS"
    )


def _timestamp(value: Any) -> float | None:
    """``{"seconds": "1795917600", "nanos": 123000000}`` (seconds a string) as epoch seconds."""
    if not isinstance(value, Mapping):
        return None
    try:
        seconds = int(value.get("seconds"))  # type: ignore[arg-type]
        nanos = int(value.get("nanos") or 0)
    except (TypeError, ValueError):
        return None
    return seconds + nanos / 1e9


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _status(err: HttpError) -> int | None:
    status = getattr(err.resp, "status", None)
    return int(status) if isinstance(status, int | str) and str(status).isdigit() else None


def _reason(err: HttpError) -> str:
    """Google's error message (never customer text), cut short."""
    try:
        reason = err._get_reason()
    except Exception:  # a body the library cannot read: no reason to quote
        reason = ""
    return " ".join(str(reason).split())[:200] or "no message"


def _retry_after(err: HttpError) -> float:
    value = err.resp.get("retry-after") if hasattr(err.resp, "get") else None
    try:
        wait = float(value) if value is not None else DEFAULT_RATE_LIMIT_WAIT
    except ValueError:
        wait = DEFAULT_RATE_LIMIT_WAIT
    return max(wait, 1.0)


def _grant_error(err: RefreshError) -> str:
    """The token endpoint's ``error`` code (``invalid_grant``), not its whole answer."""
    found = re.search(r"\b(invalid_\w+|unauthorized_client|access_denied)\b", str(err))
    return found.group(1) if found else "refused"
