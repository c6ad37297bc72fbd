"""Shared fixtures: every test runs offline, with its own cache and results folders."""

from __future__ import annotations

import gzip
import json
import os
import socket
from pathlib import Path

import numpy as np
import pytest

from common.data import IDX_FILES, idx_bytes

REPO_ROOT = Path(__file__).resolve().parents[1]
_REAL_MNIST = os.environ.get("MNIST_DATA_DIR")
REAL_CREATE_CONNECTION = socket.create_connection  # for the one test that opens a loopback socket


def _no_network(*args, **kwargs):
    raise OSError("network disabled in tests")


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """No network, and cache/results in a temporary folder (also for notebook kernels we start)."""
    monkeypatch.setenv("MNIST_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MNIST_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("MNIST_OFFLINE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setattr(socket, "create_connection", _no_network)


@pytest.fixture
def real_mnist_dir() -> Path:
    """The genuine MNIST folder named by MNIST_DATA_DIR; skipped when absent, except under CI
    (``CI`` set), which always has it: there a missing folder fails the test."""
    if not _REAL_MNIST or not Path(_REAL_MNIST).is_dir():
        if os.environ.get("CI"):
            pytest.fail(
                f"CI must provide the genuine MNIST in MNIST_DATA_DIR (got {_REAL_MNIST!r})"
            )
        pytest.skip("MNIST_DATA_DIR not set: the genuine-MNIST checks run in CI")
    return Path(_REAL_MNIST)


def blobs(n=600, d=20, k=3, seed=0):
    """k well-separated Gaussian clusters in d dimensions (float32), a task a tiny MLP learns,
    scaled into [0, 1] as the entry points (``train.fit``, ``train.predict``) require."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, size=(k, d))
    y = rng.integers(0, k, size=n)
    x = centers[y] + rng.normal(0, 1, size=(n, d))
    return ((x - x.min()) / (x.max() - x.min())).astype(np.float32), y


def make_arrays(n_train: int = 60, n_test: int = 20, seed: int = 0) -> dict[str, np.ndarray]:
    """Small random uint8 images and labels 0-9 (each class present), IDX-style shapes."""
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(n_train) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(n_test) % 10).astype(np.uint8),
    }


def write_idx_dir(directory: Path, arrays: dict[str, np.ndarray], gz: bool = True) -> Path:
    """Write the four arrays as IDX files (gzipped or not) with the standard names."""
    directory.mkdir(parents=True, exist_ok=True)
    for key, stem in IDX_FILES.items():
        raw = idx_bytes(arrays[key])
        if gz:
            with gzip.open(directory / f"{stem}.gz", "wb") as f:
                f.write(raw)
        else:
            (directory / stem).write_bytes(raw)
    return directory


@pytest.fixture
def small_idx_dir(tmp_path) -> Path:
    """A folder with four small, structurally valid IDX files (not MNIST)."""
    return write_idx_dir(tmp_path / "small", make_arrays())


def execute_notebook(notebook: Path, out_dir: Path, mode: str = "smoke", cwd: Path | None = None) -> Path:
    """Run ``notebook`` headless with papermill, as `make smoke` does; returns the executed copy.

    ``MODE`` reaches the notebook through ``$MNIST_MODE`` (no papermill parameters, so no injected
    cell). The kernel inherits this process's environment, so the autouse fixture's offline settings
    and results folder apply inside it.
    """
    import papermill

    executed = out_dir / f"executed-{notebook.name}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MNIST_MODE", mode)
        env.delenv("MPLBACKEND", raising=False)  # Jupyter's inline backend, as a reader sees it
        papermill.execute_notebook(
            str(notebook),
            str(executed),
            cwd=str(cwd or notebook.parent),
            progress_bar=False,
            kernel_name="python3",
        )
    assert_small_inline_pngs(executed)
    return executed


def assert_small_inline_pngs(executed: Path) -> None:
    """Every figure the notebook showed went through ``plots.small_png`` (a palette PNG)."""
    import base64
    import io

    from PIL import Image

    cells = json.loads(executed.read_text(encoding="utf-8"))["cells"]
    pngs = [o["data"]["image/png"] for c in cells for o in c.get("outputs", [])
            if "image/png" in o.get("data", {})]  # fmt: skip
    modes = [Image.open(io.BytesIO(base64.b64decode(png))).mode for png in pngs]
    assert pngs and set(modes) == {"P"}, f"inline figures not re-encoded: {modes}"
