"""The Qt binding must keep Python's reference counts: PySide6 6.12.0 returned ``None`` from every
void call without a reference (and ``True`` from every signal emit), so on Python < 3.12, where
``None`` is an ordinary object, the app died with "deallocating None" after about three minutes of
playback.  This guards the pinned range against a release with the same fault."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent("""
    import sys
    from PySide6.QtCore import QObject, Signal
    from PySide6.QtWidgets import QApplication, QLabel

    class Source(QObject):
        changed = Signal(object)

    app = QApplication([])
    label, source = QLabel(), Source()
    for _ in range(100):  # warm-up: first calls may cache objects
        label.setText("x")
        source.changed.emit(None)
    none, true = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(5000):
        label.setText("x")
        app.processEvents()
        source.changed.emit(None)
    print(sys.getrefcount(None) - none, sys.getrefcount(True) - true)
""")


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None and True are immortal from Python 3.12: "
                    "their counts say nothing there")
def test_void_calls_and_emits_keep_the_reference_counts_of_none_and_true() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120,
                          env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    lost_none, lost_true = (int(n) for n in done.stdout.split())
    assert lost_none > -100 and lost_true > -100, f"None changed by {lost_none}, True by {lost_true} over 5,000 calls"
