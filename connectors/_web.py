"""What the plain-HTTP connectors (Hacker News, feeds) share: one capped GET that sorts failures
into `monitor.errors`, the wait a 429 asks for, and HTML turned into plain text.

`Http.get` has a deadline for the whole answer (requests' own timeout is per socket read, so a
server dripping a byte a second would hold a scheduler thread for ever) and reads at most
`max_bytes` of the decoded body (gzip is decompressed first, so a small compressed bomb is cut
too). Timeouts, refused connections, 429 and 5xx are `TransientError`; a 429 carries the wait
from ``Retry-After`` (seconds or an HTTP date) or ``x-ratelimit-reset``. Other statuses are the
caller's to judge: what a 404 means differs between an API and one URL of a feed list.

`html_to_text` parses with BeautifulSoup's ``html.parser`` (no regex stripping): entities are
decoded once, scripts and styles dropped, block elements become paragraph breaks and ``<br>``
a line break, so a comment reads as its author wrote it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime

import requests
from bs4 import BeautifulSoup, Tag

from monitor.clock import Clock
from monitor.errors import ConfigError, TransientError

TEXT_LIMIT = 40_000
"""Characters of text kept from one item: far beyond any alert (Slack cuts at 3,000), small
enough that a hostile megabyte of HTML costs nothing downstream."""
HTML_LIMIT = 4 * TEXT_LIMIT
"""Characters of HTML parsed from one item (markup takes room; more is cut before parsing)."""
DEFAULT_RATE_LIMIT_WAIT = 60.0
"""Seconds to pause on a 429 that does not say how long."""

_BLOCKS = frozenset((
    "p", "div", "li", "ul", "ol", "blockquote", "pre", "tr", "table", "section", "article",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "dd", "dt",
))  # fmt: skip
_DROPPED = frozenset(("script", "style", "template", "noscript", "head"))
_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BREAKS = re.compile(r"\n{3,}")


def html_to_text(
    html: str | None, limit: int = TEXT_LIMIT, *, only: tuple[str, str] | None = None
) -> str:
    """Plain text of an HTML fragment, paragraphs kept, at most `limit` characters.

    `only` = (tag, class): the text of the first such element alone ("" when there is none),
    from the same single parse."""
    if not html:
        return ""
    if only is None and "<" not in html and "&" not in html:  # nothing for a parser to do
        return _tidy(html)[:limit]
    soup = BeautifulSoup(html[:HTML_LIMIT], "html.parser")
    root: Tag = soup
    if only is not None:
        found = soup.find(only[0], class_=only[1])
        if not isinstance(found, Tag):
            return ""
        root = found
    for tag in root.find_all(True):  # one pass: each find_all costs as much as the parse
        if tag.decomposed:  # inside a dropped one
            continue
        if tag.name in _DROPPED:
            tag.decompose()
        elif tag.name == "br":
            tag.replace_with("\n")
        elif tag.name in _BLOCKS:
            tag.insert_before("\n\n")
            tag.insert_after("\n\n")
    return _tidy(root.get_text())[:limit]


def _tidy(text: str) -> str:
    """Spaces collapsed within lines, at most one empty line between paragraphs."""
    lines = (_SPACES.sub(" ", line).strip() for line in text[:HTML_LIMIT].split("\n"))
    return _BREAKS.sub("\n\n", "\n".join(lines)).strip()


def retry_after(headers: Mapping[str, str], clock: Clock) -> float | None:
    """Seconds a 429 or 503 asks us to wait: ``Retry-After`` (seconds or an HTTP date), else
    ``x-ratelimit-reset`` (seconds, as Reddit sends it); None when neither says."""
    lowered = {name.lower(): value for name, value in headers.items()}
    value = (lowered.get("retry-after") or lowered.get("x-ratelimit-reset") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - clock.now()).total_seconds())


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    """As requests keeps them: looked up without regard to case."""
    body: bytes
    url: str
    """Where the answer came from, after redirects."""


class Http:
    """One `requests.Session` with our timeout, deadline, size cap and user agent."""

    def __init__(
        self, *, timeout: float, max_bytes: int, user_agent: str, clock: Clock, platform: str
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.clock = clock
        self.platform = platform
        """Named in error messages ("Hacker News answered 503")."""
        self.session = requests.Session()
        self.session.headers["User-Agent"] = user_agent

    def get(
        self,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        what: str = "",
    ) -> Reply:
        """The answer to one GET. Raises `TransientError` for what is worth retrying (network,
        timeout, 429 with its wait, 5xx) and `ConfigError` for an answer over `max_bytes`."""
        where = f" ({what})" if what else ""
        deadline = time.monotonic() + 3 * self.timeout
        try:
            with self.session.get(
                url, params=params, headers=headers, timeout=self.timeout, stream=True
            ) as response:
                body = self._read(response, deadline, where)
                reply = Reply(response.status_code, response.headers, body, response.url)
        except requests.Timeout as err:
            raise TransientError(f"{self.platform} did not answer in time{where}") from err
        except requests.RequestException as err:
            raise TransientError(
                f"cannot reach {self.platform}{where}: {type(err).__name__}"
            ) from err
        if reply.status == 429:
            wait = retry_after(reply.headers, self.clock) or DEFAULT_RATE_LIMIT_WAIT
            raise TransientError(
                f"{self.platform} rate limit (429){where}; pausing {wait:.0f}s", retry_after=wait
            )
        if reply.status >= 500:
            raise TransientError(
                f"{self.platform} answered {reply.status}{where}",
                retry_after=retry_after(reply.headers, self.clock),
            )
        return reply

    def _read(self, response: requests.Response, deadline: float, where: str) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(chunk_size=65_536):
            size += len(chunk)
            if size > self.max_bytes:
                raise ConfigError(
                    f"{self.platform} sent more than max_bytes = {self.max_bytes:,}{where}; "
                    "raise max_bytes if this is expected"
                )
            if time.monotonic() > deadline:
                raise requests.Timeout("the whole answer took longer than the deadline")
            chunks.append(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self.session.close()
