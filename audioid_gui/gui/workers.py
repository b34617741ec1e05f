"""Run slow core work off the GUI thread; hear about it through Qt signals on the GUI thread.

A core task is a plain function ``fn(progress, cancel) -> result`` (see ``core.tasks``).  ``Job``
runs it in a thread pool and turns its progress, result or exception into signals, as Orange's
FutureWatcher does: core code stays Qt-free and testable; views only connect signals.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal
from threadpoolctl import threadpool_limits

from ..core.tasks import Cancelled, CancelToken, Progress, ProgressCallback

log = logging.getLogger(__name__)

Task = Callable[[ProgressCallback, CancelToken], Any]

# Several jobs may run numpy at once here (segment pictures, imports).  OpenBLAS builds with their
# own thread pool are not safe when called from several threads at the same time (seen: crashes),
# and the GUI process gains nothing from BLAS threads anyway: the heavy work runs in processes.
threadpool_limits(1, user_api="blas")
JOB_NICENESS = 5  # how much less of the processors a job's thread asks for than the window's


def _yield_to_the_window() -> None:
    """Run this job thread, and the threads and processes it starts, at a lower priority than
    the GUI thread: when a prediction keeps every core busy, the GUI thread waking up gets one
    first.  It costs the job nothing while the window is idle.  Linux sets the priority per
    thread; elsewhere the job keeps the window's."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0) + JOB_NICENESS)
    except (AttributeError, OSError):
        pass


_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="audioid-job", initializer=_yield_to_the_window)
PROGRESS_INTERVAL_S = 0.05  # at most 20 progress signals a second: the GUI repaints, it doesn't drown


_running: set["Job"] = set()  # jobs keep themselves alive until their thread is done with them


class Job(QObject):
    """One run of a task.  Signals are emitted from the worker thread and, since the Job lives in
    the GUI thread, Qt queues them there.

    A Job has no Qt parent on purpose: a window closing while the task runs must not delete the
    object its thread is still emitting from.  Connect its signals to bound methods of widgets,
    which Qt disconnects when those widgets go away.
    """

    progress = Signal(object)  # Progress
    succeeded = Signal(object)  # the task's result
    failed = Signal(str)  # a message for the user
    finished = Signal()  # after succeeded or failed

    def __init__(self, title: str, task: Task) -> None:
        super().__init__()
        self.title = title
        self.task = task
        self.token = CancelToken()
        self._last_progress = 0.0

    def start(self) -> None:
        _running.add(self)
        self.finished.connect(self._forget)
        _pool.submit(self._run)

    def _forget(self) -> None:
        _running.discard(self)

    def cancel(self) -> None:
        self.token.cancel()

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled

    def _on_progress(self, p: Progress) -> None:
        now = time.monotonic()
        if now - self._last_progress >= PROGRESS_INTERVAL_S or (p.total and p.done >= p.total):
            self._last_progress = now
            self.progress.emit(p)

    def _run(self) -> None:
        try:
            result = self.task(self._on_progress, self.token)
        except Cancelled:  # the user asked for it: nothing to report
            pass
        except Exception as exc:  # the task's bug must reach the user as a message, not kill a thread
            log.warning("%s failed: %s", self.title, exc)
            log.debug("%s", traceback.format_exc())
            self.failed.emit(f"{self.title} failed: {exc}")
        else:
            self.succeeded.emit(result)
        self.finished.emit()
