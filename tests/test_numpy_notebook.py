"""The NumPy notebook runs end to end in smoke mode and writes its results JSON."""

import json

import pytest
from conftest import REPO_ROOT, execute_notebook

NOTEBOOK = REPO_ROOT / "from_scratch_numpy" / "basic_algorithm_numpy.ipynb"


@pytest.mark.notebook
def test_numpy_notebook_runs_in_smoke_mode(tmp_path, monkeypatch):
    results = tmp_path / "results"
    monkeypatch.setenv("MNIST_RESULTS_DIR", str(results))
    monkeypatch.setenv("MNIST_MODE", "smoke")
    execute_notebook(NOTEBOOK, tmp_path)
    record = json.loads((results / "numpy_mlp.json").read_text(encoding="utf-8"))
    assert record["config"]["mode"] == "smoke"
    assert record["seeds"] == [0, 1, 2]
    assert record["data_source"]["kind"] in {"directory", "cache", "keras", "tfds", "sample"}
    m = record["metrics"]
    assert 0.0 <= m["before"]["test_accuracy"] <= 1.0
    assert 0.5 < m["after"]["test_accuracy_mean"] <= 1.0  # smoke: 1 epoch on a few thousand digits
    assert m["after"]["test_accuracy_std"] >= 0.0
    assert len(m["after"]["test_accuracy_per_seed"]) == 3
    assert m["gradient_check_max_relative_error"] < 1e-7
    assert record["timings_s"]["notebook_total"] > 0
    for name in ("learning_curves", "confusion_matrix", "misclassified", "first_layer_weights"):
        assert (results / "figures" / "numpy" / f"{name}.png").is_file(), name
