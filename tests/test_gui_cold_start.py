"""The first minutes of a project, driven as a person drives them: no label, no model, yet the Queue
tab proposes what to hear; keys label it batch after batch; a first retrain; the model's queue."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from audioid_gui.core.learning import MIN_LABELS_PER_CLASS, TrainingOptions
from audioid_gui.core.project import Project
from audioid_gui.gui import workers
from audioid_gui.gui.main_window import MainWindow

from .conftest import labels_in_file
from .test_gui_model import KEYS, TRUTH

LABEL_FROM_QUEUE = (Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)


def wait_for_queue(window: MainWindow, qtbot) -> None:
    qtbot.waitUntil(lambda: not window.model_panel.queue_pending, timeout=60_000)


def queue_cells(window: MainWindow, column: int) -> list[str]:
    table = window.model_panel.queue.table
    return [table.item(row, column).text() for row in range(table.rowCount())]


def playing_name(window: MainWindow) -> str:
    return window.model.track(window.table.currentIndex().row()).name


def test_a_new_project_is_labelled_from_the_queue_until_the_first_model(window: MainWindow, demo_project: Path,
                                                                          qtbot) -> None:
    assert window.open_project(demo_project)
    panel = window.model_panel
    panel.auto.setChecked(False)  # (a setting another test may have left on)
    panel.queue.size.setValue(5)  # small batches: the next one must come by itself
    qtbot.waitUntil(lambda: len(panel.queue.entries) == 5 and not panel.queue_pending, timeout=60_000)
    assert all(e.predicted == "" for e in panel.queue.entries)
    assert set(queue_cells(window, 3)) == {"explore"} and set(queue_cells(window, 2)) == {"—"}
    assert "No model yet" in panel.queue.note.text() and not panel.queue.note.isHidden()
    assert panel.tabs.tabText(panel.tabs.indexOf(panel.queue)) == "Queue"
    first_batch = [e.track_id for e in panel.queue.entries]

    qtbot.keyClick(window, *LABEL_FROM_QUEUE)
    assert window.model_dock.isVisible()
    assert window.quick_filter.currentText().startswith("Chosen: queue")
    assert [window.model.track_id(r) for r in range(window.model.rowCount())] == first_batch
    assert window.table.current_track_id() == first_batch[0]
    assert QApplication.focusWidget() is window.table  # the class keys go to the table, not the button

    heard: list[int] = []
    counts: Counter[str] = Counter()
    while min(counts[c] for c in KEYS) < MIN_LABELS_PER_CLASS:
        assert len(heard) < 30, f"30 tracks heard and still {dict(counts)}"
        # The next batch is chosen in the background; the table switches to it and plays its first.
        qtbot.waitUntil(lambda: window.table.current_track_id() in [e.track_id for e in panel.queue.entries],
                        timeout=60_000)
        if len(heard) == 5:
            assert not set(first_batch) & {e.track_id for e in panel.queue.entries}
            assert window.table.current_track_id() == panel.queue.entries[0].track_id
        truth = TRUTH[playing_name(window)]
        heard.append(window.table.current_track_id())
        counts[truth] += 1
        qtbot.keyClick(window.table, KEYS[truth])
        assert heard[-1] not in [e.track_id for e in panel.queue.entries]  # it leaves the queue at once
    assert heard[:5] == first_batch  # auto-advance walked down the queue
    assert len(heard) > 5 and len(set(heard)) == len(heard)
    assert len(labels_in_file(demo_project)) == len(heard)

    with qtbot.waitSignal(panel.predictions_changed, timeout=60_000):
        qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert "Young model" in panel.status.text()
    wait_for_queue(window, qtbot)
    predicted = {e.predicted for e in panel.queue.entries}
    assert predicted and predicted <= set(KEYS)  # every class heard: the model's doubts only
    assert "least sure" in panel.queue.note.text()
    assert "explore" not in queue_cells(window, 3)
    assert not set(heard) & {e.track_id for e in panel.queue.entries}
    qtbot.waitUntil(lambda: "cross-validated accuracy" in panel.status.text(), timeout=60_000)
    assert "Young model" in panel.status.text()  # it stays young after the evaluation too
    assert window.model.track(window.model.row_of(panel.queue.entries[0].track_id)).predicted in KEYS
    assert "calibration:" in panel.report.text.text() and "still young" in panel.report.text.text()
    curve = panel.report.figure.axes[1]
    assert curve.get_ylim()[1] > 100 and max(curve.get_yticks()) <= 100  # 100 % is not drawn on the frame


def test_while_a_class_is_unheard_half_the_queue_explores(window: MainWindow, demo_project: Path, qtbot) -> None:
    with Project(demo_project) as project:
        seen: Counter[str] = Counter()
        for path in project.track_paths():
            cls = TRUTH[Path(path).name]
            if cls != "Both" and seen[cls] < 3:
                seen[cls] += 1
                project.set_label(project.track_id(path), cls)
    assert window.open_project(demo_project)
    panel = window.model_panel
    panel.queue.size.setValue(10)
    with qtbot.waitSignal(panel.predictions_changed, timeout=60_000):
        qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    wait_for_queue(window, qtbot)
    entries = panel.queue.entries
    assert [bool(e.predicted) for e in entries] == [False] * 5 + [True] * 5
    assert queue_cells(window, 3)[:5] == ["explore"] * 5 and "%" in queue_cells(window, 3)[5]
    assert panel.queue.note.text().startswith("Nobody has labelled Both yet: the first 5 tracks are unlike")


def test_without_features_the_queue_says_to_add_a_folder(window: MainWindow, tmp_path: Path, qtbot) -> None:
    assert window.open_project(tmp_path / "empty.audioid", create=True)
    wait_for_queue(window, qtbot)
    assert "No features yet: add a folder (Ctrl+Shift+O)" in window.model_panel.queue.note.text()
    qtbot.keyClick(window, *LABEL_FROM_QUEUE)
    assert "No features yet" in window.statusBar().currentMessage()


def test_a_queue_chosen_for_a_project_left_behind_is_not_shown(window: MainWindow, demo_project: Path,
                                                               tmp_path: Path, qtbot) -> None:
    assert window.open_project(demo_project)  # its queue is being chosen...
    assert window.model_panel.queue_pending
    left_behind = window.model_panel._queue_job
    assert window.open_project(tmp_path / "other.audioid", create=True)  # ...when the user moves on
    wait_for_queue(window, qtbot)
    # The old queue has arrived once its job has let go of itself (its finished signal, queued to
    # this thread, may have been sent before anything here could listen).
    qtbot.waitUntil(lambda: left_behind not in workers._running, timeout=60_000)
    qtbot.wait(50)
    assert window.model_panel.queue.entries == []
    assert "No features yet" in window.model_panel.queue.note.text()


def test_the_model_choice_is_saved_in_the_project(window: MainWindow, demo_project: Path, qtbot) -> None:
    assert window.open_project(demo_project)
    panel = window.model_panel
    assert panel.model_choice.currentData() == "auto"
    panel.model_choice.setCurrentIndex(panel.model_choice.findData("journal"))
    assert "retrain" in panel.status.text()
    window.close_project()
    with Project(demo_project) as project:
        assert TrainingOptions.of(project).model == "journal"
    assert window.open_project(demo_project)
    assert panel.model_choice.currentText() == "Journal ensemble (RF + boosting)"


def test_the_next_batch_does_not_take_over_another_list(window: MainWindow, demo_project: Path, qtbot) -> None:
    assert window.open_project(demo_project)
    panel = window.model_panel
    panel.auto.setChecked(False)
    panel.queue.size.setValue(5)
    qtbot.waitUntil(lambda: len(panel.queue.entries) == 5 and not panel.queue_pending, timeout=60_000)
    qtbot.keyClick(window, *LABEL_FROM_QUEUE)
    for _ in range(5):
        qtbot.keyClick(window.table, KEYS[TRUTH[playing_name(window)]])
    assert panel.queue_pending  # the batch is done: the next one is being chosen...
    window.quick_filter.setCurrentIndex(0)  # ...while the user looks at every track
    wait_for_queue(window, qtbot)
    assert len(panel.queue.entries) == 5
    assert window.quick_filter.currentText() == "All tracks" and window.model.rowCount() == 30
