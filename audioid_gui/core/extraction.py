"""Batch feature extraction across processes: progress, cancel, resume, per-file errors.

Each file is probed, its segment decoded and its vector computed in a worker process (decoding and
the STFT are CPU-bound; threads would share one core under the GIL).  The parent process alone
writes to the project file, one short transaction per finished file, so a scan killed at any
moment keeps everything it finished and the next scan picks up only what is missing or stale.

A worker that dies (a decoder crashing on a malformed file) takes down the pool; the pool is
rebuilt and the files that were in flight are tried again, one at a time; a file that kills a
worker twice is recorded as failed.

Workers die with the scan: a scan killed outright (SIGKILL) must not leave processes decoding for
nobody.  On Linux the kernel sends each worker SIGKILL when its parent goes (``PR_SET_PDEATHSIG``);
elsewhere a thread in the worker watches for the parent to change.  SIGTERM to a command-line scan
stops the pool first, then ends the process as the signal asks; everything finished is kept.

A scan that names a Dask scheduler sends the extraction to that cluster instead (``distributed``);
its results come back here and are written the same way, by the same ``finish``.
"""
from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
import time
from collections import deque
from contextlib import contextmanager
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Optional, Sequence

import numpy as np

from .audio import TARGET_SR, AnalysedSegment, AudioError, AudioInfo, DecodedSegment, SegmentSpec, probe, read_segment
from .features import MIN_SECONDS, VERSION, FeatureError, FeatureExtractor
from .library import FileIdentity, NotAFileError, readable, regular_file_identity
from .project import ImportReport, Project, TrackRef
from .tasks import CancelToken, ItemError, Progress, ProgressCallback, report

if TYPE_CHECKING:
    from .distributed import DaskScheduler

log = logging.getLogger(__name__)

MAX_CRASHES_PER_FILE = 2
PARENT_WATCH_S = 1.0  # how often a worker without PR_SET_PDEATHSIG looks for its parent
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


@dataclass(frozen=True)
class Outcome:
    """What a worker found out about one file: a vector, or the stage and reason it failed."""

    track: TrackRef
    identity: Optional[FileIdentity] = None
    info: Optional[AudioInfo] = None
    vector: Optional[np.ndarray] = None
    analysed: Optional[AnalysedSegment] = None  # where the vector's samples lie in the file
    stage: str = ""
    message: str = ""


@dataclass
class ExtractionReport:
    planned: int = 0
    extracted: int = 0
    failed: int = 0
    cancelled: bool = False
    seconds: float = 0.0
    errors: list[ItemError] = field(default_factory=list)

    @property
    def files_per_second(self) -> float:
        return (self.extracted + self.failed) / self.seconds if self.seconds > 0 else 0.0


@lru_cache(maxsize=1)
def _extractor() -> FeatureExtractor:
    """One extractor per process: its filter banks take a second to build."""
    return FeatureExtractor()


def extract_track(track: TrackRef, segment: SegmentSpec) -> Outcome:
    """Probe, decode and analyse one file.  Never raises: every failure becomes an Outcome.

    Only a regular file is opened, and without blocking: a named pipe called ``x.mp3`` would hang
    the worker, and the scan with it, on every re-run."""
    try:
        ident = regular_file_identity(track.path)
    except NotAFileError as exc:
        return Outcome(track, stage="open", message=str(exc.strerror))
    except FileNotFoundError:
        return Outcome(track, stage="open", message="file not found (moved or deleted since it was listed)")
    except PermissionError:
        return Outcome(track, stage="open", message="permission denied: the file cannot be read")
    except OSError as exc:
        return Outcome(track, stage="open", message=f"cannot open: {exc.strerror or exc}")
    if ident.size == 0:
        return Outcome(track, ident, stage="probe", message="empty file (0 bytes)")
    info: Optional[AudioInfo] = None
    decoded: Optional[DecodedSegment] = None
    stage = "probe"
    try:
        info = probe(track.path)
        stage = "decode"
        decoded = read_segment(track.path, segment, duration=info.duration)
        stage = "features"
        vector = _extractor().extract(decoded.samples)
    except (AudioError, FeatureError) as exc:
        return Outcome(track, ident, info, stage=getattr(exc, "stage", stage), message=_reason(exc, decoded))
    except Exception as exc:  # a library failing in a way we did not foresee must not end the batch
        log.exception("unexpected failure on %s", track.path)
        return Outcome(track, ident, info, stage=stage, message=f"unexpected {type(exc).__name__}: {exc}")
    return Outcome(track, ident, info, vector, decoded.placement)


def _reason(exc: Exception, decoded: Optional[DecodedSegment]) -> str:
    """The failure in words; a segment found silent says how far back the search for sound went."""
    if isinstance(exc, FeatureError) and decoded is not None and decoded.trailing_silence is not None \
            and decoded.trailing_silence.seconds is None:
        return f"{decoded.trailing_silence.no_sound_message()}; {exc}"
    return str(exc)


def _init_worker(parent: int) -> None:
    """Ctrl-C is the parent's business (it cancels cleanly); the worker dies with ``parent``; one
    BLAS thread per worker process.

    The decoders' C libraries print complaints about damaged frames straight to the process's
    stderr; a worker's failures travel back as Outcomes instead, so its stderr is closed off to keep
    the terminal's progress bar readable.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _die_with_parent(parent: int) -> None:
    """Make this worker end when ``parent`` does, however the parent ends (see the module's
    docstring).  The kernel's signal follows the thread that started the worker; a scan keeps
    that thread until its pool is shut down."""
    if not _kill_me_with_parent():
        threading.Thread(target=_watch_parent, args=(parent,), name="parent-watch", daemon=True).start()
    if os.getppid() != parent:  # the parent was gone before the watch began
        os._exit(1)


def _kill_me_with_parent() -> bool:
    """Ask Linux to send SIGKILL to this process when its parent ends; False where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return False
    return prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_WATCH_S)
    os._exit(1)


@contextmanager
def _sigterm_cancels(cancel: CancelToken) -> Iterator[None]:
    """While a pool runs in the main thread, SIGTERM cancels it; once the pool is shut down the
    signal is delivered again to the handler it had before (by default: the process ends, 143)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handle(signum: int, _frame: object) -> None:
        received.append(signum)
        cancel.cancel()

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        if received:
            signal.raise_signal(signal.SIGTERM)


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def run_extraction(
    project: Project,
    segment: Optional[SegmentSpec] = None,
    *,
    workers: Optional[int] = None,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
    scheduler: Optional[DaskScheduler] = None,
) -> ExtractionReport:
    """Extract features for every track that lacks current ones.  ``workers=1`` runs in this
    process (no pool), which is what a debugger or a tiny project wants; a ``scheduler`` sends the
    work to that Dask cluster instead (results written here all the same; ClusterError when the
    cluster cannot be used)."""
    segment = segment or project.segment
    progress = report(progress)
    cancel = cancel or CancelToken()
    started = time.monotonic()
    todo = deque(project.pending_extraction(VERSION, segment))
    result = ExtractionReport(planned=len(todo))
    project.set_feature_names(VERSION, FeatureExtractor.names)
    progress(Progress(0, result.planned, "starting"))

    def finish(outcome: Outcome) -> None:
        _save(project, outcome, segment, result)
        name = readable(os.path.basename(outcome.track.path))
        progress(Progress(result.extracted + result.failed, result.planned, name))

    workers = workers or default_workers()
    if scheduler is not None and todo:
        from .distributed import run_on_cluster

        with _sigterm_cancels(cancel):
            run_on_cluster(todo, segment, scheduler, finish, cancel)
    elif workers == 1 or len(todo) <= 1:
        while todo and not cancel.cancelled:
            finish(extract_track(todo.popleft(), segment))
    else:
        with _sigterm_cancels(cancel):
            _run_pool(todo, segment, min(workers, len(todo)), finish, cancel)
    result.cancelled = cancel.cancelled and (result.extracted + result.failed) < result.planned
    result.seconds = time.monotonic() - started
    return result


def _compile_before_workers() -> None:
    """Run the extractor once here, before any worker starts.

    librosa's numba kernels (zero crossings, pitch) are compiled on first use and cached beside
    librosa.  Workers that compile at the same moment race on that cache: one's index can end up
    naming another's code, and from then on every process that loads it dies with a segmentation
    fault.  One compile in the parent writes the cache once; the workers only read it.  Two scans
    started at once (two projects, two windows) would race the same way, so the compile holds a
    lock that every program of this user shares."""
    t = np.arange(int(2 * MIN_SECONDS * TARGET_SR)) / TARGET_SR
    with _compile_lock():
        FeatureExtractor().extract((0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32))


@contextmanager
def _compile_lock() -> Iterator[None]:
    """An exclusive lock on a file in the temporary folder, released even when its holder is
    killed; without file locking (not POSIX), no lock."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    path = Path(tempfile.gettempdir()) / f"audioid-compile-{os.getuid()}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _run_pool(todo: deque[TrackRef], segment: SegmentSpec, workers: int, finish, cancel: CancelToken) -> None:
    """Keep a bounded number of files in flight (so cancel is quick and memory flat), rebuilding
    the pool if a worker dies."""
    _compile_before_workers()
    crashes: dict[int, int] = {}
    context = multiprocessing.get_context("spawn")  # never fork a process that may hold Qt or threads
    while todo and not cancel.cancelled:
        suspects: list[TrackRef] = []
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(os.getpid(),))
        in_flight: dict[Future[Outcome], TrackRef] = {}
        try:
            while (todo or in_flight) and not cancel.cancelled:
                # After a crash, suspects go one at a time so that a second crash names its file.
                limit = 1 if todo and crashes.get(todo[0].id) else workers * 3
                while todo and len(in_flight) < limit:
                    track = todo.popleft()
                    in_flight[pool.submit(extract_track, track, segment)] = track
                done, _ = wait(in_flight, timeout=0.25, return_when=FIRST_COMPLETED)
                for future in done:
                    track = in_flight.pop(future)
                    try:
                        finish(future.result())
                    except BrokenProcessPool:
                        suspects.append(track)
                if suspects:
                    suspects.extend(in_flight.values())
                    break
        finally:
            pool.shutdown(wait=not cancel.cancelled, cancel_futures=True)
        for track in reversed(suspects):
            crashes[track.id] = crashes.get(track.id, 0) + 1
            if crashes[track.id] >= MAX_CRASHES_PER_FILE:
                finish(Outcome(track, stage="decode", message="the decoder crashed on this file (twice)"))
            else:
                todo.appendleft(track)


def _save(project: Project, outcome: Outcome, segment: SegmentSpec, result: ExtractionReport) -> None:
    track = outcome.track
    if outcome.vector is not None and outcome.identity is not None and outcome.info is not None:
        project.save_features(track.id, outcome.identity, outcome.info, outcome.vector, VERSION, segment,
                              outcome.analysed)
        result.extracted += 1
        return
    if outcome.info is not None and outcome.identity is not None:
        project.save_probe(track.id, outcome.identity, outcome.info)
    project.record_error(track.id, track.path, outcome.stage, outcome.message)
    result.failed += 1
    result.errors.append(ItemError(track.path, outcome.stage, outcome.message))


@dataclass(frozen=True)
class ScanReport:
    imported: ImportReport
    extracted: ExtractionReport


def scan(
    project: Project,
    sources: Sequence[Path | str],
    *,
    workers: Optional[int] = None,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
    scheduler: Optional[DaskScheduler] = None,
) -> ScanReport:
    """Import folders and playlists, then extract what is missing (on ``scheduler``'s cluster when
    one is named): what "Add folder" does."""
    cancel = cancel or CancelToken()
    imported = project.import_sources(sources, progress, cancel)
    if cancel.cancelled:
        return ScanReport(imported, ExtractionReport(cancelled=True))
    return ScanReport(imported, run_extraction(project, workers=workers, progress=progress, cancel=cancel,
                                               scheduler=scheduler))
