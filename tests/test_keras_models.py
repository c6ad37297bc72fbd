"""Unit tests for advance_pipeline_tensorflow.keras_models (small, CPU, a few seconds)."""

from __future__ import annotations

import keras
import keras_tuner as kt
import numpy as np
import pytest
import tensorflow as tf

from advance_pipeline_tensorflow import keras_models as km

pytestmark = pytest.mark.tf  # TensorFlow is a requirement: a missing install fails, never skips

layers = keras.layers


def _layer_types(model) -> list[type]:
    return [type(layer) for layer in model.layers]


def _images(n: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 28, 28, 1), dtype=np.float32)


# ----------------------------------------------------------------------------- MLPs
@pytest.mark.parametrize("variant", km.MLP_VARIANTS)
def test_original_mlps_build_uncompiled_with_logit_output(variant):
    model = km.build_original_mlp(variant)
    assert model.output_shape == (None, 10)
    assert model.input_shape == (None, 28, 28, 1)
    assert not model.compiled
    last = model.layers[-1]
    assert isinstance(last, layers.Dense) and last.units == 10
    assert last.activation is keras.activations.linear  # logits
    out = model(_images(), training=False)
    assert out.shape == (4, 10)


def test_original_mlp_architectures():
    adam, sgd = km.build_original_mlp("adam"), km.build_original_mlp("sgd")
    assert [d.units for d in adam.layers if isinstance(d, layers.Dense)] == [128, 10]
    assert adam.count_params() == sgd.count_params() == 784 * 128 + 128 + 128 * 10 + 10

    dropout = km.build_original_mlp("dropout")
    rates = [layer.rate for layer in dropout.layers if isinstance(layer, layers.Dropout)]
    assert rates == [0.5]

    bn = km.build_original_mlp("batchnorm")
    assert _layer_types(bn).count(layers.BatchNormalization) == 1
    assert layers.Dropout not in _layer_types(bn)

    deep = km.build_original_mlp("batchnorm_dropout")
    assert [d.units for d in deep.layers if isinstance(d, layers.Dense)] == [128, 64, 10]
    assert _layer_types(deep).count(layers.BatchNormalization) == 2
    assert [layer.rate for layer in deep.layers if isinstance(layer, layers.Dropout)] == [0.3, 0.2]


def test_unknown_mlp_variant():
    with pytest.raises(ValueError, match="unknown MLP variant"):
        km.build_original_mlp("resnet")


# ----------------------------------------------------------------------------- compile
@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("adam", keras.optimizers.Adam),
        ("sgd", keras.optimizers.SGD),
        ("rmsprop", keras.optimizers.RMSprop),
        ("adamw", keras.optimizers.AdamW),
        ("nadam", keras.optimizers.Nadam),
    ],
)
def test_compile_uses_requested_optimizer_and_lr(name, cls):
    model = km.compile_model(km.build_original_mlp("batchnorm"), name, 3e-3)
    assert model.compiled
    assert type(model.optimizer) is cls
    assert float(model.optimizer.learning_rate) == pytest.approx(3e-3)
    assert isinstance(model.loss, keras.losses.SparseCategoricalCrossentropy)
    assert model.loss.from_logits


@pytest.mark.parametrize("variant", ["batchnorm", "batchnorm_dropout"])
def test_batchnorm_models_are_not_silently_rmsprop(variant):
    """The original bug: compile() without an optimizer falls back to RMSprop."""
    model = km.compile_model(km.build_original_mlp(variant), "adam", 1e-3)
    assert not isinstance(model.optimizer, keras.optimizers.RMSprop)
    assert isinstance(model.optimizer, keras.optimizers.Adam)


def test_compile_with_schedules():
    cosine = km.compile_model(km.build_mlp(8), "adam", 1e-2, "cosine", total_steps=100)
    assert float(cosine.optimizer.learning_rate) == pytest.approx(1e-2)  # value at step 0
    sched = km.make_schedule("cosine", 1e-2, 100)
    assert float(sched(0)) == pytest.approx(1e-2)
    assert float(sched(100)) == pytest.approx(1e-4, rel=1e-3)

    one = km.make_schedule("onecycle", 1e-2, 100, warmup_fraction=0.2, final_fraction=0.01)
    assert float(one(0)) == pytest.approx(1e-2 / 25)
    assert float(one(20)) == pytest.approx(1e-2, rel=1e-4)  # peak after warm-up
    assert float(one(100)) == pytest.approx(1e-4, rel=1e-3)
    assert float(one(10)) < float(one(20)) and float(one(60)) < float(one(20))

    assert km.make_schedule("constant", 0.5) == 0.5
    with pytest.raises(ValueError, match="total_steps"):
        km.compile_model(km.build_mlp(8), "adam", 1e-3, "cosine")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"optimizer_name": "adagrad", "lr": 1e-3}, "unknown optimizer"),
        ({"optimizer_name": "adam", "lr": 0.0}, "lr"),
        ({"optimizer_name": "adam", "lr": -1e-3}, "lr"),
        ({"optimizer_name": "adam", "lr": float("nan")}, "lr"),
        ({"optimizer_name": "adam", "lr": 1e-3, "schedule": "step"}, "unknown schedule"),
        ({"optimizer_name": "sgd", "lr": 1e-3, "momentum": 1.0}, "momentum"),
    ],
)
def test_compile_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        km.compile_model(km.build_mlp(8), **kwargs)


@pytest.mark.parametrize(
    ("builder", "kwargs", "match"),
    [
        (km.build_mlp, {"hidden": 0}, "hidden"),
        (km.build_mlp, {"hidden": (128, -4)}, "hidden"),
        (km.build_mlp, {"hidden": ()}, "hidden"),
        (km.build_mlp, {"hidden": 128, "dropout": 1.0}, "dropout"),
        (km.build_mlp, {"hidden": 128, "dropout": -0.1}, "dropout"),
        (km.build_mlp, {"hidden": (64, 32), "dropout": (0.1,)}, "dropout"),
        (km.build_cnn, {"filters": (16, 0)}, "filters"),
        (km.build_cnn, {"dense": -1}, "dense"),
        (km.build_cnn, {"dropout": 1.5}, "dropout"),
        (km.build_cnn, {"filters": (8, 16), "convs_per_block": (1, 2, 2)}, "convs_per_block"),
        (km.build_cnn, {"convs_per_block": 0}, "convs_per_block"),
        (km.build_residual_cnn, {"blocks_per_stage": 0}, "blocks_per_stage"),
        (km.build_residual_cnn, {"filters": (16,)}, "stem"),
        (km.build_residual_cnn, {"dense_dropout": 1.0}, "dense_dropout"),
        (km.build_augmentation, {"shift": 1.0}, "shift"),
        (km.build_augmentation, {"rotation_degrees": 200}, "rotation"),
        (km.make_hypermodel, {"lr_range": (1e-2, 1e-3)}, "lr_range"),
        (km.make_hypermodel, {"units": (64, 0)}, "units"),
        (km.make_hypermodel, {"dropout_range": (0.0, 1.0)}, "dropout_range"),
    ],
)
def test_builders_reject_bad_hyperparameters(builder, kwargs, match):
    with pytest.raises(ValueError, match=match):
        builder(**kwargs)


# ----------------------------------------------------------------------------- CNNs
def test_cnn_layers_and_shape():
    model = km.build_cnn((8, 16), convs_per_block=(1, 2), dense=32)
    assert sum(isinstance(la, layers.Conv2D) for la in model.layers) == 3
    types = _layer_types(model)
    for t in (layers.Conv2D, layers.BatchNormalization, layers.MaxPooling2D, layers.Dropout):
        assert t in types, t
    aug = model.get_layer("augmentation")
    aug_types = _layer_types(aug)
    assert aug_types == [layers.RandomRotation, layers.RandomTranslation, layers.RandomZoom]
    assert model.output_shape == (None, 10)
    assert model(_images(), training=False).shape == (4, 10)
    no_aug = km.build_cnn((8,), convs_per_block=1, augment=False)
    assert "augmentation" not in [la.name for la in no_aug.layers]


def test_augmentation_only_in_training():
    model = km.build_cnn((4,), convs_per_block=1, dense=8, dropout=0.0, dense_dropout=0.0)
    x = _images(8)
    a = np.asarray(model(x, training=False))
    b = np.asarray(model(x, training=False))
    np.testing.assert_array_equal(a, b)
    aug = km.build_augmentation(seed=1)
    np.testing.assert_array_equal(np.asarray(aug(x, training=False)), x)
    assert not np.allclose(np.asarray(aug(x, training=True)), x)


def test_residual_cnn_has_skip_connections():
    model = km.build_residual_cnn((4, 8, 16), dense=16)
    adds = [layer for layer in model.layers if isinstance(layer, layers.Add)]
    assert len(adds) == 2
    assert sum(layer.name.endswith("_proj") for layer in model.layers) == 2  # 4->8, 8->16
    assert model.output_shape == (None, 10)
    assert model(_images(), training=False).shape == (4, 10)
    deeper = km.build_residual_cnn((8, 8), blocks_per_stage=2, augment=False)
    assert sum(isinstance(la, layers.Add) for la in deeper.layers) == 2
    assert not any(layer.name.endswith("_proj") for layer in deeper.layers)  # 8 -> 8


def test_residual_and_plain_cnn_share_their_convolutions():
    """Same 3x3 convolutions and head by default: the only difference is the skip connections."""

    def conv3(m):
        return [
            la.filters
            for la in m.layers
            if isinstance(la, layers.Conv2D) and la.kernel_size == (3, 3)
        ]

    plain, res = km.build_cnn(), km.build_residual_cnn()
    assert conv3(plain) == conv3(res) == [16, 32, 32, 64, 64]
    assert plain.get_layer("dense").units == res.get_layer("dense").units


def test_cnn_trains_one_step():
    model = km.compile_model(km.build_cnn((4,), convs_per_block=1, dense=8), "adam", 1e-3)
    x, y = _images(16), np.arange(16) % 10
    hist = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(hist.history["loss"][0])


# ----------------------------------------------------------------------------- strategy
def test_builds_under_distribution_strategy_scope():
    strategies = [tf.distribute.get_strategy(), tf.distribute.OneDeviceStrategy("/cpu:0")]
    for strategy in strategies:
        with strategy.scope():
            model = km.compile_model(km.build_residual_cnn((4, 8), dense=8), "adam", 1e-3)
        for var in model.trainable_variables[:2]:
            assert var.value.device.endswith("CPU:0") or var.value.device == ""
        x, y = _images(8), np.arange(8) % 10
        model.fit(x, y, batch_size=4, epochs=1, verbose=0)
        assert model.predict(x, verbose=0).shape == (8, 10)


# ----------------------------------------------------------------------------- tuner
def test_hypermodel_builds_compiled_model():
    hp = kt.HyperParameters()
    model = km.make_hypermodel(units=(16, 32))(hp)
    assert model.compiled and isinstance(model.optimizer, keras.optimizers.Adam)
    assert set(hp.values) == {"units", "dropout", "lr"}
    assert hp.values["units"] in (16, 32)
    assert float(model.optimizer.learning_rate) == pytest.approx(hp.values["lr"])
    assert model.output_shape == (None, 10)


# ----------------------------------------------------------------------------- ensembles
def test_random_search_runs_without_tensorboard(tmp_path):
    tuner = km.make_random_search(
        km.make_hypermodel(units=(8, 16)), directory=tmp_path, project_name="t", max_trials=2
    )
    x, y = _images(20), np.arange(20) % 10
    tuner.search(x, y, validation_data=(x, y), epochs=1, batch_size=10, verbose=0)
    trials = list(tuner.oracle.trials.values())
    assert len(trials) == 2
    assert all(t.score is not None for t in trials)
    assert (tmp_path / "t").is_dir()
    with pytest.raises(ValueError, match="max_trials"):
        km.make_random_search(
            km.make_hypermodel(), directory=tmp_path, project_name="u", max_trials=0
        )


def test_predict_proba_is_softmax_of_logits():
    model = km.build_mlp(8)
    x = _images(5)
    p = km.predict_proba(model, x)
    logits = np.asarray(model(x, training=False))
    e = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(p, e / e.sum(1, keepdims=True), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-6)


def test_soft_and_hard_voting_on_hand_made_probabilities():
    # 3 members, 3 samples, 3 classes.
    probs = np.array(
        [
            [[0.6, 0.4, 0.0], [0.1, 0.2, 0.7], [0.5, 0.5, 0.0]],
            [[0.6, 0.4, 0.0], [0.1, 0.8, 0.1], [0.0, 0.3, 0.7]],
            [[0.0, 1.0, 0.0], [0.2, 0.7, 0.1], [0.4, 0.6, 0.0]],
        ]
    )
    # sample 0: votes 0,0,1 -> hard 0; mean = [0.4, 0.6, 0] -> soft 1 (the two rules disagree)
    # sample 1: votes 2,1,1 -> hard 1; mean = [0.133, 0.567, 0.3] -> soft 1
    # sample 2: votes 0 (tie 0.5/0.5 -> lowest index), 2, 1 -> three-way tie; mean prob
    #           [0.3, 0.467, 0.233] -> class 1 wins the tie-break
    labels, mean = km.soft_vote(probs)
    np.testing.assert_array_equal(labels, [1, 1, 1])
    np.testing.assert_allclose(mean, probs.mean(0))
    np.testing.assert_array_equal(km.hard_vote(probs), [0, 1, 1])
    np.testing.assert_array_equal(km.vote(probs, "hard"), [0, 1, 1])
    np.testing.assert_array_equal(km.vote(list(probs), "soft"), [1, 1, 1])


def test_hard_vote_tie_break_is_deterministic():
    # Two members disagree (0 vs 2) with equal confidence: tie on votes and on mean probability
    # -> the lower class index.
    probs = np.array([[[0.9, 0.05, 0.05]], [[0.05, 0.05, 0.9]]])
    assert km.hard_vote(probs).tolist() == [0]
    assert km.hard_vote(probs[::-1]).tolist() == [0]  # member order does not matter
    # Tie on votes, broken by mean probability: class 2 is more confident.
    probs = np.array([[[0.6, 0.0, 0.4]], [[0.0, 0.1, 0.9]]])
    assert km.hard_vote(probs).tolist() == [2]
    # A single member: hard vote = its arg-max.
    one = np.random.default_rng(0).random((1, 50, 10))
    np.testing.assert_array_equal(km.hard_vote(one), one[0].argmax(1))


def test_voting_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        km.soft_vote(np.zeros((5, 10)))
    with pytest.raises(ValueError, match="NaN"):
        km.hard_vote(np.full((2, 3, 4), np.nan))
    with pytest.raises(ValueError, match="voting method"):
        km.vote(np.zeros((1, 2, 3)), "median")
