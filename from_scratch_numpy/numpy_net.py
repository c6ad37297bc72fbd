"""A small neural network written from scratch in NumPy, one readable piece at a time.

The notebook ``basic_algorithm_numpy.ipynb`` displays these classes and functions next to the
math they implement, and ``tests/test_numpy_net.py`` checks them (finite differences, TensorFlow
autodiff, determinism, save/load, error messages). Names follow the math:

    z = a_prev @ W + b        (Dense)         a = max(z, 0)        (ReLU)
    p = softmax(z)            L = -mean(log p[y])                  (SoftmaxCrossEntropy)
    delta = dL/dz             dW = a_prev.T @ delta   db = sum(delta)   delta_prev = delta @ W.T

Every array has shape (batch, features); a batch of images is flattened to (N, 784) first
(:func:`preprocess`). All randomness comes from ``np.random.default_rng(seed)`` generators that
are passed down explicitly, so a fixed seed gives a bit-identical run (on the same machine with
the same number of BLAS threads: a different thread count sums the matrix products in a different
order, which changes the last bits).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = [
    "Adam",
    "Dense",
    "Dropout",
    "Momentum",
    "Network",
    "ReLU",
    "SGD",
    "SoftmaxCrossEntropy",
    "TrainingDivergedError",
    "cosine_schedule",
    "gradient_check",
    "IMPROVED",
    "ORIGINAL",
    "improved_network",
    "mlp",
    "numerical_gradient",
    "original_network",
    "preprocess",
    "relative_error",
    "step_schedule",
    "train_improved",
    "train_original",
]


class TrainingDivergedError(RuntimeError):
    """Raised when the training loss becomes NaN or infinite."""


# Adam works through its arrays in blocks of this many numbers (256 KB of float32), so the ten
# operations of one update run on data that is still in the CPU cache: for layers of a few MB this
# is several times faster than ten passes over whole arrays, each read from main memory.
BLOCK = 1 << 16


def _check_positive(name, value, kind=(int, np.integer)):
    """Raise a ValueError unless ``value`` is a positive number of the given kind."""
    if isinstance(value, bool) or not isinstance(value, kind) or not value > 0:
        raise ValueError(f"{name} must be a positive {_kind_name(kind)}, got {value!r}")


def _kind_name(kind):
    """Name a number kind for an error message."""
    return "integer" if kind == (int, np.integer) else "number"


def _check_finite_positive(name, value):
    """Raise a ValueError unless ``value`` is a finite number > 0."""
    _check_positive(name, value, kind=(int, float, np.integer, np.floating))
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")


def preprocess(images, dtype=np.float32):
    """Flatten images to rows of pixels and scale uint8 values 0..255 to [0, 1]."""
    x = np.asarray(images)
    if x.ndim < 2:
        raise ValueError(f"images must have shape (N, 28, 28) or (N, 784), got {x.shape}")
    x = x.reshape(len(x), -1)
    if x.dtype == np.uint8:
        return np.multiply(x, np.asarray(1 / 255, dtype=dtype), dtype=dtype)
    return x.astype(dtype, copy=False)


# --------------------------------------------------------------------------------------------
# Layers: each has forward(a, training) -> output and backward(delta) -> delta for the input.
# --------------------------------------------------------------------------------------------


class Dense:
    """Fully connected layer: z = a_prev @ W + b, with He or small-normal initialisation."""

    def __init__(self, n_in, n_out, *, rng=None, init="he", dtype=np.float32):
        _check_positive("n_in", n_in)
        _check_positive("n_out", n_out)
        rng = np.random.default_rng(rng)
        if init == "he":  # variance 2/n_in keeps the scale of ReLU activations constant
            W = rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)
        elif init == "small_normal":  # the original notebook: randn * 0.01
            W = rng.standard_normal((n_in, n_out)) * 0.01
        else:
            raise ValueError(f"init must be 'he' or 'small_normal', got {init!r}")
        self.W = W.astype(dtype)
        self.b = np.zeros(n_out, dtype=dtype)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self.params = {"W": self.W, "b": self.b}
        self.grads = {"W": self.dW, "b": self.db}

    def forward(self, a_prev, training=False):
        """z = a_prev @ W + b."""
        self.a_prev = a_prev
        z = a_prev @ self.W
        z += self.b
        return z

    def backward(self, delta, input_grad=True):
        """dW = a_prev.T @ delta, db = sum of delta over the batch, delta_prev = delta @ W.T."""
        np.matmul(self.a_prev.T, delta, out=self.dW)
        np.sum(delta, axis=0, out=self.db)
        return delta @ self.W.T if input_grad else None


class ReLU:
    """Rectified linear unit: a = max(z, 0); its derivative is 1 where z > 0, else 0."""

    params: dict = {}
    grads: dict = {}

    def forward(self, z, training=False):
        """a = max(z, 0), in place: z is the fresh output of the Dense layer before, not needed again."""
        self.a = np.maximum(z, 0, out=z)
        return self.a

    def backward(self, delta, input_grad=True):
        """delta_prev = delta * (a > 0)."""
        np.multiply(delta, self.a > 0, out=delta)
        return delta


class Dropout:
    """Inverted dropout: in training keep each unit with probability 1 - rate, scaled by 1/(1 - rate)."""

    params: dict = {}
    grads: dict = {}

    def __init__(self, rate, *, rng=None):
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.number)):
            raise ValueError(f"dropout rate must be a number in [0, 1), got {rate!r}")
        if not 0 <= rate < 1:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.rng = np.random.default_rng(rng)
        self.mask = None

    def forward(self, a, training=False):
        """Training: a * mask with mask = (u >= rate) / (1 - rate), u ~ U(0, 1). Evaluation: a."""
        if not training or self.rate == 0:
            self.mask = None
            return a
        u = self.rng.random(a.shape, dtype=a.dtype if a.dtype == np.float32 else np.float64)
        self.mask = (u >= self.rate).astype(a.dtype)
        self.mask *= 1 / (1 - self.rate)
        return a * self.mask

    def backward(self, delta, input_grad=True):
        """delta_prev = delta * mask (the same units that were kept in the forward pass)."""
        if self.mask is not None:
            delta *= self.mask
        return delta


class SoftmaxCrossEntropy:
    """Softmax and cross-entropy fused: L = -mean(log softmax(z)[y]); dL/dz = (p - onehot(y)) / N.

    Fusing the two is both simpler and safer than computing them apart: the gradient of
    -log softmax(z)[y] with respect to z is just p - onehot(y) (the Jacobian of softmax cancels
    against the 1/p of the log), and log softmax(z) = (z - m) - log(sum(exp(z - m))) with
    m = max(z) never overflows (the largest exponent is exp(0) = 1) and never takes log(0).
    With label smoothing eps the target is t = (1 - eps) * onehot(y) + eps / K instead of
    onehot(y), and the gradient is (p - t) / N.
    """

    def __init__(self, label_smoothing=0.0):
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")
        self.label_smoothing = float(label_smoothing)

    def forward(self, z, y):
        """Return the mean cross-entropy loss and remember p = softmax(z) for backward."""
        shifted = z - z.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.p = np.exp(log_p)
        self.y = y
        loss = -log_p[np.arange(len(y)), y]
        if self.label_smoothing:  # -sum(t * log p) with t = (1 - eps) onehot + eps / K
            eps = self.label_smoothing
            loss = (1 - eps) * loss - eps * log_p.mean(axis=1)
        return float(loss.mean())

    def backward(self):
        """delta = (p - t) / N with t the (smoothed) one-hot target: the gradient with respect to z."""
        eps = self.label_smoothing
        delta = self.p - eps / self.p.shape[1] if eps else self.p.copy()
        delta[np.arange(len(self.y)), self.y] -= 1 - eps
        delta /= len(self.y)
        return delta


# --------------------------------------------------------------------------------------------
# The network: a stack of layers, a loss, L2 weight decay.
# --------------------------------------------------------------------------------------------


class Network:
    """A stack of layers trained with softmax cross-entropy plus L2 weight decay (lambda/2)*sum(W**2)."""

    def __init__(self, layers, *, weight_decay=0.0, label_smoothing=0.0, n_classes=None):
        if not layers:
            raise ValueError("a Network needs at least one layer")
        if not (isinstance(weight_decay, (int, float, np.number)) and weight_decay >= 0):
            raise ValueError(f"weight_decay must be a number >= 0, got {weight_decay!r}")
        self.layers = list(layers)
        self.weight_decay = float(weight_decay)
        self.loss_fn = SoftmaxCrossEntropy(label_smoothing)
        dense = [layer for layer in self.layers if isinstance(layer, Dense)]
        self.dtype = dense[0].W.dtype if dense else np.dtype(np.float64)
        self.n_features = dense[0].W.shape[0] if dense else None
        self.n_classes = n_classes if n_classes is not None else dense[-1].W.shape[1]
        # The gradient with respect to a layer's input is only needed if an earlier layer has
        # parameters: the first Dense layer skips delta @ W.T (a third of its backward work).
        self._input_grad = [
            any(earlier.params for earlier in self.layers[:i]) for i in range(len(self.layers))
        ]
        # All parameters and their gradients by name ('dense0.W', 'dense0.b', ...). These are the
        # layers' own arrays: optimizers update them in place, backward overwrites the gradients.
        self.params = {
            f"{type(layer).__name__.lower()}{i}.{k}": v
            for i, layer in enumerate(self.layers)
            for k, v in layer.params.items()
        }
        self.grads = {
            f"{type(layer).__name__.lower()}{i}.{k}": v
            for i, layer in enumerate(self.layers)
            for k, v in layer.grads.items()
        }

    def _as_input(self, x):
        """Check x has shape (N, n_features) and the network's dtype (converting uint8 images)."""
        x = np.asarray(x)
        if x.ndim != 2:
            x = preprocess(x, self.dtype) if x.ndim > 2 else x
        if x.ndim != 2 or (self.n_features is not None and x.shape[1] != self.n_features):
            raise ValueError(
                f"x must have shape (N, {self.n_features}) (or (N, 28, 28) images), got {x.shape}"
            )
        if x.dtype != self.dtype:
            x = preprocess(x, self.dtype)
        return x

    def _check_labels(self, y, n):
        """Check y is a vector of n integer labels in 0..n_classes-1."""
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != n:
            raise ValueError(f"y must have shape ({n},) to match x, got {y.shape}")
        if not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"labels must be integers, got dtype {y.dtype}")
        if n and (y.min() < 0 or y.max() >= self.n_classes):
            raise ValueError(
                f"labels must be in 0..{self.n_classes - 1}, got values from {y.min()} to {y.max()}"
            )
        return y.astype(np.intp, copy=False)

    def forward(self, x, training=False):
        """Run every layer's forward pass and return the logits z of the last layer."""
        a = x
        for layer in self.layers:
            a = layer.forward(a, training)
        return a

    def l2_penalty(self):
        """(lambda / 2) * sum of squared weights (biases are not decayed)."""
        if not self.weight_decay:
            return 0.0
        total = sum(
            float(np.vdot(layer.W, layer.W)) for layer in self.layers if hasattr(layer, "W")
        )
        return 0.5 * self.weight_decay * total

    def loss(self, x, y, training=False):
        """Cross-entropy of the logits plus the L2 penalty (forward pass only)."""
        return self.loss_fn.forward(self.forward(x, training), y) + self.l2_penalty()

    def backward(self):
        """Backpropagate from the loss through every layer; add lambda * W to each dW."""
        delta = self.loss_fn.backward()
        for i in reversed(range(len(self.layers))):
            delta = self.layers[i].backward(delta, input_grad=self._input_grad[i])
            if delta is None:  # no earlier layer has parameters: nothing left to compute
                break
        if self.weight_decay:
            for layer in self.layers:
                if hasattr(layer, "W"):
                    layer.dW += self.weight_decay * layer.W

    def predict_proba(self, x, batch_size=4096):
        """Class probabilities softmax(z), shape (N, n_classes), in evaluation mode."""
        x = self._as_input(x)
        out = np.empty((len(x), self.n_classes), dtype=self.dtype)
        for start in range(0, len(x), batch_size):
            z = self.forward(x[start : start + batch_size], training=False)
            z -= z.max(axis=1, keepdims=True)
            np.exp(z, out=z)
            z /= z.sum(axis=1, keepdims=True)
            out[start : start + batch_size] = z
        return out

    def predict(self, x, batch_size=4096):
        """The most probable class for each row of x."""
        x = self._as_input(x)
        out = np.empty(len(x), dtype=np.intp)
        for start in range(0, len(x), batch_size):
            out[start : start + batch_size] = self.forward(x[start : start + batch_size]).argmax(1)
        return out

    def evaluate(self, x, y, batch_size=4096):
        """Return (mean loss, accuracy) on (x, y) in evaluation mode."""
        x = self._as_input(x)
        y = self._check_labels(y, len(x))
        total_loss, correct = 0.0, 0
        for start in range(0, len(x), batch_size):
            xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            z = self.forward(xb, training=False)
            total_loss += self.loss_fn.forward(z, yb) * len(yb)
            correct += int((z.argmax(1) == yb).sum())
        return total_loss / len(x) + self.l2_penalty(), correct / len(x)

    def fit(
        self,
        x,
        y,
        *,
        optimizer,
        epochs=10,
        batch_size=128,
        validation_data=None,
        shuffle=True,
        seed=0,
        lr_schedule=None,
        early_stopping_patience=None,
        monitor="val_accuracy",
        progress=True,
        on_epoch_end=None,
    ):
        """Mini-batch training; returns a Keras-style history dict (one list entry per epoch).

        Each epoch visits the batches in a fresh random order (``shuffle=False`` keeps the data
        order, as the original notebook did). ``lr_schedule(t)`` gives the learning rate at
        t = epoch + fraction of the epoch done. With ``early_stopping_patience`` training stops
        after that many epochs without improvement of ``monitor`` on the validation data, and the
        best weights are restored (``self.best_epoch`` says which epoch, counting from 0).
        ``on_epoch_end(epoch, network, logs)`` runs after each epoch; its time is not counted in
        ``history['time']``.
        """
        _check_positive("epochs", epochs)
        _check_positive("batch_size", batch_size)
        if monitor not in ("val_accuracy", "val_loss"):
            raise ValueError(f"monitor must be 'val_accuracy' or 'val_loss', got {monitor!r}")
        if early_stopping_patience is not None:
            _check_positive("early_stopping_patience", early_stopping_patience)
            if validation_data is None:
                raise ValueError("early stopping needs validation_data")
        x = self._as_input(x)
        y = self._check_labels(y, len(x))
        if validation_data is not None:
            x_val = self._as_input(validation_data[0])
            y_val = self._check_labels(validation_data[1], len(x_val))
        rng = np.random.default_rng(seed)
        n = len(x)
        steps = -(-n // batch_size)
        history = {"loss": [], "accuracy": [], "lr": [], "time": []}
        if validation_data is not None:
            history.update(val_loss=[], val_accuracy=[])
        best_params, since_best, self.best_epoch = None, 0, None
        bar = _progress_bar(epochs, progress)
        for epoch in range(epochs):
            t0 = time.perf_counter()
            order = rng.permutation(n) if shuffle else np.arange(n)
            history["lr"].append(lr_schedule(epoch) if lr_schedule else optimizer.lr)
            loss_sum, correct = 0.0, 0
            for step in range(steps):
                if lr_schedule is not None:
                    optimizer.lr = lr_schedule(epoch + step / steps)
                batch = order[step * batch_size : (step + 1) * batch_size]
                loss, n_correct = self.train_step(x[batch], y[batch], optimizer)
                if not math.isfinite(loss):
                    raise TrainingDivergedError(
                        f"training diverged: the loss became {loss} at epoch {epoch + 1}, "
                        f"step {step + 1}/{steps} (learning rate {optimizer.lr:g}); "
                        "try a smaller learning rate"
                    )
                loss_sum += loss * len(batch)
                correct += n_correct
            logs = {"loss": loss_sum / n + self.l2_penalty(), "accuracy": correct / n}
            if validation_data is not None:
                logs["val_loss"], logs["val_accuracy"] = self.evaluate(x_val, y_val)
            for key, value in logs.items():
                history[key].append(value)
            history["time"].append(time.perf_counter() - t0)
            bar.set_postfix(
                {k: f"{v:.4f}" for k, v in logs.items() if k != "accuracy"}, refresh=False
            )
            bar.update()  # one line per epoch
            if on_epoch_end is not None:
                on_epoch_end(epoch, self, logs)
            if validation_data is not None:  # early stopping: remember the best epoch's weights
                scores = (
                    history[monitor] if monitor == "val_accuracy" else -np.array(history[monitor])
                )
                if int(np.argmax(scores)) == epoch:
                    self.best_epoch, since_best = epoch, 0
                    if early_stopping_patience is not None:
                        best_params = {k: v.copy() for k, v in self.params.items()}
                else:
                    since_best += 1
                    if (
                        early_stopping_patience is not None
                        and since_best >= early_stopping_patience
                    ):
                        break
        bar.close()
        if best_params is not None:  # restore the best weights
            for k, v in self.params.items():
                v[...] = best_params[k]
        return history

    def train_step(self, x, y, optimizer):
        """One mini-batch: forward, loss, backward, optimizer step; returns (loss, number correct)."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # checked by fit
            z = self.forward(x, training=True)
            correct = int(np.count_nonzero(z.argmax(axis=1) == y))
            loss = self.loss_fn.forward(z, y)
            if math.isfinite(loss):
                self.backward()
                optimizer.step(self.params, self.grads)
        return loss, correct

    def save_weights(self, path):
        """Save every parameter to an .npz file (plain arrays, no pickle)."""
        path = Path(path)
        np.savez(path, **self.params)
        return path if path.suffix == ".npz" else path.with_suffix(path.suffix + ".npz")

    def load_weights(self, path):
        """Load parameters saved by ``save_weights``; names and shapes must match exactly."""
        params = self.params
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in params if k not in f.files]
            extra = [k for k in f.files if k not in params]
            if missing or extra:
                raise ValueError(
                    f"{path}: parameters do not match the network: missing {missing}, "
                    f"unexpected {extra}"
                )
            arrays = {k: f[k] for k in params}
        for k, v in params.items():
            if arrays[k].shape != v.shape:
                raise ValueError(
                    f"{path}: parameter {k!r} has shape {arrays[k].shape} in the file "
                    f"but {v.shape} in the network"
                )
        for k, v in params.items():
            v[...] = arrays[k]
        return self


def _progress_bar(epochs, enabled):
    """A tqdm bar over epochs (or a silent stand-in when disabled)."""
    if enabled:  # plain text bar: it also reads well in a saved notebook (no widget state needed)
        from tqdm import tqdm

        return tqdm(total=epochs, unit="epoch", leave=True)
    return _NoBar()


class _NoBar:
    """Does nothing; stands in for a disabled progress bar."""

    def set_postfix(self, *args, **kwargs):
        """Ignore the postfix."""

    def update(self, *args):
        """Ignore the update."""

    def close(self):
        """Nothing to close."""


def mlp(
    sizes=(784, 512, 10),
    *,
    dropout=0.0,
    input_dropout=0.0,
    weight_decay=0.0,
    label_smoothing=0.0,
    init="he",
    dtype=np.float32,
    seed=0,
):
    """Build Dense-ReLU(-Dropout) blocks for the given layer sizes, ending in Dense logits."""
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least an input and an output size, got {sizes!r}")
    rng = np.random.default_rng(seed)
    layers = [Dropout(input_dropout, rng=rng)] if input_dropout else []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(Dense(n_in, n_out, rng=rng, init=init, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(ReLU())
            if dropout:
                layers.append(Dropout(dropout, rng=rng))
    return Network(layers, weight_decay=weight_decay, label_smoothing=label_smoothing)


# The original notebook's settings, reproduced as the "before" row.
ORIGINAL = {
    "sizes": (784, 128, 10),
    "init": "small_normal",
    "dtype": "float64",
    "optimizer": "SGD",
    "lr": 0.01,
    "batch_size": 32,
    "epochs": 10,
    "shuffle": False,
    "val_fraction": 0.2,
}

# The improved network ("after"), chosen on the validation split.
IMPROVED = {
    "sizes": (784, 800, 800, 10),
    "dropout": 0.4,
    "input_dropout": 0.0,
    "label_smoothing": 0.1,
    "weight_decay": 5e-5,
    "dtype": "float32",
    "optimizer": "Adam",
    "lr": 1e-3,
    "warmup_epochs": 0,
    "batch_size": 128,
    "epochs": 15,
    "early_stopping_patience": 5,
    "monitor": "val_loss",
    "shuffle": True,
    "val_fraction": 0.1,
}


def original_network(seed=0):
    """The original notebook's network: 784-128-10, randn * 0.01 weights, float64."""
    return mlp(ORIGINAL["sizes"], init=ORIGINAL["init"], dtype=ORIGINAL["dtype"], seed=seed)


def train_original(x, y, validation_data=None, *, seed=0, epochs=None, progress=True):
    """Train the original network as the original notebook did; returns (network, history)."""
    net = original_network(seed)
    history = net.fit(
        x,
        y,
        optimizer=SGD(ORIGINAL["lr"]),
        epochs=epochs or ORIGINAL["epochs"],
        batch_size=ORIGINAL["batch_size"],
        shuffle=ORIGINAL["shuffle"],
        validation_data=validation_data,
        seed=seed,
        progress=progress,
    )
    return net, history


def improved_network(seed=0):
    """The improved network: He init, dropout, label smoothing, float32 (settings in IMPROVED)."""
    c = IMPROVED
    return mlp(
        c["sizes"],
        dropout=c["dropout"],
        input_dropout=c["input_dropout"],
        weight_decay=c["weight_decay"],
        label_smoothing=c["label_smoothing"],
        dtype=c["dtype"],
        seed=seed,
    )


def train_improved(x, y, validation_data, *, seed=0, epochs=None, progress=True, on_epoch_end=None):
    """Train the improved network: Adam, warm-up + cosine schedule, early stopping; (network, history)."""
    c = IMPROVED
    epochs = epochs or c["epochs"]
    net = improved_network(seed)
    history = net.fit(
        x,
        y,
        optimizer=Adam(c["lr"]),
        epochs=epochs,
        batch_size=c["batch_size"],
        validation_data=validation_data,
        shuffle=c["shuffle"],
        seed=seed,
        lr_schedule=cosine_schedule(c["lr"], epochs, warmup=min(c["warmup_epochs"], epochs / 2)),
        early_stopping_patience=c["early_stopping_patience"],
        monitor=c["monitor"],
        progress=progress,
        on_epoch_end=on_epoch_end,
    )
    return net, history


# --------------------------------------------------------------------------------------------
# Optimizers: step(params, grads) updates every parameter in place.
# --------------------------------------------------------------------------------------------


class SGD:
    """Plain mini-batch gradient descent: W <- W - lr * dW."""

    def __init__(self, lr=0.01):
        _check_finite_positive("learning rate", lr)
        self.lr = lr

    def step(self, params, grads):
        """Update every parameter in place."""
        for k, W in params.items():
            W -= self.lr * grads[k]


class Momentum:
    """SGD with momentum: v <- mu * v + dW, W <- W - lr * v (v is a decaying sum of past gradients)."""

    def __init__(self, lr=0.01, momentum=0.9):
        _check_finite_positive("learning rate", lr)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.lr, self.momentum = lr, momentum
        self.v = {}

    def step(self, params, grads):
        """Update every parameter in place."""
        for k, W in params.items():
            if k not in self.v:
                self.v[k] = np.zeros_like(W)
            v = self.v[k]
            v *= self.momentum
            v += grads[k]
            W -= self.lr * v


class Adam:
    """Adam: running means m of dW and v of dW**2, bias-corrected; W <- W - lr * m_hat / (sqrt(v_hat) + eps).

    m and v start at zero, so after t steps they are too small by the factors
    c1 = 1 - beta1**t and c2 = 1 - beta2**t; m_hat = m / c1 and v_hat = v / c2 undo that
    (without it the first steps would be far too large: v is tiny, m less so).
    """

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        _check_finite_positive("learning rate", lr)
        for name, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= beta < 1:
                raise ValueError(f"{name} must be in [0, 1), got {beta!r}")
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.t = 0
        self.m, self.v, self._buf = {}, {}, {}

    def step(self, params, grads):
        """Update every parameter in place."""
        self.t += 1
        c1, c2 = 1 - self.beta1**self.t, 1 - self.beta2**self.t
        # m_hat / (sqrt(v_hat) + eps) == (sqrt(c2) / c1) * m / (sqrt(v) + eps * sqrt(c2)):
        # the same step, with the corrections folded into two scalars instead of two array passes.
        lr_t = self.lr * math.sqrt(c2) / c1
        eps_t = self.eps * math.sqrt(c2)
        for k, W in params.items():
            if k not in self.m:  # first step: moments start at zero
                self.m[k], self.v[k] = np.zeros_like(W), np.zeros_like(W)
                self._buf[k] = np.empty(min(W.size, BLOCK), W.dtype)
            arrays = [a.reshape(-1) for a in (W, grads[k], self.m[k], self.v[k])]
            for start in range(0, W.size, BLOCK):
                W_, dW, m, v = (a[start : start + BLOCK] for a in arrays)
                self._update(W_, dW, m, v, self._buf[k][: len(W_)], lr_t, eps_t)

    def _update(self, W, dW, m, v, buf, lr_t, eps_t):
        """The Adam update of one block of numbers, in place (buf is scratch space)."""
        b1, b2 = self.beta1, self.beta2
        m *= b1  # m = beta1 * m + (1 - beta1) * dW
        m += np.multiply(dW, 1 - b1, out=buf)
        v *= b2  # v = beta2 * v + (1 - beta2) * dW**2
        np.multiply(dW, dW, out=buf)
        v += np.multiply(buf, 1 - b2, out=buf)
        np.sqrt(v, out=buf)  # W -= lr_t * m / (sqrt(v) + eps_t)
        buf += eps_t
        np.divide(m, buf, out=buf)
        buf *= lr_t
        W -= buf


# --------------------------------------------------------------------------------------------
# Learning-rate schedules: functions of t = epoch + fraction of the epoch done.
# --------------------------------------------------------------------------------------------


def cosine_schedule(lr, epochs, *, warmup=0.0, min_lr=0.0) -> Callable[[float], float]:
    """Linear warm-up for ``warmup`` epochs, then cosine decay from lr to min_lr at ``epochs``."""
    _check_finite_positive("learning rate", lr)
    _check_positive("epochs", epochs)

    def schedule(t):
        if t < warmup:
            return lr * (t + 1e-3) / warmup
        progress = min(1.0, (t - warmup) / max(epochs - warmup, 1e-12))
        return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * progress))

    return schedule


def step_schedule(lr, *, drop=0.5, every=5) -> Callable[[float], float]:
    """Multiply the learning rate by ``drop`` every ``every`` epochs."""
    _check_finite_positive("learning rate", lr)
    _check_positive("every", every)

    def schedule(t):
        return lr * drop ** int(t // every)

    return schedule


# --------------------------------------------------------------------------------------------
# Gradient check: compare backprop with central finite differences.
# --------------------------------------------------------------------------------------------


def relative_error(a, b):
    """||a - b|| / (||a|| + ||b||): 0 for identical arrays, about 1 for unrelated ones."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def numerical_gradient(f, W, eps=1e-6):
    """Central differences (f(W + eps) - f(W - eps)) / (2 eps), one entry of W at a time."""
    grad = np.zeros_like(W)
    for i in np.ndindex(W.shape):
        old = W[i]
        W[i] = old + eps
        f_plus = f()
        W[i] = old - eps
        f_minus = f()
        W[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def gradient_check(network, x, y, eps=1e-6):
    """Relative error between backprop and finite differences for every parameter (float64)."""
    if network.dtype != np.float64:
        raise ValueError(f"gradient check needs a float64 network, got {network.dtype}")
    x = network._as_input(x)
    y = network._check_labels(y, len(x))
    network.loss(x, y)
    network.backward()
    analytic = {k: g.copy() for k, g in network.grads.items()}
    return {
        k: relative_error(analytic[k], numerical_gradient(lambda: network.loss(x, y), W, eps))
        for k, W in network.params.items()
    }
