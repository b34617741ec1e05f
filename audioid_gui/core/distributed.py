"""Extraction on a Dask distributed cluster, for archives one machine takes days to scan.

Only the extraction leaves the machine: each pending track becomes one Dask task that runs the
same ``extract_track`` as the local pool, on a worker that reads the audio from shared storage (at
the same path, or under a mapped prefix).  The worker sends back the Outcome; this process writes
it to the project exactly as the local pool's results are written, one transaction per finished
file, so a scan stopped at any moment keeps what it finished and a re-run resumes.  Labels, model
and everything else stay in the project file on the user's machine.

The client keeps a bounded number of tasks in flight (a few per worker thread): memory stays flat
however large the archive, and Cancel or Ctrl-C has little to call back.  A worker lost mid-task is
the engine's business: the scheduler runs the task again elsewhere, and after ``allowed-failures``
losses raises KilledWorker.  The file then runs once more, alone on the cluster (a good file dies
with a bad one that shared its worker); killing its workers again records it as failed, as the
local pool does for a file that crashes its decoder twice.

``distributed`` is an optional extra: this module imports it only when a scan names a scheduler.
"""
from __future__ import annotations

import json
import logging
import time
from collections import deque
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Callable, Optional, Sequence

from .audio import SegmentSpec
from .extraction import Outcome, _compile_before_workers, extract_track
from .features import VERSION
from .project import TrackRef
from .tasks import CancelToken

if TYPE_CHECKING:
    from distributed import Client, Future, as_completed

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5  # a scheduler that does not answer within this is reported, never waited on
TASKS_PER_THREAD = 4  # in flight per worker thread: workers never idle, the client's memory stays flat
POLL_S = 0.1  # how often a scan waiting for results looks at its cancel token
# The client keeps its last messages to the scheduler for debugging (1,000 batches by default, each
# holding the pickled submits): megabytes that grow with the scan; a short log keeps memory flat.
CLIENT_MESSAGE_LOG = 50
SETTING = "dask"  # the project setting that remembers the window's scheduler
MISSING_EXTRA = "needs the cluster extra: pip install 'audioid-gui[cluster]'"
KILLED_MESSAGE = "it killed the workers that read it (the scheduler gave up after the allowed failures)"


class ClusterError(Exception):
    """The cluster cannot be used (not installed, not reachable, workers without the app); what
    was finished before is kept."""


@dataclass(frozen=True)
class DaskScheduler:
    """Where to send the extraction, and how the workers see the user's paths.

    ``path_map`` holds (prefix here, prefix on the workers) pairs: only the paths sent to the
    workers change; the project keeps the user's own."""

    address: str
    path_map: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, address: str, path_maps: Sequence[str] = ()) -> "DaskScheduler":
        """From ``tcp://host:8786`` and ``/mnt/radio=/data/radio`` texts; ValueError says what is wrong."""
        return cls(parse_address(address), tuple(parse_path_map(text) for text in path_maps if text.strip()))

    def worker_path(self, path: str) -> str:
        """The path under which the workers read ``path``: the first mapped prefix that holds it
        (whole folder names only: /mnt/radio does not hold /mnt/radio2) is swapped."""
        for here, there in self.path_map:
            if path == here or path.startswith(here.rstrip("/") + "/"):
                return there.rstrip("/") + path[len(here.rstrip("/")):]
        return path

    def to_setting(self) -> str:
        return json.dumps({"address": self.address, "path_map": [list(pair) for pair in self.path_map]})

    @classmethod
    def from_setting(cls, text: Optional[str]) -> Optional["DaskScheduler"]:
        """The scheduler a project remembers; None when it has none (or the text is not ours)."""
        try:
            data = json.loads(text or "null")
            return cls(data["address"], tuple((here, there) for here, there in data.get("path_map", [])))
        except (ValueError, TypeError, KeyError):
            return None


def parse_address(text: str) -> str:
    """A scheduler's address; an empty one is refused (Dask would start a cluster of its own)."""
    if not text.strip():
        raise ValueError("the scheduler's address is empty (for example tcp://host:8786)")
    return text.strip()


def parse_path_map(text: str) -> tuple[str, str]:
    """``/mnt/radio=/data/radio`` → ("/mnt/radio", "/data/radio")."""
    here, sep, there = text.strip().partition("=")
    if not sep or not here.strip() or not there.strip():
        raise ValueError(f"A path map is HERE=THERE (for example /mnt/radio=/data/radio), not {text!r}.")
    return here.strip(), there.strip()


def require_distributed(what: str = "--dask") -> None:
    """Raise ClusterError, saying that ``what`` needs the extra and how to install it, when the
    cluster extra is missing."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ClusterError(f"{what} {MISSING_EXTRA}") from None


def connect(address: str, timeout: float = CONNECT_TIMEOUT_S) -> Client:
    """A client of the scheduler at ``address``, or ClusterError within ``timeout`` seconds.

    The workers are asked which feature recipe they compute: a worker without the app, or with
    another version of it, would fill the project with errors or with features of another kind."""
    require_distributed("extraction on a Dask cluster")
    import dask
    from distributed import Client

    try:
        with dask.config.set({"distributed.admin.low-level-log-length": CLIENT_MESSAGE_LOG}):
            client = Client(address, timeout=timeout, set_as_default=False)
    except Exception as exc:  # refused, timed out, or something that is not a scheduler answered
        raise ClusterError(f"cannot reach the Dask scheduler at {address} within {timeout:g} s ({exc}): "
                           f"is `dask scheduler` running there, and the port open?") from None
    try:
        _check_workers(client)
    except BaseException:
        client.close()
        raise
    return client


def _check_workers(client: Client) -> None:
    try:
        recipes = client.run(worker_recipe)
    except Exception as exc:
        raise ClusterError(f"the Dask workers cannot run the extraction ({type(exc).__name__}: {exc}); "
                           f"install audioid-gui[cluster], the same version as here, on every worker") from None
    other = sorted(worker for worker, recipe in recipes.items() if recipe != VERSION)
    if other:
        raise ClusterError(f"the Dask workers {', '.join(other)} compute another feature recipe than this "
                           f"app (v{VERSION}); install the same audioid-gui version on every worker")


def worker_recipe() -> str:
    """Run on each worker: the feature recipe it computes."""
    return VERSION


@lru_cache(maxsize=1)
def _prepare_worker() -> None:
    """Compile librosa's kernels once per worker process, under the machine-wide lock: workers
    started together on one machine would race on the compile cache (see extraction)."""
    _compile_before_workers()


def extract_on_worker(track: TrackRef, segment: SegmentSpec) -> tuple[Outcome, str]:
    """Run on a worker: ``extract_track``, and the worker's name.  A failure names the worker, as
    a path one worker cannot read may be readable on the others and on the user's machine."""
    from distributed import get_worker

    _prepare_worker()
    worker = _worker_name(get_worker())
    outcome = extract_track(track, segment)
    if outcome.vector is None:
        outcome = replace(outcome, message=f"{outcome.message} (on Dask worker {worker})")
    return outcome, worker


def _worker_name(worker: object) -> str:
    """``tcp://10.0.0.5:40123``, or ``gpu-box-1 (tcp://10.0.0.5:40123)`` for a named worker."""
    address, name = str(worker.address), str(worker.name)  # type: ignore[attr-defined]
    return address if name == address else f"{name} ({address})"


def run_on_cluster(todo: deque[TrackRef], segment: SegmentSpec, scheduler: DaskScheduler,
                   finish: Callable[[Outcome], None], cancel: CancelToken) -> None:
    """Extract ``todo`` on the cluster, handing each Outcome (with the user's path) to ``finish``
    as it arrives.  Cancel cancels the tasks in flight; the client is closed either way."""
    client = connect(scheduler.address)
    try:
        _consume(client, todo, segment, scheduler, finish, cancel)
    finally:
        client.close()


def _consume(client: Client, todo: deque[TrackRef], segment: SegmentSpec, scheduler: DaskScheduler,
             finish: Callable[[Outcome], None], cancel: CancelToken) -> None:
    """A file whose workers died is a suspect, not yet failed: the scheduler counts a death
    against every task the worker held, so a good file queued behind a bad one on the same
    worker dies with it.  Each suspect runs again alone on the cluster, once the tasks in
    flight are done; a file that kills its workers then is failed."""
    from distributed import as_completed

    in_flight: dict[Future, tuple[TrackRef, bool]] = {}  # → the track, and whether it runs alone
    suspects: deque[TrackRef] = deque()
    finished = as_completed(loop=client.loop)
    try:
        while (todo or in_flight or suspects) and not cancel.cancelled:
            if not suspects:
                _submit(client, todo, segment, scheduler, in_flight, finished)
            elif not in_flight:
                _send(client, suspects.popleft(), segment, scheduler, in_flight, finished, alone=True)
            for future in _next_batch(finished, cancel):
                track, alone = in_flight.pop(future)
                outcome = _outcome(future, track)
                if outcome.message == KILLED_MESSAGE and not alone:
                    suspects.append(track)
                else:
                    finish(outcome)
    finally:
        if in_flight:
            client.cancel(list(in_flight))


def _submit(client: Client, todo: deque[TrackRef], segment: SegmentSpec, scheduler: DaskScheduler,
            in_flight: dict[Future, tuple[TrackRef, bool]], finished: as_completed) -> None:
    """Top up the tasks in flight to a few per worker thread (workers that joined count at once)."""
    limit = TASKS_PER_THREAD * max(1, sum(client.nthreads().values()))
    while todo and len(in_flight) < limit:
        _send(client, todo.popleft(), segment, scheduler, in_flight, finished, alone=False)


def _send(client: Client, track: TrackRef, segment: SegmentSpec, scheduler: DaskScheduler,
          in_flight: dict[Future, tuple[TrackRef, bool]], finished: as_completed, alone: bool) -> None:
    sent = replace(track, path=scheduler.worker_path(track.path))
    future = client.submit(extract_on_worker, sent, segment, pure=False)
    in_flight[future] = (track, alone)
    finished.add(future)


def _next_batch(finished: as_completed, cancel: CancelToken) -> list[Future]:
    """The tasks finished since last asked; waits for at least one unless the scan is cancelled."""
    while not cancel.cancelled:
        batch = finished.next_batch(block=False)
        if batch:
            return batch
        time.sleep(POLL_S)
    return []


def _outcome(future: Future, track: TrackRef) -> Outcome:
    """The worker's Outcome under the user's path; a file that killed its workers is failed.

    Any other exception is the cluster's, not the file's (a worker without a decoder library, a
    scheduler gone): recording it against the file would skip that file until it changes."""
    from distributed import KilledWorker

    try:
        outcome, worker = future.result()
    except KilledWorker:
        log.info("%s killed the Dask workers that read it", track.path)
        return Outcome(track, stage="decode", message=KILLED_MESSAGE)
    except Exception as exc:
        raise ClusterError(f"the Dask cluster failed on {track.path}: {type(exc).__name__}: {exc}") from exc
    log.info("%s: computed on Dask worker %s", track.path, worker)
    return replace(outcome, track=track)
