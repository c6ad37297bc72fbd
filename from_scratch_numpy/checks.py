"""Input checks for the public entry points of the NumPy network (kept out of the lesson code).

Each ``check_*`` function raises a ``ValueError`` that names the problem, or returns the value
converted to what the network computes with. They are called once per entry point (``mlp``,
``Network.predict``/``predict_proba``/``evaluate``, ``train.fit``, ``train.build``,
``train.load_weights``), never inside the training loop.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "check_batch_size",
    "check_fraction",
    "check_inputs",
    "check_labels",
    "check_mlp",
    "check_network",
    "check_optimizer",
    "check_positive_int",
    "check_positive_number",
]


def _is_number(value) -> bool:
    """True for real numbers (int, float, NumPy scalars), False for bool and everything else."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_positive_int(name: str, value) -> int:
    """Return ``value`` as an int if it is an integer > 0."""
    if not isinstance(value, numbers.Integral) or isinstance(value, (bool, np.bool_)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_batch_size(batch_size) -> int:
    """Return ``batch_size`` as an int if it is an integer > 0."""
    return check_positive_int("batch_size", batch_size)


def check_positive_number(name: str, value) -> float:
    """Return ``value`` as a float if it is a finite number > 0."""
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_fraction(name: str, value, *, low_inclusive: bool = True) -> float:
    """Return ``value`` as a float if it is a number in [0, 1) (or (0, 1))."""
    ok = _is_number(value) and (0 <= value < 1 if low_inclusive else 0 < value < 1)
    if not ok:
        interval = "[0, 1)" if low_inclusive else "(0, 1)"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")
    return float(value)


def check_float_dtype(dtype) -> np.dtype:
    """Return ``dtype`` as a NumPy dtype if it is float32 or float64."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return dt


def check_mlp(sizes, dropout, weight_decay, label_smoothing, init, dtype) -> None:
    """Check the settings of ``numpy_net.mlp``."""
    if (
        isinstance(sizes, (str, bytes))
        or not hasattr(sizes, "__len__")
        or len(sizes) < 2
        or not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in sizes
        )
    ):
        raise ValueError(
            f"sizes must be at least two positive integers (inputs, ..., classes), got {sizes!r}"
        )
    check_fraction("dropout rate", dropout)
    if not _is_number(weight_decay) or not math.isfinite(weight_decay) or weight_decay < 0:
        raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")
    check_fraction("label_smoothing", label_smoothing)
    if init not in ("he", "small_normal"):
        raise ValueError(f"init must be 'he' or 'small_normal', got {init!r}")
    check_float_dtype(dtype)


def _dense_layers(network) -> list:
    """The layers of ``network`` that have weights."""
    return [layer for layer in network.layers if hasattr(layer, "W")]


def check_network(network) -> tuple[int, int, np.dtype]:
    """Check the layer stack; return (number of inputs, number of classes, dtype)."""
    layers = getattr(network, "layers", None)
    if not layers:
        raise ValueError("the network has no layers")
    dense = _dense_layers(network)
    if not dense or not hasattr(layers[-1], "W"):
        raise ValueError(
            f"the last layer must be a Dense layer (it outputs the logits), got "
            f"{[type(layer).__name__ for layer in layers]}"
        )
    for i, (a, b) in enumerate(zip(dense[:-1], dense[1:], strict=False)):
        if a.W.shape[1] != b.W.shape[0]:
            raise ValueError(
                f"Dense layer {i} outputs {a.W.shape[1]} values but Dense layer {i + 1} "
                f"expects {b.W.shape[0]}"
            )
    dtypes = {layer.W.dtype for layer in dense} | {layer.b.dtype for layer in dense}
    if len(dtypes) != 1 or not all(np.issubdtype(d, np.floating) for d in dtypes):
        raise ValueError(f"all weights must share one float dtype, got {sorted(map(str, dtypes))}")
    return dense[0].W.shape[0], dense[-1].W.shape[1], dense[0].W.dtype


def check_inputs(network, x) -> np.ndarray:
    """Return x as (N, n_inputs) in the network's dtype; uint8 images are scaled to [0, 1]."""
    n_inputs, _, dtype = check_network(network)
    x = np.asarray(x)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) and not np.iscomplexobj(x)):
        raise ValueError(f"x must be a numeric array, got dtype {x.dtype}")
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(
            f"x must be a non-empty batch of shape (N, {n_inputs}) or (N, 28, 28), got {x.shape}"
        )
    x = x.reshape(len(x), -1)
    if x.shape[1] != n_inputs:
        raise ValueError(f"x must have {n_inputs} features per example, got shape {x.shape}")
    if x.dtype == np.uint8:
        from from_scratch_numpy.numpy_net import preprocess

        return preprocess(x, dtype)
    if np.issubdtype(x.dtype, np.integer):
        raise ValueError(
            f"integer images must be uint8 (0..255), got {x.dtype}: convert with "
            "x.astype(np.uint8), or pass floats scaled to [0, 1]"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError("x contains NaN or infinite values")
    return x.astype(dtype, copy=False)


def check_labels(network, y, n: int) -> np.ndarray:
    """Return y as n integer labels in 0..n_classes-1."""
    _, n_classes, _ = check_network(network)
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"y must have shape ({n},) to match x, got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {y.dtype}")
    if n and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(
            f"labels must be in 0..{n_classes - 1} (the last layer has {n_classes} outputs), "
            f"got values from {y.min()} to {y.max()}"
        )
    return y.astype(np.intp, copy=False)


def check_optimizer(optimizer) -> None:
    """Check that ``optimizer`` has a step method and sensible settings."""
    if optimizer is None or not callable(getattr(optimizer, "step", None)):
        raise ValueError(f"optimizer must be an SGD, Momentum or Adam instance, got {optimizer!r}")
    check_positive_number("learning rate (optimizer.lr)", getattr(optimizer, "lr", None))
    for name in ("momentum", "beta1", "beta2"):
        if hasattr(optimizer, name):
            check_fraction(f"optimizer.{name}", getattr(optimizer, name))
    if hasattr(optimizer, "eps"):
        check_positive_number("optimizer.eps", optimizer.eps)
