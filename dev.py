#!/usr/bin/env python3
"""Set up and run AudioID Labeler from a checkout, on a machine that has only Python 3.10+.

    python3 dev.py run     install what is missing, build the demo project, open the app
    python3 dev.py test    install what is missing, run the test suite (extra args go to pytest)

What it installs: a virtual environment in .venv with the app, its test tools and the Dask cluster
extra (pip), and, when run as root on Debian/Ubuntu, the few system libraries Qt needs that a bare
machine lacks (found by asking ``ldd`` about Qt's own libraries; apt's lock is waited for when
another apt holds it).
Not root, or when apt fails: it says what failed and prints the one apt-get line to run.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".audioid-installed"
DEMO_PROJECT = ROOT / "demo.audioid"

# Shared libraries that Qt (widgets, multimedia, the xcb and offscreen platforms) links against,
# and the Debian package of each.  ``ldd`` tells which are missing on this machine.
DEBIAN_PACKAGES = {
    "libpulse.so.0": "libpulse0",
    "libpulse-mainloop-glib.so.0": "libpulse-mainloop-glib0",
    "libasound.so.2": "libasound2",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libGLX.so.0": "libglx0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libgobject-2.0.so.0": "libglib2.0-0",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libXext.so.6": "libxext6",
    "libXrender.so.1": "libxrender1",
    "libSM.so.6": "libsm6",
    "libICE.so.6": "libice6",
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
    "libdrm.so.2": "libdrm2",
    "libgssapi_krb5.so.2": "libgssapi-krb5-2",
    "libnss3.so": "libnss3",
}


def say(message: str) -> None:
    print(f"[dev] {message}", flush=True)


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


APT_LOCK_WAIT_S = 120  # another apt (an unattended upgrade, a second terminal) may hold its lock


def install_line(packages: list[str]) -> str:
    """The line a person runs to install ``packages``: with sudo only when they are not root."""
    line = f"apt-get install -y {' '.join(sorted(set(packages)))}"
    return line if is_root() else f"sudo {line}"


def apt_install(packages: list[str]) -> bool:
    """Install Debian packages when root, waiting for apt's lock; otherwise, or when that fails,
    print the line to run and return False."""
    if not packages:
        return True
    wanted = sorted(set(packages))
    if not (is_root() and shutil.which("apt-get")):
        say("Please install these system packages, then run dev.py again:")
        say(f"    {install_line(wanted)}")
        return False
    say(f"installing system packages: {' '.join(wanted)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    apt = ["apt-get", "-o", f"DPkg::Lock::Timeout={APT_LOCK_WAIT_S}"]
    if subprocess.run([*apt, "update", "-qq"], env=env).returncode != 0:
        say("`apt-get update` failed; trying to install from the package lists already here")
    if subprocess.run([*apt, "install", "-y", "-qq", *wanted], env=env).returncode == 0:
        return True
    say(f"`apt-get install` failed (see its message above; if another apt held its lock for more than "
        f"{APT_LOCK_WAIT_S} s, wait for it to finish). Run this line, then dev.py again:")
    say(f"    {install_line(wanted)}")
    return False


def ensure_venv() -> None:
    if PYTHON.exists():
        return
    say(f"creating a virtual environment in {VENV}")
    try:
        venv.create(VENV, with_pip=True)
    except (subprocess.CalledProcessError, OSError) as exc:
        shutil.rmtree(VENV, ignore_errors=True)
        minor = f"python3.{sys.version_info.minor}-venv"
        if not apt_install(["python3-venv", minor]):
            sys.exit(f"cannot create a virtual environment ({exc})")
        venv.create(VENV, with_pip=True)


def ensure_packages() -> None:
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    say("installing the app and its test tools into .venv (first time takes a few minutes)")
    pip = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    # The cluster extra too: its tests start a Dask cluster on this machine.
    subprocess.run([*pip, "install", "-e", f"{ROOT}[test,cluster]"], check=True)
    STAMP.write_text(wanted)


def missing_system_libraries() -> list[str]:
    """Sonames that Qt's libraries and plugins need but this machine lacks."""
    found = subprocess.run(
        [str(PYTHON), "-c", "import PySide6, os; print(os.path.dirname(PySide6.__file__))"],
        capture_output=True, text=True,
    )
    if found.returncode != 0 or not shutil.which("ldd"):
        return []
    qt = Path(found.stdout.strip()) / "Qt"
    binaries = [
        *qt.glob("lib/libQt6Core.so*"), *qt.glob("lib/libQt6Gui.so*"), *qt.glob("lib/libQt6Widgets.so*"),
        *qt.glob("lib/libQt6Multimedia.so*"), *qt.glob("lib/libQt6XcbQpa.so*"),
        *qt.glob("plugins/platforms/libq*.so"), *qt.glob("plugins/multimedia/*.so"),
    ]
    missing: set[str] = set()
    for binary in binaries:
        out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True).stdout
        missing.update(re.findall(r"^\s*(\S+) => not found", out, flags=re.MULTILINE))
    return sorted(missing)


def ensure_system_libraries() -> None:
    missing = missing_system_libraries()
    if not missing:
        return
    unknown = [lib for lib in missing if lib not in DEBIAN_PACKAGES]
    if unknown:
        say(f"Qt also needs {', '.join(unknown)}; install the packages that provide them")
    # Carry on either way: the tests run offscreen, which needs fewer of them than a window.
    apt_install([DEBIAN_PACKAGES[lib] for lib in missing if lib in DEBIAN_PACKAGES])


def setup() -> None:
    if sys.version_info < (3, 10):
        sys.exit("AudioID Labeler needs Python 3.10 or newer")
    ensure_venv()
    ensure_packages()
    ensure_system_libraries()


def venv_command(*args: str) -> list[str]:
    return [str(VENV / "bin" / args[0]), *args[1:]]


def run(extra: list[str]) -> int:
    setup()
    if not DEMO_PROJECT.exists():
        say(f"building the demo project {DEMO_PROJECT.name}")
        built = subprocess.run(venv_command("audioid", "demo", "--project", str(DEMO_PROJECT)))
        if built.returncode != 0:
            return built.returncode
    if (ROOT / "audioid_gui" / "gui" / "app.py").exists():
        return subprocess.run(venv_command("audioid-gui", *(extra or [str(DEMO_PROJECT)]))).returncode
    return subprocess.run(venv_command("audioid", "status", "--project", str(DEMO_PROJECT))).returncode


def test(extra: list[str]) -> int:
    setup()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([str(PYTHON), "-m", "pytest", "-q", *extra], cwd=ROOT, env=env).returncode


def main() -> int:
    commands = {"run": run, "test": test, "setup": lambda _: setup() or 0}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
