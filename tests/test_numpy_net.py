"""Tests for from_scratch_numpy/numpy_net.py: the code the NumPy notebook displays."""

import math

import numpy as np
import pytest

from from_scratch_numpy import numpy_net as nn


def blobs(n=600, d=20, k=3, seed=0):
    """k well-separated Gaussian clusters in d dimensions (float32), a task a tiny MLP learns."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, size=(k, d))
    y = rng.integers(0, k, size=n)
    x = centers[y] + rng.normal(0, 1, size=(n, d))
    return x.astype(np.float32), y


def small_float64_net(weight_decay=1e-2, seed=0):
    """A small two-hidden-layer float64 network with dropout (eval mode ignores it)."""
    return nn.mlp(
        (12, 9, 7, 4), dropout=0.2, weight_decay=weight_decay, dtype=np.float64, seed=seed
    )


# ----------------------------------------------------------------------------- gradients


def test_gradient_check_every_parameter_below_1e_7():
    net = small_float64_net()
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(16, 12)), rng.integers(0, 4, size=16)
    errors = nn.gradient_check(net, x, y)
    assert (
        set(errors)
        == set(net.params)
        == {
            "dense0.W",
            "dense0.b",
            "dense3.W",
            "dense3.b",
            "dense6.W",
            "dense6.b",
        }
    )
    assert max(errors.values()) < 1e-7, errors


def test_gradient_check_needs_float64():
    net = nn.mlp((4, 3, 2))
    with pytest.raises(ValueError, match="float64"):
        nn.gradient_check(net, np.zeros((2, 4), np.float32), np.array([0, 1]))


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
def test_forward_and_gradients_match_tensorflow_autodiff():
    import tensorflow as tf  # imported here: the other NumPy tests must not need it

    wd = 0.03
    net = small_float64_net(weight_decay=wd, seed=3)
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(32, 12)), rng.integers(0, 4, size=32)

    # Our forward and backward in training mode (dropout active); keep the dropout masks.
    z = net.forward(x, training=True)
    loss = net.loss_fn.forward(z, y) + net.l2_penalty()
    net.backward()
    masks = [layer.mask for layer in net.layers if isinstance(layer, nn.Dropout)]
    assert all(m is not None for m in masks)

    # The same computation in TensorFlow, with the same weights and dropout masks.
    tf_params = {k: tf.Variable(v, dtype=tf.float64) for k, v in net.params.items()}
    with tf.GradientTape() as tape:
        a = tf.constant(x)
        a = tf.nn.relu(a @ tf_params["dense0.W"] + tf_params["dense0.b"]) * masks[0]
        a = tf.nn.relu(a @ tf_params["dense3.W"] + tf_params["dense3.b"]) * masks[1]
        tf_z = a @ tf_params["dense6.W"] + tf_params["dense6.b"]
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=tf_z)
        l2 = sum(tf.reduce_sum(tf_params[k] ** 2) for k in tf_params if k.endswith(".W"))
        tf_loss = tf.reduce_mean(ce) + 0.5 * wd * l2
    tf_grads = tape.gradient(tf_loss, tf_params)

    np.testing.assert_allclose(z, tf_z.numpy(), rtol=1e-12, atol=1e-12)
    assert loss == pytest.approx(float(tf_loss), rel=1e-12)
    for k, g in net.grads.items():
        np.testing.assert_allclose(g, tf_grads[k].numpy(), rtol=1e-10, atol=1e-13, err_msg=k)

    # Evaluation mode: probabilities equal TensorFlow's softmax without dropout.
    a = tf.nn.relu(x @ tf_params["dense0.W"] + tf_params["dense0.b"])
    a = tf.nn.relu(a @ tf_params["dense3.W"] + tf_params["dense3.b"])
    tf_p = tf.nn.softmax(a @ tf_params["dense6.W"] + tf_params["dense6.b"]).numpy()
    np.testing.assert_allclose(net.predict_proba(x), tf_p, rtol=1e-12, atol=1e-15)


# ----------------------------------------------------------------------------- layers


def test_softmax_cross_entropy_is_stable_and_its_gradient_is_p_minus_y_over_n():
    loss_fn = nn.SoftmaxCrossEntropy()
    z = np.array([[1e4, 0.0, -1e4], [0.0, 0.0, 0.0]])
    y = np.array([1, 2])
    loss = loss_fn.forward(z, y)
    assert math.isfinite(loss)
    assert loss == pytest.approx((1e4 + math.log(3)) / 2)
    p = np.array([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    expected = (p - np.eye(3)[y]) / 2
    np.testing.assert_allclose(loss_fn.backward(), expected, atol=1e-12)


def test_dropout_train_and_eval():
    drop = nn.Dropout(0.25, rng=0)
    a = np.ones((400, 50), np.float32)
    np.testing.assert_array_equal(drop.forward(a, training=False), a)
    out = drop.forward(a, training=True)
    assert out.dtype == np.float32
    kept = out != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(out[kept], 1 / 0.75)
    np.testing.assert_array_equal(a, 1)  # the input is not modified
    delta = np.full_like(a, 2.0)
    np.testing.assert_array_equal(drop.backward(delta), 2.0 * drop.mask)


def test_dense_init_and_dtypes():
    he = nn.Dense(784, 512, rng=0)
    assert he.W.dtype == np.float32 and he.b.dtype == np.float32
    assert he.W.std() == pytest.approx(math.sqrt(2 / 784), rel=0.02)
    np.testing.assert_array_equal(he.b, 0)
    small = nn.Dense(784, 128, rng=0, init="small_normal", dtype=np.float64)
    assert small.W.dtype == np.float64
    assert small.W.std() == pytest.approx(0.01, rel=0.02)


def test_original_network_configuration():
    net = nn.original_network(seed=0)
    assert [tuple(v.shape) for v in net.params.values()] == [(784, 128), (128,), (128, 10), (10,)]
    assert all(v.dtype == np.float64 for v in net.params.values())
    assert net.layers[0].W.std() == pytest.approx(0.01, rel=0.02)
    assert [type(layer).__name__ for layer in net.layers] == ["Dense", "ReLU", "Dense"]


def test_preprocess_flattens_and_scales_images():
    images = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    x = nn.preprocess(images)
    assert x.shape == (1, 4) and x.dtype == np.float32
    np.testing.assert_allclose(x, [[0.0, 1.0, 0.2, 0.4]], rtol=1e-6)
    assert nn.preprocess(images, np.float64).dtype == np.float64


# ----------------------------------------------------------------------------- optimizers


def _one_param():
    return {"W": np.array([1.0, -2.0, 0.5])}, {"W": np.array([0.5, 0.1, -0.3])}


def test_sgd_step():
    params, grads = _one_param()
    nn.SGD(lr=0.1).step(params, grads)
    np.testing.assert_allclose(params["W"], [0.95, -2.01, 0.53])


def test_momentum_two_steps():
    params, grads = _one_param()
    g1 = grads["W"].copy()
    opt = nn.Momentum(lr=0.1, momentum=0.9)
    opt.step(params, grads)
    np.testing.assert_allclose(params["W"], [1.0, -2.0, 0.5] - 0.1 * g1)
    g2 = np.array([0.2, -0.4, 0.1])
    opt.step(params, {"W": g2})
    v2 = 0.9 * g1 + g2
    np.testing.assert_allclose(params["W"], [1.0, -2.0, 0.5] - 0.1 * g1 - 0.1 * v2)


def test_adam_two_steps_with_bias_correction():
    params, grads = _one_param()
    W0, g1 = params["W"].copy(), grads["W"].copy()
    g2 = np.array([0.2, -0.4, 0.1])
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    opt = nn.Adam(lr=lr, beta1=b1, beta2=b2, eps=eps)

    opt.step(params, grads)
    # Step 1: m_hat = g1 and v_hat = g1**2, so each weight moves by almost exactly lr.
    W1 = W0 - lr * g1 / (np.abs(g1) + eps)
    np.testing.assert_allclose(params["W"], W1, rtol=1e-12)

    opt.step(params, {"W": g2})
    m = b1 * (1 - b1) * g1 + (1 - b1) * g2
    v = b2 * (1 - b2) * g1**2 + (1 - b2) * g2**2
    m_hat, v_hat = m / (1 - b1**2), v / (1 - b2**2)
    np.testing.assert_allclose(params["W"], W1 - lr * m_hat / (np.sqrt(v_hat) + eps), rtol=1e-12)


def test_optimizers_keep_float32():
    for opt in (nn.SGD(0.1), nn.Momentum(0.1), nn.Adam(0.1)):
        net = nn.mlp((6, 5, 3), seed=0)
        x, y = blobs(32, d=6)
        net.loss(x, y)
        net.backward()
        opt.step(net.params, net.grads)
        assert all(v.dtype == np.float32 for v in net.params.values())


def test_schedules():
    cos = nn.cosine_schedule(0.1, 10, min_lr=0.001)
    assert cos(0) == pytest.approx(0.1)
    assert cos(5) == pytest.approx(0.0505)
    assert cos(10) == pytest.approx(0.001)
    warm = nn.cosine_schedule(0.1, 10, warmup=2)
    assert warm(0) < 0.001 and warm(1) == pytest.approx(0.05, rel=1e-2) and warm(2) == 0.1
    step = nn.step_schedule(0.1, drop=0.5, every=3)
    assert [step(t) for t in (0, 2.9, 3, 6)] == [0.1, 0.1, 0.05, 0.025]


# ----------------------------------------------------------------------------- training


def test_tiny_fit_learns_and_history_is_keras_style():
    x, y = blobs(600)
    net = nn.mlp((20, 32, 3), dropout=0.1, weight_decay=1e-4, seed=0)
    hist = net.fit(
        x[:500],
        y[:500],
        optimizer=nn.Adam(1e-2),
        epochs=8,
        batch_size=32,
        validation_data=(x[500:], y[500:]),
        lr_schedule=nn.cosine_schedule(1e-2, 8),
        progress=False,
    )
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"):
        assert len(hist[key]) == 8, key
    assert hist["loss"][-1] < hist["loss"][0]
    assert hist["val_accuracy"][-1] > 0.95
    assert (net.predict(x[500:]) == y[500:]).mean() == hist["val_accuracy"][-1]
    assert all(v.dtype == np.float32 for v in net.params.values())


def test_early_stopping_restores_the_best_weights():
    rng = np.random.default_rng(1)  # random labels: the validation loss soon gets worse
    x, y = rng.normal(size=(400, 20)).astype(np.float32), rng.integers(0, 3, size=400)
    net = nn.mlp((20, 64, 3), seed=0)
    hist = net.fit(
        x[:300],
        y[:300],
        optimizer=nn.Adam(1e-2),
        epochs=30,
        batch_size=32,
        validation_data=(x[300:], y[300:]),
        early_stopping_patience=2,
        monitor="val_loss",
        progress=False,
    )
    assert len(hist["val_loss"]) < 30
    best = net.best_epoch
    assert hist["val_loss"][best] == min(hist["val_loss"])
    assert net.evaluate(x[300:], y[300:])[0] == pytest.approx(hist["val_loss"][best], rel=1e-5)


def test_fixed_seed_gives_bit_identical_runs():
    x, y = blobs(300)

    def run(seed):
        net = nn.mlp((20, 16, 3), dropout=0.3, input_dropout=0.1, seed=seed)
        hist = net.fit(
            x, y, optimizer=nn.Adam(1e-2), epochs=3, batch_size=32, seed=seed, progress=False
        )
        del hist["time"]
        return net, hist

    (a, ha), (b, hb), (c, _) = run(7), run(7), run(8)
    assert ha == hb
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert not np.array_equal(a.params["dense1.W"], c.params["dense1.W"])


def test_shuffle_false_keeps_data_order():
    x, y = blobs(96)
    nets = []
    for seed in (0, 1):  # with shuffle=False the fit seed does not matter
        net = nn.mlp((20, 8, 3), seed=0)
        net.fit(
            x,
            y,
            optimizer=nn.SGD(0.1),
            epochs=2,
            batch_size=32,
            shuffle=False,
            seed=seed,
            progress=False,
        )
        nets.append(net)
    np.testing.assert_array_equal(nets[0].params["dense0.W"], nets[1].params["dense0.W"])


def test_diverging_run_stops_with_a_clear_error():
    x, y = blobs(256)
    net = nn.mlp((20, 16, 3), seed=0)
    with pytest.raises(
        nn.TrainingDivergedError, match=r"diverged.*epoch \d+.*smaller learning rate"
    ):
        net.fit(x * 1e3, y, optimizer=nn.SGD(1e6), epochs=5, batch_size=32, progress=False)


def test_progress_bar_runs(capsys):
    x, y = blobs(64)
    net = nn.mlp((20, 8, 3), seed=0)
    net.fit(x, y, optimizer=nn.SGD(0.1), epochs=2, validation_data=(x, y), progress=True)
    assert "val_accuracy" in capsys.readouterr().err


# ----------------------------------------------------------------------------- save / load


def test_save_load_round_trip_reproduces_predictions_exactly(tmp_path):
    x, y = blobs(200)
    net = nn.mlp((20, 16, 3), seed=0)
    net.fit(x, y, optimizer=nn.Adam(1e-2), epochs=2, progress=False)
    path = net.save_weights(tmp_path / "weights.npz")
    with np.load(path, allow_pickle=False) as f:
        assert sorted(f.files) == sorted(net.params)
    other = nn.mlp((20, 16, 3), seed=99).load_weights(path)
    np.testing.assert_array_equal(other.predict_proba(x), net.predict_proba(x))
    np.testing.assert_array_equal(other.predict(x), net.predict(x))


def test_load_wrong_shapes_or_missing_arrays_is_a_clear_error(tmp_path):
    path = nn.mlp((20, 16, 3), seed=0).save_weights(tmp_path / "w.npz")
    with pytest.raises(ValueError, match=r"dense0\.W.*\(20, 16\).*\(20, 32\)"):
        nn.mlp((20, 32, 3)).load_weights(path)
    np.savez(tmp_path / "partial.npz", **{"dense0.W": np.zeros((20, 16), np.float32)})
    with pytest.raises(ValueError, match=r"missing.*dense0\.b"):
        nn.mlp((20, 16, 3)).load_weights(tmp_path / "partial.npz")


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: nn.Dense(0, 5), "n_in must be a positive integer"),
        (lambda: nn.Dense(5, -1), "n_out must be a positive integer"),
        (lambda: nn.Dense(2.5, 3), "n_in must be a positive integer"),
        (lambda: nn.Dense(3, 3, init="zeros"), "init must be"),
        (lambda: nn.mlp((784,)), "sizes needs at least"),
        (lambda: nn.Dropout(1.0), r"dropout rate must be in \[0, 1\)"),
        (lambda: nn.Dropout(-0.1), r"dropout rate must be in \[0, 1\)"),
        (lambda: nn.SGD(0), "learning rate must be a positive number"),
        (lambda: nn.Momentum(-0.1), "learning rate must be a positive number"),
        (lambda: nn.Adam(float("nan")), "learning rate must be"),
        (lambda: nn.Adam(float("inf")), "learning rate must be finite"),
        (lambda: nn.Momentum(0.1, momentum=1.0), "momentum must be in"),
        (lambda: nn.Network([], weight_decay=0), "at least one layer"),
        (lambda: nn.mlp((4, 3, 2), weight_decay=-1), "weight_decay must be"),
    ],
)
def test_impossible_settings_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"epochs": 2.5}, "epochs must be a positive integer"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"batch_size": -32}, "batch_size must be a positive integer"),
        ({"early_stopping_patience": 2}, "early stopping needs validation_data"),
        ({"monitor": "accuracy"}, "monitor must be"),
    ],
)
def test_impossible_fit_settings_raise_value_error(kwargs, match):
    x, y = blobs(40)
    net = nn.mlp((20, 8, 3))
    with pytest.raises(ValueError, match=match):
        net.fit(x, y, optimizer=nn.SGD(0.1), progress=False, **kwargs)


def test_bad_data_raises_value_error():
    x, y = blobs(40)
    net = nn.mlp((20, 8, 3))
    fit = dict(optimizer=nn.SGD(0.1), epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"labels must be in 0\.\.2.*3"):
        net.fit(x, np.where(y == 0, 3, y), **fit)
    with pytest.raises(ValueError, match=r"labels must be in 0\.\.2.*-1"):
        net.fit(x, y - 1, **fit)
    with pytest.raises(ValueError, match=r"y must have shape \(40,\).*\(39,\)"):
        net.fit(x, y[:-1], **fit)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 20\).*\(40, 19\)"):
        net.fit(x[:, :-1], y, **fit)
    with pytest.raises(ValueError, match="labels must be integers"):
        net.fit(x, y.astype(float), **fit)
    with pytest.raises(ValueError, match=r"y must have shape \(10,\)"):
        net.fit(x, y, validation_data=(x[:10], y[:5]), **fit)
    with pytest.raises(ValueError, match=r"x must have shape"):
        net.predict(x[:, :5])


def test_recipes_build_and_train_the_configured_networks():
    rng = np.random.default_rng(0)
    x = rng.random((256, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=256)
    net = nn.improved_network(seed=0)
    shapes = [v.shape for k, v in net.params.items() if k.endswith(".W")]
    sizes = nn.IMPROVED["sizes"]
    assert shapes == list(zip(sizes[:-1], sizes[1:], strict=True))
    net, hist = nn.train_improved(x, y, (x[:64], y[:64]), seed=0, epochs=2, progress=False)
    assert len(hist["val_accuracy"]) == 2 and net.dtype == np.float32
    before, hist = nn.train_original(x.astype(np.float64), y, epochs=1, progress=False)
    assert before.dtype == np.float64 and len(hist["loss"]) == 1
    assert nn.ORIGINAL["batch_size"] == 32 and nn.ORIGINAL["shuffle"] is False
