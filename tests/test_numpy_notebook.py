"""The NumPy notebook runs end to end in smoke mode and writes its results, figures and weights."""

import json

import numpy as np
import pytest
from conftest import REPO_ROOT, execute_notebook

NOTEBOOK = REPO_ROOT / "from_scratch_numpy" / "basic_algorithm_numpy.ipynb"
FIGURES = (
    "sample_digits",
    "activation_scales",
    "optimizers",
    "ablation",
    "learning_curves",
    "confusion_matrix",
    "misclassified",
    "one_prediction",
)


@pytest.mark.notebook
def test_numpy_notebook_runs_in_smoke_mode(tmp_path, monkeypatch):
    results = tmp_path / "results"
    monkeypatch.setenv("MNIST_RESULTS_DIR", str(results))
    monkeypatch.setenv("MNIST_MODE", "smoke")
    execute_notebook(NOTEBOOK, tmp_path)
    out = results / "smoke"  # a smoke run never overwrites the full results
    record = json.loads((out / "numpy_mlp.json").read_text(encoding="utf-8"))
    assert record["mode"] == "smoke" and record["config"]["mode"] == "smoke"
    assert record["seeds"] == [0, 1, 2]
    assert record["data_source"]["kind"] in {"directory", "cache", "keras", "tfds", "sample"}
    m = record["metrics"]
    final = m["final"]
    per_seed = final["test_accuracy_per_seed"]
    assert len(per_seed) == 3 and len(set(per_seed)) > 1  # three different networks
    assert final["test_accuracy_mean"] == pytest.approx(np.mean(per_seed))
    assert final["test_accuracy_std"] == pytest.approx(np.std(per_seed, ddof=1))
    assert 0.5 < final["test_accuracy_mean"] <= 1.0  # smoke: 1 epoch on 2,700 digits
    assert [row["change"].split(":")[0] for row in m["ablation"]][0] == "original"
    assert len(m["ablation"]) == 8
    assert all(0.0 < row["validation accuracy (%)"] <= 100.0 for row in m["ablation"])
    assert m["gradient_check_max_relative_error"] < 1e-7
    assert set(m["tables"]) == {"Test accuracy", "Ablation"}
    assert record["timings_s"]["notebook_cpu"] > 0.5  # the notebook did train networks
    for name in FIGURES:
        assert (out / "figures" / "numpy" / f"{name}.png").is_file(), name
    with np.load(out / "models" / "numpy_mlp.npz", allow_pickle=False) as f:
        assert f["dense0.W"].shape == (784, 800)
