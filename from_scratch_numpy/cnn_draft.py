"""DRAFT (issue 30) of the NumPy notebook's "CNN by hand" cells, until issue 26's restructuring
lands: the code below is the text of the section's `#| export` cells, plus a stand-in for the
generalised Network and gradient_check (today's collect Dense layers only).

Images are (N, H, W, C), channels last as in Keras. Convolution is Dense on every image patch
(im2col); its backward pass uses the transpose of im2col (col2im).
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from from_scratch_numpy import numpy_net as nn
from from_scratch_numpy.numpy_net import Dense, Dropout, ReLU


# ---------------------------------------------------------------- draft-only: today's Network
# collects Dense layers only (isinstance checks); issue 26 generalises it. Until then:
class Network(nn.Network):
    """nn.Network for every layer that has parameters (W decayed, b not)."""

    def l2_penalty(self) -> float:
        weights = [layer.W for layer in self.layers if hasattr(layer, "W")]
        return 0.5 * self.weight_decay * sum(float(np.sum(W**2)) for W in weights)

    def backward(self) -> None:
        delta = self.loss_fn.backward()
        for layer in reversed(self.layers):
            delta = layer.backward(delta)
        for layer in self.layers:
            if hasattr(layer, "W"):
                layer.dW += self.weight_decay * layer.W

    def parameters(self):
        return [p for layer in self.layers if hasattr(layer, "parameters") for p in layer.parameters()]


def gradient_check(network, x, y, h=1e-6) -> dict[str, float]:
    """nn.gradient_check for every layer with parameters."""
    network.loss(x, y, training=True)
    network.backward()
    dropouts = [layer for layer in network.layers if isinstance(layer, Dropout)]
    for layer in dropouts:
        layer.frozen = True
    errors = {}
    for i, layer in enumerate(network.layers):
        if hasattr(layer, "parameters"):
            for name, W, dW in (("W", layer.W, layer.dW.copy()), ("b", layer.b, layer.db.copy())):
                numeric = nn.numerical_gradient(lambda: network.loss(x, y, training=True), W, h)
                errors[f"{type(layer).__name__.lower()}{i}.{name}"] = nn.relative_error(dW, numeric)
    for layer in dropouts:
        layer.frozen = False
    return errors


# ---------------------------------------------------------------- the section's export cells

def im2col(a: np.ndarray, k: int) -> np.ndarray:
    """(N, H, W, C) -> (N, H-k+1, W-k+1, k*k*C): at (n, i, j) the k x k patch whose top-left
    pixel is (i, j), flattened in the order (row, column, channel)."""
    patches = sliding_window_view(a, (k, k), axis=(1, 2))  # (N, H', W', C, k, k): a view
    patches = patches.transpose(0, 1, 2, 4, 5, 3)  # (N, H', W', k, k, C)
    return patches.reshape(*patches.shape[:3], -1)  # the copy


def col2im(d_cols: np.ndarray, a_shape: tuple, k: int) -> np.ndarray:
    """The transpose of im2col: (N, H', W', k*k*C) -> (N, H, W, C); each pixel receives the sum
    of the gradients of the patch entries that were copies of it."""
    N, H_out, W_out, _ = d_cols.shape
    d_patches = d_cols.reshape(N, H_out, W_out, k, k, a_shape[3])
    d_a = np.zeros(a_shape, dtype=d_cols.dtype)
    for u in range(k):  # patch entry (u, v) was copied from the pixels shifted by (u, v)
        for v in range(k):
            d_a[:, u : u + H_out, v : v + W_out, :] += d_patches[:, :, :, u, v, :]
    return d_a

class Conv2D(Dense):
    """k x k convolution, stride 1: Dense's z = patch @ W + b on every patch, W (k*k*C_in, C_out)."""

    def __init__(self, n_in: int, n_out: int, k: int = 3, *, padding=0, rng=None, dtype=np.float32):
        super().__init__(k * k * n_in, n_out, rng=rng, dtype=dtype)  # He init, fan-in k*k*C_in
        self.k, self.padding = k, padding

    def forward(self, a_prev: np.ndarray, training: bool = False) -> np.ndarray:
        """z = im2col(a_prev) @ W + b, shape (N, H', W', C_out)."""
        p = self.padding
        a_prev = np.pad(a_prev, ((0, 0), (p, p), (p, p), (0, 0)))
        cols = im2col(a_prev, self.k)  # (N, H', W', k*k*C_in)
        self.a_shape, self.out_shape = a_prev.shape, cols.shape[:3]
        return super().forward(cols.reshape(-1, cols.shape[3])).reshape(*self.out_shape, -1)

    def backward(self, delta: np.ndarray) -> np.ndarray:
        """Dense's backward on the patches (dW = cols.T @ delta, db, delta @ W.T), then col2im."""
        d_cols = super().backward(delta.reshape(-1, delta.shape[3]))
        d_a = col2im(d_cols.reshape(*self.out_shape, -1), self.a_shape, self.k)
        p = self.padding
        return d_a[:, p : d_a.shape[1] - p, p : d_a.shape[2] - p]  # the border: no gradient

class MaxPool2D:
    """2x2 max-pooling, stride 2; backward sends delta to each window's argmax."""

    def forward(self, a_prev: np.ndarray, training: bool = False) -> np.ndarray:
        """a[n, i, j, c] = max of a_prev[n, 2i:2i+2, 2j:2j+2, c]; remembers the argmax masks."""
        N, H, W, C = self.a_shape = a_prev.shape
        H2, W2 = H // 2 * 2, W // 2 * 2
        corners = [a_prev[:, u:H2:2, v:W2:2] for u in (0, 1) for v in (0, 1)]
        a = np.maximum(np.maximum(corners[0], corners[1]), np.maximum(corners[2], corners[3]))
        self.masks, taken = [], np.zeros(a.shape, dtype=bool)
        for corner in corners:  # the first corner equal to the max is the argmax
            mask = (corner == a) & ~taken
            taken |= mask
            self.masks.append(mask)
        return a

    def backward(self, delta: np.ndarray) -> np.ndarray:
        """delta at each window's argmax, 0 at its three other pixels."""
        N, H, W, C = self.a_shape
        H2, W2 = H // 2 * 2, W // 2 * 2
        d_a = np.zeros(self.a_shape, dtype=delta.dtype)
        for (u, v), mask in zip([(0, 0), (0, 1), (1, 0), (1, 1)], self.masks, strict=True):
            d_a[:, u:H2:2, v:W2:2] = delta * mask
        return d_a

class Reshape:
    """Reshape each example, e.g. rows of 784 pixels to (28, 28, 1) images; backward undoes it."""
    def __init__(self, shape: tuple):
        self.shape = tuple(shape)

    def forward(self, a: np.ndarray, training: bool = False) -> np.ndarray:
        self.in_shape = a.shape
        return a.reshape(len(a), *self.shape)

    def backward(self, delta: np.ndarray) -> np.ndarray:
        return delta.reshape(self.in_shape)


class Flatten(Reshape):
    """(N, H, W, C) feature maps -> (N, H*W*C) rows for a Dense layer."""
    def __init__(self):
        super().__init__((-1,))

def cnn(filters=(16, 32), *, padding=1, hidden=128, dropout=0.25, weight_decay=0.0,
        label_smoothing=0.0, image_shape=(28, 28, 1), n_classes=10, dtype=np.float32, seed=0):
    """Rows -> images; per filter count: 3x3 Conv2D, ReLU, 2x2 MaxPool2D; Flatten;
    Dense(hidden), ReLU, Dropout (hidden=0: none); Dense logits."""
    rng = np.random.default_rng(seed)
    layers: list = [Reshape(image_shape)]
    H, W, C = image_shape
    for n_out in filters:
        layers += [Conv2D(C, n_out, 3, padding=padding, rng=rng, dtype=dtype), ReLU(), MaxPool2D()]
        H, W, C = (H - 2 + 2 * padding) // 2, (W - 2 + 2 * padding) // 2, n_out
    layers.append(Flatten())
    n = H * W * C
    if hidden:
        layers += [Dense(n, hidden, rng=rng, dtype=dtype), ReLU()]
        layers += [Dropout(dropout, rng=rng)] if dropout else []
        n = hidden
    layers.append(Dense(n, n_classes, rng=rng, dtype=dtype))
    return Network(layers, weight_decay=weight_decay, label_smoothing=label_smoothing)
