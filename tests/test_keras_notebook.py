"""The Keras notebook runs end to end in smoke mode and writes its results, figures and models."""

import json

import pytest
from conftest import REPO_ROOT, execute_notebook

NOTEBOOK = REPO_ROOT / "advance_pipeline_tensorflow" / "advanced_algorithm_keras_pipeline.ipynb"

FIGURES = (
    "digits",
    "mlp_learning_curves",
    "augmented_digits",
    "lr_schedule",
    "cnn_learning_curves",
    "best_confusion_matrix",
    "best_per_class",
    "best_misclassified",
)
MLPS = {"Adam", "SGD", "Dropout", "BatchNorm", "BN+Dropout", "BatchNorm+RMSprop (original)"}


@pytest.mark.notebook
@pytest.mark.tf
def test_keras_notebook_runs_in_smoke_mode(tmp_path, monkeypatch):
    results = tmp_path / "results"
    monkeypatch.setenv("MNIST_RESULTS_DIR", str(results))
    execute_notebook(NOTEBOOK, tmp_path)
    out = results / "smoke"  # a smoke run never writes over the full run's results
    assert not (results / "keras_cnn.json").exists()

    study = json.loads((out / "keras_mlp_study.json").read_text(encoding="utf-8"))
    assert study["mode"] == study["config"]["mode"] == "smoke"
    seeds = study["seeds"]
    per_seed = study["metrics"]["per_seed"]
    assert set(per_seed) == MLPS
    assert all(
        runs["seed"] == seeds and runs["epochs"] == [1] * len(seeds) for runs in per_seed.values()
    )
    pairs = {(row["A"], row["B"]) for row in study["metrics"]["mcnemar"]}
    assert ("Adam", "BatchNorm+RMSprop (original)") in pairs  # the original's own comparison
    assert len(study["metrics"]["mcnemar"]) == len(pairs) * len(seeds)

    cnn = json.loads((out / "keras_cnn.json").read_text(encoding="utf-8"))
    m = cnn["metrics"]
    assert set(m["per_seed"]) == {"CNN", "CNN + TTA", "Tuned MLP"}
    assert set(m["ensembles"]) == {"soft", "hard"}
    assert m["chosen_ensemble"]["members"] == len(cnn["seeds"]) == len(m["per_seed"]["CNN"]["seed"])
    val = {name: sum(m["per_seed"][name]["val_acc"]) for name in ("CNN", "CNN + TTA")}
    tta_chosen = val["CNN + TTA"] > val["CNN"]  # chosen on validation; a tie keeps plain CNN
    assert m["chosen_ensemble"]["members_predict"] == ("CNN + TTA" if tta_chosen else "CNN")
    assert set(m["seconds_per_epoch"]) == {"CNN", "Residual CNN"}
    assert cnn["timings_s"]["total_notebook"] < 600
    assert (out / "tuner" / "mlp_random_search").is_dir()
    models = out / "models"
    assert sorted(p.name for p in models.iterdir()) == ["cnn.keras"] + [
        f"ensemble_{i}.keras" for i in range(len(cnn["seeds"]))
    ]
    for name in FIGURES:
        assert (out / "figures" / "keras" / f"{name}.png").is_file(), name
