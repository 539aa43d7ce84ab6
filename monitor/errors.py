"""One small exception hierarchy, so callers catch the right thing.

`ConfigError` means the operator must change the configuration; `AuthError` means a credential
was refused (the source pauses until someone fixes it); `TransientError` means "try again later",
optionally no earlier than `retry_after` seconds from now; `PermanentError` means the request
itself was refused and sending it again unchanged can never succeed. Connectors wrap library
errors in these with ``raise ... from err`` so the cause stays in the traceback.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Root of every error the monitor raises on purpose."""


class ConfigError(MonitorError):
    """The configuration is wrong; the message names the key and the fix."""


class SourceError(MonitorError):
    """A source (platform) could not be read."""


class AuthError(SourceError):
    """A credential was refused; `credential` names which one (never its value)."""

    def __init__(self, message: str, *, credential: str | None = None) -> None:
        super().__init__(message)
        self.credential = credential


class TransientError(SourceError):
    """Worth retrying later: rate limits, 5xx, timeouts, a database that went away."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StorageUnavailable(TransientError):
    """The database could not be reached or was locked; nothing was committed."""


class QuotaExhausted(TransientError):
    """A paid API's read budget is spent; the source stops until `retry_after` (a new month)."""


class OutcomeUnknown(TransientError):
    """A request may or may not have taken effect (timeout or connection reset after sending).

    The deliverer checks the channel for the message before it sends again.
    """


class PermanentError(MonitorError):
    """The request itself was refused (``invalid_blocks``, ``msg_too_long``...): sending the same
    thing again can never succeed. `code` is the platform's own name for the refusal."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code
