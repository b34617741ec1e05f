"""Python's garbage collector and the app's pauses.

A full pass of the cyclic collector visits every container object alive, with Python's lock held,
on whichever thread happened to allocate enough to set it off.  Two kinds of work made those
passes hurt: the window, whose start-up leaves 170,000 long-lived objects to visit again and
again (0.1 s each time, mid-job, the window frozen), and a batch that builds a million small
objects, which sets off pass after pass over everything it has built so far.
"""
from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from typing import Iterator

_lock = threading.Lock()
_pausing = 0  # batches inside collector_paused(), across threads
_was_enabled = True


def settle() -> None:
    """Leave every object alive now (start-up's modules, classes and widgets) out of the
    collector's passes from now on: they live as long as the app anyway."""
    gc.collect()
    gc.freeze()


@contextmanager
def collector_paused() -> Iterator[None]:
    """No collector passes while a batch builds its many objects, none of them in a cycle; the
    collector resumes when the last such batch ends.  A tag plan of a million tracks: 12 s with
    the passes, 7 s without."""
    global _pausing, _was_enabled
    with _lock:
        if _pausing == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pausing += 1
    try:
        yield
    finally:
        with _lock:
            _pausing -= 1
            if _pausing == 0 and _was_enabled:
                gc.enable()
