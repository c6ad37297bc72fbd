"""Reference solutions to the NumPy notebook's exercises, and the checks its check cells run.

Each ``check_*`` function takes the learner's code, prints whether it is right (and why not), and
returns True or False. If the learner has not written anything yet (a body of ``...``), it says
so and runs the same check on the reference solution below, so that the check cell still shows
what passing looks like. Try the exercise before reading on.
"""

from __future__ import annotations

import numpy as np

from from_scratch_numpy import numpy_net as nn

# --------------------------------------------------------------------------------- solutions


class LeakyReLU:
    """Exercise 1: a = z where z > 0, alpha * z elsewhere; the gradient is 1 or alpha."""

    alpha = 0.01

    def forward(self, z, training=False):
        """a = z if z > 0 else alpha * z."""
        self.z = z
        return np.where(z > 0, z, self.alpha * z)

    def backward(self, delta):
        """delta_prev = delta * (1 if z > 0 else alpha)."""
        return delta * np.where(self.z > 0, 1.0, self.alpha)


class Momentum:
    """Exercise 2: v <- mu * v + dW, W <- W - lr * v, one v per parameter."""

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum = lr, momentum
        self.v = []

    def step(self, parameters):
        """Update every parameter in place."""
        if not self.v:
            self.v = [np.zeros_like(W) for W, _ in parameters]
        for i, (W, dW) in enumerate(parameters):
            self.v[i] = self.momentum * self.v[i] + dW
            W -= self.lr * self.v[i]


def deeper_network(dtype=np.float32, seed=0):
    """Exercise 3: three hidden layers, 784-256-128-64-10, He initialisation."""
    return nn.mlp((784, 256, 128, 64, 10), dtype=dtype, seed=seed)


def init_std(n_in):
    """Exercise 4: He initialisation, variance 2 / n_in (each ReLU halves the variance)."""
    return np.sqrt(2.0 / n_in)


# --------------------------------------------------------------------------------- checks


def _report(problems: list[str], what: str) -> bool:
    """Print a verdict: a tick, or the problems found."""
    if problems:
        print(f"Not yet right ({what}):")
        for p in problems:
            print("  -", p)
        return False
    print(f"Correct: {what}.")
    return True


def _not_written(name: str, reference_check) -> bool:
    """Say that the exercise is still open, and show the check passing on the reference."""
    print(f"{name} does nothing yet: not written? The reference solution in")
    print("from_scratch_numpy/solutions.py, checked the same way:")
    reference_check()
    return False


def _leaky_problems(cls) -> list[str]:
    """What is wrong with a LeakyReLU class, or [] if nothing."""
    layer = cls()
    z = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]])
    out = layer.forward(z)
    if out is None:
        return ["forward returns None"]
    alpha = getattr(layer, "alpha", 0.01)
    if not np.allclose(out, np.where(z > 0, z, alpha * z)):
        return [f"forward({z.tolist()}) gave {np.asarray(out).tolist()}"]
    back = layer.backward(np.ones_like(z))
    if back is None:
        return ["backward returns None"]
    if not np.allclose(back, np.where(z > 0, 1.0, alpha)):
        return [
            f"backward(ones) gave {np.asarray(back).tolist()}, expected 1 where z > 0, alpha elsewhere"
        ]
    rng = np.random.default_rng(0)
    net = nn.Network(
        [
            nn.Dense(6, 5, rng=rng, dtype=np.float64),
            cls(),
            nn.Dense(5, 3, rng=rng, dtype=np.float64),
        ]
    )
    net.layers[0].b += 0.1
    errors = nn.gradient_check(net, rng.normal(size=(8, 6)), rng.integers(0, 3, 8))
    if max(errors.values()) > 1e-7:
        return [f"gradient check failed: relative errors {errors}"]
    return []


def check_leaky_relu(cls) -> bool:
    """Check a LeakyReLU class: values, gradient, and a gradient check inside a network."""
    if cls().forward(np.zeros((1, 2))) is None:
        return _not_written("LeakyReLU", lambda: check_leaky_relu(LeakyReLU))
    return _report(_leaky_problems(cls), "LeakyReLU's forward and backward pass the gradient check")


def check_momentum(cls) -> bool:
    """Check a Momentum class against numpy_net.Momentum over five steps."""
    rng = np.random.default_rng(0)
    mine = [rng.normal(size=(3, 4)), rng.normal(size=4)]
    ref = [W.copy() for W in mine]
    yours, theirs = cls(lr=0.05, momentum=0.8), nn.Momentum(lr=0.05, momentum=0.8)
    for step in range(5):
        grads = [rng.normal(size=W.shape) for W in mine]
        yours.step(list(zip(mine, grads, strict=False)))
        if step == 0 and all(np.array_equal(a, b) for a, b in zip(mine, ref, strict=False)):
            return _not_written("MyMomentum.step", lambda: check_momentum(Momentum))
        theirs.step(list(zip(ref, grads, strict=False)))
        if not all(np.allclose(a, b) for a, b in zip(mine, ref, strict=False)):
            return _report(
                [f"after step {step + 1} the weights differ from nn.Momentum's"], "Momentum"
            )
    return _report([], "five steps equal nn.Momentum's")


def check_deeper_network(make) -> bool:
    """Check a network with three hidden layers: its stack, and that a few steps lower its loss."""
    net = make()
    if net is None:
        return _not_written("deeper_network", lambda: check_deeper_network(deeper_network))
    dense = [layer for layer in net.layers if isinstance(layer, nn.Dense)]
    problems = []
    if len(dense) < 4:
        problems.append(f"{len(dense)} Dense layers: three hidden layers need 4")
    if dense[0].W.shape[0] != 784 or dense[-1].W.shape[1] != 10:
        problems.append("the input must be 784 pixels and the output 10 logits")
    if not problems:
        rng = np.random.default_rng(0)
        x, y = rng.random((4, 784)), rng.integers(0, 10, 4)
        first = net.loss(x.astype(dense[0].W.dtype), y)
        optimizer = nn.Adam(1e-3)
        for _ in range(20):
            net.train_step(x.astype(dense[0].W.dtype), y, optimizer)
        if not net.loss(x.astype(dense[0].W.dtype), y) < first:
            problems.append("20 Adam steps on 4 images did not lower the loss")
    return _report(problems, f"{len(dense) - 1} hidden layers, and 20 steps lower its loss")


def check_init_std(init_std_fn) -> bool:
    """Check that weights with std init_std(n_in) keep the activation scale through 8 ReLU layers."""
    if init_std_fn(256) is None:
        return _not_written("init_std", lambda: check_init_std(init_std))
    rng = np.random.default_rng(0)
    a = rng.random((500, 256))
    first = None
    for _ in range(8):
        W = rng.standard_normal((a.shape[1], 256)) * init_std_fn(a.shape[1])
        a = np.maximum(a @ W, 0)
        first = a.std() if first is None else first
    ratio = a.std() / first
    return _report(
        []
        if 0.5 < ratio < 2
        else [f"after 8 layers the activations are {ratio:.3g} times the first layer's"],
        f"the scale after 8 layers is {ratio:.2f} times the first layer's",
    )
