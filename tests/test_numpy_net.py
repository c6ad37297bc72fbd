"""Tests for from_scratch_numpy/numpy_net.py, the lesson code: layers, loss, network, optimizers.

Gradients are checked against finite differences and TensorFlow's autodiff (with dropout, L2 and
label smoothing on), optimizer steps against the formulas computed by hand, and the public entry
points against bad input.
"""

import math

import numpy as np
import pytest
from conftest import blobs

from from_scratch_numpy import numpy_net as nn
from from_scratch_numpy import train as T


def small_float64_net(weight_decay=1e-2, label_smoothing=0.1, seed=0):
    """12-9-7-4 in float64 with dropout; biases made non-zero so that no ReLU input sits at its kink."""
    net = nn.mlp(
        (12, 9, 7, 4),
        dropout=0.2,
        weight_decay=weight_decay,
        label_smoothing=label_smoothing,
        dtype=np.float64,
        seed=seed,
    )
    rng = np.random.default_rng(seed + 100)
    for layer in net.layers:
        if isinstance(layer, nn.Dense):
            layer.b += rng.normal(0, 0.1, size=layer.b.shape)
    return net


# ----------------------------------------------------------------------------- gradients


def test_gradient_check_covers_every_parameter_with_dropout_l2_and_label_smoothing():
    net = small_float64_net(weight_decay=0.05, label_smoothing=0.2)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(16, 12)), rng.integers(0, 4, size=16)
    errors = nn.gradient_check(net, x, y)
    assert set(errors) == {"dense0.W", "dense0.b", "dense3.W", "dense3.b", "dense6.W", "dense6.b"}
    assert max(errors.values()) < 1e-7, errors
    masks = [layer.mask for layer in net.layers if isinstance(layer, nn.Dropout)]
    assert all((m == 0).any() and (m > 1).any() for m in masks)  # dropout really was active
    assert not any(layer.frozen for layer in net.layers if isinstance(layer, nn.Dropout))


def test_gradient_check_catches_a_wrong_backward(monkeypatch):
    """The check can fail: a ReLU backward that forgets its mask, or L2 left out of dW."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(16, 12)), rng.integers(0, 4, size=16)
    monkeypatch.setattr(nn.ReLU, "backward", lambda self, delta: delta)
    assert max(nn.gradient_check(small_float64_net(), x, y).values()) > 1e-3
    monkeypatch.undo()
    net = small_float64_net(weight_decay=0.05)
    original_backward = net.backward

    def backward_without_l2():
        wd, net.weight_decay = net.weight_decay, 0.0
        original_backward()
        net.weight_decay = wd

    net.backward = backward_without_l2
    errors = nn.gradient_check(net, x, y)
    assert errors["dense0.W"] > 1e-3 and errors["dense0.b"] < 1e-7


def test_relative_error():
    a = np.array([1.0, 2.0, 3.0])
    assert nn.relative_error(a, a) == 0.0
    assert nn.relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert nn.relative_error(a, -a) == pytest.approx(1.0)
    assert nn.relative_error(a, a * (1 + 1e-9)) < 1e-9


def test_numerical_gradient_of_a_quadratic():
    W = np.array([[1.0, -2.0], [0.5, 3.0]])
    grad = nn.numerical_gradient(lambda: float((W**2).sum()), W)
    np.testing.assert_allclose(grad, 2 * W, rtol=1e-8)
    np.testing.assert_array_equal(W, [[1.0, -2.0], [0.5, 3.0]])  # restored


@pytest.mark.tf
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_forward_and_gradients_match_tensorflow_autodiff(label_smoothing):
    import tensorflow as tf  # imported here: the other NumPy tests must not need it

    wd = 0.03
    net = small_float64_net(weight_decay=wd, label_smoothing=label_smoothing, seed=3)
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(32, 12)), rng.integers(0, 4, size=32)

    loss = net.loss(x, y, training=True)  # dropout active; keep its masks for TensorFlow
    net.backward()
    masks = [layer.mask for layer in net.layers if isinstance(layer, nn.Dropout)]
    dense = [layer for layer in net.layers if isinstance(layer, nn.Dense)]

    tf_W = [tf.Variable(layer.W) for layer in dense]
    tf_b = [tf.Variable(layer.b) for layer in dense]
    keras_loss = tf.keras.losses.CategoricalCrossentropy(
        from_logits=True, label_smoothing=label_smoothing, dtype="float64"
    )
    with tf.GradientTape() as tape:
        a = tf.constant(x)
        for W, b, mask in zip(tf_W[:-1], tf_b[:-1], masks, strict=False):
            a = tf.nn.relu(a @ W + b) * mask
        tf_z = a @ tf_W[-1] + tf_b[-1]
        l2 = sum(tf.reduce_sum(W**2) for W in tf_W)
        tf_loss = keras_loss(tf.one_hot(y, 4, dtype=tf.float64), tf_z) + 0.5 * wd * l2
    grads_W, grads_b = tape.gradient(tf_loss, [tf_W, tf_b])

    assert loss == pytest.approx(float(tf_loss), rel=1e-12)
    for i, layer in enumerate(dense):
        np.testing.assert_allclose(layer.dW, grads_W[i].numpy(), rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(layer.db, grads_b[i].numpy(), rtol=1e-10, atol=1e-13)

    a = x  # evaluation mode: no dropout; probabilities equal TensorFlow's softmax
    for W, b in zip(tf_W[:-1], tf_b[:-1], strict=False):
        a = tf.nn.relu(a @ W + b)
    tf_p = tf.nn.softmax(a @ tf_W[-1] + tf_b[-1]).numpy()
    z = net.forward(x)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(p / p.sum(axis=1, keepdims=True), tf_p, rtol=1e-12, atol=1e-15)


# ----------------------------------------------------------------------------- layers and loss


def test_softmax_cross_entropy_is_stable_and_its_gradient_is_p_minus_y_over_n():
    loss_fn = nn.SoftmaxCrossEntropy()
    z = np.array([[1e4, 0.0, -1e4], [0.0, 0.0, 0.0]])
    y = np.array([1, 2])
    loss = loss_fn.forward(z, y)
    assert loss == pytest.approx((1e4 + math.log(3)) / 2)
    p = np.array([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(loss_fn.backward(), (p - np.eye(3)[y]) / 2, atol=1e-12)


def test_label_smoothing_loss_and_gradient_by_hand():
    """t = (1 - eps) onehot + eps / K; L = mean over examples of -sum_k t_k log p_k; dL/dz = (p - t) / N."""
    eps, K = 0.3, 3
    z = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
    y = np.array([0, 1])
    loss_fn = nn.SoftmaxCrossEntropy(label_smoothing=eps)
    loss = loss_fn.forward(z, y)
    per_example, grads = [], []
    for zi, yi in zip(z, y, strict=False):
        p = [math.exp(v) / sum(math.exp(u) for u in zi) for v in zi]
        t = [(1 - eps) * (k == yi) + eps / K for k in range(K)]
        per_example.append(-sum(tk * math.log(pk) for tk, pk in zip(t, p, strict=False)))
        grads.append([(pk - tk) / len(z) for pk, tk in zip(p, t, strict=False)])
    assert loss == pytest.approx(sum(per_example) / 2, rel=1e-12)  # the mean, not the sum
    np.testing.assert_allclose(loss_fn.backward(), grads, rtol=1e-12)
    # uniform logits: log K whatever the smoothing
    assert loss_fn.forward(np.zeros((4, K)), np.array([0, 1, 2, 0])) == pytest.approx(math.log(K))


def test_dense_forward_backward_and_initialisation():
    rng = np.random.default_rng(0)
    layer = nn.Dense(500, 300, rng=rng)
    assert layer.W.dtype == np.float32 and layer.b.dtype == np.float32
    assert layer.W.std() == pytest.approx(math.sqrt(2 / 500), rel=0.02)
    assert nn.Dense(500, 300, rng=rng, init="small_normal").W.std() == pytest.approx(0.01, rel=0.02)
    small = nn.Dense(3, 2, rng=rng, dtype=np.float64)
    small.b[:] = [0.5, -1.0]
    a = rng.normal(size=(4, 3))
    np.testing.assert_allclose(small.forward(a), a @ small.W + small.b)
    delta = rng.normal(size=(4, 2))
    np.testing.assert_allclose(small.backward(delta), delta @ small.W.T)
    np.testing.assert_allclose(small.dW, a.T @ delta)
    np.testing.assert_allclose(small.db, delta.sum(axis=0))


def test_relu_forward_backward():
    relu = nn.ReLU()
    z = np.array([[-1.0, 0.0, 2.0]])
    np.testing.assert_array_equal(relu.forward(z), [[0.0, 0.0, 2.0]])
    np.testing.assert_array_equal(relu.backward(np.array([[5.0, 5.0, 5.0]])), [[0.0, 0.0, 5.0]])


def test_dropout_train_eval_and_frozen_mask():
    drop = nn.Dropout(0.25, rng=0)
    a = np.ones((400, 50), np.float32)
    np.testing.assert_array_equal(drop.forward(a, training=False), a)
    out = drop.forward(a, training=True)
    assert out.dtype == np.float32
    assert set(np.unique(out)) == {0.0, np.float32(1 / 0.75)}
    assert (out == 0).mean() == pytest.approx(0.25, abs=0.02)
    np.testing.assert_array_equal(drop.backward(np.ones_like(a)), out)  # the same units
    drop.frozen = True
    np.testing.assert_array_equal(drop.forward(a, training=True), out)
    drop.frozen = False
    assert not np.array_equal(drop.forward(a, training=True), out)


def test_preprocess_flattens_and_scales_images():
    images = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    x = nn.preprocess(images)
    assert x.dtype == np.float32 and x.shape == (1, 4)
    np.testing.assert_allclose(x, [[0.0, 1.0, 0.2, 0.4]], rtol=1e-6)
    assert nn.preprocess(images, np.float64).dtype == np.float64


# ----------------------------------------------------------------------------- network


def test_mlp_layer_sequence():
    names = [type(layer).__name__ for layer in nn.mlp((784, 16, 8, 10), dropout=0.3).layers]
    assert names == ["Dense", "ReLU", "Dropout", "Dense", "ReLU", "Dropout", "Dense"]
    names = [type(layer).__name__ for layer in nn.mlp((784, 16, 10)).layers]
    assert names == ["Dense", "ReLU", "Dense"]
    np.testing.assert_array_equal(
        nn.mlp((5, 4, 3), seed=1).layers[0].W, nn.mlp((5, 4, 3), seed=1).layers[0].W
    )


def test_parameters_are_the_layers_own_arrays_and_cannot_detach():
    net = nn.mlp((6, 5, 3), seed=0)
    pairs = net.parameters()
    assert len(pairs) == 4
    assert pairs[0][0] is net.layers[0].W and pairs[3][0] is net.layers[2].b
    x, y = blobs(8, d=6)
    net.layers[0].W = net.layers[0].W.copy()  # e.g. a learner replaces an array
    before = net.layers[0].W.copy()
    net.train_step(x, y, nn.SGD(0.1))
    assert not np.array_equal(net.layers[0].W, before)  # the new array was trained
    assert net.parameters()[0][1] is net.layers[0].dW


def test_train_step_is_forward_loss_backward_update():
    x, y = blobs(32, d=6)
    net = nn.mlp((6, 5, 3), weight_decay=0.1, seed=0)
    expected_loss = net.loss(x, y, training=True)
    before = [W.copy() for W, _ in net.parameters()]
    loss = net.train_step(x, y, nn.SGD(0.5))
    assert loss == pytest.approx(expected_loss, rel=1e-6)
    for W0, (W, dW) in zip(before, net.parameters(), strict=False):
        np.testing.assert_allclose(W, W0 - 0.5 * dW, rtol=1e-6, atol=1e-7)


def test_evaluate_is_the_loss_with_l2_and_the_accuracy():
    x, y = blobs(100, d=6)
    net = nn.mlp((6, 5, 3), weight_decay=0.5, label_smoothing=0.1, seed=0)
    loss, acc = T.evaluate(net, x, y, batch_size=7)
    ce = nn.SoftmaxCrossEntropy(0.1).forward(net.forward(x), y)
    penalty = 0.25 * sum(
        float(np.sum(layer.W.astype(np.float64) ** 2)) for layer in net.layers[::2]
    )
    assert penalty > 0.1
    assert loss == pytest.approx(ce + penalty, rel=1e-5)
    assert loss == pytest.approx(net.loss(x, y), rel=1e-5)
    assert acc == (net.predict(x) == y).mean()


def test_the_lessons_predict_is_forward_and_argmax():
    x, _ = blobs(50, d=6)
    net = nn.mlp((6, 5, 3), seed=0)
    np.testing.assert_array_equal(net.predict(x), net.forward(x).argmax(axis=1))


def test_predict_proba_and_predict_entry_points():
    x, _ = blobs(50, d=6)
    net = nn.mlp((6, 5, 3), seed=0)
    p = T.predict_proba(net, x, batch_size=7)
    assert p.shape == (50, 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(p, T.predict_proba(net, x), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(T.predict(net, x, batch_size=3), p.argmax(axis=1))
    np.testing.assert_array_equal(T.predict(net, x), net.predict(x))
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    big = nn.mlp((784, 4, 10), seed=0)
    np.testing.assert_allclose(T.predict_proba(big, images), T.predict_proba(big, images / 255))


# ----------------------------------------------------------------------------- optimizers


def _one_param(value=1.0, grad=0.5, dtype=np.float64):
    """A single (parameter, gradient) pair of one number each."""
    return [(np.array([value], dtype), np.array([grad], dtype))]


def test_sgd_step():
    pairs = _one_param()
    nn.SGD(0.1).step(pairs)
    assert pairs[0][0][0] == pytest.approx(1.0 - 0.1 * 0.5)


def test_momentum_two_steps_by_hand():
    opt = nn.Momentum(0.1, momentum=0.9)
    W, dW = np.array([1.0]), np.array([0.5])
    opt.step([(W, dW)])  # v = 0.5, W = 1 - 0.05
    dW[0] = -1.0
    opt.step([(W, dW)])  # v = 0.9 * 0.5 - 1 = -0.55, W = 0.95 + 0.055
    assert W[0] == pytest.approx(1.005)


def test_adam_two_steps_by_hand():
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    opt = nn.Adam(lr, b1, b2, eps)
    W, dW = np.array([1.0]), np.array([0.5])
    w, m, v = 1.0, 0.0, 0.0
    for t, g in enumerate([0.5, -1.0], start=1):
        dW[0] = g
        opt.step([(W, dW)])
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w -= lr * (m / (1 - b1**t)) / (math.sqrt(v / (1 - b2**t)) + eps)
        assert W[0] == pytest.approx(w, rel=1e-12)
    assert W[0] == pytest.approx(0.93661, abs=1e-5)  # 1 - 0.1 (first step) + 0.0366 (second)


@pytest.mark.parametrize("opt", [nn.SGD(0.1), nn.Momentum(0.1), nn.Adam(0.1)])
def test_optimizers_keep_float32_and_update_in_place(opt):
    pairs = _one_param(dtype=np.float32)
    W = pairs[0][0]
    opt.step(pairs)
    assert W.dtype == np.float32 and W[0] < 1.0


def test_cosine_schedule():
    s = nn.cosine_schedule(1.0, 10, min_lr=0.1)
    assert s(0) == pytest.approx(1.0)
    assert s(5) == pytest.approx(0.55)
    assert s(10) == pytest.approx(0.1) and s(12) == pytest.approx(0.1)
    w = nn.cosine_schedule(1.0, 10, warmup=2)
    assert w(1) == pytest.approx(0.5, rel=1e-2) and w(2) == pytest.approx(1.0)
    assert w(6) == pytest.approx(0.5)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("method", ["predict", "predict_proba", "evaluate"])
@pytest.mark.parametrize("batch_size", [-1, 0, 2.5, True, "8"])
def test_bad_batch_size_is_a_value_error(method, batch_size):
    x, y = blobs(10, d=6)
    net = nn.mlp((6, 5, 3))
    args = (x, y) if method == "evaluate" else (x,)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        getattr(T, method)(net, *args, batch_size=batch_size)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "evaluate"])
@pytest.mark.parametrize(
    ("x", "match"),
    [
        (np.full((3, 6), 200, dtype=np.int64), "integer images must be uint8"),
        (np.array([[0.1] * 5 + [np.nan]] * 3), "NaN or infinite"),
        (np.array([[0.1] * 5 + [np.inf]] * 3), "NaN or infinite"),
        (np.zeros((0, 6)), "non-empty"),
        (np.zeros(6), "non-empty batch of shape"),
        (np.zeros((3, 5)), "6 features per example"),
        (np.array([["a"] * 6] * 3), "numeric array"),
        (np.zeros((3, 6), dtype=complex), "numeric array"),
        (np.full((3, 6), 255.0), r"float images must be scaled to \[0, 1\].*0\.\.255"),
        (np.full((3, 6), 1.02), r"float images must be scaled to \[0, 1\]"),
        (np.full((3, 6), -0.5), r"float images must be scaled to \[0, 1\]"),
    ],
)
def test_bad_inputs_are_value_errors(method, x, match):
    net = nn.mlp((6, 5, 3))
    args = (x, np.zeros(len(x), int)) if method == "evaluate" else (x,)
    with pytest.raises(ValueError, match=match):
        getattr(T, method)(net, *args)


def test_bad_labels_and_networks_are_value_errors():
    x, y = blobs(10, d=6)
    net = nn.mlp((6, 5, 3))
    with pytest.raises(
        ValueError, match=r"labels must be in 0\.\.2 \(the last layer has 3 outputs\)"
    ):
        T.evaluate(net, x, y + 1)
    with pytest.raises(ValueError, match="labels must be integers"):
        T.evaluate(net, x, y.astype(float))
    with pytest.raises(ValueError, match=r"y must have shape \(10,\)"):
        T.evaluate(net, x, y[:5])
    with pytest.raises(ValueError, match="last layer must be a Dense layer"):
        T.predict(nn.Network([nn.ReLU()]), x)
    with pytest.raises(ValueError, match="no layers"):
        T.predict(nn.Network([]), x)
    with pytest.raises(
        ValueError, match="Dense layer 0 outputs 4 values but Dense layer 1 expects 5"
    ):
        T.predict(nn.Network([nn.Dense(6, 4), nn.ReLU(), nn.Dense(5, 3)]), x)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sizes": (784,)}, "sizes must be at least two positive integers"),
        ({"sizes": (784, 0, 10)}, "sizes must be at least two positive integers"),
        ({"sizes": (784, 2.5, 10)}, "sizes must be at least two positive integers"),
        ({"sizes": "784-10"}, "sizes must be"),
        ({"dropout": 1.0}, r"dropout rate must be a number in \[0, 1\)"),
        ({"dropout": -0.1}, r"dropout rate must be a number in \[0, 1\)"),
        ({"weight_decay": -1}, "weight_decay must be a finite number >= 0"),
        ({"weight_decay": float("nan")}, "weight_decay must be"),
        ({"label_smoothing": 1.0}, r"label_smoothing must be a number in \[0, 1\)"),
        ({"init": "zeros"}, "init must be 'he' or 'small_normal'"),
        ({"dtype": np.int32}, "dtype must be float32 or float64"),
        ({"dtype": "float16"}, "dtype must be float32 or float64"),
    ],
)
def test_impossible_network_settings_are_refused_by_the_recipe(kwargs, match):
    with pytest.raises(ValueError, match=match):
        T.replace(T.IMPROVED, **kwargs)
