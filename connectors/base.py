"""The one narrow interface every platform implements.

Given its settings and a cursor, `fetch` returns normalized posts (oldest to newest) and the next
cursor. A connector never touches the database or Slack: the pipeline stores the posts and the
cursor together, so a cursor can never move past a post that was not stored.

Adding a platform means one module here with one `Connector` subclass and its `SourceSettings`
subclass (a ``type: Literal["..."]`` field); the registry finds it by itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Generic, TypeVar

from monitor.clock import Clock, SystemClock
from monitor.config import BrandSettings, SourceSettings
from monitor.models import Cursor, FetchResult

SettingsT = TypeVar("SettingsT", bound=SourceSettings)


class Connector(ABC, Generic[SettingsT]):
    """A source of posts. Subclasses declare their facts as class attributes."""

    kind: ClassVar[str]
    """The config's ``type`` for this connector, e.g. ``"x"``."""
    settings_class: ClassVar[type[SourceSettings]]
    requires: ClassVar[tuple[str, ...]] = ()
    """Import names of optional libraries; when one is missing the type is listed unavailable."""

    def __init__(
        self, settings: SettingsT, brand: BrandSettings, clock: Clock | None = None
    ) -> None:
        self.settings = settings
        self.brand = brand
        self.clock: Clock = clock or SystemClock()

    @property
    def name(self) -> str:
        return self.settings.name

    @abstractmethod
    def fetch(self, cursor: Cursor | None) -> FetchResult:
        """Posts after `cursor` (None on the first poll), oldest first, and the cursor after them.

        Raise `AuthError` for refused credentials, `TransientError` (with `retry_after` when the
        platform says when) for anything worth retrying, `ConfigError` for bad settings; always
        ``raise ... from`` the library's error.
        """

    def check_credentials(self) -> str:
        """Try the credentials against the platform (for ``check-config --online``).

        Returns a short description of who we are authenticated as; raises like `fetch`.
        """
        return "no credentials needed"

    def close(self) -> None:
        """Release sessions and files; called once at shutdown."""
