"""The convolutional layers of the NumPy lesson: im2col and its transpose, Conv2D, MaxPool2D,
Flatten and the ``cnn`` builder. Gradients against finite differences (float64) and against
TensorFlow's Conv2D / MaxPool2D and autodiff (the strided-convolution exercise: test_exercises.py)."""

import numpy as np
import pytest

from from_scratch_numpy import numpy_net as nn


def small_float64_cnn(weight_decay=0.02, label_smoothing=0.1, dropout=0.2, padding=0, seed=0):
    """(12, 13, 2) images -> conv 3 -> pool -> conv 4 -> pool -> dense 5 -> dropout -> 3 classes,
    float64; random biases so that no ReLU input sits at its kink."""
    net = nn.cnn((3, 4), padding=padding, hidden=5, dropout=dropout, weight_decay=weight_decay,
                 label_smoothing=label_smoothing, image_shape=(12, 13, 2), n_classes=3,
                 dtype=np.float64, seed=seed)  # fmt: skip
    rng = np.random.default_rng(seed + 100)
    for layer in net.layers:
        if hasattr(layer, "b"):
            layer.b += rng.normal(0, 0.1, size=layer.b.shape)
    return net


def batch(n=6, shape=(12, 13, 2), k=3, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, int(np.prod(shape)))), rng.integers(0, k, size=n)


# ----------------------------------------------------------------------------- im2col


def test_im2col_of_the_worked_4x4_example():
    """The notebook's example: a 4x4 image 0..15 has four 3x3 patches, one row each."""
    a = np.arange(16.0).reshape(1, 4, 4, 1)
    cols = nn.im2col(a, 3)
    assert cols.shape == (1, 2, 2, 9)
    np.testing.assert_array_equal(cols[0, 0, 0], [0, 1, 2, 4, 5, 6, 8, 9, 10])
    np.testing.assert_array_equal(cols[0, 1, 1], [5, 6, 7, 9, 10, 11, 13, 14, 15])
    # col2im adds back: pixel 5 is in all four patches, the corners in one each
    counts = nn.col2im(np.ones_like(cols), a.shape, 3)
    np.testing.assert_array_equal(counts[0, :, :, 0], [[1, 2, 2, 1], [2, 4, 4, 2],
                                                       [2, 4, 4, 2], [1, 2, 2, 1]])  # fmt: skip


def test_im2col_orders_each_patch_row_column_channel_like_the_kernel():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2, 6, 5, 3))
    cols = nn.im2col(a, 2)
    assert cols.shape == (2, 5, 4, 12)
    np.testing.assert_array_equal(cols[1, 3, 2], a[1, 3:5, 2:4, :].ravel())


@pytest.mark.parametrize(("shape", "k"), [((2, 6, 5, 3), 3), ((1, 7, 7, 1), 2), ((3, 4, 4, 2), 4)])
def test_col2im_is_the_transpose_of_im2col(shape, k):
    """<im2col(a), c> = <a, col2im(c)> for every a and c: the definition of the transpose."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=shape)
    c = rng.normal(size=nn.im2col(a, k).shape)
    assert np.vdot(nn.im2col(a, k), c) == pytest.approx(np.vdot(a, nn.col2im(c, shape, k)))


# ----------------------------------------------------------------------------- layers


def test_conv2d_is_a_sum_over_each_patch():
    """One output by its definition: z[n, i, j, f] = sum_{u,v,c} a[n, i+u, j+v, c] W[u, v, c, f] + b[f]."""
    rng = np.random.default_rng(0)
    conv = nn.Conv2D(3, 4, 3, rng=rng, dtype=np.float64)
    conv.b[:] = rng.normal(size=4)
    a = rng.normal(size=(2, 7, 6, 3))
    z = conv.forward(a)
    assert z.shape == (2, 5, 4, 4)
    W = conv.W.reshape(3, 3, 3, 4)  # row u, column v, channel c, filter f
    expected = np.einsum("uvc,uvcf->f", a[1, 2:5, 1:4], W) + conv.b
    np.testing.assert_allclose(z[1, 2, 1], expected, rtol=1e-12)
    assert conv.W.shape == (27, 4) and conv.W.std() == pytest.approx(np.sqrt(2 / 27), rel=0.35)
    assert nn.Conv2D(1, 4, 3).W.dtype == np.float32


def test_maxpool_takes_each_window_max_drops_an_odd_edge_and_routes_one_gradient_per_window():
    a = np.array([[1.0, 5, 2, 2, 9], [3, 4, 2, 2, 9], [0, 0, 7, 8, 9], [6, 0, 8, 1, 9],
                  [9, 9, 9, 9, 9]]).reshape(1, 5, 5, 1)  # fmt: skip
    pool = nn.MaxPool2D()
    out = pool.forward(a)
    np.testing.assert_array_equal(out[0, :, :, 0], [[5, 2], [6, 8]])
    d_a = pool.backward(np.array([[10.0, 20], [30, 40]]).reshape(1, 2, 2, 1))
    expected = np.zeros((5, 5))
    expected[0, 1], expected[0, 2], expected[3, 0], expected[2, 3] = 10, 20, 30, 40
    np.testing.assert_array_equal(d_a[0, :, :, 0], expected)  # the tie (2, 2, 2, 2): first only


def test_flatten_and_reshape_round_trip():
    x = np.arange(24.0).reshape(2, 12)
    to_images, flat = nn.Reshape((2, 3, 2)), nn.Flatten()
    images = to_images.forward(x)
    assert images.shape == (2, 2, 3, 2)
    np.testing.assert_array_equal(flat.forward(images), x)
    np.testing.assert_array_equal(to_images.backward(flat.backward(x)), x)
    assert flat.backward(x).shape == (2, 2, 3, 2)


def test_cnn_layer_sequence_and_shapes():
    net = nn.cnn(seed=0)  # the notebook's CNN: no padding, a hidden layer of 128 with dropout
    names = [type(layer).__name__ for layer in net.layers]
    assert names == ["Reshape", "Conv2D", "MaxPool2D", "ReLU", "Conv2D", "MaxPool2D", "ReLU",
                     "Flatten", "Dense", "ReLU", "Dropout", "Dense"]  # fmt: skip
    shapes = [layer.W.shape for layer in net.layers if hasattr(layer, "W")]
    assert shapes == [(9, 16), (144, 32), (5 * 5 * 32, 128), (128, 10)]  # 28 -> 26 -> 13 -> 11 -> 5
    same = nn.cnn((16, 32), padding=1, hidden=0, seed=0)  # 28 -> 28 -> 14 -> 14 -> 7
    assert [layer.W.shape for layer in same.layers if hasattr(layer, "W")][-1] == (7 * 7 * 32, 10)
    x = np.random.default_rng(0).random((3, 784), dtype=np.float32)
    assert net.forward(x).shape == (3, 10) and net.forward(x).dtype == np.float32
    np.testing.assert_array_equal(nn.cnn(seed=1).layers[1].W, nn.cnn(seed=1).layers[1].W)
    assert not np.array_equal(nn.cnn(seed=1).layers[1].W, nn.cnn(seed=2).layers[1].W)


# ----------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("padding", [0, 1])
def test_gradient_check_passes_for_every_conv_and_dense_parameter(padding):
    net = small_float64_cnn(padding=padding)
    x, y = batch()
    errors = nn.gradient_check(net, x, y)
    assert set(errors) == {f"{name}.{p}" for name in ("conv2d1", "conv2d4", "dense8", "dense11")
                           for p in "Wb"}  # fmt: skip
    assert max(errors.values()) < 1e-6, errors
    dropout = net.layers[10]
    assert (dropout.mask == 0).any() and not dropout.frozen  # dropout was active, then released


def _planted_col2im_overwrites(d_cols, a_shape, k):
    N, H_out, W_out, _ = d_cols.shape
    d_patches = d_cols.reshape(N, H_out, W_out, k, k, a_shape[3])
    d_a = np.zeros(a_shape)
    for i in range(k):
        for j in range(k):
            d_a[:, i : i + H_out, j : j + W_out, :] = d_patches[:, :, :, i, j, :]  # = for +=
    return d_a


def _planted_pool_backward_to_every_pixel(self, delta):
    d_a = np.zeros(self.A_shape)
    H2, W2 = self.A_shape[1] // 2 * 2, self.A_shape[2] // 2 * 2
    for i in (0, 1):
        for j in (0, 1):
            d_a[:, i:H2:2, j:W2:2] = delta  # no argmax mask
    return d_a


def _planted_conv_db_mean(self, delta):
    out = original_conv_backward(self, delta)
    self.db = delta.reshape(-1, delta.shape[3]).mean(axis=0)  # mean instead of sum
    return out


original_conv_backward = nn.Conv2D.backward


@pytest.mark.parametrize(
    ("target", "name", "bug", "broken"),
    [
        (nn, "col2im", _planted_col2im_overwrites, "conv2d1.W"),
        (nn.MaxPool2D, "backward", _planted_pool_backward_to_every_pixel, "conv2d1.W"),
        (nn.Conv2D, "backward", _planted_conv_db_mean, "conv2d4.b"),
    ],
)
def test_gradient_check_catches_planted_bugs(monkeypatch, target, name, bug, broken):
    x, y = batch()
    monkeypatch.setattr(target, name, bug)
    errors = nn.gradient_check(small_float64_cnn(), x, y)
    assert errors[broken] > 1e-3, errors


@pytest.mark.tf
@pytest.mark.parametrize(("label_smoothing", "padding"), [(0.0, 0), (0.1, 1)])
def test_forward_and_gradients_match_tensorflow(label_smoothing, padding):
    """The whole network (conv, pool, ReLU, conv, pool with an odd edge, ReLU, dense, dropout,
    L2, label smoothing) against tf.nn.conv2d / max_pool2d and GradientTape, in float64; the
    TensorFlow side in the usual order conv, ReLU, pool: the same function, the same gradients."""
    import tensorflow as tf

    wd = 0.03
    net = small_float64_cnn(
        weight_decay=wd, label_smoothing=label_smoothing, padding=padding, seed=3
    )
    x, y = batch(n=8, seed=4)
    loss = net.loss(x, y, training=True)
    net.backward()
    conv1, conv2, dense1, drop, dense2 = (net.layers[i] for i in (1, 4, 8, 10, 11))
    kernels = [conv1.W.reshape(3, 3, 2, 3), conv2.W.reshape(3, 3, 3, 4), dense1.W, dense2.W]
    params = [tf.Variable(W) for W in kernels]
    biases = [tf.Variable(layer.b) for layer in (conv1, conv2, dense1, dense2)]
    keras_loss = tf.keras.losses.CategoricalCrossentropy(
        from_logits=True, label_smoothing=label_smoothing, dtype="float64"
    )

    def tf_forward(mask):
        a = tf.reshape(tf.constant(x), (-1, 12, 13, 2))
        for W, b in zip(params[:2], biases[:2], strict=True):
            a = tf.nn.conv2d(a, W, strides=1, padding="SAME" if padding else "VALID") + b
            a = tf.nn.max_pool2d(tf.nn.relu(a), 2, 2, padding="VALID")
        a = tf.nn.relu(tf.reshape(a, (len(x), -1)) @ params[2] + biases[2]) * mask
        return a @ params[3] + biases[3]

    with tf.GradientTape() as tape:
        l2 = sum(tf.reduce_sum(W**2) for W in params)
        tf_loss = keras_loss(tf.one_hot(y, 3, dtype=tf.float64), tf_forward(drop.mask))
        tf_loss += 0.5 * wd * l2
    grads = tape.gradient(tf_loss, [params, biases])
    assert loss == pytest.approx(float(tf_loss), rel=1e-12)
    for i, layer in enumerate((conv1, conv2, dense1, dense2)):
        dW = grads[0][i].numpy().reshape(layer.dW.shape)  # TensorFlow's kernel: (k, k, C_in, C_out)
        np.testing.assert_allclose(layer.dW, dW, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(layer.db, grads[1][i].numpy(), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(net.forward(x), tf_forward(1.0).numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.tf
def test_conv_and_pool_input_gradients_match_tensorflow_even_on_ties():
    """delta for the layer before: Conv2D's col2im and MaxPool2D's argmax mask against
    TensorFlow's gradients; the pooled images have tied maxima (saturated pixels, as in MNIST)."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 8, 7, 2))
    a[0, :4, :4] = 1.0  # plateaus: tied maxima in several windows
    conv, pool = nn.Conv2D(2, 5, 3, padding=1, rng=rng, dtype=np.float64), nn.MaxPool2D()
    d_conv, d_pool = rng.normal(size=(3, 8, 7, 5)), rng.normal(size=(3, 4, 3, 2))
    tf_a = tf.constant(a)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(tf_a)
        z = tf.nn.conv2d(tf_a, tf.constant(conv.W.reshape(3, 3, 2, 5)), 1, "SAME")
        pooled = tf.nn.max_pool2d(tf_a, 2, 2, "VALID")
    np.testing.assert_allclose(conv.forward(a), z.numpy(), rtol=1e-12)
    np.testing.assert_array_equal(pool.forward(a), pooled.numpy())
    np.testing.assert_allclose(conv.backward(d_conv), tape.gradient(z, tf_a, d_conv).numpy(),
                               rtol=1e-12, atol=1e-14)  # fmt: skip
    np.testing.assert_array_equal(
        pool.backward(d_pool), tape.gradient(pooled, tf_a, d_pool).numpy()
    )


def test_pooling_before_relu_is_the_usual_relu_then_pooling_exactly():
    """cnn puts MaxPool2D before ReLU: the same outputs and the same gradients, bit for bit, as
    the textbook order, also where a window's maximum is negative or tied at 0."""
    x = np.random.default_rng(5).normal(size=(6, 144)).astype(np.float32)
    x[:, :30] = 0.0  # windows tied at 0
    y = np.arange(6) % 3
    settings = dict(hidden=5, dropout=0.0, image_shape=(12, 12, 1), n_classes=3, seed=2)
    pool_first, relu_first = nn.cnn((3, 4), **settings), nn.cnn((3, 4), **settings)
    layers = relu_first.layers
    for i in (2, 5):  # MaxPool2D, ReLU -> ReLU, MaxPool2D
        layers[i], layers[i + 1] = layers[i + 1], layers[i]
    assert [type(layer).__name__ for layer in layers[1:4]] == ["Conv2D", "ReLU", "MaxPool2D"]
    for net in (pool_first, relu_first):
        net.loss(x, y, training=True)
        net.backward()
    np.testing.assert_array_equal(pool_first.forward(x), relu_first.forward(x))
    grads = zip(pool_first.parameters(), relu_first.parameters(), strict=True)
    for (_, grad), (_, grad_ref) in grads:
        np.testing.assert_array_equal(grad, grad_ref)


def test_a_few_adam_steps_learn_bars():
    """Vertical vs horizontal bars at random places: the CNN separates them in 60 steps."""
    rng = np.random.default_rng(0)
    x, y = np.zeros((64, 12, 12)), rng.integers(0, 2, 64)
    for image, label, pos in zip(x, y, rng.integers(1, 11, 64), strict=True):
        (image.T if label else image)[pos, 2:10] = 1.0
    net = nn.cnn((4, 8), padding=0, hidden=0, image_shape=(12, 12, 1), n_classes=2,
                 dtype=np.float64, seed=0)  # fmt: skip
    x, optimizer = x.reshape(64, -1), nn.Adam(1e-2)
    first = net.loss(x, y)
    for _ in range(60):
        net.train_step(x, y, optimizer)
    assert net.loss(x, y) < first / 4
    assert (net.forward(x).argmax(axis=1) == y).mean() == 1.0


def test_the_entry_points_take_the_cnn_like_the_mlp():
    """train.fit / predict / evaluate: the CNN takes the MLP's inputs (uint8 images or rows of 784
    floats in [0, 1]), and the input checks still name what is wrong."""
    from from_scratch_numpy import train as T

    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (40, 28, 28), dtype=np.uint8), rng.integers(0, 10, 40)
    net = nn.cnn((4, 8), hidden=16, seed=0)
    history = T.fit(net, nn.Adam(1e-3), images, labels, epochs=2, batch_size=16,
                    validation_data=(images[:8], labels[:8]), progress=False)  # fmt: skip
    assert len(history["val_accuracy"]) == 2 and np.isfinite(history["loss"]).all()
    assert T.predict(net, images[:5]).shape == (5,)
    np.testing.assert_allclose(T.predict_proba(net, images[:5]),
                               T.predict_proba(net, nn.preprocess(images[:5])), rtol=1e-6)  # fmt: skip
    assert T.evaluate(net, images, labels)[1] == np.mean(T.predict(net, images) == labels)
    with pytest.raises(ValueError, match="784 features per example"):
        T.predict(net, np.zeros((3, 783)))
    with pytest.raises(ValueError, match=r"labels must be in 0\.\.9"):
        T.evaluate(net, images[:2], np.array([0, 10]))
