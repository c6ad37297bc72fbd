"""Behaviour of advance_pipeline_tensorflow.keras_models, the notebook's exported cells (small
models, CPU, a few seconds), and of the entry point ``predict_proba`` they use."""

from __future__ import annotations

import keras
import keras_tuner as kt
import numpy as np
import pytest
import tensorflow as tf

from advance_pipeline_tensorflow import keras_models as km

pytestmark = pytest.mark.tf  # TensorFlow is a requirement: a missing install fails, never skips

layers = keras.layers
VARIANTS = ("adam", "sgd", "dropout", "batchnorm", "batchnorm_dropout")


def _sequence(model) -> list[str]:
    """The layers in order, with their sizes: ["Flatten", "Dense128", "BatchNormalization", ...]."""
    out = []
    for la in model.layers:
        if isinstance(la, layers.Dense):
            out.append(f"Dense{la.units}")
        elif isinstance(la, layers.Dropout):
            out.append(f"Dropout{la.rate}")
        else:
            out.append(type(la).__name__)
    return out


def _images(n: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 28, 28, 1), dtype=np.float32)


def _batchnorms(model) -> list:
    found = []
    for la in model.layers:
        found += _batchnorms(la) if isinstance(la, keras.Model) else [la]
    return [la for la in found if isinstance(la, layers.BatchNormalization)]


# ----------------------------------------------------------------------------- MLPs
def test_original_mlps_layer_order():
    """BatchNorm sits between each Dense layer and its ReLU; dropout after the ReLU; logits out."""
    expected = {
        "adam": ["Flatten", "Dense128", "Dense10"],
        "sgd": ["Flatten", "Dense128", "Dense10"],
        "dropout": ["Flatten", "Dense128", "Dropout0.5", "Dense10"],
        "batchnorm": ["Flatten", "Dense128", "BatchNormalization", "ReLU", "Dense10"],
        "batchnorm_dropout": [
            "Flatten", "Dense128", "BatchNormalization", "ReLU", "Dropout0.3",
            "Dense64", "BatchNormalization", "ReLU", "Dropout0.2", "Dense10",
        ],
    }  # fmt: skip
    for variant in VARIANTS:
        model = km.build_mlp(variant)
        assert _sequence(model) == expected[variant], variant
        assert not model.compiled
        dense = [la for la in model.layers if isinstance(la, layers.Dense)]
        relu = keras.activations.relu if "batchnorm" not in variant else keras.activations.linear
        assert all(la.activation is relu for la in dense[:-1]), variant  # BN: ReLU after BN
        assert dense[-1].activation is keras.activations.linear  # logits
        assert model(_images(), training=False).shape == (4, 10)
    assert km.build_mlp("adam").count_params() == 784 * 128 + 128 + 128 * 10 + 10
    with pytest.raises(ValueError, match="unknown MLP variant 'resnet'"):
        km.build_mlp("resnet")


def test_batchnorm_normalises_the_dense_output_before_relu():
    model = km.build_mlp("batchnorm")
    x = _images(64)
    bn_in = keras.Model(model.inputs, model.layers[1].output)(x, training=True)
    bn_out = keras.Model(model.inputs, model.layers[2].output)(x, training=True)
    np.testing.assert_allclose(np.mean(bn_out, 0), 0, atol=1e-4)
    assert float(np.std(bn_in)) > 0 and np.all(np.asarray(model.layers[3](bn_out)) >= 0)


def test_batchnorm_layers_keep_keras_defaults():
    """Momentum 0.99 (the running statistics used at inference move slowly), epsilon 1e-3."""
    models = [km.build_mlp(v) for v in ("batchnorm", "batchnorm_dropout")] + [km.build_cnn()]
    bns = [bn for m in models for bn in _batchnorms(m)]
    assert len(bns) == 1 + 2 + 6
    assert {(bn.momentum, bn.epsilon) for bn in bns} == {(0.99, 1e-3)}


def test_compile_model_uses_the_given_optimizer_and_a_loss_on_logits():
    model = km.compile_model(km.build_mlp("sgd"), keras.optimizers.SGD(0.05, momentum=0.9))
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)
    assert model.optimizer.momentum == pytest.approx(0.9)
    assert model.loss.get_config()["from_logits"] is True
    x, y = _images(8), np.arange(8) % 10
    loss = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    logits = np.asarray(model(x, training=False))
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    assert loss == pytest.approx(-logp[np.arange(8), y].mean(), rel=1e-4)


# ----------------------------------------------------------------------------- schedule
def test_one_cycle_warms_up_then_decays():
    s = km.one_cycle(1e-2, 100)  # 20 warm-up steps, then 80 of cosine decay
    lr = lambda t: float(s(t))  # noqa: E731
    assert lr(0) == pytest.approx(1e-2 / 25)
    assert lr(10) == pytest.approx((1e-2 / 25 + 1e-2) / 2, rel=1e-3)  # linear warm-up
    assert lr(20) == pytest.approx(1e-2)
    assert lr(60) == pytest.approx(1e-2 * (0.01 + 0.99 * 0.5), rel=1e-3)  # half-way down
    assert lr(100) == pytest.approx(1e-4, rel=1e-3)  # the last step: peak / 100, not 0
    for bad in ((1e-2, 0), (1e-2, 10, 1.0), (1e-2, 10, -0.1)):
        with pytest.raises(ValueError, match="total_steps"):
            km.one_cycle(*bad)


# ----------------------------------------------------------------------------- CNNs
def test_cnn_layer_order():
    model = km.build_cnn((8, 16, 32), augment=False)
    conv_bn_relu = ["Conv2D", "BatchNormalization", "ReLU"]
    pool = ["MaxPooling2D", "Dropout0.1"]
    assert _sequence(model) == (
        conv_bn_relu + pool + conv_bn_relu * 2 + pool + conv_bn_relu * 2 + pool
        + ["Flatten", "Dense128", "BatchNormalization", "ReLU", "Dropout0.3", "Dense10"]
    )  # fmt: skip
    convs = [la for la in model.layers if isinstance(la, layers.Conv2D)]
    assert [c.filters for c in convs] == [8, 16, 16, 32, 32]
    assert all(c.kernel_size == (3, 3) and not c.use_bias for c in convs)
    flatten = next(la for la in model.layers if isinstance(la, layers.Flatten))
    assert flatten.output.shape[1] == 4 * 4 * 32  # 28 -> 14 -> 7 -> 4
    assert model.layers[-1].activation is keras.activations.linear


def test_augmentation_only_in_training():
    model = km.build_cnn((4, 4, 4))
    assert _sequence(model.layers[0]) == ["RandomRotation", "RandomTranslation", "RandomZoom"]
    x = _images(8)
    np.testing.assert_array_equal(model(x, training=False), model(x, training=False))
    aug = km.build_augmentation(seed=1)
    np.testing.assert_array_equal(np.asarray(aug(x, training=False)), x)
    assert not np.allclose(np.asarray(aug(x, training=True)), x)
    assert aug.layers[0].factor == pytest.approx((-10 / 360, 10 / 360))  # ± 10 degrees


def test_cnn_learns_a_tiny_problem():
    # Seeded: weights, dropout masks and batch order. Unseeded, it failed once in CI (all one class).
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = np.zeros((64, 28, 28, 1), "float32")
    y = np.arange(64) % 2
    x[y == 1, :14] = 1.0  # class 1: top half lit
    x += rng.random(x.shape, dtype=np.float32) * 0.1
    model = km.compile_model(km.build_cnn((4, 4, 4), augment=False), keras.optimizers.Adam(1e-2))
    model.fit(x, y, batch_size=16, epochs=8, verbose=0)
    assert (km.predict_proba(model, np.clip(x, 0, 1)).argmax(1) == y).mean() == 1.0


def test_builds_under_distribution_strategy_scope():
    with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
        model = km.compile_model(km.build_cnn((4, 4, 4)), keras.optimizers.Adam(1e-3))
    x, y = _images(8), np.arange(8) % 10
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert model.predict(x, verbose=0).shape == (8, 10)


def test_tunable_mlp_uses_the_hyperparameters():
    hp = kt.HyperParameters()
    hp.Fixed("units", 64)
    hp.Fixed("dropout", 0.3)
    hp.Fixed("lr", 2e-3)
    model = km.build_tunable_mlp(hp)
    assert _sequence(model) == ["Flatten", "Dense64", "Dropout0.3", "Dense10"]
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert float(model.optimizer.learning_rate) == pytest.approx(2e-3)


# ----------------------------------------------------------------------------- predictions
def test_predict_proba_accepts_uint8_and_float_images(capsys):
    model = km.build_mlp("adam")
    x = (np.random.default_rng(0).random((5, 28, 28)) * 255).astype(np.uint8)
    p = km.predict_proba(model, x)
    logits = np.asarray(model(x[..., None].astype("float32") / 255, training=False))
    e = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(p, e / e.sum(1, keepdims=True), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        km.predict_proba(model, x[..., None] / 255.0), p, rtol=1e-5, atol=1e-7
    )
    white = np.ones((2, 28, 28))  # 1.0 is the brightest float pixel, not an unscaled one
    np.testing.assert_allclose(km.predict_proba(model, white),
                               km.predict_proba(model, np.full((2, 28, 28), 255, np.uint8)))  # fmt: skip
    assert capsys.readouterr().out == ""  # no progress bar


def test_predict_proba_runs_the_model_in_inference_mode():
    """Augmentation and dropout off: the same answer twice, equal to model(x, training=False)."""
    keras.utils.set_random_seed(0)
    model = km.build_cnn((4, 4, 4))
    x = _images(6)
    p = km.predict_proba(model, x)
    np.testing.assert_allclose(p, km.predict_proba(model, x))
    logits = np.asarray(model(x, training=False))
    np.testing.assert_allclose(p, np.asarray(keras.ops.softmax(logits)), rtol=1e-5, atol=1e-6)


SHAPE = r"images must be \(N, 28, 28\) or \(N, 28, 28, 1\), got shape"
RANGE = (
    r"pixel values must be in \[0, 1\] for float images \(unscaled\? divide uint8 pixels by 255\), "
    r"got values in"
)


@pytest.mark.parametrize(
    ("images", "match"),
    [
        (np.zeros((2, 32, 32), np.uint8), rf"^{SHAPE} \(2, 32, 32\)$"),
        (np.zeros((2, 28, 28, 3), np.float32), rf"^{SHAPE} \(2, 28, 28, 3\)$"),
        (np.zeros((28, 28), np.uint8), rf"^{SHAPE} \(28, 28\)$"),
        (
            np.where(np.eye(28)[None] > 0, np.nan, 0.5),
            "^images contain NaN or infinite pixel values$",
        ),
        (np.full((1, 28, 28), np.inf), "^images contain NaN or infinite pixel values$"),
        (np.full((1, 28, 28), 200.0), rf"^{RANGE} \[200, 200\]$"),
        (np.full((1, 28, 28), 1.5), rf"^{RANGE} \[1.5, 1.5\]$"),
        (np.full((1, 28, 28), -0.5), rf"^{RANGE} \[-0.5, -0.5\]$"),
        (np.full((1, 28, 28), "a"), "^images must be numbers, got dtype <U1$"),
    ],
)
def test_predict_proba_refuses_bad_images(images, match):
    with pytest.raises(ValueError, match=match):
        km.predict_proba(km.build_mlp("adam"), images)


def _moved(x, down, right):
    """Reference shift, pixel by pixel: ``out[:, i, j] = x[:, i - down, j - right]``, else black."""
    out, (h, w) = np.zeros_like(x), x.shape[1:]
    for i, j in np.ndindex(h, w):
        if 0 <= i - down < h and 0 <= j - right < w:
            out[:, i, j] = x[:, i - down, j - right]
    return out


def test_test_time_augmentation_averages_over_shifted_copies():
    model = km.build_mlp("adam")
    x = (np.random.default_rng(0).random((6, 28, 28)) * 255).astype(np.uint8)
    p = km.predict_proba(model, x)
    np.testing.assert_allclose(km.predict_proba_tta(model, x, ((0, 0),)), p)  # the image alone
    shifts = ((0, 0), (2, -1), (-1, 3))
    expected = np.mean([km.predict_proba(model, _moved(x, *s)) for s in shifts], axis=0)
    np.testing.assert_allclose(km.predict_proba_tta(model, x, shifts), expected, rtol=1e-6)
    assert km.SHIFTS[0] == (0, 0) and len(set(km.SHIFTS)) == 5  # the image itself and 4 moves
    assert {abs(a) + abs(b) for a, b in km.SHIFTS[1:]} == {1}  # one-pixel moves
    with pytest.raises(ValueError, match="no channel axis"):
        km.predict_proba_tta(model, x[..., None])
    with pytest.raises(ValueError, match="NaN"):
        km.predict_proba_tta(model, np.full((1, 28, 28), np.nan))


# ----------------------------------------------------------------------------- voting
def test_soft_and_hard_voting_on_hand_made_probabilities():
    probs = np.array(
        [
            [[0.6, 0.4, 0.0], [0.1, 0.2, 0.7], [0.5, 0.5, 0.0]],
            [[0.6, 0.4, 0.0], [0.1, 0.8, 0.1], [0.0, 0.3, 0.7]],
            [[0.0, 1.0, 0.0], [0.2, 0.7, 0.1], [0.4, 0.6, 0.0]],
        ]
    )
    # sample 0: votes 0,0,1 -> hard 0; mean [0.4, 0.6, 0] -> soft 1 (the rules disagree)
    # sample 2: votes 0, 2, 1 -> three-way tie; mean [0.3, 0.467, 0.233] -> class 1
    np.testing.assert_array_equal(km.soft_vote(probs), [1, 1, 1])
    np.testing.assert_array_equal(km.hard_vote(probs), [0, 1, 1])
    assert km.VOTES == {"soft": km.soft_vote, "hard": km.hard_vote}


def test_hard_vote_tie_breaks():
    probs = np.array([[[0.9, 0.05, 0.05]], [[0.05, 0.05, 0.9]]])  # full tie -> lower index
    assert km.hard_vote(probs).tolist() == km.hard_vote(probs[::-1]).tolist() == [0]
    probs = np.array([[[0.6, 0.0, 0.4]], [[0.0, 0.1, 0.9]]])  # vote tie, class 2 more confident
    assert km.hard_vote(probs).tolist() == [2]
