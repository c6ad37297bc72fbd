"""Training the NumPy network: recipes, the fit loop with its conveniences, saving and loading.

The lesson itself (layers, loss, optimizers, ``Network.train_step``) is in ``numpy_net.py``.
Here: ``Recipe`` (every setting of a training run, as a frozen dataclass), the ``ORIGINAL`` and
``IMPROVED`` recipes, ``build`` (recipe -> network and optimizer), ``fit`` (mini-batch epochs with
a learning-rate schedule, early stopping with best-weight restore, one progress line per run,
divergence detection, a Keras-style history), ``train`` (build + fit), ``save_weights`` and
``load_weights`` (plain ``.npz`` arrays, never pickles).
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from from_scratch_numpy import numpy_net
from from_scratch_numpy.checks import (
    check_batch_size,
    check_fraction,
    check_inputs,
    check_labels,
    check_mlp,
    check_network,
    check_optimizer,
    check_positive_int,
    check_positive_number,
)

__all__ = [
    "IMPROVED",
    "ORIGINAL",
    "History",
    "Recipe",
    "TrainingDivergedError",
    "build",
    "fit",
    "load_weights",
    "parameter_arrays",
    "save_weights",
    "train",
]

OPTIMIZERS = ("SGD", "Momentum", "Adam")


@dataclass(frozen=True)
class Recipe:
    """Every setting of one training run (network, optimizer, schedule, batches, stopping).

    ``dataclasses.replace(recipe, lr=...)`` gives a copy with one setting changed; invalid
    settings are refused when the recipe is made.
    """

    sizes: tuple[int, ...] = (784, 800, 800, 10)
    init: str = "he"  # "he" or "small_normal" (randn * 0.01)
    dtype: str = "float32"
    dropout: float = 0.0
    weight_decay: float = 0.0  # L2: lambda in (lambda / 2) * sum(W**2)
    label_smoothing: float = 0.0
    optimizer: str = "Adam"  # "SGD", "Momentum" or "Adam"
    lr: float = 1e-3
    momentum: float = 0.9  # Momentum only
    schedule: str | None = "cosine"  # None: constant learning rate
    warmup_epochs: float = 0.0
    batch_size: int = 128
    epochs: int = 15
    shuffle: bool = True
    early_stopping_patience: int | None = None
    monitor: str = "val_accuracy"  # "val_accuracy" or "val_loss"
    val_fraction: float = 0.1

    def __post_init__(self):
        """Refuse impossible settings, naming the field."""
        check_mlp(
            tuple(self.sizes),
            self.dropout,
            self.weight_decay,
            self.label_smoothing,
            self.init,
            self.dtype,
        )
        object.__setattr__(self, "sizes", tuple(int(s) for s in self.sizes))
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        check_positive_number("lr", self.lr)
        check_fraction("momentum", self.momentum)
        if self.schedule not in (None, "cosine"):
            raise ValueError(f"schedule must be None or 'cosine', got {self.schedule!r}")
        if not 0 <= self.warmup_epochs < self.epochs:
            raise ValueError(f"warmup_epochs must be in [0, epochs), got {self.warmup_epochs!r}")
        check_batch_size(self.batch_size)
        check_positive_int("epochs", self.epochs)
        if self.early_stopping_patience is not None:
            check_positive_int("early_stopping_patience", self.early_stopping_patience)
        if self.monitor not in ("val_accuracy", "val_loss"):
            raise ValueError(f"monitor must be 'val_accuracy' or 'val_loss', got {self.monitor!r}")
        check_fraction("val_fraction", self.val_fraction, low_inclusive=False)

    def describe(self) -> str:
        """A one-line summary, e.g. '784-800-800-10, Adam lr 0.001, cosine, batch 128, 15 epochs'."""
        parts = ["-".join(map(str, self.sizes)), f"{self.init} init", self.dtype]
        parts += [f"dropout {self.dropout:g}"] * bool(self.dropout)
        parts += [f"label smoothing {self.label_smoothing:g}"] * bool(self.label_smoothing)
        parts += [f"L2 {self.weight_decay:g}"] * bool(self.weight_decay)
        parts += [f"{self.optimizer} lr {self.lr:g}", self.schedule or "constant lr"]
        parts += [
            f"batch {self.batch_size}",
            f"{self.epochs} epochs",
            "shuffled" if self.shuffle else "not shuffled",
        ]
        return ", ".join(parts)


# The original notebook: 784-128-10, randn * 0.01, float64, plain SGD 0.01, batch 32, no shuffling.
ORIGINAL = Recipe(
    sizes=(784, 128, 10),
    init="small_normal",
    dtype="float64",
    optimizer="SGD",
    lr=0.01,
    schedule=None,
    batch_size=32,
    epochs=10,
    shuffle=False,
    val_fraction=0.2,
)

# The improved network, every setting chosen on the validation split.
IMPROVED = Recipe(
    sizes=(784, 800, 800, 10),
    init="he",
    dtype="float32",
    dropout=0.4,
    weight_decay=5e-5,
    label_smoothing=0.1,
    optimizer="Adam",
    lr=1e-3,
    schedule="cosine",
    batch_size=128,
    epochs=10,
    shuffle=True,
    early_stopping_patience=5,
    monitor="val_accuracy",
    val_fraction=0.1,
)


class TrainingDivergedError(RuntimeError):
    """The training loss became NaN or infinite."""


class History(dict):
    """Keras-style history: metric name -> one value per epoch; ``best_epoch`` counts from 0."""

    best_epoch: int | None = None


def _module(fast: bool):
    """numpy_net, or the fast version of the same network (from_scratch_numpy.fast)."""
    if not fast:
        return numpy_net
    try:
        return importlib.import_module("from_scratch_numpy.fast")
    except ModuleNotFoundError as err:
        if err.name != "from_scratch_numpy.fast":
            raise
        raise ValueError(
            "fast=True needs from_scratch_numpy/fast.py, which is not installed here; use fast=False"
        ) from None


def build(recipe: Recipe, seed: int = 0, fast: bool = False):
    """The network and optimizer a recipe describes, initialised from ``seed``.

    Parameters
    ----------
    recipe : Recipe
        The settings (``ORIGINAL``, ``IMPROVED`` or a ``dataclasses.replace`` of them).
    seed : int
        Seed of the weight initialisation and the dropout masks.
    fast : bool
        Build the network from ``from_scratch_numpy.fast`` (same math, faster); that module
        provides ``mlp`` and the optimizer classes with the same names and arguments.

    Returns
    -------
    (network, optimizer)
    """
    if not isinstance(recipe, Recipe):
        raise ValueError(f"recipe must be a Recipe, got {type(recipe).__name__}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    nn = _module(fast)
    net = nn.mlp(
        recipe.sizes,
        dropout=recipe.dropout,
        weight_decay=recipe.weight_decay,
        label_smoothing=recipe.label_smoothing,
        init=recipe.init,
        dtype=recipe.dtype,
        seed=seed,
    )
    if recipe.optimizer == "SGD":
        optimizer = nn.SGD(recipe.lr)
    elif recipe.optimizer == "Momentum":
        optimizer = nn.Momentum(recipe.lr, recipe.momentum)
    else:
        optimizer = nn.Adam(recipe.lr)
    return net, optimizer


def fit(
    net,
    optimizer,
    x,
    y,
    *,
    epochs: int = 10,
    batch_size: int = 128,
    validation_data=None,
    shuffle: bool = True,
    seed: int = 0,
    lr_schedule: Callable[[float], float] | None = None,
    early_stopping_patience: int | None = None,
    monitor: str = "val_accuracy",
    progress: bool = True,
    on_epoch_end: Callable | None = None,
) -> History:
    """Train ``net`` with mini-batches; return a Keras-style history (one entry per epoch).

    Parameters
    ----------
    net, optimizer
        A ``numpy_net.Network`` and an optimizer (``SGD``, ``Momentum``, ``Adam``).
    x, y
        Training inputs (uint8 images or floats in the network's layout) and integer labels.
    epochs, batch_size
        Every example is used exactly once per epoch; the last batch may be smaller.
    validation_data : (x_val, y_val), optional
        Evaluated after each epoch (``val_loss``, ``val_accuracy``).
    shuffle, seed
        A fresh random order each epoch from ``seed`` (``shuffle=False`` keeps the data order).
    lr_schedule : callable, optional
        ``lr_schedule(t)`` is the learning rate at t = epoch + fraction of the epoch done; it is
        set on the optimizer before every step.
    early_stopping_patience, monitor
        Stop after that many epochs without a better ``monitor`` and restore the best weights.
    progress : bool
        One tqdm progress line for the run.
    on_epoch_end : callable, optional
        ``on_epoch_end(epoch, net, logs)`` after each epoch (not counted in ``history['time']``).

    Returns
    -------
    History
        ``loss`` (training loss with L2, averaged over the epoch's steps), ``accuracy``, ``lr``,
        ``time`` and, with validation data, ``val_loss``, ``val_accuracy``; ``best_epoch``.

    Raises
    ------
    TrainingDivergedError
        If the training loss becomes NaN or infinite.
    """
    x = check_inputs(net, x)
    y = check_labels(net, y, len(x))
    check_optimizer(optimizer)
    epochs, batch_size = check_positive_int("epochs", epochs), check_batch_size(batch_size)
    if monitor not in ("val_accuracy", "val_loss"):
        raise ValueError(f"monitor must be 'val_accuracy' or 'val_loss', got {monitor!r}")
    if lr_schedule is not None and not callable(lr_schedule):
        raise ValueError(f"lr_schedule must be a function of the epoch, got {lr_schedule!r}")
    if validation_data is not None:
        if len(validation_data) != 2:
            raise ValueError("validation_data must be a pair (x_val, y_val)")
        x_val = check_inputs(net, validation_data[0])
        y_val = check_labels(net, validation_data[1], len(x_val))
    if early_stopping_patience is not None:
        check_positive_int("early_stopping_patience", early_stopping_patience)
        if validation_data is None:
            raise ValueError("early stopping needs validation_data")

    rng = np.random.default_rng(seed)
    n, steps = len(x), math.ceil(len(x) / batch_size)
    history = History(loss=[], accuracy=[], lr=[], time=[])
    if validation_data is not None:
        history.update(val_loss=[], val_accuracy=[])
    best, best_weights, since_best = None, None, 0
    bar = _progress_bar(epochs) if progress else None
    for epoch in range(epochs):
        start = time.perf_counter()
        order = rng.permutation(n) if shuffle else np.arange(n)
        history["lr"].append(lr_schedule(epoch) if lr_schedule else optimizer.lr)
        loss_sum, correct = 0.0, 0
        for step in range(steps):
            if lr_schedule is not None:
                optimizer.lr = lr_schedule(epoch + step / steps)
            batch = order[step * batch_size : (step + 1) * batch_size]
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                loss = net.train_step(x[batch], y[batch], optimizer)
            if not math.isfinite(loss):
                raise TrainingDivergedError(
                    f"training diverged: the loss became {loss} at epoch {epoch + 1}, step "
                    f"{step + 1}/{steps} (learning rate {optimizer.lr:g}); try a smaller learning rate"
                )
            loss_sum += loss * len(batch)
            correct += int(np.sum(net.loss_fn.p.argmax(axis=1) == y[batch]))
        logs = {"loss": loss_sum / n, "accuracy": correct / n}
        if validation_data is not None:
            logs["val_loss"], logs["val_accuracy"] = net.evaluate(x_val, y_val)
        for key, value in logs.items():
            history[key].append(value)
        history["time"].append(time.perf_counter() - start)
        if bar is not None:
            bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)
            bar.update()
        if on_epoch_end is not None:
            on_epoch_end(epoch, net, logs)
        if validation_data is not None:
            score = logs["val_accuracy"] if monitor == "val_accuracy" else -logs["val_loss"]
            if best is None or score > best:
                best, history.best_epoch, since_best = score, epoch, 0
                if early_stopping_patience is not None:
                    best_weights = [W.copy() for W, _ in net.parameters()]
            else:
                since_best += 1
                if early_stopping_patience is not None and since_best >= early_stopping_patience:
                    break
    if bar is not None:
        bar.close()
    if best_weights is not None:  # restore the best epoch's weights
        for (W, _), W_best in zip(net.parameters(), best_weights, strict=False):
            W[...] = W_best
    return history


def _progress_bar(epochs: int):
    """One plain-text tqdm line for a run (it also reads well in a saved notebook)."""
    from tqdm import tqdm

    return tqdm(total=epochs, unit="epoch", leave=True, ascii=True, mininterval=0, ncols=110)


def train(
    recipe: Recipe,
    x,
    y,
    validation_data=None,
    *,
    seed: int = 0,
    fast: bool = False,
    epochs: int | None = None,
    progress: bool = True,
    on_epoch_end: Callable | None = None,
):
    """Build the recipe's network and train it as the recipe says; returns (network, history).

    ``epochs`` overrides the recipe's number of epochs (the schedule is stretched to match);
    early stopping is used only with ``validation_data``.
    """
    epochs = recipe.epochs if epochs is None else check_positive_int("epochs", epochs)
    net, optimizer = build(recipe, seed, fast)
    schedule = None
    if recipe.schedule == "cosine":
        schedule = numpy_net.cosine_schedule(
            recipe.lr, epochs, warmup=min(recipe.warmup_epochs, epochs / 2)
        )
    history = fit(
        net,
        optimizer,
        x,
        y,
        epochs=epochs,
        batch_size=recipe.batch_size,
        validation_data=validation_data,
        shuffle=recipe.shuffle,
        seed=seed,
        lr_schedule=schedule,
        early_stopping_patience=recipe.early_stopping_patience
        if validation_data is not None
        else None,
        monitor=recipe.monitor,
        progress=progress,
        on_epoch_end=on_epoch_end,
    )
    return net, history


def parameter_arrays(net) -> dict[str, np.ndarray]:
    """The network's parameters by name: 'dense0.W', 'dense0.b', 'dense3.W', ... (layer index)."""
    arrays = {}
    for i, layer in enumerate(net.layers):
        if hasattr(layer, "W"):
            arrays[f"dense{i}.W"], arrays[f"dense{i}.b"] = layer.W, layer.b
    return arrays


def save_weights(net, path) -> Path:
    """Save every parameter as a plain array into an ``.npz`` file; returns the file's path."""
    path = Path(path)
    path = path if path.suffix == ".npz" else path.with_name(path.name + ".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **parameter_arrays(net))
    return path


def load_weights(net, path):
    """Load parameters saved by ``save_weights`` into ``net``; returns ``net``.

    Every array is checked (names, shapes, numeric, finite) before any parameter changes, so a
    bad file leaves the network as it was. Pickled objects are never loaded.
    """
    check_network(net)
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path} is not an .npz file (a zip archive of arrays written by save_weights)"
        )
    params = parameter_arrays(net)
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = sorted(set(params) - set(f.files))
            extra = sorted(set(f.files) - set(params))
            if missing or extra:
                raise ValueError(
                    f"{path}: parameters do not match the network: missing {missing}, unexpected {extra}"
                )
            arrays = {k: f[k] for k in params}
    except ValueError as err:
        if "pickle" in str(err):
            raise ValueError(f"{path} holds pickled objects, which are never loaded") from None
        raise
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise ValueError(f"{path} is not a readable .npz file: {err}") from None
    for k, W in params.items():
        a = arrays[k]
        if a.shape != W.shape:
            raise ValueError(
                f"{path}: parameter {k!r} has shape {a.shape} in the file but {W.shape} in the network"
            )
        if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
            raise ValueError(f"{path}: parameter {k!r} is not numeric (dtype {a.dtype})")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{path}: parameter {k!r} contains NaN or infinite values")
    for k, W in params.items():
        W[...] = arrays[k]
    return net


def replace(recipe: Recipe, **changes) -> Recipe:
    """A copy of ``recipe`` with some settings changed (``dataclasses.replace``)."""
    return dataclasses.replace(recipe, **changes)
