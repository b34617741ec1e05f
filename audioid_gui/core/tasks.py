"""The contract every long job follows.

A long job is a plain function that takes a progress callback and a cancel token, records per-item
failures instead of raising, and returns a result.  The CLI drives it with a terminal progress bar,
the GUI through a worker thread; neither needs to know how the job does its work.
"""
from __future__ import annotations

import threading
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
