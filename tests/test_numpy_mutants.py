"""Behaviour tests of the NumPy lesson (numpy_net.py) that kill mutants the other tests let
through (`make mutate`); each names the behaviour, not the line, so it survives refactors.

The survivors left are equivalent mutants (no behaviour changes), e.g.: ``reshape(n, -2)`` (NumPy
infers any negative size); the ``training`` default of Dense/ReLU, which ignore it; ``u > rate``
for ``u >= rate`` in dropout (equal with probability ~2**-53); the default ``batch_size`` of
predict/evaluate (chunking only); optimizer state starting as None or a 0-d zero instead of []
or zeros (same values after the first step); ``frozen = None`` for False; ``zip(..., strict=...)``
over two slices of one length; another fixed default seed in ``mlp``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from from_scratch_numpy import numpy_net as nn
from from_scratch_numpy import train as T


def tiny_net(dtype=np.float32, **kwargs) -> nn.Network:
    return nn.mlp((5, 4, 3), dtype=dtype, seed=3, **kwargs)


def data(n=8, d=5, k=3, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return rng.random((n, d)).astype(dtype), rng.integers(0, k, n)


def cross_entropy(z: np.ndarray, y: np.ndarray) -> float:
    """Plain cross-entropy of logits z, computed in float64 independently of the lesson."""
    z = z.astype(np.float64)
    log_p = z - z.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(y)), y].mean())


# ----------------------------------------------------------------------------- defaults
def test_default_network_loss_is_plain_cross_entropy():
    """No weight decay and no label smoothing unless asked for (Network and mlp alike)."""
    x, y = data()
    for net in (tiny_net(), nn.Network(tiny_net().layers)):
        assert net.loss(x, y) == pytest.approx(cross_entropy(net.forward(x), y), rel=1e-5)


def test_loss_and_dropout_default_to_evaluation_mode():
    """Without training=True dropout is off: the loss is deterministic and equals evaluate's."""
    x, y = data()
    net = tiny_net(dropout=0.5)
    first, second = net.loss(x, y), net.loss(x, y)
    assert first == second == pytest.approx(T.evaluate(net, x, y)[0], rel=1e-6)
    a = np.ones((2, 6), np.float32)
    np.testing.assert_array_equal(nn.Dropout(0.5, rng=0).forward(a), a)


def test_optimizer_defaults_are_keras_defaults():
    """SGD 0.01, momentum 0.9 (lr 0.01), Adam 1e-3 with betas 0.9/0.999, as in Keras."""
    assert nn.SGD().lr == 0.01
    assert (nn.Momentum().lr, nn.Momentum().momentum) == (0.01, 0.9)
    adam = nn.Adam()
    assert (adam.lr, adam.beta1, adam.beta2, adam.eps) == (1e-3, 0.9, 0.999, 1e-8)


# ----------------------------------------------------------------------------- dtype and state
def test_a_float32_network_trains_in_float32():
    """Gradients and optimizer state keep the parameters' dtype and shape (no float64 upcast)."""
    x, y = data()
    net = tiny_net(label_smoothing=0.1, weight_decay=1e-3)
    for optimizer in (nn.Momentum(0.1), nn.Adam(0.1)):
        net.train_step(x, y, optimizer)
        assert net.loss_fn.backward().dtype == np.float32
        state = [*getattr(optimizer, "m", []), *optimizer.v]
        params = net.parameters()
        for (W, dW), s in zip(params * (len(state) // len(params)), state, strict=True):
            assert dW.dtype == s.dtype == W.dtype == np.float32
            assert dW.shape == s.shape == W.shape


def test_a_fresh_network_has_zero_gradients():
    """Before any backward pass each gradient is zero, so an optimizer step changes nothing."""
    net = tiny_net()
    before = [W.copy() for W, _ in net.parameters()]
    for W, dW in net.parameters():
        assert dW.shape == W.shape and dW.dtype == W.dtype and not dW.any()
    nn.SGD(0.1).step(net.parameters())
    for W0, (W, _) in zip(before, net.parameters(), strict=True):
        np.testing.assert_array_equal(W, W0)


# ----------------------------------------------------------------------------- softmax
def test_predict_proba_is_stable_for_large_logits_and_rows_far_apart():
    """Each row is shifted by its own maximum: logits of +-1000 in different rows are fine."""
    dense = nn.Dense(2, 2, dtype=np.float64)
    dense.W[:] = [[1000.0, 999.0], [-1000.0, -999.0]]
    net = nn.Network([dense])
    p = T.predict_proba(net, np.eye(2))
    e = 1 / (1 + math.e)  # softmax of logits one apart: e^-1 / (1 + e^-1)
    np.testing.assert_allclose(p, [[1 - e, e], [e, 1 - e]], rtol=1e-12)
    np.testing.assert_array_equal(net.predict(np.eye(2)), [0, 1])


# ----------------------------------------------------------------------------- schedule
def test_warmup_rises_linearly_from_almost_zero():
    lr, warmup = 0.1, 2.0
    schedule = nn.cosine_schedule(lr, 10, warmup=warmup)
    assert 0 < schedule(0.0) < 0.001 * lr
    for t in (0.5, 1.0, 1.5):
        assert schedule(t) == pytest.approx(lr * t / warmup, rel=1e-2)
    assert schedule(warmup) == pytest.approx(lr)


def test_cosine_over_a_fraction_of_an_epoch():
    schedule = nn.cosine_schedule(0.1, 0.5, min_lr=0.02)
    assert schedule(0.0) == pytest.approx(0.1)
    assert schedule(0.25) == pytest.approx(0.06)  # half-way: the mean of lr and min_lr
    assert schedule(0.5) == pytest.approx(0.02)
    assert schedule(3.0) == pytest.approx(0.02)


# ----------------------------------------------------------------------------- gradient check
def test_numerical_gradient_default_step_is_small():
    """Central differences of sum(sin W) give cos W to ~1e-10 with the default h (not exact
    for any h, unlike a quadratic)."""
    W = np.array([0.3, -1.2, 2.0])
    grad = nn.numerical_gradient(lambda: float(np.sin(W).sum()), W)
    np.testing.assert_allclose(grad, np.cos(W), rtol=1e-8)


def test_gradient_check_uses_the_step_it_is_given():
    """A coarse h makes the finite differences (and so the relative errors) clearly worse."""
    x, y = data(dtype=np.float64)
    net = nn.mlp((5, 4, 3), dtype=np.float64, seed=3)
    fine = max(nn.gradient_check(net, x, y).values())
    coarse = max(nn.gradient_check(net, x, y, h=0.5).values())
    assert fine < 1e-6 < 1e-3 < coarse
