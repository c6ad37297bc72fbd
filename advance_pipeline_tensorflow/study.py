"""The machinery of the Keras study, kept out of the lesson: the entry point for images, training
runs over seeds, the choices (each sees validation results only), tables and results files.

A *run* is the dict :func:`train` returns: ``model``, ``history`` (Keras's ``History.history``),
``seed``, ``seconds``, ``cpu_seconds``; :func:`validate` adds ``val_proba`` and ``val_acc``, and
:func:`test` (called in the notebook's ``test-set`` cells only) adds ``test_proba``, ``test_pred``,
``test_acc`` and ``test_loss``.
"""

import os
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import keras
import numpy as np
import pandas as pd

from common import metrics
from common.repro import set_seed
from common.results import results_dir, save_results

INPUT_SHAPE = (28, 28, 1)
K = TypeVar("K", bound=Hashable)


def predict_proba(model: keras.Model, images: Any, batch_size: int = 512) -> np.ndarray:
    """Class probabilities ``(N, classes)``: the softmax of ``model.predict`` (inference mode: no
    augmentation, no dropout) for uint8 images ``(N, 28, 28[, 1])`` or float images in [0, 1].
    Raises ValueError on another shape, NaN or infinite pixels, or float pixels outside [0, 1]."""
    x = np.asarray(images)
    x = x[..., None] if x.ndim == 3 else x
    if x.ndim != 4 or x.shape[1:] != INPUT_SHAPE:
        raise ValueError(
            f"images must be (N, 28, 28) or (N, 28, 28, 1), got shape {np.shape(images)}"
        )
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ValueError(f"images must be numbers, got dtype {x.dtype}")
    x = x.astype("float32") / 255 if x.dtype == np.uint8 else x.astype("float32")
    if not np.isfinite(x).all():
        raise ValueError("images contain NaN or infinite pixel values")
    if x.size and (x.min() < 0 or x.max() > 1):
        raise ValueError(
            f"pixel values must be in [0, 1] for float images (unscaled? divide uint8 pixels by "
            f"255), got values in [{x.min():g}, {x.max():g}]"
        )
    logits = model.predict(x, batch_size=batch_size, verbose=0)
    return keras.ops.convert_to_numpy(keras.ops.softmax(logits, axis=-1))


class CompactLog(keras.callbacks.Callback):
    """Print one line per run (or per epoch with ``per_epoch=True``): losses, accuracies, time."""

    def __init__(self, label: str, per_epoch: bool = False):
        super().__init__()
        self.label, self.per_epoch, self.line = label, per_epoch, None

    def on_train_begin(self, logs=None):
        self.start = self.epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        line = (
            f"{self.label}: {epoch + 1:2d} ep  loss {logs['loss']:.4f} acc {logs['accuracy']:.4f}"
        )
        if "val_loss" in logs:
            line += f" | val_loss {logs['val_loss']:.4f} val_acc {logs['val_accuracy']:.4f}"
        if self.per_epoch:
            print(f"{line}  {time.perf_counter() - self.epoch_start:5.1f}s", flush=True)
        self.line, self.epoch_start = line, time.perf_counter()

    def on_train_end(self, logs=None):
        if not self.per_epoch and self.line:
            print(f"{self.line}  {time.perf_counter() - self.start:5.1f}s", flush=True)


def early_stopping(patience: int) -> keras.callbacks.EarlyStopping:
    """Keras's early stopping on the **validation** loss: stop after ``patience`` epochs without
    improvement and restore the weights of the best epoch (also when training runs to its end)."""
    if not isinstance(patience, int) or patience < 1:
        raise ValueError(f"patience must be a positive integer, got {patience!r}")
    return keras.callbacks.EarlyStopping(
        monitor="val_loss", mode="min", patience=patience, restore_best_weights=True
    )


def train(
    build: Callable[[], keras.Model], *, seed: int, epochs: int, train_data, val_data,
    label: str, patience: int | None = None, strategy=None, per_epoch: bool = False,
) -> dict:  # fmt: skip
    """Seed, ``build()`` a compiled model in ``strategy``'s scope, fit it (with
    :func:`early_stopping` when ``patience`` is given) and return its run dict."""
    set_seed(seed)
    if strategy is None:
        import tensorflow as tf

        strategy = tf.distribute.get_strategy()
    with strategy.scope():
        model = build()
    callbacks = [CompactLog(label, per_epoch)] + ([early_stopping(patience)] if patience else [])
    wall, cpu = time.perf_counter(), time.process_time()
    history = model.fit(
        train_data, validation_data=val_data, epochs=epochs, verbose=0, callbacks=callbacks
    )
    return {
        "model": model, "history": history.history, "seed": seed,
        "seconds": time.perf_counter() - wall,
        "cpu_seconds": time.process_time() - cpu,  # all threads of this process
    }  # fmt: skip


def validate(run: dict, x_val, y_val, predict: Callable) -> dict:
    """Add the validation probabilities and accuracy to ``run`` (``predict(model, images)``)."""
    run["val_proba"] = predict(run["model"], x_val)
    run["val_acc"] = metrics.accuracy(y_val, run["val_proba"].argmax(1))
    return run


def test(run: dict, x_test, y_test, predict: Callable) -> dict:
    """Add the test probabilities, predictions, accuracy and loss to ``run``: the final
    evaluation, after every choice was made on validation."""
    p = run["test_proba"] = predict(run["model"], x_test)
    run["test_pred"] = p.argmax(1)
    run["test_acc"] = metrics.accuracy(y_test, run["test_pred"])
    p_true = np.clip(p[np.arange(len(y_test)), np.asarray(y_test)], 1e-12, None)
    run["test_loss"] = float(-np.log(p_true).mean())
    return run


# ----------------------------------------------------------------------------- choices (validation only)
def choose_best(val_acc: Mapping[K, float]) -> K:
    """The key of the highest validation accuracy; a tie goes to the first key."""
    if not val_acc:
        raise ValueError("nothing to choose from")
    return max(val_acc, key=lambda k: val_acc[k])


def choose_tta(val_acc_plain: Sequence[float], val_acc_tta: Sequence[float]) -> bool:
    """Use test-time augmentation if it raises the mean validation accuracy (a tie: no)."""
    return bool(np.mean(val_acc_tta) > np.mean(val_acc_plain))


def choose_voting(y_val, val_probas, votes: Mapping[str, Callable]) -> str:
    """The voting rule (a name in ``votes``: name -> ``vote(probas) -> labels``) whose ensemble
    of all members scores highest on validation; a tie goes to the first rule."""
    return choose_best(
        {name: metrics.accuracy(y_val, vote(val_probas)) for name, vote in votes.items()}
    )


def choose_members(y_val, val_probas, vote: Callable) -> tuple[list[int], list[float]]:
    """Rank the members by their own validation accuracy, then keep the best ``k``: the ``k``
    whose ``vote`` scores highest on validation (a tie: the larger ``k``). Returns the chosen
    members' indices (best first) and the validation accuracy of the vote of the best 1, 2, ..."""
    own = [metrics.accuracy(y_val, np.asarray(p).argmax(1)) for p in val_probas]
    order = sorted(range(len(own)), key=lambda i: -own[i])  # stable: ties keep their order
    by_size = [metrics.accuracy(y_val, vote([val_probas[i] for i in order[:k]]))
               for k in range(1, len(order) + 1)]  # fmt: skip
    k = max(range(len(by_size)), key=lambda i: (by_size[i], i)) + 1
    return order[:k], by_size


def make_random_search(hypermodel, *, directory, project_name: str, max_trials: int, seed: int = 1):
    """``keras_tuner.RandomSearch`` scored by **val_accuracy** (started afresh each run). Needs no
    TensorBoard: keras-tuner 1.4 imports ``tensorboard`` in every trial, which TensorFlow >= 2.20
    no longer installs; this subclass sets it up only when a ``TensorBoard`` callback is passed."""
    why = "keras-tuner takes 0 for no seed and draws one from Python's random"
    if not isinstance(seed, int) or seed < 1:
        raise ValueError(f"seed must be >= 1 ({why}), got {seed!r}")
    import keras_tuner as kt

    class RandomSearch(kt.RandomSearch):
        def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
            if any(type(cb).__name__ == "TensorBoard" for cb in callbacks):
                super()._configure_tensorboard_dir(callbacks, trial, execution)

    return RandomSearch(hypermodel, objective="val_accuracy", max_trials=max_trials, seed=seed,
                        directory=str(directory), project_name=project_name, overwrite=True)  # fmt: skip


def _trial_val_accuracy(trial) -> float | None:
    """A trial's best epoch's validation accuracy (None: the trial failed)."""
    if not trial.metrics.exists("val_accuracy"):
        return None
    return trial.metrics.get_best_value("val_accuracy")


def choose_trial(tuner):
    """The hyperparameters of the tuner's trial of highest validation accuracy (a tie: the first)."""
    trials = sorted(tuner.oracle.trials.values(), key=lambda t: int(t.trial_id))
    scores = {t.trial_id: _trial_val_accuracy(t) for t in trials}
    best = choose_best({k: v for k, v in scores.items() if v is not None})
    return tuner.oracle.trials[best].hyperparameters


def trial_table(tuner) -> pd.DataFrame:
    """keras-tuner's trials, best first: hyperparameters and validation accuracy (failed: NaN)."""
    trials = sorted(tuner.oracle.trials.values(), key=lambda t: int(t.trial_id))
    rows = [{"trial": int(t.trial_id), **t.hyperparameters.values,
             "val_accuracy": _trial_val_accuracy(t)} for t in trials]  # fmt: skip
    return pd.DataFrame(rows).sort_values("val_accuracy", ascending=False).reset_index(drop=True)


# ----------------------------------------------------------------------------- tables, results
def seeds_of(runs: Mapping[str, Sequence[dict]]) -> list[int]:
    """The seeds of all the runs, sorted, each once."""
    return sorted({int(r["seed"]) for rs in runs.values() for r in rs})


def summary_table(runs: Mapping[str, Sequence[dict]]) -> pd.DataFrame:
    """Mean ± std over seeds of test/validation accuracy, test loss, epochs and training time,
    with the seeds of each row's runs."""

    def ms(values, scale=100.0, digits=2):
        return metrics.format_mean_std(list(values), scale=scale, digits=digits)

    rows = [{
        "model": name,
        "test acc (%)": ms(r["test_acc"] for r in rs),
        "val acc (%)": ms(r["val_acc"] for r in rs),
        "test loss": ms((r["test_loss"] for r in rs), 1.0, 4),
        "epochs": ms((len(r["history"]["loss"]) for r in rs), 1.0, 1),
        "train time (s)": ms((r["seconds"] for r in rs), 1.0, 0),
        "seeds": ", ".join(str(r["seed"]) for r in rs),
    } for name, rs in runs.items()]  # fmt: skip
    return pd.DataFrame(rows).set_index("model")


def mcnemar_table(pairs: Sequence[tuple[str, str]], runs: Mapping, y_true) -> pd.DataFrame:
    """McNemar's test of A vs B, once per seed (run i of A against run i of B, same seed)."""
    rows = []
    for a, b in pairs:
        for ra, rb in zip(runs[a], runs[b], strict=True):
            if ra["seed"] != rb["seed"]:
                raise ValueError(f"{a} and {b}: runs of seeds {ra['seed']} and {rb['seed']} paired")
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


def results_path(where: Mapping[str, str], *parts: str) -> Path:
    """A folder under ``results_dir(where["dataset"], where["mode"])`` (created)."""
    path = results_dir(where["dataset"], where["mode"]).joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_model(model: keras.Model, path: os.PathLike) -> Path:
    """Save ``model`` to ``path`` (``.keras``) atomically: a temporary file beside it, renamed."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"Keras models are saved as .keras files, got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.part.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _records(df: pd.DataFrame) -> list[dict]:
    return (df.reset_index() if df.index.name else df).to_dict("records")


def save_study(
    name: str, runs: Mapping[str, Sequence[dict]],
    tables: Mapping[str, tuple[pd.DataFrame, Sequence[int]]], *,
    data, mode: str, timings: Mapping[str, float], config: Mapping, **extra,
) -> Path:  # fmt: skip
    """Write ``<results_dir>/<name>.json``: per-seed numbers, each table (title -> its rows) with
    the seeds of the runs in it (``tables``: title -> (table, seeds)), and any ``extra`` metrics."""
    keys = ("seed", "test_acc", "test_loss", "val_acc", "seconds", "cpu_seconds")
    per_seed = {
        model: {**{k: [r.get(k) for r in rs] for k in keys},
                "epochs": [len(r["history"]["loss"]) for r in rs]}
        for model, rs in runs.items()
    }  # fmt: skip
    result = {
        "per_seed": per_seed,
        "tables": {title: _records(df) for title, (df, _) in tables.items()},
        "table_seeds": {title: sorted(int(s) for s in seeds) for title, (_, seeds) in tables.items()},
        **extra,
    }  # fmt: skip
    all_seeds = sorted({int(s) for _, seeds in tables.values() for s in seeds})
    return save_results(
        name, result, dataset=data.name, mode=mode, data_source=data.source, seeds=all_seeds,
        timings=timings, config={"mode": mode, **config},
    )  # fmt: skip


def save_keras_results(
    data, mode: str, *, wall_cpu: tuple[float, float], config: Mapping, mlp_runs, cnn_runs,
    part1_tables, trial_table: pd.DataFrame, tuner_best, ensemble: Mapping, ensemble_mcnemar,
    error_analysis,
) -> tuple[Path, Path]:  # fmt: skip
    """The notebook's two results files: ``keras_mlp_study.json`` (Part 1: the six MLPs, their
    table, McNemar tests and verdicts) and ``keras_cnn.json`` (Part 2: the CNNs, the tuned MLP,
    the tuner's trials, the chosen ensemble); timings in the metadata."""
    part1 = {n: rs for n, rs in mlp_runs.items() if n != "Tuned MLP"}
    part2 = {**cnn_runs, "Tuned MLP": mlp_runs["Tuned MLP"]}
    timings = {
        "part1_training": sum(r["seconds"] for rs in part1.values() for r in rs),
        "part2_cnn_training": sum(r["seconds"] for r in cnn_runs["CNN"]),
        "total_notebook": wall_cpu[0], "total_notebook_cpu": wall_cpu[1],
    }  # fmt: skip
    table, mcnemar, verdict = part1_tables
    common = dict(data=data, mode=mode, timings=timings, config=config)
    p1 = save_study("keras_mlp_study", part1, {
        "Part 1: test accuracy, mean ± std over seeds": (table, seeds_of(part1)),
        "Part 1: McNemar verdicts (per-seed tests)": (verdict, seeds_of(part1)),
    }, mcnemar=_records(mcnemar), **common)  # fmt: skip
    chosen = {k: v for k, v in ensemble.items() if k != "test_pred"}
    p2 = save_study("keras_cnn", part2, {
        "Part 2: CNN and tuned MLP, mean ± std over seeds": (summary_table(part2), seeds_of(part2)),
        "Part 2: keras-tuner trials": (trial_table, [0]),  # the search ran under seed 0
    }, chosen_ensemble=chosen, ensemble_mcnemar=ensemble_mcnemar, tuner_best=tuner_best,
        error_analysis=error_analysis, **common)  # fmt: skip
    return p1, p2
