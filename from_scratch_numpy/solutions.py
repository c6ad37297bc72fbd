"""Reference solutions to the NumPy notebook's exercises (try first!) and its check cells' checks:
each prints whether the code is right or what is wrong (on code not written yet: the reference)."""

import numpy as np

from from_scratch_numpy import numpy_net as nn


class LeakyReLU:
    """Exercise 1: a = z where z > 0, alpha * z elsewhere; the gradient is 1 or alpha."""

    alpha = 0.01

    def forward(self, z, training=False):
        self.z = z
        return np.where(z > 0, z, self.alpha * z)

    def backward(self, delta):
        return delta * np.where(self.z > 0, 1.0, self.alpha)


class Momentum:
    """Exercise 2: v <- mu * v + dW, W <- W - lr * v, one v per parameter."""

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum, self.v = lr, momentum, []

    def step(self, parameters):
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


def _verdict(problem: str | None, what: str) -> bool:
    """Print what is wrong, or that the code is right (``problem`` is None) and what that means."""
    print(f"Not yet right: {problem}" if problem else f"Correct: {what}.")
    return problem is None


def _not_written(name: str, check, reference) -> bool:
    """Say that the exercise is still open, and show the check passing on the reference."""
    print(f"{name} does nothing yet (not written?). The reference solution, checked the same way:")
    check(reference)
    return False


def check_leaky_relu(cls) -> bool:
    """Check a LeakyReLU class: values, gradient, and a gradient check inside a network."""
    if cls().forward(np.zeros((1, 2))) is None:
        return _not_written("LeakyReLU", check_leaky_relu, LeakyReLU)
    layer, z = cls(), np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]])
    what, alpha = "LeakyReLU passes the gradient check", getattr(layer, "alpha", 0.01)
    out = np.asarray(layer.forward(z))
    if not np.allclose(out, np.where(z > 0, z, alpha * z)):
        return _verdict(f"forward({z.tolist()}) gave {out.tolist()}", what)
    back = np.asarray(layer.backward(np.ones_like(z)))
    if back.dtype == object or not np.allclose(back, np.where(z > 0, 1.0, alpha)):
        return _verdict(f"backward(ones) gave {back.tolist()}, expected 1 or alpha", what)
    rng = np.random.default_rng(0)
    layers = [nn.Dense(6, 5, rng=rng, dtype=float), cls(), nn.Dense(5, 3, rng=rng, dtype=float)]
    layers[0].b += 0.1
    errors = nn.gradient_check(nn.Network(layers), rng.normal(size=(8, 6)), rng.integers(0, 3, 8))
    worst = max(errors.values())
    return _verdict(f"gradient check: relative error {worst:.2g}" if worst > 1e-7 else None, what)


def check_momentum(cls) -> bool:
    """Check a Momentum class against numpy_net.Momentum over five steps."""
    rng = np.random.default_rng(0)
    mine = [rng.normal(size=(3, 4)), rng.normal(size=4)]
    ref = [W.copy() for W in mine]
    yours, theirs = cls(lr=0.05, momentum=0.8), nn.Momentum(lr=0.05, momentum=0.8)
    for step in range(5):
        grads = [rng.normal(size=W.shape) for W in mine]
        yours.step(list(zip(mine, grads, strict=True)))
        if step == 0 and all(np.array_equal(a, b) for a, b in zip(mine, ref, strict=True)):
            return _not_written("MyMomentum.step", check_momentum, Momentum)
        theirs.step(list(zip(ref, grads, strict=True)))
        if not all(np.allclose(a, b) for a, b in zip(mine, ref, strict=True)):
            return _verdict(f"step {step + 1} differs from nn.Momentum's", "Momentum")
    return _verdict(None, "five steps equal nn.Momentum's")


def check_deeper_network(make) -> bool:
    """Check a network with three hidden layers: its stack, and that a few steps lower its loss."""
    net = make()
    if net is None:
        return _not_written("deeper_network", check_deeper_network, deeper_network)
    dense = [layer for layer in net.layers if isinstance(layer, nn.Dense)]
    what = f"{len(dense) - 1} hidden layers, and 20 steps lower its loss"
    if len(dense) < 4:
        return _verdict(f"{len(dense)} Dense layers: three hidden layers need 4", what)
    if dense[0].W.shape[0] != 784 or dense[-1].W.shape[1] != 10:
        return _verdict("the input must be 784 pixels and the output 10 logits", what)
    rng = np.random.default_rng(0)
    x, y = rng.random((4, 784)).astype(dense[0].W.dtype), rng.integers(0, 10, 4)
    first, optimizer = net.loss(x, y), nn.Adam(1e-3)
    for _ in range(20):
        net.train_step(x, y, optimizer)
    lowered = net.loss(x, y) < first
    return _verdict(None if lowered else "20 Adam steps on 4 images did not lower the loss", what)


def check_init_std(init_std_fn) -> bool:
    """Check that weights with std init_std(n_in) keep the activation scale through 8 ReLU layers."""
    if init_std_fn(256) is None:
        return _not_written("init_std", check_init_std, init_std)
    rng = np.random.default_rng(0)
    a, stds = rng.random((500, 256)), []
    for _ in range(8):
        a = np.maximum(a @ (rng.standard_normal((256, 256)) * init_std_fn(256)), 0)
        stds.append(a.std())
    ratio = stds[-1] / stds[0]
    scale = f"after 8 layers the scale is {ratio:.3g} times the first layer's"
    return _verdict(None if 0.5 < ratio < 2 else scale, scale)
