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
