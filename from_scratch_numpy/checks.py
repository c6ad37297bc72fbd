"""Input checks at the NumPy network's entry points: a ValueError naming the problem, or the value."""

import math
from functools import partial
from numbers import Integral, Real

import numpy as np

from from_scratch_numpy.numpy_net import preprocess


def _is_number(value, kind=Real) -> bool:
    """A finite number of ``kind`` (Real or Integral), not a bool."""
    if not isinstance(value, kind) or isinstance(value, (bool, np.bool_)):
        return False
    return kind is Integral or math.isfinite(value)


def check_positive_int(name: str, value) -> int:
    """Return ``value`` as an int if it is an integer > 0."""
    if not (_is_number(value, Integral) and value > 0):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


check_batch_size = partial(check_positive_int, "batch_size")


def check_positive_number(name: str, value) -> float:
    """Return ``value`` as a float if it is a finite number > 0."""
    if not (_is_number(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_seed(seed) -> int:
    """Return ``seed`` if it is an integer >= 0 (what NumPy's generators accept)."""
    if not (_is_number(seed, Integral) and seed >= 0):
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    return int(seed)


def check_learning_rate(lr, where: str = "the learning-rate schedule") -> float:
    """Return a schedule's learning rate if it is a finite number >= 0 (0: the end of a cosine)."""
    if not (_is_number(lr) and lr >= 0):
        raise ValueError(f"{where} gave {lr!r}; a learning rate must be a finite number >= 0")
    return float(lr)


class TrainingDivergedError(RuntimeError):
    """The training loss became NaN or infinite, or ran away from its starting value."""


def check_loss(loss: float, first_loss: float, epoch: int, step: int, steps: int, lr: float) -> None:
    """Raise TrainingDivergedError when the loss is NaN or infinite, or has grown far beyond the
    first step's (100 times, and by more than 10): training is running away, not learning."""
    if math.isfinite(loss) and not (loss > 100 * first_loss and loss > first_loss + 10):
        return
    raise TrainingDivergedError(
        f"training diverged: the loss became {loss:.4g} (first step: {first_loss:.4g}) at epoch "
        f"{epoch + 1}, step {step + 1}/{steps} (learning rate {lr:g}); try a smaller learning rate"
    )


def check_fraction(name: str, value, *, low_inclusive: bool = True) -> float:
    """Return ``value`` as a float if it is a number in [0, 1) (or (0, 1))."""
    if not (_is_number(value) and (0 <= value < 1 if low_inclusive else 0 < value < 1)):
        interval = "[0, 1)" if low_inclusive else "(0, 1)"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")
    return float(value)


def check_mlp(sizes, dropout, weight_decay, label_smoothing, init, dtype) -> None:
    """Check the settings of ``numpy_net.mlp``."""
    listed = hasattr(sizes, "__len__") and not isinstance(sizes, (str, bytes))
    if not (listed and len(sizes) >= 2 and all(_is_number(s, Integral) and s > 0 for s in sizes)):
        raise ValueError(f"sizes must be at least two positive integers (widths), got {sizes!r}")
    check_fraction("dropout rate", dropout)
    if not (_is_number(weight_decay) and weight_decay >= 0):
        raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")
    check_fraction("label_smoothing", label_smoothing)
    if init not in ("he", "small_normal"):
        raise ValueError(f"init must be 'he' or 'small_normal', got {init!r}")
    if dtype not in (np.float32, np.float64) and str(dtype) not in ("float32", "float64"):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")


def check_fit(epochs, batch_size, early_stopping_patience, monitor) -> tuple[int, int]:
    """Check the settings shared by ``train.fit`` and ``train.Recipe``; return (epochs, batch_size)."""
    if early_stopping_patience is not None:
        check_positive_int("early_stopping_patience", early_stopping_patience)
    if monitor not in ("val_accuracy", "val_loss"):
        raise ValueError(f"monitor must be 'val_accuracy' or 'val_loss', got {monitor!r}")
    return check_positive_int("epochs", epochs), check_batch_size(batch_size)


def check_network(network) -> tuple[int, int, np.dtype]:
    """Check the layer stack; return (number of inputs, number of classes, dtype)."""
    layers = getattr(network, "layers", None)
    if not layers:
        raise ValueError("the network has no layers")
    if not hasattr(layers[-1], "W"):
        raise ValueError(f"the last layer must be a Dense layer, not {type(layers[-1]).__name__}")
    dense = [layer for layer in layers if hasattr(layer, "W")]
    # A CNN's rows become images in its first layer (numpy_net.Reshape: ``shape``); its Conv2D
    # layers (``k``: the kernel size) multiply patches, not the previous layer's outputs.
    chain = [layer.W.shape for layer in dense if not hasattr(layer, "k")]
    for i, ((_, n_out), (n_in, _)) in enumerate(zip(chain[:-1], chain[1:], strict=True)):
        if n_out != n_in:
            msg = f"Dense layer {i} outputs {n_out} values but Dense layer {i + 1} expects {n_in}"
            raise ValueError(msg)
    dtypes = {array.dtype for layer in dense for array in (layer.W, layer.b)}
    if len(dtypes) != 1 or not np.issubdtype(next(iter(dtypes)), np.floating):
        raise ValueError(f"all weights must share one float dtype, got {sorted(map(str, dtypes))}")
    shape = getattr(layers[0], "shape", None)
    n_inputs = math.prod(shape) if shape is not None else dense[0].W.shape[0]
    return n_inputs, dense[-1].W.shape[1], dense[0].W.dtype


def check_inputs(network, x) -> np.ndarray:
    """Return x as (N, n_inputs) in the network's dtype; uint8 images are scaled to [0, 1]."""
    n_inputs, _, dtype = check_network(network)
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise ValueError(f"x must be a numeric array, got dtype {x.dtype}")
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty batch of shape (N, {n_inputs}), got {x.shape}")
    x = x.reshape(len(x), -1)
    if x.shape[1] != n_inputs:
        raise ValueError(f"x must have {n_inputs} features per example, got shape {x.shape}")
    if x.dtype == np.uint8:
        return preprocess(x, dtype)
    if np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"integer images must be uint8 (0..255), got {x.dtype}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x contains NaN or infinite values")
    if x.min() < 0 or x.max() > 1:
        raise ValueError(
            f"float images must be scaled to [0, 1], got values from {x.min():g} to {x.max():g} "
            "(grey levels 0..255? pass them as uint8, or divide by 255)"
        )
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
    if not callable(getattr(optimizer, "step", None)):
        raise ValueError(f"optimizer must be an SGD, Momentum or Adam instance, got {optimizer!r}")
    check_positive_number("learning rate (optimizer.lr)", getattr(optimizer, "lr", None))
    for name in ("momentum", "beta1", "beta2"):
        if hasattr(optimizer, name):
            check_fraction(f"optimizer.{name}", getattr(optimizer, name))
    if hasattr(optimizer, "eps"):
        check_positive_number("optimizer.eps", optimizer.eps)
