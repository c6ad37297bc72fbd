"""A neural network for MNIST from scratch in NumPy, in the order the notebook explains it.

Arrays have shape (batch, features); names follow the math: z = a_prev @ W + b, a = max(z, 0),
p = softmax(z), delta = dL/dz, dW = a_prev.T @ delta, db = sum(delta), delta_prev = delta @ W.T.
Each layer's ``backward`` sits next to its ``forward``; ``Network.train_step`` is the algorithm:
forward, loss, backward, update. The fit loop and recipes are in ``train.py``; a faster version
of the same network in ``fast.py``.
"""

import math
from collections.abc import Callable

import numpy as np

from from_scratch_numpy.checks import check_batch_size, check_inputs, check_labels, check_mlp


def preprocess(images: np.ndarray, dtype=np.float32) -> np.ndarray:
    """Flatten uint8 images (N, 28, 28) to rows of 784 pixels scaled to [0, 1]."""
    return np.asarray(images).reshape(len(images), -1).astype(dtype) / np.asarray(255, dtype)


# Layers: forward(a, training) -> output, backward(delta) -> delta for the layer before.
class Dense:
    """Fully connected layer: z = a_prev @ W + b."""

    def __init__(self, n_in: int, n_out: int, *, rng=None, init: str = "he", dtype=np.float32):
        rng = np.random.default_rng(rng)
        # He: variance 2 / n_in keeps the scale of ReLU activations the same from layer to layer.
        scale = np.sqrt(2.0 / n_in) if init == "he" else 0.01  # "small_normal": randn * 0.01
        self.W = (rng.standard_normal((n_in, n_out)) * scale).astype(dtype)
        self.b = np.zeros(n_out, dtype=dtype)
        self.dW, self.db = np.zeros_like(self.W), np.zeros_like(self.b)

    def forward(self, a_prev: np.ndarray, training: bool = False) -> np.ndarray:
        """z = a_prev @ W + b (remembers a_prev for the backward pass)."""
        self.a_prev = a_prev
        return a_prev @ self.W + self.b

    def backward(self, delta: np.ndarray) -> np.ndarray:
        """dW = a_prev.T @ delta, db = sum of delta over the batch; returns delta @ W.T."""
        self.dW = self.a_prev.T @ delta
        self.db = delta.sum(axis=0)
        return delta @ self.W.T

    def parameters(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The (parameter, gradient) pairs: (W, dW) and (b, db)."""
        return [(self.W, self.dW), (self.b, self.db)]


class ReLU:
    """Rectified linear unit: a = max(z, 0); its derivative is 1 where z > 0, else 0."""

    def forward(self, z: np.ndarray, training: bool = False) -> np.ndarray:
        """a = max(z, 0)."""
        self.z = z
        return np.maximum(z, 0)

    def backward(self, delta: np.ndarray) -> np.ndarray:
        """delta_prev = delta * (z > 0)."""
        return delta * (self.z > 0)


class Dropout:
    """Inverted dropout: keep each unit with probability 1 - rate, scaled by 1/(1 - rate); ``frozen`` keeps the mask."""

    def __init__(self, rate: float, *, rng=None):
        self.rate, self.rng = rate, np.random.default_rng(rng)
        self.mask, self.frozen = None, False

    def forward(self, a: np.ndarray, training: bool = False) -> np.ndarray:
        """Training: a * mask, mask = (u >= rate) / (1 - rate) with u ~ U(0, 1). Evaluation: a."""
        if not training:
            return a
        if not self.frozen:
            self.mask = (self.rng.random(a.shape) >= self.rate).astype(a.dtype) / (1 - self.rate)
        return a * self.mask

    def backward(self, delta: np.ndarray) -> np.ndarray:
        """delta_prev = delta * mask: the same units as in the forward pass."""
        return delta * self.mask


class SoftmaxCrossEntropy:
    """Softmax and cross-entropy fused, with label smoothing eps: L = -mean_i sum_k t_ik log p_ik.

    The target is t = (1 - eps) * onehot(y) + eps / K. log p = (z - m) - log sum exp(z - m),
    m = max(z), never overflows, and the gradient of L with respect to z is simply (p - t) / N.
    """

    def __init__(self, label_smoothing: float = 0.0):
        self.label_smoothing = label_smoothing

    def forward(self, z: np.ndarray, y: np.ndarray) -> float:
        """The mean loss over the batch (remembers p and t for backward)."""
        eps, K = self.label_smoothing, z.shape[1]
        shifted = z - z.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.p = np.exp(log_p)
        self.t = (1 - eps) * np.eye(K, dtype=z.dtype)[y] + eps / K
        return float(-(self.t * log_p).sum(axis=1).mean())

    def backward(self) -> np.ndarray:
        """delta = dL/dz = (p - t) / N."""
        return (self.p - self.t) / len(self.p)


# The network: a stack of layers, the loss, L2 weight decay (lambda / 2) * sum(W**2).
class Network:
    """A stack of layers trained with softmax cross-entropy plus L2 weight decay on the weights."""

    def __init__(self, layers: list, *, weight_decay: float = 0.0, label_smoothing: float = 0.0):
        self.layers = list(layers)
        self.weight_decay = weight_decay
        self.loss_fn = SoftmaxCrossEntropy(label_smoothing)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Run the layers in order; returns the logits z of the last one."""
        a = x
        for layer in self.layers:
            a = layer.forward(a, training)
        return a

    def l2_penalty(self) -> float:
        """(lambda / 2) * sum of squared weights (biases are not decayed)."""
        weights = [layer.W for layer in self.layers if isinstance(layer, Dense)]
        return 0.5 * self.weight_decay * sum(float(np.sum(W**2)) for W in weights)

    def loss(self, x: np.ndarray, y: np.ndarray, training: bool = False) -> float:
        """Cross-entropy of the network's logits plus the L2 penalty."""
        return self.loss_fn.forward(self.forward(x, training), y) + self.l2_penalty()

    def backward(self) -> None:
        """Backpropagate delta through the layers in reverse; add lambda * W to each dW."""
        delta = self.loss_fn.backward()
        for layer in reversed(self.layers):
            delta = layer.backward(delta)
        for layer in self.layers:
            if isinstance(layer, Dense):
                layer.dW += self.weight_decay * layer.W

    def train_step(self, x: np.ndarray, y: np.ndarray, optimizer) -> float:
        """One mini-batch: forward and loss, backward, update. Returns the loss."""
        loss = self.loss(x, y, training=True)
        self.backward()
        optimizer.step(self.parameters())
        return loss

    def parameters(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Every (parameter, gradient) pair, read afresh from the layers at each call."""
        return [
            pair for layer in self.layers if isinstance(layer, Dense) for pair in layer.parameters()
        ]

    def predict_proba(self, x, batch_size: int = 4096) -> np.ndarray:
        """Class probabilities softmax(z), shape (N, K), in evaluation mode."""
        x, n = check_inputs(self, x), check_batch_size(batch_size)
        z = np.concatenate([self.forward(x[i : i + n]) for i in range(0, len(x), n)])
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, x, batch_size: int = 4096) -> np.ndarray:
        """The most probable class of each example."""
        return self.predict_proba(x, batch_size).argmax(axis=1)

    def evaluate(self, x, y, batch_size: int = 4096) -> tuple[float, float]:
        """(mean loss including the L2 penalty, accuracy) on (x, y), in evaluation mode."""
        x, batch_size = check_inputs(self, x), check_batch_size(batch_size)
        y = check_labels(self, y, len(x))
        total_loss, correct = 0.0, 0
        for i in range(0, len(x), batch_size):
            z = self.forward(x[i : i + batch_size])
            total_loss += self.loss_fn.forward(z, y[i : i + batch_size]) * len(z)
            correct += int(np.sum(z.argmax(axis=1) == y[i : i + batch_size]))
        return total_loss / len(x) + self.l2_penalty(), correct / len(x)


# Optimizers: step(parameters) updates every parameter in place from its gradient.
class SGD:
    """Gradient descent: W <- W - lr * dW."""

    def __init__(self, lr: float = 0.01):
        self.lr = lr

    def step(self, parameters: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """Update every parameter in place."""
        for W, dW in parameters:
            W -= self.lr * dW


class Momentum:
    """SGD with momentum: v <- mu * v + dW, W <- W - lr * v (v: a decaying sum of past gradients)."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9):
        self.lr, self.momentum = lr, momentum
        self.v: list[np.ndarray] = []

    def step(self, parameters: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """Update every parameter in place."""
        if not self.v:
            self.v = [np.zeros_like(W) for W, _ in parameters]
        for i, (W, dW) in enumerate(parameters):
            self.v[i] = self.momentum * self.v[i] + dW
            W -= self.lr * self.v[i]


class Adam:
    """Adam: m, v are running means of dW, dW**2; m_hat, v_hat undo their bias towards 0 (the start)."""

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.t = 0
        self.m: list[np.ndarray] = []
        self.v: list[np.ndarray] = []

    def step(self, parameters: list[tuple[np.ndarray, np.ndarray]]) -> None:
        """Update every parameter in place."""
        if not self.m:
            self.m = [np.zeros_like(W) for W, _ in parameters]
            self.v = [np.zeros_like(W) for W, _ in parameters]
        self.t += 1
        for i, (W, dW) in enumerate(parameters):
            self.m[i] = self.beta1 * self.m[i] + (1 - self.beta1) * dW
            self.v[i] = self.beta2 * self.v[i] + (1 - self.beta2) * dW**2
            m_hat = self.m[i] / (1 - self.beta1**self.t)
            v_hat = self.v[i] / (1 - self.beta2**self.t)
            W -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


def cosine_schedule(lr: float, epochs: float, *, warmup=0.0, min_lr=0.0) -> Callable:
    """The learning rate at t epochs: linear warm-up, then cosine decay from lr to min_lr at ``epochs``."""

    def schedule(t: float) -> float:
        """Learning rate at t = epoch + fraction of the epoch done."""
        if t < warmup:
            return lr * (t + 1e-3) / warmup
        progress = min(1.0, (t - warmup) / max(epochs - warmup, 1e-12))
        return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * progress))

    return schedule


# Gradient check: backprop against central finite differences.
def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / (||a|| + ||b||): 0 for identical arrays, about 1 for unrelated ones."""
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def numerical_gradient(f: Callable[[], float], W: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences (f(W + h) - f(W - h)) / (2h), one entry of W at a time."""
    grad = np.zeros_like(W)
    for i in np.ndindex(W.shape):
        old = W[i]
        W[i] = old + h
        f_plus = f()
        W[i] = old - h
        f_minus = f()
        W[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def gradient_check(network: Network, x: np.ndarray, y: np.ndarray, h=1e-6) -> dict[str, float]:
    """Relative error of backprop vs finite differences for each parameter (float64, training mode).

    The dropout masks drawn by the first forward pass stay frozen, so every loss sees one network.
    """
    network.loss(x, y, training=True)
    network.backward()
    dropouts = [layer for layer in network.layers if isinstance(layer, Dropout)]
    for layer in dropouts:
        layer.frozen = True
    errors = {}
    for i, layer in enumerate(network.layers):
        if isinstance(layer, Dense):
            for name, W, dW in (("W", layer.W, layer.dW.copy()), ("b", layer.b, layer.db.copy())):
                numeric = numerical_gradient(lambda: network.loss(x, y, training=True), W, h)
                errors[f"dense{i}.{name}"] = relative_error(dW, numeric)
    for layer in dropouts:
        layer.frozen = False
    return errors


def mlp(
    sizes, *, dropout=0, weight_decay=0, label_smoothing=0, init="he", dtype=np.float32, seed=0
) -> Network:
    """Dense-ReLU(-Dropout) blocks for the given layer sizes, ending in a Dense layer of logits."""
    check_mlp(sizes, dropout, weight_decay, label_smoothing, init, dtype)
    rng = np.random.default_rng(seed)
    layers: list = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [Dense(n_in, n_out, rng=rng, init=init, dtype=dtype), ReLU()]
        if dropout:
            layers.append(Dropout(dropout, rng=rng))
    layers = layers[: -2 if dropout else -1]  # the last Dense layer outputs the logits
    return Network(layers, weight_decay=weight_decay, label_smoothing=label_smoothing)
