"""The Model panel driven as a person drives it: retrain, label from the queue, retrain again."""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from audioid_gui.core.labels_io import read_label_file
from audioid_gui.core.learning import TrainingOptions, retrain
from audioid_gui.core.project import Project
from audioid_gui.core.selection import QueueEntry
from audioid_gui.gui.main_window import MainWindow
from audioid_gui.gui.queue import QueueView

from .conftest import REPO, labels_in_file

TRUTH = dict(read_label_file(REPO / "resources" / "demo_truth.csv"))
KEYS = {"Music": Qt.Key.Key_M, "Dialogue": Qt.Key.Key_D, "Both": Qt.Key.Key_B}


def label_some(project_file: Path, per_class: int) -> None:
    with Project(project_file) as project:
        seen: dict[str, int] = {}
        for path in project.track_paths():
            cls = TRUTH[Path(path).name]
            if seen.get(cls, 0) < per_class:
                seen[cls] = seen.get(cls, 0) + 1
                project.set_label(project.track_id(path), cls)


def retrain_and_wait(window: MainWindow, qtbot) -> None:
    """Ctrl+R, then wait for the predictions and for the queue they rank (a job of its own)."""
    with qtbot.waitSignal(window.model_panel.predictions_changed, timeout=60_000):
        qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.model_panel.queue_pending, timeout=60_000)


def test_label_from_the_queue_retrain_and_the_queue_moves_on(window: MainWindow, demo_project: Path, qtbot) -> None:
    label_some(demo_project, 6)
    assert window.open_project(demo_project)
    retrain_and_wait(window, qtbot)
    panel = window.model_panel
    assert window.model_dock.isVisible()
    first_queue = [e.track_id for e in panel.queue.entries]
    assert len(first_queue) == 12  # every track not labelled by ear
    predicted = window.model.track(0).predicted
    assert predicted in ("Music", "Dialogue", "Both") and window.model.track(0).confidence > 0
    qtbot.waitUntil(lambda: "cross-validated accuracy" in panel.status.text(), timeout=60_000)
    assert "trained just now" in panel.status.text()
    panel.clock = lambda: time.time() + 300  # five minutes on: the line keeps up by itself
    panel.age_timer.setInterval(20)
    qtbot.waitUntil(lambda: "trained 5 min ago" in panel.status.text())

    qtbot.mouseClick(panel.queue.start, Qt.MouseButton.LeftButton)  # Label from Queue
    assert window.quick_filter.currentText().startswith("Chosen: queue")
    assert [window.model.track_id(r) for r in range(window.model.rowCount())] == first_queue
    assert QApplication.focusWidget() is window.table  # the class keys label, not press the button again
    for expected in first_queue[:3]:
        assert window.table.current_track_id() == expected
        qtbot.keyClick(window.table, KEYS[TRUTH[window.model.track(window.table.currentIndex().row()).name]])
    assert [e.track_id for e in panel.queue.entries] == first_queue[3:]  # labelled tracks leave at once
    listening = window.table.current_track_id()
    assert listening == first_queue[3]

    retrain_and_wait(window, qtbot)
    second_queue = [e.track_id for e in panel.queue.entries]
    assert len(second_queue) == 9 and not set(first_queue[:3]) & set(second_queue)
    shown = [window.model.track_id(r) for r in range(window.model.rowCount())]
    assert window.table.current_track_id() == listening  # the user's place is kept
    assert shown[1:] == second_queue or shown == second_queue
    assert len(labels_in_file(demo_project)) == 21


def test_auto_retrain_and_the_predicted_filter(window: MainWindow, demo_project: Path, qtbot) -> None:
    label_some(demo_project, 5)
    assert window.open_project(demo_project)
    retrain_and_wait(window, qtbot)
    panel = window.model_panel
    panel.auto.setChecked(True)
    panel.auto_every.setValue(5)
    qtbot.waitUntil(lambda: window.jobs.current is None, timeout=60_000)  # the evaluation
    qtbot.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    with qtbot.waitSignal(panel.predictions_changed, timeout=60_000):
        for _ in range(5):
            qtbot.keyClick(window.table, KEYS[TRUTH[window.model.track(window.table.currentIndex().row()).name]])
    assert panel.project.models()[-1].n_labels == 20
    index = next(i for i in range(window.quick_filter.count()) if window.quick_filter.itemText(i) == "Predicted: Both")
    window.quick_filter.setCurrentIndex(index)
    assert window.confidence_filter_action.isVisible()  # (in an 800-pixel test screen it may sit in the overflow)
    both = window.model.rowCount()
    assert both >= 5 and all(window.model.track(r).predicted == "Both" for r in range(both))
    window.confidence_filter.setValue(1)
    qtbot.waitUntil(lambda: window.model.rowCount() == 0)


def test_too_few_labels_say_what_to_do(window: MainWindow, demo_project: Path, qtbot) -> None:
    label_some(demo_project, 1)
    assert window.open_project(demo_project)
    qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: "Too few labels" in window.model_panel.status.text(), timeout=30_000)
    assert "Label at least 2" in window.model_panel.status.text()


def test_the_model_age_keeps_up_while_the_panel_shows(window: MainWindow, demo_project: Path, qtbot) -> None:
    label_some(demo_project, 3)
    with Project(demo_project) as project:
        retrain(project, TrainingOptions.of(project))
        trained_at = project.models()[-1].created_at
    now = [trained_at + 5]
    panel = window.model_panel
    panel.clock = lambda: now[0]
    panel.age_timer.setInterval(20)  # the clock is the test's; only the ticking needs to be quick
    assert window.open_project(demo_project)
    window.model_dock.show()
    window.model_dock.raise_()
    qtbot.waitUntil(lambda: "trained just now" in panel.status.text())
    assert "9 labels" in panel.status.text()
    now[0] = trained_at + 125
    qtbot.waitUntil(lambda: "trained 2 min ago" in panel.status.text())
    now[0] = trained_at + 3 * 3600
    qtbot.waitUntil(lambda: "trained 3 h ago" in panel.status.text())

    qtbot.keyClick(window, Qt.Key.Key_U, Qt.KeyboardModifier.ControlModifier)  # the panel closes: nobody reads the age
    assert not panel.isVisible() and not panel.age_timer.isActive()
    now[0] = trained_at + 3 * 86400
    qtbot.keyClick(window, Qt.Key.Key_U, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: "trained 3 days ago" in panel.status.text())
    assert panel.age_timer.isActive()
    window.close_project()
    assert not panel.age_timer.isActive() and "trained" not in panel.status.text()


def test_the_queue_keeps_what_the_model_says_readable_beside_long_names(qtbot) -> None:
    long_name = "Radio France Culture – La Grande Table des idées, entretien du 12 mars 2019 (partie 2).mp3"
    view = QueueView()
    qtbot.addWidget(view)
    view.resize(520, 260)
    view.show()
    view.set_entries([QueueEntry(track_id=1, score=0.9, predicted="Dialogue", confidence=0.52, runner_up="Both",
                                 runner_up_probability=0.41),
                      QueueEntry(track_id=2, score=0.1, predicted="Music", confidence=0.99, runner_up="Dialogue",
                                 runner_up_probability=0.01)],
                     {1: long_name, 2: "outro 28 – café.mp3"})
    table, metrics = view.table, view.table.fontMetrics()
    header = table.horizontalHeader()
    for column, widest in ((2, "Dialogue"), (3, "Confidence"), (4, "Dialogue 1%")):
        assert header.sectionSize(column) >= metrics.horizontalAdvance(widest) + 8
    assert header.sectionSize(3) >= 90  # the confidence bars stay long enough to compare
    assert 100 < header.sectionSize(1) < metrics.horizontalAdvance(long_name)  # the name gives way...
    assert table.textElideMode() == Qt.TextElideMode.ElideMiddle  # ...keeping its start and its end
    assert table.item(0, 1).toolTip() == long_name
    assert not table.wordWrap()  # one line per track, long name or not
    assert not table.horizontalScrollBar().isVisible()


def test_a_queue_column_the_user_widened_keeps_its_width_when_the_queue_refreshes(qtbot) -> None:
    view = QueueView()
    qtbot.addWidget(view)
    view.resize(700, 260)
    view.show()
    entry = QueueEntry(track_id=1, score=0.9, predicted="Dialogue", confidence=0.52, runner_up="Both",
                       runner_up_probability=0.41)
    view.set_entries([entry], {1: "outro 01.mp3"})
    header = view.table.horizontalHeader()
    fitted = header.sectionSize(2)
    # Drag the Predicted column's right edge 60 px further, as a user would.
    edge = header.sectionViewportPosition(2) + fitted - 1
    qtbot.mousePress(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(edge, 5))
    qtbot.mouseMove(header.viewport(), QPoint(edge + 60, 5))
    qtbot.mouseRelease(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(edge + 60, 5))
    widened = header.sectionSize(2)
    assert widened > fitted + 30
    view.set_entries([entry], {1: "outro 01.mp3"})  # a retrain, a label: the queue is refilled
    assert header.sectionSize(2) == widened
