"""Reproducibility: one call to seed everything, the library versions, and a wall-clock timer."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import random
import sys
import time
from contextlib import suppress
from pathlib import Path

import numpy as np

_PACKAGES = (
    "numpy numba scikit-learn scipy pandas matplotlib seaborn threadpoolctl tensorflow keras "
    "tensorflow-datasets keras-tuner mlxtend"
).split()


def set_seed(seed: int) -> None:
    """Seed ``random``, NumPy's global generator and TensorFlow/Keras if imported (never here)."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - the legacy global generator is what seeding must reach
    if "keras" in sys.modules or "tensorflow" in sys.modules:
        import keras

        keras.utils.set_random_seed(int(seed))  # seeds random, numpy and the TF backend


def library_versions() -> dict[str, str]:
    """Python and the installed versions of the libraries this project uses (absent ones skipped)."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        with suppress(importlib.metadata.PackageNotFoundError):  # not installed: skipped
            versions[name] = importlib.metadata.version(name)
    return versions


def machine_info() -> dict[str, object]:
    """Where a timing was measured: operating system, processor (model name on Linux), cores."""
    processor = platform.processor() or platform.machine()
    with suppress(OSError):  # /proc/cpuinfo: Linux only
        cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
        names = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
        processor = names[0] if names else processor
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": processor,
        "cpu_count": os.cpu_count(),
    }


class Timer:
    """Wall-clock timer: ``with Timer() as t: ...`` then ``t.seconds``."""

    def __enter__(self) -> Timer:
        self.start, self.seconds = time.perf_counter(), float("nan")
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start
