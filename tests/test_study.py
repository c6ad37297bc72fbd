"""Behaviour of advance_pipeline_tensorflow.study: training runs, early stopping, the choices (each
on validation: tested with data where validation and test disagree), tables and results files.

Survivors of `make mutate` left as equivalent (no behaviour changes): predict_proba's batch size
(513, or Keras's default: chunking only); ``astype(None)`` for "float32" (float64 pixels, which the
model casts to float32: the same answer); ``verbose=None`` for ``model.predict`` / ``model.fit``
(Keras prints nothing then either: the tests check the output); softmax's ``axis=+1`` or no axis
(Keras's default -1) on 2-D logits; early_stopping without ``monitor=`` (Keras's default is
"val_loss", which the test reads back)."""

from __future__ import annotations

import json
import time

import keras
import numpy as np
import pandas as pd
import pytest
from conftest import blobs

from advance_pipeline_tensorflow import keras_models as km
from advance_pipeline_tensorflow import study
from common.data import DataSource
from common.tf_data import make_dataset

pytestmark = pytest.mark.tf


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.random((n, 28, 28)) * 255).astype(np.uint8)
    return x, np.arange(n) % 10


def _run(seed, pred, y, val_acc=0.5, hist_acc=(0.5, 0.9)):
    return {
        "seed": seed, "test_pred": np.asarray(pred), "test_acc": float(np.mean(np.asarray(pred) == y)),
        "val_acc": val_acc, "test_loss": 0.1, "seconds": 1.0, "cpu_seconds": 2.0,
        "history": {"loss": [1.0] * len(hist_acc), "val_accuracy": list(hist_acc)},
    }  # fmt: skip


def _dense(d=10, k=3, lr=0.5):
    """A compiled softmax regression on d features (a fast stand-in for the notebook's models)."""
    model = keras.Sequential([keras.Input((d,)), keras.layers.Dense(k)])
    return km.compile_model(model, keras.optimizers.SGD(lr))


# ----------------------------------------------------------------------------- training
def test_train_fits_logs_one_line_and_validate_test_score_it(capsys):
    x, y = _data()
    ds = make_dataset(x, y, batch_size=16, shuffle=True, seed=0)
    build = lambda: km.compile_model(km.build_mlp("adam"), keras.optimizers.SGD(0.05, momentum=0.9))  # noqa: E731
    run = study.train(build, seed=0, epochs=2, train_data=ds,
                      val_data=make_dataset(x, y, batch_size=32), label="tiny")  # fmt: skip
    assert run["model"].optimizer.momentum == pytest.approx(0.9)  # the model build() compiled
    assert len(run["history"]["loss"]) == 2 and run["seed"] == 0
    assert run["seconds"] > 0 and run["cpu_seconds"] > 0 and "load" not in run
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("tiny")]
    assert len(lines) == 1 and " 2 ep " in lines[0] and "val_acc" in lines[0]

    study.validate(run, x, y, km.predict_proba)
    assert "test_acc" not in run  # validation only
    p_val = km.predict_proba(run["model"], x)
    assert run["val_acc"] == pytest.approx(np.mean(p_val.argmax(1) == y))
    study.test(run, x[:20], y[:20], km.predict_proba)
    p = km.predict_proba(run["model"], x[:20])
    np.testing.assert_array_equal(run["test_pred"], p.argmax(1))
    assert run["test_acc"] == pytest.approx(np.mean(p.argmax(1) == y[:20]))
    assert run["test_loss"] == pytest.approx(-np.log(p[np.arange(20), y[:20]]).mean(), rel=1e-5)
    tta = study.validate(dict(run), x, y, km.predict_proba_tta)  # another predict
    assert tta["val_acc"] == pytest.approx(
        np.mean(km.predict_proba_tta(run["model"], x).argmax(1) == y)
    )


def test_the_same_seed_gives_the_same_run():
    x, y = blobs(200, 10, 3)
    runs = [study.train(_dense, seed=s, epochs=2, label="s", val_data=None,
                        train_data=make_dataset_flat(x, y, seed=None)) for s in (3, 3, 4)]  # fmt: skip
    for a, b in zip(runs[0]["model"].get_weights(), runs[1]["model"].get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(runs[0]["model"].get_weights()[0], runs[2]["model"].get_weights()[0])


def make_dataset_flat(x, y, seed):
    """Batches of 32 (shuffled in an order fixed by ``seed``; None: not shuffled)."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y))
    return (ds if seed is None else ds.shuffle(len(x), seed=seed)).batch(32)


class _Weights(keras.callbacks.Callback):
    """Records the weights at the end of every epoch."""

    def on_train_begin(self, logs=None):
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(self.model.get_weights())


def _disagreeing_split(seed=0):
    """Training and test digits of 3 blob classes, and a validation set whose labels are moved
    by one class: the longer the model trains, the better on test and the worse on validation."""
    x, y = blobs(600, 10, 3, seed=seed)
    train, test = (x[:300], y[:300]), (x[300:], y[300:])
    val = (x[300:], (y[300:] + 1) % 3)
    return train, val, test


def test_early_stopping_restores_the_best_validation_epoch_not_the_best_test_epoch():
    (x, y), val, (x_test, y_test) = _disagreeing_split()
    keras.utils.set_random_seed(0)
    model, record = _dense(lr=0.05), _Weights()
    history = model.fit(x, y, validation_data=val, epochs=6, batch_size=32, verbose=0,
                        callbacks=[study.early_stopping(patience=10), record])  # fmt: skip
    best = int(np.argmin(history.history["val_loss"]))
    assert len(history.history["loss"]) == 6 and best < 5  # ran to the end; best epoch earlier
    for restored, kept in zip(model.get_weights(), record.epochs[best], strict=True):
        np.testing.assert_array_equal(restored, kept)  # restored although training ran to its end

    def test_acc(weights):
        model.set_weights(weights)
        return np.mean(model.predict(x_test, verbose=0).argmax(1) == y_test)

    assert test_acc(record.epochs[-1]) > test_acc(record.epochs[best])  # the test set disagrees
    with pytest.raises(ValueError, match="patience"):
        study.early_stopping(0)


def test_train_with_patience_stops_on_validation():
    (x, y), val, _ = _disagreeing_split()
    run = study.train(lambda: _dense(lr=0.05), seed=0, epochs=30, patience=2, label="es",
                      train_data=make_dataset_flat(x, y, seed=0),
                      val_data=make_dataset_flat(*val, seed=0))  # fmt: skip
    val_loss = run["history"]["val_loss"]
    best = int(np.argmin(val_loss))
    assert len(val_loss) == best + 3 < 30  # stopped 2 epochs after the best one


def test_early_stopping_watches_the_validation_loss_and_restores_the_best_weights():
    cb = study.early_stopping(1)  # the smallest patience is allowed
    settings = (cb.monitor, cb.mode, cb.patience, cb.restore_best_weights)
    assert settings == ("val_loss", "min", 1, True)
    for bad in (0, -2, 1.5, "3"):
        with pytest.raises(ValueError, match=r"^patience must be a positive integer, got "):
            study.early_stopping(bad)


def test_train_per_epoch_prints_a_line_per_epoch_and_times_the_fit(capsys):
    (x, y), val, _ = _disagreeing_split()
    start = time.perf_counter()
    run = study.train(lambda: _dense(lr=0.05), seed=0, epochs=3, label="pe", per_epoch=True,
                      train_data=make_dataset_flat(x, y, seed=0),
                      val_data=make_dataset_flat(*val, seed=0))  # fmt: skip
    elapsed = time.perf_counter() - start
    out = capsys.readouterr().out.splitlines()
    assert [ln.split(":")[0] for ln in out] == ["pe"] * 3  # no Keras progress bar, a line an epoch
    assert [int(ln.split()[1]) for ln in out] == [1, 2, 3]
    assert 0 < run["seconds"] <= elapsed and 0 < run["cpu_seconds"] <= 4 * elapsed


def test_test_scores_a_zero_probability_with_a_finite_loss():
    """The test loss clips the true class's probability at 1e-12: a confident mistake costs
    -log(1e-12), not infinity; the probabilities are kept under "test_proba"."""
    proba = np.array([[1.0, 0.0], [0.0, 1.0]])
    run = study.test({"model": None}, np.zeros((2, 28, 28)), np.array([1, 1]), lambda m, x: proba)
    assert run["test_proba"] is proba and run["test_pred"].tolist() == [0, 1]
    assert run["test_acc"] == 0.5
    assert run["test_loss"] == pytest.approx(-np.log(1e-12) / 2)


# ----------------------------------------------------------------------------- choices
def test_choose_best_takes_the_highest_validation_accuracy_first_on_ties():
    val = {0: 0.990, 1: 0.995, 2: 0.993}
    test = {0: 0.997, 1: 0.991, 2: 0.992}  # the test set would pick seed 0
    assert study.choose_best(val) == 1 and study.choose_best(test) == 0
    assert study.choose_best({"b": 0.5, "a": 0.5}) == "b"
    with pytest.raises(ValueError, match="^nothing to choose from$"):
        study.choose_best({})


def test_choose_tta_on_validation():
    val_plain, val_tta = [0.9950, 0.9952], [0.9958, 0.9955]
    test_plain, test_tta = [0.9960, 0.9961], [0.9950, 0.9952]  # the test set says no
    assert study.choose_tta(val_plain, val_tta) is True
    assert study.choose_tta(test_plain, test_tta) is False
    assert study.choose_tta([0.99, 0.98], [0.98, 0.99]) is False  # a tie: no TTA


VOTE_PROBAS = np.array([  # 3 members, 3 samples, 3 classes
    [[0.6, 0.4, 0.0], [0.1, 0.2, 0.7], [0.5, 0.5, 0.0]],
    [[0.6, 0.4, 0.0], [0.1, 0.8, 0.1], [0.0, 0.3, 0.7]],
    [[0.0, 1.0, 0.0], [0.2, 0.7, 0.1], [0.4, 0.6, 0.0]],
])  # fmt: skip  # soft vote: [1, 1, 1]; hard vote: [0, 1, 1]


def test_choose_voting_on_validation():
    y_val, y_test = np.array([1, 1, 1]), np.array([0, 1, 1])
    assert study.choose_voting(y_val, VOTE_PROBAS, km.VOTES) == "soft"
    assert study.choose_voting(y_test, VOTE_PROBAS, km.VOTES) == "hard"  # the test set disagrees
    assert study.choose_voting(np.array([2, 1, 1]), VOTE_PROBAS, km.VOTES) == "soft"  # a tie: first
    swapped = {"hard": km.hard_vote, "soft": km.soft_vote}
    assert study.choose_voting(np.array([2, 1, 1]), VOTE_PROBAS, swapped) == "hard"


def _two_class(p0):
    p0 = np.asarray(p0)
    return np.stack([p0, 1 - p0], axis=1)


MEMBERS = [  # probability of class 0 for 4 samples, per member
    _two_class([0.9, 0.9, 0.35, 0.4]),
    _two_class([0.6, 0.6, 0.6, 0.2]),
    _two_class([0.2, 0.2, 0.9, 0.95]),
]


def test_choose_members_ranks_by_validation_then_keeps_the_best_k():
    y_val = np.zeros(4, int)  # own accuracies 0.5, 0.75, 0.5 -> order 1, 0, 2
    members, by_size = study.choose_members(y_val, MEMBERS, km.soft_vote)
    assert by_size == pytest.approx([0.75, 0.5, 1.0]) and members == [1, 0, 2]
    y_test = np.array([0, 0, 1, 1])  # own accuracies 1.0, 0.75, 0 -> order 0, 1, 2
    members, by_size = study.choose_members(y_test, MEMBERS, km.soft_vote)
    assert by_size == pytest.approx([1.0, 1.0, 0.5]) and members == [0, 1]  # a tie: more members
    members, _ = study.choose_members(y_val, MEMBERS, km.hard_vote)  # the rule is passed in
    assert members == [1, 0, 2] or members == [1]


def _tuner(tmp_path, name="t"):
    """A search over a learning rate of 0 (no learning) or 0.5 on data whose validation labels are
    moved by one class: learning raises the training accuracy and lowers the validation one."""
    import keras_tuner as kt

    def build(hp):
        return _dense(lr=hp.Choice("lr", [0.0, 0.5]))

    tuner = study.make_random_search(build, directory=tmp_path, project_name=name, max_trials=2)
    (x, y), val, _ = _disagreeing_split()
    keras.utils.set_random_seed(0)
    tuner.search(x, y, validation_data=val, epochs=3, batch_size=32, verbose=0)
    assert isinstance(tuner, kt.RandomSearch)
    return tuner


def test_tuner_scores_and_chooses_trials_on_validation_accuracy(tmp_path):
    tuner = _tuner(tmp_path)
    assert (
        tuner.oracle.objective.name == "val_accuracy" and tuner.oracle.objective.direction == "max"
    )
    trials = list(tuner.oracle.trials.values())
    assert sorted(t.hyperparameters["lr"] for t in trials) == [0.0, 0.5]
    train_acc = {t.hyperparameters["lr"]: t.metrics.get_best_value("accuracy") for t in trials}
    assert train_acc[0.5] > train_acc[0.0]  # training accuracy would pick lr 0.5
    assert study.choose_trial(tuner)["lr"] == 0.0  # validation picks "no learning"
    table = study.trial_table(tuner)
    assert table.loc[0, "lr"] == 0.0 and table["val_accuracy"].is_monotonic_decreasing
    val = {t.hyperparameters["lr"]: t.metrics.get_best_value("val_accuracy") for t in trials}
    assert sorted(table["val_accuracy"]) == pytest.approx(sorted(val.values()))


def test_random_search_settings_reach_keras_tuner(tmp_path, monkeypatch):
    """max_trials, seed (1 by default), the folder (emptied: overwrite) and TensorBoard set up
    only when a TensorBoard callback is passed (keras-tuner's own setup imports tensorboard)."""
    import keras_tuner as kt

    old = tmp_path / "runs" / "p"
    old.mkdir(parents=True)
    (old / "stale.json").write_text("{}")
    tuner = study.make_random_search(km.build_tunable_mlp, directory=tmp_path / "runs",
                                     project_name="p", max_trials=3)  # fmt: skip
    assert (tuner.oracle.max_trials, tuner.oracle.seed) == (3, 1)
    assert tuner.project_dir == str(tmp_path / "runs" / "p") and not (old / "stale.json").exists()
    assert study.make_random_search(km.build_tunable_mlp, directory=tmp_path, project_name="q",
                                    max_trials=1, seed=7).oracle.seed == 7  # fmt: skip
    calls = []
    monkeypatch.setattr(kt.RandomSearch, "_configure_tensorboard_dir",
                        lambda self, *args: calls.append(args), raising=False)  # fmt: skip
    tuner._configure_tensorboard_dir([keras.callbacks.History()], "trial")
    assert calls == []
    board = type("TensorBoard", (), {})()
    tuner._configure_tensorboard_dir([board], "trial")
    tuner._configure_tensorboard_dir([board], "trial", 2)
    assert calls == [([board], "trial", 0), ([board], "trial", 2)]


def test_random_search_seed_must_be_positive(tmp_path):
    why = "keras-tuner takes 0 for no seed and draws one from Python's random"
    with pytest.raises(ValueError, match=rf"^seed must be >= 1 \({why}\), got 0$"):
        study.make_random_search(km.build_tunable_mlp, directory=tmp_path, project_name="z",
                                 max_trials=1, seed=0)  # fmt: skip


# ----------------------------------------------------------------------------- tables, results
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
    with pytest.raises(ValueError, match="seeds 0 and 1"):
        study.mcnemar_table([("A", "B")], {"A": runs["A"], "B": runs["B"][::-1]}, y)


def test_summary_table_columns_come_from_their_own_numbers():
    y = np.zeros(10, int)
    runs = [_run(3, y, y, val_acc=0.9, hist_acc=(0.9, 0.95, 0.97)), _run(5, y, y, val_acc=0.8)]
    table = study.summary_table({"m": runs})
    assert table.loc["m"].to_dict() == {  # test accuracy 1.0, validation 0.9 and 0.8
        "test acc (%)": "100.00 ± 0.00", "val acc (%)": "85.00 ± 7.07",
        "test loss": "0.1000 ± 0.0000", "epochs": "2.5 ± 0.7", "train time (s)": "1 ± 0",
        "seeds": "3, 5",
    }  # fmt: skip
    assert study.seeds_of({"a": runs, "b": [_run(1, y, y), _run(3, y, y)]}) == [1, 3, 5]


class _Data:
    name = "mnist"
    source = DataSource(
        kind="directory", location="data/mnist", verified="sha256", n_train=2, n_test=2
    )


def test_save_study_writes_tables_with_their_seeds(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_RESULTS_DIR", str(tmp_path))
    y = np.zeros(10, int)
    runs = {"m": [_run(0, y, y), _run(1, y, y)]}
    path = study.save_study(
        "t", runs, {"T": (study.summary_table(runs), [1, 0]), "V": (pd.DataFrame([{"a": 1}]), [7])},
        data=_Data, mode="standard", timings={"x": 1.0}, config={"k": 2}, extra_key=5,
    )  # fmt: skip
    assert path == tmp_path / "standard" / "t.json"  # never over the full run's results
    rec = json.loads(path.read_text(encoding="utf-8"))
    m = rec["metrics"]
    assert m["per_seed"]["m"]["test_acc"] == [1.0, 1.0] and m["per_seed"]["m"]["epochs"] == [2, 2]
    assert "load" not in m["per_seed"]["m"] and m["per_seed"]["m"]["cpu_seconds"] == [2.0, 2.0]
    assert m["tables"]["T"][0]["model"] == "m" and m["tables"]["V"] == [{"a": 1}]
    assert m["table_seeds"] == {"T": [0, 1], "V": [7]} and rec["seeds"] == [0, 1, 7]
    assert m["extra_key"] == 5 and rec["config"] == {"mode": "standard", "k": 2}
    assert (
        study.results_path({"dataset": "kmnist", "mode": "full"}, "models")
        == tmp_path / "kmnist" / "models"
    )


def test_save_keras_results_records_each_tables_own_seeds(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_RESULTS_DIR", str(tmp_path))
    y = np.zeros(10, int)
    mlp = {n: [_run(s, y, y) for s in (0, 1, 2)] for n in ("Adam", "SGD", "Tuned MLP")}
    cnn = {n: [_run(s, y, y) for s in (0, 1, 2, 3, 4)] for n in ("CNN", "CNN + TTA")}
    mc = study.mcnemar_table([("SGD", "Adam")], mlp, y)
    p1, p2 = study.save_keras_results(
        _Data, "full", wall_cpu=(10.0, 20.0), config={}, mlp_runs=mlp, cnn_runs=cnn,
        part1_tables=(study.summary_table(mlp), mc, study.verdicts(mc)),
        trial_table=pd.DataFrame([{"trial": 0, "val_accuracy": 0.9}]), tuner_best={"lr": 1e-3},
        ensemble={"voting": "soft", "seeds": [3, 1], "val_acc": 0.99, "test_acc": 0.98,
                  "test_pred": np.zeros(10)}, ensemble_mcnemar={}, error_analysis={},
    )  # fmt: skip
    r1, r2 = (json.loads(p.read_text(encoding="utf-8")) for p in (p1, p2))
    assert set(r1["metrics"]["per_seed"]) == {"Adam", "SGD"} and r1["seeds"] == [0, 1, 2]
    assert list(r1["metrics"]["table_seeds"].values()) == [[0, 1, 2], [0, 1, 2]]
    seeds = r2["metrics"]["table_seeds"]["Part 2: CNN and tuned MLP, mean ± std over seeds"]
    assert seeds == [0, 1, 2, 3, 4] and r2["metrics"]["per_seed"]["CNN"]["seed"] == [0, 1, 2, 3, 4]
    rows = {r["model"]: r["seeds"] for r in r2["metrics"]["tables"][
        "Part 2: CNN and tuned MLP, mean ± std over seeds"]}  # fmt: skip
    assert rows == {"CNN": "0, 1, 2, 3, 4", "CNN + TTA": "0, 1, 2, 3, 4", "Tuned MLP": "0, 1, 2"}
    assert r2["metrics"]["chosen_ensemble"] == {"voting": "soft", "seeds": [3, 1], "val_acc": 0.99,
                                                "test_acc": 0.98}  # fmt: skip
    assert r2["timings_s"]["total_notebook_cpu"] == 20.0 and "load" not in json.dumps(
        r2["timings_s"]
    )


def test_save_model_is_atomic_and_loads_back(tmp_path):
    model = km.build_mlp("adam")
    path = study.save_model(model, tmp_path / "m" / "cnn.keras")
    assert sorted(p.name for p in path.parent.iterdir()) == ["cnn.keras"]
    x = _data(4)[0]
    np.testing.assert_allclose(km.predict_proba(keras.models.load_model(path), x),
                               km.predict_proba(model, x), rtol=1e-6)  # fmt: skip
    with pytest.raises(ValueError, match=".keras"):
        study.save_model(model, tmp_path / "cnn.h5")
