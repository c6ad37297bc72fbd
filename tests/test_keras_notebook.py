"""The Keras notebook runs end to end in smoke mode and writes its results JSON and figures."""

import json

import pytest
from conftest import REPO_ROOT, execute_notebook

NOTEBOOK = REPO_ROOT / "advance_pipeline_tensorflow" / "advanced_algorithm_keras_pipeline.ipynb"

FIGURES = (
    "digits",
    "mlp_test_accuracy_loss",
    "mlp_learning_curves",
    "cnn_learning_curves",
    "ensemble_vs_members",
    "best_confusion_matrix",
    "best_per_class",
    "best_misclassified",
)


@pytest.mark.notebook
@pytest.mark.tf
def test_keras_notebook_runs_in_smoke_mode(tmp_path, monkeypatch):
    results = tmp_path / "results"
    monkeypatch.setenv("MNIST_RESULTS_DIR", str(results))
    monkeypatch.setenv("MNIST_MODE", "smoke")
    execute_notebook(NOTEBOOK, tmp_path)

    study = json.loads((results / "keras_mlp_study.json").read_text(encoding="utf-8"))
    assert study["config"]["mode"] == "smoke"
    assert study["data_source"]["kind"] in {"directory", "cache", "keras", "tfds", "sample"}
    seeds = study["seeds"]
    assert len(seeds) >= 2
    per_seed = study["metrics"]["per_seed"]
    assert set(per_seed) == {
        "Adam",
        "SGD",
        "Dropout",
        "BatchNorm",
        "BN+Dropout",
        "BatchNorm+RMSprop (original)",
    }
    for runs in per_seed.values():
        assert len(runs["test_acc"]) == len(seeds)
        assert all(0.0 <= a <= 1.0 for a in runs["test_acc"])
    mcnemar = study["metrics"]["mcnemar"]
    assert len(mcnemar) == 5 * len(seeds)  # every key pair, every seed
    assert all(0.0 <= row["p-value"] <= 1.0 for row in mcnemar)
    assert {"Part 1: test accuracy and loss, mean ± std over seeds"} <= set(
        study["metrics"]["tables"]
    )

    cnn = json.loads((results / "keras_cnn.json").read_text(encoding="utf-8"))
    m = cnn["metrics"]
    assert set(m["per_seed"]) == {"CNN", "Residual CNN", "Tuned MLP"}
    assert len(m["tuner"]["trials"]) == 2  # smoke: max_trials 2
    assert all(t["val_accuracy"] is not None for t in m["tuner"]["trials"])
    assert {"soft", "hard"} <= {k.split()[0] for k in m["ensembles"]}
    assert 0.0 <= m["chosen_ensemble"]["test_acc"] <= 1.0
    assert m["error_analysis"]["summary"]["accuracy"] >= 0.0
    assert cnn["timings_s"]["total_notebook"] > 0
    assert (results / "tuner" / "mlp_random_search").is_dir()
    for name in FIGURES:
        assert (results / "figures" / "keras" / f"{name}.png").is_file(), name
