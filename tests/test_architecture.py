"""The core stays free of Qt, so the CLI and batch jobs run on machines without a display."""
from __future__ import annotations

import pkgutil
import subprocess
import sys

import audioid_gui.core


def test_core_never_imports_qt() -> None:
    modules = [f"audioid_gui.core.{m.name}" for m in pkgutil.iter_modules(audioid_gui.core.__path__)]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "import audioid_gui.cli\n"
        "qt = sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken6')))\n"
        "print(qt)\n"
        "sys.exit(1 if qt else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, f"Qt imported by core: {done.stdout} {done.stderr}"
