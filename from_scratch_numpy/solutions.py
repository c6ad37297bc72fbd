"""Reference solutions to the NumPy notebook's exercises (try first!) and the checks its check
cells run. A check prints "not attempted yet" for code still to be written (and returns None),
otherwise "Correct: ..." or "Not yet right: ..." (and returns True or False)."""

import numpy as np
from sklearn.metrics import accuracy_score
from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

from from_scratch_numpy import numpy_net as nn


class LeakyReLU:
    """Exercise 1: A = Z where Z > 0, alpha * Z elsewhere; the gradient is 1 or alpha."""

    alpha = 0.01

    def forward(self, Z, training=False):
        self.Z = Z
        return np.where(Z > 0, Z, self.alpha * Z)

    def backward(self, delta):
        return delta * np.where(self.Z > 0, 1.0, self.alpha)


class Tanh:
    """Exercise 2: A = tanh(Z); dA/dZ = 1 - tanh(Z)**2 = 1 - A**2, from what forward kept."""

    def forward(self, Z, training=False):
        self.A = np.tanh(Z)
        return self.A

    def backward(self, delta):
        return delta * (1 - self.A**2)


class RMSprop:
    """Exercise 3: s <- rho * s + (1 - rho) * g**2, W <- W - lr * g / (sqrt(s) + eps)."""

    def __init__(self, lr=1e-3, rho=0.9, eps=1e-8):
        self.lr, self.rho, self.eps, self.s = lr, rho, eps, []

    def step(self, parameters):
        if not self.s:
            self.s = [np.zeros_like(W) for W, _ in parameters]
        for i, (W, dW) in enumerate(parameters):
            self.s[i] = self.rho * self.s[i] + (1 - self.rho) * dW**2
            W -= self.lr * dW / (np.sqrt(self.s[i]) + self.eps)


def confusion_matrix_by_hand(y_true, y_pred, n_classes):
    """Exercise 4: C[i, j] = number of examples of class i predicted as class j."""
    C = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(C, (y_true, y_pred), 1)
    return C


def accuracy_from_confusion(C):
    """Exercise 4: the fraction of examples on the diagonal."""
    return np.trace(C) / C.sum()


NOT_ATTEMPTED = "not attempted yet: write your code in the cell above, run it, then run this cell again"


def _verdict(name: str, problem: str | None, what: str) -> bool:
    """Print what is wrong, or that the code is right (``problem`` is None) and what that means."""
    print(f"{name}: Not yet right: {problem}" if problem else f"{name}: Correct: {what}.")
    return problem is None


def _attempted(name: str, *results) -> bool:
    """False (and says so) while any of ``results`` is None: the exercise's ``...`` is still there."""
    if any(r is None for r in results):
        print(f"{name}: {NOT_ATTEMPTED}")
        return False
    return True


def _check_activation(name, cls, forward, derivative) -> bool | None:
    """Values and gradient of an activation layer, then a gradient check inside a network."""
    z = np.array([[-2.0, -0.5, -1e-3, 0.5, 3.0]])
    layer = cls()
    out = layer.forward(z.copy(), training=True)
    back = layer.backward(np.ones_like(z)) if out is not None else None
    if not _attempted(name, out, back):
        return None
    what = f"{name} gives the right values and passes the gradient check inside a network"
    if not np.allclose(np.asarray(out, dtype=float), forward(z)):
        return _verdict(name, f"forward({z.tolist()}) gave {np.asarray(out).tolist()}", what)
    if not np.allclose(np.asarray(back, dtype=float), derivative(z)):
        expected = np.round(derivative(z), 4).tolist()
        return _verdict(name, f"backward(ones) gave {np.asarray(back).tolist()}, expected {expected}", what)
    rng = np.random.default_rng(0)
    layers = [nn.Dense(6, 5, rng=rng, dtype=float), cls(), nn.Dense(5, 3, rng=rng, dtype=float)]
    layers[0].b += 0.1
    errors = nn.gradient_check(nn.Network(layers), rng.normal(size=(8, 6)), rng.integers(0, 3, 8))
    worst = max(errors.values())
    return _verdict(name, f"gradient check: relative error {worst:.2g}" if worst > 1e-7 else None, what)


def check_leaky_relu(cls) -> bool | None:
    """Exercise 1: a LeakyReLU class (alpha from the class, 0.01 by default)."""
    alpha = getattr(cls, "alpha", 0.01)
    return _check_activation(
        "LeakyReLU", cls, lambda z: np.where(z > 0, z, alpha * z), lambda z: np.where(z > 0, 1.0, alpha)
    )


def check_tanh(cls) -> bool | None:
    """Exercise 2: a tanh layer."""
    return _check_activation("Tanh", cls, np.tanh, lambda z: 1 - np.tanh(z) ** 2)


def check_rmsprop(cls) -> bool | None:
    """Exercise 3: five steps of an RMSprop class against the reference's, on two parameters."""
    rng = np.random.default_rng(0)
    yours_W = [rng.normal(size=(3, 4)), rng.normal(size=4)]
    ref_W = [W.copy() for W in yours_W]
    yours, reference = cls(lr=0.05, rho=0.8), RMSprop(lr=0.05, rho=0.8)
    for step in range(5):
        grads = [rng.normal(size=W.shape) * 10**step for W in yours_W]  # scales vary
        before = [W.copy() for W in yours_W]
        yours.step(list(zip(yours_W, grads, strict=True)))
        unchanged = all(np.array_equal(a, b) for a, b in zip(yours_W, before, strict=True))
        if step == 0 and unchanged:
            _attempted("RMSprop", None)
            return None
        reference.step(list(zip(ref_W, grads, strict=True)))
        if not all(np.allclose(a, b, rtol=1e-6) for a, b in zip(yours_W, ref_W, strict=True)):
            return _verdict("RMSprop", f"step {step + 1} differs from the reference's", "")
    return _verdict("RMSprop", None, "five steps equal the reference's")


def check_confusion_matrix(confusion_fn, accuracy_fn) -> bool | None:
    """Exercise 4: a confusion matrix and its accuracy against scikit-learn's, on random labels
    (class 4 never predicted, class 5 never present: the matrix still has every row and column)."""
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 5, 200), rng.integers(0, 6, 200)
    y_pred[y_pred == 4] = 0
    C = confusion_fn(y_true, y_pred, 6)
    acc = accuracy_fn(C) if C is not None else None
    if not _attempted("confusion matrix", C, acc):
        return None
    expected = sklearn_confusion_matrix(y_true, y_pred, labels=range(6))
    what = "equal to scikit-learn's confusion_matrix and accuracy_score"
    C = np.asarray(C)
    if C.shape != (6, 6):
        return _verdict("confusion matrix", f"shape {C.shape}, expected (6, 6) for 6 classes", what)
    if np.array_equal(C, expected.T) and not np.array_equal(C, expected):
        return _verdict("confusion matrix", "transposed: rows are the true classes", what)
    if not np.array_equal(C, expected):
        return _verdict("confusion matrix", "some counts differ from scikit-learn's", what)
    if not np.isclose(float(acc), accuracy_score(y_true, y_pred)):
        return _verdict("confusion matrix", f"accuracy {acc}, expected {accuracy_score(y_true, y_pred)}", what)
    return _verdict("confusion matrix", None, what)


def im2col_strided(A, k, stride):
    """Exercise 5: the patches that start every ``stride`` pixels, (N, H', W', k*k*C), with
    H' = (H - k) // stride + 1 (W' alike): every stride-th row and column of im2col's patches."""
    return nn.im2col(A, k)[:, ::stride, ::stride]


def col2im_strided(d_cols, A_shape, k, stride):
    """Exercise 5: the transpose of im2col_strided; entry (u, v) of the patch at output (i, j)
    was copied from pixel (i * stride + u, j * stride + v)."""
    N, H_out, W_out, _ = d_cols.shape
    d_patches = d_cols.reshape(N, H_out, W_out, k, k, A_shape[3])
    d_A = np.zeros(A_shape, dtype=d_cols.dtype)
    for u in range(k):
        for v in range(k):
            rows, cols = slice(u, u + stride * H_out, stride), slice(v, v + stride * W_out, stride)
            d_A[:, rows, cols, :] += d_patches[:, :, :, u, v, :]
    return d_A


STRIDED_CASES = [((2, 7, 7, 3), 3, 2), ((1, 8, 6, 2), 2, 2), ((2, 10, 9, 1), 3, 3), ((1, 5, 5, 2), 3, 1)]


def _strided_problem(im2col_fn, col2im_fn) -> str | None:
    """What is wrong with a strided im2col / col2im pair, or None."""
    rng = np.random.default_rng(0)
    for shape, k, stride in STRIDED_CASES:
        case = f"(A of shape {shape}, k={k}, stride={stride})"
        A = rng.normal(size=shape)
        expected = nn.im2col(A, k)[:, ::stride, ::stride]
        try:
            cols = np.asarray(im2col_fn(A, k, stride))
        except Exception as err:  # the learner's bug: say what happened, do not stop the notebook
            return f"im2col_strided raised {type(err).__name__}: {err} {case}"
        if cols.shape != expected.shape:
            return f"im2col_strided gave shape {cols.shape}, expected {expected.shape} {case}"
        if not np.allclose(cols, expected):
            return f"im2col_strided: the patches differ from im2col's every stride pixels {case}"
        c = rng.normal(size=expected.shape)
        try:
            d_A = np.asarray(col2im_fn(c, shape, k, stride))
        except Exception as err:
            return f"col2im_strided raised {type(err).__name__}: {err} {case}"
        if d_A.shape != shape:
            return f"col2im_strided gave shape {d_A.shape}, expected {shape} {case}"
        if not np.isclose(np.vdot(cols, c), np.vdot(A, d_A)):
            return f"col2im_strided is not the transpose: <im2col(A), c> != <A, col2im(c)> {case}"
    return None


def _returns_none(fn, *args) -> bool:
    """Whether ``fn(*args)`` returns None (its body still ``...``); a function that raises was written."""
    try:
        return fn(*args) is None
    except Exception:
        return False


def check_strided_conv(im2col_fn, col2im_fn) -> bool | None:
    """Exercise 5: strided patches against every stride-th of im2col's, and col2im_strided as
    their transpose (<im2col(A), c> = <A, col2im(c)> for random A and c), on several shapes."""
    empty = _returns_none(im2col_fn, np.zeros((1, 5, 5, 1)), 3, 2) or _returns_none(
        col2im_fn, np.zeros((1, 2, 2, 9)), (1, 5, 5, 1), 3, 2
    )
    if not _attempted("strided convolution", None if empty else True):
        return None
    what = "im2col's patches every stride pixels, and col2im_strided is their transpose"
    return _verdict("strided convolution", _strided_problem(im2col_fn, col2im_fn), what)
