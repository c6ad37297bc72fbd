"""The "Try your own digit" web app (``demo.app``, needs gradio) and when to start it."""

import os
import sys

HEADLESS_RUNNERS = ("papermill", "nbconvert", "nbclient", "pytest", "nbmake")


def interactive_notebook() -> bool:
    """True when a person can use a widget here: Colab, or a notebook open in Jupyter or VS Code.
    False in a script and in a notebook run headless (papermill, nbconvert, pytest: told by the
    processes that started this kernel). ``MNIST_INTERACTIVE=1`` or ``0`` overrides."""
    forced = os.environ.get("MNIST_INTERACTIVE", "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    if "google.colab" in sys.modules:
        return True
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    if not hasattr(get_ipython(), "kernel"):  # not a Jupyter kernel (a script, a terminal)
        return False
    try:
        import psutil

        commands = " ".join(" ".join(p.cmdline()) for p in psutil.Process().parents()[:4])
    except Exception:  # no psutil, or a process we may not inspect: trust Jupyter's own marker
        return "JPY_SESSION_NAME" in os.environ
    return not any(runner in commands.lower() for runner in HEADLESS_RUNNERS)
