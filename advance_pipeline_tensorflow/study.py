"""The machinery of the Keras study, kept out of the notebook: training, logging, tables, results.

A *run* is the dict :func:`train` returns: ``model``, ``history`` (Keras's ``History.history``),
``seed``, ``seconds``, ``cpu_seconds``, ``load``; :func:`evaluate` adds ``val_proba``, ``val_acc``,
``test_proba``, ``test_pred``, ``test_acc`` and ``test_loss``.
"""

import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from keras import layers

from advance_pipeline_tensorflow import keras_models as km
from common import metrics
from common.repro import set_seed
from common.results import results_dir, save_results


def layer_chain(model: keras.Model) -> str:
    """A one-line diagram, ``Flatten -> Dense(128) -> ReLU -> ...``; nested models by their name."""
    parts = []
    for layer in model.layers[1:]:  # skip the Input
        kind = type(layer).__name__
        if isinstance(layer, layers.Activation):
            kind = layer.activation.__name__.replace("relu", "ReLU")
        sizes = [getattr(layer, attr, None) for attr in ("units", "filters", "rate")]
        size = next((s for s in sizes if s), None)  # Dense, Conv2D, Dropout
        label = f"{kind}({size})" if size else kind
        parts.append(layer.name if isinstance(layer, keras.Model) else label)
    return " -> ".join(parts)


class CompactLog(keras.callbacks.Callback):
    """Print one line per run (or per epoch with ``per_epoch=True``): losses, accuracies, time."""

    def __init__(self, label: str, per_epoch: bool = False):
        super().__init__()
        self.label, self.per_epoch, self.line = label, per_epoch, None

    def on_train_begin(self, logs=None):
        self.start = self.epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        line = f"{self.label}: {epoch + 1:2d} ep  "
        line += f"loss {logs['loss']:.4f} acc {logs['accuracy']:.4f}"
        if "val_loss" in logs:
            line += f" | val_loss {logs['val_loss']:.4f} val_acc {logs['val_accuracy']:.4f}"
        if self.per_epoch:
            print(f"{line}  {time.perf_counter() - self.epoch_start:5.1f}s", flush=True)
        self.line, self.epoch_start = line, time.perf_counter()

    def on_train_end(self, logs=None):
        if not self.per_epoch and self.line:
            print(f"{self.line}  {time.perf_counter() - self.start:5.1f}s", flush=True)


def train(
    build: Callable[[], keras.Model], optimizer: str, lr: float, *, seed: int, epochs: int,
    train_data, val_data, label: str, schedule: str | None = None, momentum: float = 0.0,
    strategy=None, early_stop_patience: int | None = None, per_epoch: bool = False,
) -> dict:  # fmt: skip
    """Seed, build and compile a model in ``strategy``'s scope, fit it and return its run dict.
    ``train_data`` is a batched ``tf.data.Dataset`` (its length sets a schedule's ``total_steps``);
    ``early_stop_patience`` stops on the validation loss and restores the best weights."""
    set_seed(seed)
    strategy = strategy or __import__("tensorflow").distribute.get_strategy()
    with strategy.scope():
        model = build()
        steps = epochs * int(train_data.cardinality())
        km.compile_model(model, optimizer, lr, schedule, total_steps=steps, momentum=momentum)
    callbacks = [CompactLog(label, per_epoch)]
    if early_stop_patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(patience=early_stop_patience, restore_best_weights=True)
        )
    wall, cpu = time.perf_counter(), time.process_time()
    history = model.fit(
        train_data, validation_data=val_data, epochs=epochs, verbose=0, callbacks=callbacks
    )
    return {
        "model": model, "history": history.history, "seed": seed,
        "seconds": time.perf_counter() - wall,
        "cpu_seconds": time.process_time() - cpu,  # all threads of this process
        "load": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,  # None on Windows
    }  # fmt: skip


def evaluate(run: dict, x_val, y_val, x_test, y_test, predict=km.predict_proba) -> dict:
    """Add validation/test probabilities, predictions, accuracy and test loss to ``run``;
    ``predict(model, images)`` gives the probabilities."""
    run["val_proba"] = predict(run["model"], x_val)
    run["val_acc"] = metrics.accuracy(y_val, run["val_proba"].argmax(1))
    p = run["test_proba"] = predict(run["model"], x_test)
    run["test_pred"] = p.argmax(1)
    run["test_acc"] = metrics.accuracy(y_test, run["test_pred"])
    p_true = np.clip(p[np.arange(len(y_test)), y_test], 1e-12, None)
    run["test_loss"] = float(-np.log(p_true).mean())
    return run


def seconds_per_epoch(build: Callable[[], keras.Model], train_data, steps: int = 40) -> dict:
    """Wall and CPU seconds per epoch of ``train_data``: Adam, 5 warm-up steps, ``steps`` timed."""
    model = km.compile_model(build(), "adam", 1e-3)
    model.fit(train_data.take(5), epochs=1, verbose=0)  # traces the step function
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(train_data.take(steps), epochs=1, verbose=0)
    scale = int(train_data.cardinality()) / steps
    return {
        "wall s/epoch": (time.perf_counter() - wall) * scale,
        "CPU s/epoch": (time.process_time() - cpu) * scale,
        "load (1 min)": os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan"),
    }


def epochs_to_accuracy(runs: Sequence[dict], thresholds: Sequence[float]) -> pd.DataFrame:
    """First epoch at which each run's validation accuracy reached each threshold ("-": never)."""

    def first(run, t):
        return next((e + 1 for e, a in enumerate(run["history"]["val_accuracy"]) if a >= t), "-")

    columns = {f"val acc >= {100 * t:g}%": [first(r, t) for r in runs] for t in thresholds}
    return pd.DataFrame(columns, index=pd.Index([r["seed"] for r in runs], name="seed"))


def trial_table(tuner) -> pd.DataFrame:
    """keras-tuner's trials, best first: hyperparameters and validation accuracy (failed: NaN)."""
    trials = sorted(tuner.oracle.trials.values(), key=lambda t: int(t.trial_id))
    rows = [{"trial": int(t.trial_id), **t.hyperparameters.values, "val_accuracy": t.score}
            for t in trials]  # fmt: skip
    return pd.DataFrame(rows).sort_values("val_accuracy", ascending=False).reset_index(drop=True)


def results_path(where: Mapping[str, str], *parts: str) -> Path:
    """A folder under ``results_dir(where["dataset"], where["mode"])`` (created)."""
    path = results_dir(where["dataset"], where["mode"]).joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def summary_table(runs: Mapping[str, Sequence[dict]]) -> pd.DataFrame:
    """Mean ± std over seeds of test/validation accuracy, test loss, epochs and training time."""

    def ms(values, scale=100.0, digits=2):
        return metrics.format_mean_std(list(values), scale=scale, digits=digits)

    rows = [{
        "model": name,
        "test acc (%)": ms(r["test_acc"] for r in rs),
        "val acc (%)": ms(r["val_acc"] for r in rs),
        "test loss": ms((r["test_loss"] for r in rs), 1.0, 4),
        "epochs": ms((len(r["history"]["loss"]) for r in rs), 1.0, 1),
        "train time (s)": ms((r["seconds"] for r in rs), 1.0, 0),
        "seeds": len(rs),
    } for name, rs in runs.items()]  # fmt: skip
    return pd.DataFrame(rows).set_index("model")


def mcnemar_table(pairs: Sequence[tuple[str, str]], runs: Mapping, y_true) -> pd.DataFrame:
    """McNemar's test of A vs B, once per seed (run i of A against run i of B)."""
    rows = []
    for a, b in pairs:
        for ra, rb in zip(runs[a], runs[b], strict=True):
            res = metrics.mcnemar_test(y_true, ra["test_pred"], rb["test_pred"])
            rows.append({
                "A": a, "B": b, "seed": ra["seed"],
                "acc A (%)": round(100 * ra["test_acc"], 2),
                "acc B (%)": round(100 * rb["test_acc"], 2),
                "n01 (A wrong, B right)": res.n01,
                "n10 (A right, B wrong)": res.n10,
                "p-value": float(f"{res.p_value:.3g}"),
            })  # fmt: skip
    return pd.DataFrame(rows)


def verdicts(table: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """One verdict per pair: "<B> better" or "<A> better" only if every seed is significant in
    that direction, else "tie (no robust difference)"."""
    out = []
    for (a, b), g in table.groupby(["A", "B"], sort=False):
        sig = g["p-value"] < alpha
        b_wins = g["n01 (A wrong, B right)"] > g["n10 (A right, B wrong)"]
        if (sig & b_wins).all():
            verdict = f"{b} better (all seeds)"
        elif (sig & ~b_wins).all():
            verdict = f"{a} better (all seeds)"
        else:
            verdict = "tie (no robust difference)"
        out.append({
            "A": a, "B": b,
            "p-values per seed": ", ".join(f"{p:.2g}" for p in g["p-value"]),
            "significant seeds": f"{int(sig.sum())}/{len(g)}",
            "verdict": verdict,
        })  # fmt: skip
    return pd.DataFrame(out)


def save_study(
    name: str, runs: Mapping[str, Sequence[dict]], tables: Mapping[str, pd.DataFrame], *,
    data, mode: str, seeds, timings, config, **extra,
) -> os.PathLike:  # fmt: skip
    """Write ``<results_dir>/<name>.json``: per-seed numbers, the tables and any ``extra`` metrics."""
    keys = ("seed", "test_acc", "test_loss", "val_acc", "seconds", "cpu_seconds", "load")
    per_seed = {
        model: {**{k: [r.get(k) for r in rs] for k in keys},
                "epochs": [len(r["history"]["loss"]) for r in rs]}
        for model, rs in runs.items()
    }  # fmt: skip
    result = {
        "per_seed": per_seed,
        "tables": {t: df.reset_index().to_dict("records") if df.index.name else df.to_dict("records")
                   for t, df in tables.items()},
        **extra,
    }  # fmt: skip
    return save_results(
        name, result, dataset=data.name, mode=mode, data_source=data.source, seeds=list(seeds),
        timings=timings, config={"mode": mode, **config},
    )  # fmt: skip
