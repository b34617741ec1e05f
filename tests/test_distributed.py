"""Extraction on a Dask cluster: the same vectors as the local pool, nothing lost when a worker
dies, clear words when the cluster cannot be used.

One LocalCluster (two worker processes on loopback, the scheduler giving up on a task after two
lost workers) serves the whole module: starting one costs seconds."""
from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import socket
import sys
import time
from pathlib import Path

import cloudpickle
import dask
import pytest
from distributed import Client, LocalCluster

from audioid_gui import cli
from audioid_gui.core import distributed as cluster_backend
from audioid_gui.core.demo import demo_sources
from audioid_gui.core.distributed import KILLED_MESSAGE, DaskScheduler, extract_on_worker
from audioid_gui.core.extraction import ExtractionReport, run_extraction
from audioid_gui.core.features import VERSION
from audioid_gui.core.project import Project
from audioid_gui.core.tasks import CancelToken, Progress

from .conftest import REPO, run_cli

DEMO = REPO / "resources" / "demo"


@pytest.fixture(scope="module")
def cluster() -> LocalCluster:
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        local = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                             dashboard_address=None, silence_logs=logging.ERROR)
    yield local
    local.close()


@pytest.fixture(scope="module")
def client(cluster: LocalCluster) -> Client:
    with Client(cluster, set_as_default=False) as c:
        yield c


def vectors(project_file: Path) -> dict[str, bytes]:
    """Each track's current vector, by path, as the bytes stored."""
    with Project(project_file, create=False) as project:
        table = project.feature_table(VERSION)
    return {path: row.tobytes() for path, row in zip(table.paths, table.matrix)}


def scan_on(cluster: LocalCluster, project_file: Path, sources: list, progress=None, **scheduler) -> ExtractionReport:
    with Project(project_file) as project:
        project.import_sources(sources)
        return run_extraction(project, progress=progress,
                              scheduler=DaskScheduler(cluster.scheduler_address, **scheduler))


def clips(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(DEMO / name, folder / name)
    return folder


def test_the_cluster_computes_the_vectors_the_local_pool_does(cluster, demo_template: Path, tmp_path: Path) -> None:
    report = scan_on(cluster, tmp_path / "c.audioid", demo_sources())

    assert (report.extracted, report.failed) == (30, 0)
    assert vectors(tmp_path / "c.audioid") == vectors(demo_template)  # bit for bit


def test_a_worker_killed_mid_scan_loses_nothing(cluster, client: Client, demo_template: Path, tmp_path: Path) -> None:
    victim = next(iter(client.run(os.getpid).values()))
    killed: list[int] = []

    def kill_once(p: Progress) -> None:
        if p.done >= 2 and not killed:  # results are arriving: both workers have files in hand
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    report = scan_on(cluster, tmp_path / "k.audioid", demo_sources(), kill_once)

    assert killed
    assert (report.extracted, report.failed) == (30, 0)
    assert vectors(tmp_path / "k.audioid") == vectors(demo_template)


def test_cancel_keeps_what_finished_and_leaves_nothing_on_the_cluster(cluster, client: Client, tmp_path: Path) -> None:
    token = CancelToken()

    def cancel_after_two(p: Progress) -> None:
        if p.done >= 2:
            token.cancel()

    with Project(tmp_path / "s.audioid") as project:
        project.import_sources(demo_sources())
        report = run_extraction(project, progress=cancel_after_two, cancel=token,
                                scheduler=DaskScheduler(cluster.scheduler_address))
        left = len(project.pending_extraction(VERSION, project.segment))

    assert report.cancelled and report.extracted >= 2
    assert left == 30 - report.extracted  # the next scan does the rest
    deadline = time.monotonic() + 30
    while client.run_on_scheduler(tasks_held) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.run_on_scheduler(tasks_held) == 0  # the tasks in flight were cancelled


def tasks_held(dask_scheduler) -> int:
    """Run on the scheduler: the tasks it still holds for any client."""
    return len(dask_scheduler.tasks)


def test_the_command_line_scans_on_the_cluster_and_logs_who_did_what(cluster, tmp_path: Path) -> None:
    folder = clips(tmp_path / "lib", "outro 01.mp3", "outro 02.ogg")

    done = run_cli("-v", "scan", str(folder), "--dask", cluster.scheduler_address,
                   "--project", str(tmp_path / "cli.audioid"), timeout=120)

    assert done.returncode == cli.EXIT_OK, done.stderr
    assert "2 extracted, 0 failed" in done.stdout
    assert done.stderr.count("computed on Dask worker") == 2


def crash_on_poison(track, segment):
    """Stands in for the worker's task: a file called poison kills the worker that reads it, as a
    decoder crashing on a malformed file would."""
    if "poison" in Path(track.path).name:
        os._exit(1)
    return extract_on_worker(track, segment)


GOOD = ("outro 01.mp3", "outro 02.ogg", "outro 04.ogg", "outro 05.mp3", "outro 06.ogg", "outro 07 – café.mp3")


def test_a_file_that_kills_its_workers_is_failed_and_not_tried_again(
        cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the bad file is failed: the good ones queued behind it on the workers it killed are
    extracted all the same."""
    folder = clips(tmp_path / "lib", *GOOD)
    shutil.copy(DEMO / "outro 03.mp3", folder / "poison.mp3")
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers do not import the tests
    monkeypatch.setattr(cluster_backend, "extract_on_worker", crash_on_poison)
    try:
        report = scan_on(cluster, tmp_path / "p.audioid", [folder])
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])

    assert (report.extracted, report.failed) == (len(GOOD), 1)
    assert [(Path(e.path).name, e.message) for e in report.errors] == [("poison.mp3", KILLED_MESSAGE)]
    with Project(tmp_path / "p.audioid") as project:
        assert project.pending_extraction(VERSION, project.segment) == []  # until the file changes


def test_workers_read_mapped_paths_and_name_themselves_when_a_file_is_missing(cluster, tmp_path: Path) -> None:
    here = clips(tmp_path / "here", "outro 01.mp3", "outro 02.ogg")
    clips(tmp_path / "there", "outro 01.mp3")  # the workers' mount lacks one file

    report = scan_on(cluster, tmp_path / "m.audioid", [here], path_map=((str(here), str(tmp_path / "there")),))

    assert (report.extracted, report.failed) == (1, 1)
    [error] = report.errors
    assert error.path == str(here / "outro 02.ogg")  # the project keeps the user's path
    assert "file not found" in error.message
    assert re.search(r"\(on Dask worker \d+ \(tcp://127\.0\.0\.1:\d+\)\)$", error.message)
    assert list(vectors(tmp_path / "m.audioid")) == [str(here / "outro 01.mp3")]


def free_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_scheduler_that_does_not_answer_is_said_within_seconds(tmp_path: Path) -> None:
    folder = clips(tmp_path / "lib", "outro 01.mp3")
    address = f"tcp://127.0.0.1:{free_port()}"

    done = run_cli("scan", str(folder), "--dask", address, "--project", str(tmp_path / "u.audioid"), timeout=60)

    assert done.returncode == cli.EXIT_FAILED
    assert f"cannot reach the Dask scheduler at {address} within 5 s" in done.stderr
    assert "run the scan again to resume" in done.stderr
    assert "Imported: 1 new" in done.stdout


def test_without_the_cluster_extra_the_scan_says_what_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` fails as if absent
    folder = clips(tmp_path / "lib", "outro 01.mp3")

    code = cli.main(["scan", str(folder), "--dask", "tcp://127.0.0.1:8786", "--project", str(tmp_path / "x.audioid")])

    assert code == cli.EXIT_USAGE
    assert "--dask needs the cluster extra: pip install 'audioid-gui[cluster]'" in capsys.readouterr().err
    with Project(tmp_path / "x.audioid") as project:
        assert project.pending_extraction(VERSION, project.segment) == []  # nothing imported either


def test_the_window_scans_on_the_scheduler_named_in_scan_options(
        window, qtbot, cluster, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication, QDialog, QLineEdit

    window.open_project(tmp_path / "w.audioid", create=True)

    def fill_in() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, QDialog)
        address = dialog.findChildren(QLineEdit)[0]
        address.setFocus()
        qtbot.keyClicks(address, cluster.scheduler_address)
        qtbot.keyClick(address, Qt.Key.Key_Return)

    QTimer.singleShot(0, fill_in)
    window.act_scan_options.trigger()
    assert "Dask cluster at " + cluster.scheduler_address in window.statusBar().currentMessage()

    caplog.set_level(logging.INFO, logger="audioid_gui.core.distributed")
    window.start_scan([clips(tmp_path / "lib", "outro 01.mp3", "outro 02.ogg")])
    qtbot.waitUntil(lambda: "features for 2" in window.statusBar().currentMessage(), timeout=60_000)

    assert sum("computed on Dask worker" in r.getMessage() for r in caplog.records) == 2
    with Project(tmp_path / "w.audioid", create=False) as project:
        assert DaskScheduler.from_setting(project.setting("dask")) == DaskScheduler(cluster.scheduler_address)
