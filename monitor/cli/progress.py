"""Progress of the long commands (`train`, `eval`, `replay`, `feedback import`), on stderr only:
their standard output is the same with or without it (``eval FILE > report.json``).

On a terminal, a tqdm bar redrawn in place, and erased when done. Elsewhere (journald, cron,
``2> file``) a log line on `monitor.progress` every `LOG_EVERY_SECONDS`, and one when done if any
was written: a long run shows it is alive, a short one adds nothing to the log.
"""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TextIO

if TYPE_CHECKING:
    from tqdm import tqdm

LOG_EVERY_SECONDS = 5.0
"""Between two progress lines when stderr is not a terminal."""
REDRAW_SECONDS = 0.5
"""The bar's clock keeps moving while one long call (a model fit) reports nothing."""

log = logging.getLogger("monitor.progress")


class Progress:
    """``with Progress("eval", total=len(rows)) as progress: ... progress.advance()``.

    Without a `total` it counts; without `advance` calls it shows the time spent (`train`'s fit
    is one call into scikit-learn: its time is all there is to show)."""

    def __init__(
        self,
        description: str,
        total: int | None = None,
        *,
        unit: str = "rows",
        stream: TextIO | None = None,
        every: float | None = None,
    ) -> None:
        import sys

        self.description = description
        self.total = total
        self.unit = f" {unit}"
        self.count = 0
        self._stream = stream if stream is not None else sys.stderr
        self._every = max(0.01, LOG_EVERY_SECONDS if every is None else every)
        self._bar: tqdm[Any] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0
        self.lines_logged = 0

    def __enter__(self) -> Self:
        from tqdm import tqdm  # here: `stats`, `status`, `run` do not pay for its import

        self._started = time.monotonic()
        if _is_terminal(self._stream):
            self._bar = tqdm(
                total=self.total,
                desc=self.description,
                unit=self.unit,
                file=self._stream,
                leave=False,
                dynamic_ncols=True,
            )
            target = self._redraw
        else:
            target = self._log_periodically
        self._thread = threading.Thread(target=target, name="progress", daemon=True)
        self._thread.start()
        return self

    def advance(self, count: int = 1) -> None:
        self.count += count
        if self._bar is not None:
            self._bar.update(count)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._bar is not None:
            self._bar.close()
        elif self.lines_logged and kind is None:
            log.info("%s", self.line(done=True))

    def line(self, *, done: bool = False) -> str:
        """What a log line says: done, or how far, how fast and how long is left."""
        from tqdm import tqdm

        if done:
            shape = (
                "{desc}: done, {n_fmt}{unit} in {elapsed}"
                if self.count
                else "{desc}: done in {elapsed}"
            )
        elif self.total:
            shape = (
                "{desc}: {n_fmt}/{total_fmt}{unit} ({percentage:.0f}%), {rate_fmt}, "
                "about {remaining} left"
            )
        elif self.count:
            shape = "{desc}: {n_fmt}{unit} so far, {rate_fmt}, {elapsed}"
        else:
            shape = "{desc}: working, {elapsed} so far"
        return tqdm.format_meter(
            self.count,
            self.total or 0,  # tqdm's "unknown"
            time.monotonic() - self._started,
            prefix=self.description,
            unit=self.unit,
            bar_format=shape,
        )

    def _log_periodically(self) -> None:
        while not self._stop.wait(self._every):
            log.info("%s", self.line())
            self.lines_logged += 1

    def _redraw(self) -> None:
        assert self._bar is not None
        while not self._stop.wait(REDRAW_SECONDS):
            self._bar.refresh()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed, or not a file
        return False
