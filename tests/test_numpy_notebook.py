"""The NumPy notebook runs end to end in smoke mode and writes its results, figures and weights."""

import json

import nbformat
import numpy as np
import pytest
from conftest import REPO_ROOT, execute_notebook
from papermill.exceptions import PapermillExecutionError

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
    "cnn_filters",
    "cnn_feature_maps",
)


def run_smoke(notebook, out_dir, env) -> tuple[dict, object]:
    """Execute ``notebook`` in smoke mode (from the real notebook's folder); returns its
    numpy_mlp.json record and its results folder."""
    results = out_dir / "results"
    env.setenv("MNIST_RESULTS_DIR", str(results))
    execute_notebook(notebook, out_dir, cwd=NOTEBOOK.parent)
    out = results / "smoke"  # a smoke run never overwrites the full results
    return json.loads((out / "numpy_mlp.json").read_text(encoding="utf-8")), out


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """The unedited notebook, run once in smoke mode for the tests below (offline, own folders)."""
    tmp = tmp_path_factory.mktemp("numpy-notebook")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MNIST_CACHE_DIR", str(tmp / "cache"))
        env.setenv("MNIST_OFFLINE", "1")
        yield run_smoke(NOTEBOOK, tmp, env)


@pytest.mark.notebook
def test_numpy_notebook_runs_in_smoke_mode(smoke_run):
    record, out = smoke_run
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
    assert len(m["ablation"]) == 11 and all(set(row) == {"change", "validation accuracy (%)"}
                                            for row in m["ablation"])  # fmt: skip
    assert 0.5 < m["first_run_val_accuracy"][-1] <= 1.0  # the loop written out in the notebook
    assert "fast" not in record["config"]
    assert all(0.0 < row["validation accuracy (%)"] <= 100.0 for row in m["ablation"])
    assert m["gradient_check_max_relative_error"] < 1e-7
    assert set(m["tables"]) == {"Test accuracy", "Ablation"}
    assert record["timings_s"]["notebook_cpu"] > 0.5  # the notebook did train networks
    for name in FIGURES:
        assert (out / "figures" / "numpy" / f"{name}.png").is_file(), name
    cnn = m["cnn"]  # the CNN section: 300 digits, one epoch, each seed
    assert len(cnn["test_accuracy_per_seed"]) == 3 and len(set(cnn["val_accuracy_per_seed"])) > 1
    assert all(0.0 <= acc <= 1.0 for acc in cnn["test_accuracy_per_seed"])
    assert cnn["gradient_check_max_relative_error"] < 1e-6
    assert record["timings_s"]["cnn_training_mean"] > 0
    with np.load(out / "models" / "numpy_mlp.npz", allow_pickle=False) as f:
        assert f["dense0.W"].shape == (784, 800)


def edited_copy(tmp_path, cell_start: str, old: str, new: str):
    """A copy of the notebook with one lesson cell edited as a learner would."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(cell_start)]
    assert len(cells) == 1 and old in cells[0].source
    cells[0].source = cells[0].source.replace(old, new)
    nbformat.write(nb, tmp_path / NOTEBOOK.name)
    return tmp_path / NOTEBOOK.name


@pytest.mark.notebook
def test_training_in_the_notebook_runs_the_classes_of_its_cells(smoke_run, tmp_path, monkeypatch):
    """Edit a lesson cell (Adam's step does nothing) and rerun: every recorded training result
    changes, so the notebook's training runs its own cells, not the installed module (the runs
    are seeded: unedited, the numbers would be the same)."""
    edited = edited_copy(tmp_path, "#| export\nclass Adam", "W -= self.lr * m_hat", "W -= 0 * m_hat")
    record, _ = run_smoke(edited, tmp_path, monkeypatch)
    base, edit = smoke_run[0]["metrics"], record["metrics"]
    assert edit["first_run_val_accuracy"][-1] < 0.25  # the loop written out: chance, no step taken
    assert base["first_run_val_accuracy"][-1] > 0.5
    assert edit["final"]["best_val_accuracy_per_seed"] != base["final"]["best_val_accuracy_per_seed"]
    assert edit["ablation"][-1] != base["ablation"][-1]  # train.train with the notebook's build
    assert edit["ablation"][0] == base["ablation"][0]  # SGD rows: Adam's edit does not reach them
    assert edit["cnn"]["val_accuracy_per_seed"] != base["cnn"]["val_accuracy_per_seed"]  # the CNN too


@pytest.mark.notebook
def test_a_wrong_backward_in_a_cell_is_caught_by_the_notebooks_gradient_check(tmp_path, monkeypatch):
    """ReLU's backward edited to pass no gradient: the run stops at the gradient check."""
    edited = edited_copy(
        tmp_path, "#| export\nclass ReLU", "return delta * (self.Z > 0)", "return delta * 0"
    )
    with pytest.raises(PapermillExecutionError, match=r"(?s)gradient_check.*dense0\.W"):
        run_smoke(edited, tmp_path, monkeypatch)
