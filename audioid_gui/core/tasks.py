"""The contract every long job follows.

A long job is a plain function that takes a progress callback and a cancel token, records per-item
failures instead of raising, and returns a result.  The CLI drives it with a terminal progress bar,
the GUI through a worker thread; neither needs to know how the job does its work.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional


@dataclass(frozen=True)
class Progress:
    """How far a job has come; ``total`` is 0 while the job does not know it yet."""

    done: int
    total: int
    message: str = ""


ProgressCallback = Callable[[Progress], None]


def no_progress(_: Progress) -> None:
    """The callback used when nobody is watching."""


class CancelToken:
    """Set from any thread (a Cancel button, Ctrl-C); a job checks it between items."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


class Cancelled(Exception):
    """Raised by a job whose result is all or nothing (a clustering) when it is cancelled."""


@dataclass(frozen=True)
class ItemError:
    """One item that failed, kept as data so that the batch goes on and the user can see why."""

    path: str
    stage: str
    message: str


def report(progress: Optional[ProgressCallback]) -> ProgressCallback:
    """Return ``progress`` or a no-op, so that jobs can call it unconditionally."""
    return progress if progress is not None else no_progress


# -- how long a job has left ------------------------------------------------------------------------

SETTLE_ITEMS = 3  # items that must finish after the first one before any estimate is shown


@dataclass(frozen=True)
class Mark:
    """How many items were done at a moment (seconds on a monotonic clock)."""

    at: float
    done: int


@dataclass(frozen=True)
class Estimate:
    rate: float  # items per second
    seconds_left: float

    def left_text(self) -> str:
        """``40s``, ``7m``, ``1.5h``: a figure a person takes in at a glance."""
        s = self.seconds_left
        if s < 60:
            return f"{s:.0f}s"
        if s < 3600:
            return f"{s / 60:.0f}m"
        return f"{s / 3600:.1f}h"


def estimate(first: Optional[Mark], now: Mark, total: int, settle: int = SETTLE_ITEMS) -> Optional[Estimate]:
    """The pace since the first finished item, and the time left at that pace.

    Measured from the first finished item, not from the start: until then the clock holds the
    workers' start-up (processes spawning, decoders and the speech model loading), which says
    nothing about how fast the remaining items go; counting it made a 30-second scan announce
    14 minutes.  None until ``settle`` more items have finished, or while the total is unknown.
    """
    if first is None or not total or now.done - first.done < settle or now.at <= first.at:
        return None
    rate = (now.done - first.done) / (now.at - first.at)
    return Estimate(rate, max(total - now.done, 0) / rate)


class Pace:
    """Follows one job's progress reports and estimates its time left (see ``estimate``).

    A report with another total, or fewer items done, starts a new phase (a scan imports, then
    extracts): the first finished item is looked for again.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.first: Optional[Mark] = None
        self.total = 0

    def __call__(self, p: Progress) -> Optional[Estimate]:
        now = Mark(self.clock(), p.done)
        if p.total != self.total or (self.first is not None and p.done < self.first.done):
            self.first, self.total = None, p.total
        if self.first is None and p.total and p.done > 0:
            self.first = now
        return estimate(self.first, now, p.total)
