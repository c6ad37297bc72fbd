"""Both notebooks run on another dataset in MNIST's IDX format, chosen by ``$MNIST_DATASET``: a
dataset the test writes itself (10 classes of synthetic patterns). Its results land in its own
folder, never over MNIST's, and name it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import REPO_ROOT, execute_notebook, write_idx_dir

from common.data import custom_name

NOTEBOOKS = {
    "numpy": REPO_ROOT / "from_scratch_numpy" / "basic_algorithm_numpy.ipynb",
    "keras": REPO_ROOT / "advance_pipeline_tensorflow" / "advanced_algorithm_keras_pipeline.ipynb",
}


def blocks(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images of 10 classes: class c is a bright 7x7 block at one of 10 places (2 rows of 5),
    jittered by up to 2 pixels, on a noisy background. Easy to learn, and nothing like MNIST."""
    rng = np.random.default_rng(seed)
    y = np.arange(n, dtype=np.uint8) % 10
    x = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
    for i, c in enumerate(y):
        r, col = 3 + 13 * (c // 5) + rng.integers(-2, 3), 1 + 5 * (c % 5) + rng.integers(-1, 2)
        x[i, max(r, 0) : r + 7, max(col, 0) : col + 7] = rng.integers(180, 256)
    return x, y


@pytest.fixture
def blocks_dir(tmp_path):
    (x_tr, y_tr), (x_te, y_te) = blocks(3000, seed=0), blocks(1000, seed=1)
    return write_idx_dir(
        tmp_path / "Blocks", dict(x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te)
    )


def _accuracies(obj, key=""):
    """Every number stored under a key that names a test accuracy, anywhere in a results record."""
    if isinstance(obj, dict):
        return [a for k, v in obj.items() for a in _accuracies(v, str(k))]
    if isinstance(obj, list):
        return [a for v in obj for a in _accuracies(v, key)]
    is_acc = isinstance(obj, float) and "test_acc" in key and "std" not in key
    return [obj] if is_acc else []


@pytest.mark.notebook
@pytest.mark.parametrize("which", ["numpy", pytest.param("keras", marks=pytest.mark.tf)])
def test_notebook_runs_on_another_dataset(which, blocks_dir, tmp_path, monkeypatch):
    results = tmp_path / "results"
    monkeypatch.setenv("MNIST_RESULTS_DIR", str(results))
    monkeypatch.setenv("MNIST_DATASET", str(blocks_dir))
    execute_notebook(NOTEBOOKS[which], tmp_path, mode="smoke")

    name = custom_name(blocks_dir)  # custom-blocks-<hash of the folder's path>
    assert [p.name for p in results.iterdir()] == [name], "nothing written over MNIST's"
    own = results / name / "smoke"
    records = [json.loads(p.read_text(encoding="utf-8")) for p in own.glob("*.json")]
    assert records, f"no results in {own}"
    for record in records:
        src = record["data_source"]
        assert (src["dataset"], src["kind"], src["verified"]) == (
            name,
            "directory",
            "structure",
        )
        assert src["location"] == ".../Blocks", "no absolute local path"
        assert src["n_train"] == 3000 and src["n_test"] == 1000
    accuracies = [a for r in records for a in _accuracies(r["metrics"])]
    assert accuracies and max(accuracies) > 0.5, f"learnable patterns, 10 classes: {accuracies}"
    assert list(own.glob("figures/**/*.png")), "figures in the dataset's own folder"
