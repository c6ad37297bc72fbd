"""Behaviour of advance_pipeline_tensorflow.study: training wrapper, log, tables, verdicts, results."""

from __future__ import annotations

import json

import keras
import numpy as np
import pandas as pd
import pytest

from advance_pipeline_tensorflow import keras_models as km
from advance_pipeline_tensorflow import study
from common.data import DataSource
from common.tf_data import make_dataset

pytestmark = pytest.mark.tf


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.random((n, 28, 28)) * 255).astype(np.uint8)
    return x, np.arange(n) % 10


def _run(seed, pred, y, hist_acc=(0.5, 0.9)):
    return {
        "seed": seed, "test_pred": np.asarray(pred), "test_acc": float(np.mean(np.asarray(pred) == y)),
        "val_acc": 0.5, "test_loss": 0.1, "seconds": 1.0,
        "history": {"loss": [1.0] * len(hist_acc), "val_accuracy": list(hist_acc)},
    }  # fmt: skip


def test_train_compiles_as_asked_logs_one_line_and_evaluates(capsys):
    x, y = _data()
    ds = make_dataset(x, y, batch_size=16, shuffle=True, seed=0)
    run = study.train(
        lambda: km.build_mlp(8), "sgd", 0.05, seed=0, epochs=2, train_data=ds,
        val_data=make_dataset(x, y, batch_size=32), label="tiny", momentum=0.9,
    )  # fmt: skip
    assert isinstance(run["model"].optimizer, keras.optimizers.SGD)
    assert run["model"].optimizer.momentum == pytest.approx(0.9)  # passed through
    assert len(run["history"]["loss"]) == 2 and run["seed"] == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("tiny")]
    assert len(lines) == 1 and " 2 ep " in lines[0] and "val_acc" in lines[0]

    study.evaluate(run, x, y, x[:20], y[:20])
    p = km.predict_proba(run["model"], x[:20])
    np.testing.assert_array_equal(run["test_pred"], p.argmax(1))
    assert run["test_acc"] == pytest.approx(np.mean(p.argmax(1) == y[:20]))
    assert run["test_loss"] == pytest.approx(-np.log(p[np.arange(20), y[:20]]).mean(), rel=1e-5)
    tta = study.evaluate(dict(run), x, y, x[:20], y[:20], km.predict_proba_tta)  # another predict
    np.testing.assert_allclose(tta["test_proba"], km.predict_proba_tta(run["model"], x[:20]))
    p_val = km.predict_proba_tta(run["model"], x)
    assert tta["val_acc"] == pytest.approx(np.mean(p_val.argmax(1) == y))


def test_schedule_reaches_the_optimizer():
    x, y = _data(32)
    run = study.train(
        lambda: km.build_mlp(8), "adam", 1e-2, seed=0, epochs=2, schedule="onecycle",
        train_data=make_dataset(x, y, batch_size=8), val_data=make_dataset(x, y), label="s",
    )  # fmt: skip
    lr = run["model"].optimizer.learning_rate  # the value after all 2 x 4 steps
    assert float(lr) == pytest.approx(1e-4, rel=1e-3)


def test_mcnemar_table_and_verdicts():
    y = np.zeros(100, int)
    wrong_a = np.r_[np.ones(40, int), np.zeros(60, int)]  # A wrong on 40 digits, B right on all
    runs = {
        "A": [_run(0, wrong_a, y), _run(1, wrong_a, y)],
        "B": [_run(0, y, y), _run(1, y, y)],
        "C": [_run(0, y, y), _run(1, wrong_a, y)],
    }
    table = study.mcnemar_table([("A", "B"), ("B", "A"), ("B", "C"), ("C", "B")], runs, y)
    row = table.iloc[0]
    assert (row["n01 (A wrong, B right)"], row["n10 (A right, B wrong)"]) == (40, 0)
    assert row["p-value"] < 1e-6
    v = study.verdicts(table).set_index(["A", "B"])["verdict"]
    assert v[("A", "B")] == "B better (all seeds)"
    assert v[("B", "A")] == "B better (all seeds)"
    assert v[("B", "C")].startswith("tie")  # significant in one seed only
    assert v[("C", "B")].startswith("tie")  # either direction


def test_summary_epochs_to_accuracy_and_layer_chain():
    y = np.zeros(10, int)
    runs = [_run(0, y, y, (0.98, 0.991, 0.996)), _run(1, y, y, (0.97, 0.985, 0.99))]
    table = study.summary_table({"m": runs})
    assert table.loc["m", "test acc (%)"].startswith("100.00 ± 0.00")
    assert table.loc["m", "seeds"] == 2
    e = study.epochs_to_accuracy(runs, (0.99, 0.995))
    assert e.loc[0].tolist() == [2, 3] and e.loc[1].tolist() == [3, "-"]
    chain = study.layer_chain(km.build_original_mlp("batchnorm_dropout"))
    assert chain == (
        "Flatten -> Dense(128) -> BatchNormalization -> ReLU -> Dropout(0.3) -> Dense(64) -> "
        "BatchNormalization -> ReLU -> Dropout(0.2) -> Dense(10)"
    )


def test_save_study_writes_tables_and_per_seed_numbers(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_RESULTS_DIR", str(tmp_path))
    y = np.zeros(10, int)
    runs = {"m": [_run(0, y, y), _run(1, y, y)]}

    class Data:
        name = "mnist"
        source = DataSource(
            kind="directory", location="data/mnist", verified="sha256", n_train=2, n_test=2
        )

    path = study.save_study(
        "t", runs, {"T": study.summary_table(runs), "V": pd.DataFrame([{"a": 1}])}, data=Data,
        mode="quick", seeds=[0, 1], timings={"x": 1.0}, config={"k": 2}, extra_key=5,
    )  # fmt: skip
    assert path == tmp_path / "quick" / "t.json"  # quick mode never overwrites the full run
    rec = json.loads(path.read_text(encoding="utf-8"))
    assert rec["metrics"]["per_seed"]["m"]["test_acc"] == [1.0, 1.0]
    assert rec["metrics"]["per_seed"]["m"]["epochs"] == [2, 2]
    assert rec["metrics"]["tables"]["T"][0]["model"] == "m"
    assert rec["metrics"]["extra_key"] == 5 and rec["config"] == {"mode": "quick", "k": 2}
    assert (
        study.results_path({"dataset": "kmnist", "mode": "full"}, "models")
        == tmp_path / "kmnist" / "models"
    )
