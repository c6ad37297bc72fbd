"""The models of ``advanced_algorithm_keras_pipeline.ipynb``: builders, optimizers, test-time
augmentation, voting.

Builders take float32 images ``(28, 28, 1)`` in [0, 1] and return an **uncompiled** model that
outputs **logits**. :func:`compile_model` has no default optimizer: the original notebook compiled
its BatchNorm models without one, Keras silently used RMSprop, and the "BatchNorm effect" was
confounded with a change of optimizer. Build and compile inside ``strategy.scope()`` for multi-GPU.
"""

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
from keras import layers

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
OPTIMIZERS = {  # name -> class; momentum applies to "sgd" and "rmsprop" only
    "adam": keras.optimizers.Adam,
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
    "adamw": keras.optimizers.AdamW,
    "nadam": keras.optimizers.Nadam,
}
MLP_VARIANTS = ("adam", "sgd", "dropout", "batchnorm", "batchnorm_dropout")
SCHEDULES = ("constant", "cosine", "onecycle")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def build_mlp(
    hidden: Sequence[int] | int = 128, *, dropout: float | Sequence[float] = 0.0,
    batchnorm: bool = False, name: str = "mlp",
) -> keras.Model:  # fmt: skip
    """``Flatten -> [Dense -> (BatchNorm) -> ReLU -> (Dropout)] x len(hidden) -> Dense(10)``.
    ``hidden``: the width of each hidden layer; ``dropout``: one rate for all of them or one per
    layer (0: no Dropout layer); ``batchnorm``: BatchNorm between each Dense layer and its ReLU."""
    widths = [hidden] if isinstance(hidden, int) else list(hidden)
    rates = [dropout] * len(widths) if isinstance(dropout, (int, float)) else list(dropout)
    _check(len(widths) > 0 and all(w > 0 for w in widths), f"hidden widths must be > 0: {hidden}")
    _check(len(rates) == len(widths), f"give one dropout rate or {len(widths)}, got {dropout}")
    inputs = keras.Input(INPUT_SHAPE, name="image")
    x = layers.Flatten(name="flatten")(inputs)
    for i, (width, rate) in enumerate(zip(widths, rates, strict=True), start=1):
        x = layers.Dense(width, name=f"dense{i}")(x)
        if batchnorm:
            x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.Activation("relu", name=f"relu{i}")(x)
        if rate > 0:
            x = layers.Dropout(rate, name=f"dropout{i}")(x)
    return keras.Model(inputs, layers.Dense(NUM_CLASSES, name="logits")(x), name=name)


def build_original_mlp(variant: str) -> keras.Model:
    """One of the original notebook's five MLPs (``variant`` in :data:`MLP_VARIANTS`)."""
    configs = {
        "adam": dict(hidden=128),
        "sgd": dict(hidden=128),  # the same network: the optimizer is chosen at compile time
        "dropout": dict(hidden=128, dropout=0.5),
        "batchnorm": dict(hidden=128, batchnorm=True),
        "batchnorm_dropout": dict(hidden=(128, 64), dropout=(0.3, 0.2), batchnorm=True),
    }
    _check(variant in configs, f"unknown MLP variant {variant!r}; expected one of {MLP_VARIANTS}")
    return build_mlp(**configs[variant], name=f"mlp_{variant}")


def make_schedule(
    kind: str, lr: float, total_steps: int | None = None, *, warmup_fraction: float = 0.2
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """``lr`` itself ("constant"), or a per-step schedule over ``total_steps`` optimizer steps:
    "cosine": :math:`\\eta_t = \\eta_{min} + \\frac12(\\eta - \\eta_{min})(1 + \\cos(\\pi t/T))` with
    :math:`\\eta_{min} = \\eta/100`. "onecycle": a linear warm-up from ``lr/25`` to ``lr`` over the
    first ``warmup_fraction`` of the steps, then that cosine decay."""
    _check(kind in SCHEDULES, f"unknown schedule {kind!r}; expected one of {SCHEDULES}")
    if kind == "constant":
        return lr
    _check((total_steps or 0) > 0, f"{kind} needs total_steps > 0, got {total_steps}")
    if kind == "cosine":
        return keras.optimizers.schedules.CosineDecay(lr, total_steps, alpha=0.01)
    warmup = int(round(warmup_fraction * total_steps))
    return keras.optimizers.schedules.CosineDecay(
        lr / 25, max(total_steps - warmup, 1), alpha=0.01, warmup_target=lr, warmup_steps=warmup
    )


def make_optimizer(
    name: str, lr: float | keras.optimizers.schedules.LearningRateSchedule, *,
    momentum: float = 0.0, weight_decay: float | None = None,
) -> keras.optimizers.Optimizer:  # fmt: skip
    """A Keras optimizer by name, every setting passed explicitly (``weight_decay`` is decoupled)."""
    _check(name in OPTIMIZERS, f"unknown optimizer {name!r}; expected one of {tuple(OPTIMIZERS)}")
    decay = 1e-4 if name == "adamw" and weight_decay is None else weight_decay
    kwargs = {"learning_rate": lr, "weight_decay": decay}
    if name in ("sgd", "rmsprop"):
        kwargs["momentum"] = momentum
    else:
        _check(momentum == 0, f"{name} has no momentum setting; got momentum={momentum}")
    return OPTIMIZERS[name](**kwargs)


def compile_model(
    model: keras.Model, optimizer: str, lr: float, schedule: str | None = None, *,
    total_steps: int | None = None, momentum: float = 0.0, weight_decay: float | None = None,
) -> keras.Model:  # fmt: skip
    """Compile ``model`` with an explicit optimizer, lr and schedule, loss on logits; return it."""
    rate = make_schedule(schedule or "constant", lr, total_steps)
    model.compile(
        optimizer=make_optimizer(optimizer, rate, momentum=momentum, weight_decay=weight_decay),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def build_augmentation(
    rotation_degrees: float = 10.0, shift: float = 0.1, zoom: float = 0.1, *,
    seed: int | None = None,
) -> keras.Sequential:  # fmt: skip
    """Random rotation (± degrees), shift and zoom (± fractions); 0 leaves a transform out.
    Active only in training (inside ``fit``), elsewhere they pass images through; fill: black."""
    s = (lambda i: None) if seed is None else (lambda i: seed + i)
    steps = []
    if rotation_degrees:
        steps.append(layers.RandomRotation(rotation_degrees / 360, fill_mode="constant", seed=s(0)))
    if shift:
        steps.append(layers.RandomTranslation(shift, shift, fill_mode="constant", seed=s(1)))
    if zoom:
        steps.append(layers.RandomZoom(zoom, zoom, fill_mode="constant", seed=s(2)))
    return keras.Sequential(steps, name="augmentation")


def conv_bn_relu(x, filters: int, name: str):
    """``Conv 3x3 (no bias: BN has its own shift) -> BatchNorm -> ReLU``."""
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def residual_block(x, filters: int, name: str):
    """:math:`y = \\mathrm{ReLU}(x + F(x))`, :math:`F` = Conv-BN-ReLU-Conv-BN. When the channel
    count changes, a 1x1 convolution projects ``x`` so the two can be added."""
    shortcut = x
    if x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_proj")(x)
        shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    y = conv_bn_relu(x, filters, f"{name}_1")
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    y = layers.BatchNormalization(name=f"{name}_2_bn")(y)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def _input(augment: bool | keras.Layer):
    inputs = keras.Input(INPUT_SHAPE, name="image")
    if augment is True:
        augment = build_augmentation()
    return inputs, (augment(inputs) if augment else inputs)


def _pool_and_drop(x, rate: float, name: str):
    x = layers.MaxPooling2D(padding="same", name=f"{name}_pool")(x)  # 28 -> 14 -> 7 -> 4
    return layers.Dropout(rate, name=f"{name}_dropout")(x) if rate else x


def _head(inputs, x, dense: int, dropout: float, name: str) -> keras.Model:
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense, use_bias=False, name="dense")(x)
    x = layers.BatchNormalization(name="dense_bn")(x)
    x = layers.Activation("relu", name="dense_relu")(x)
    x = layers.Dropout(dropout, name="dense_dropout")(x) if dropout else x
    return keras.Model(inputs, layers.Dense(NUM_CLASSES, name="logits")(x), name=name)


def build_cnn(
    filters: Sequence[int] = (16, 32, 64), *, convs_per_block: Sequence[int] = (1, 2, 2),
    dense: int = 128, dropout: float = 0.1, dense_dropout: float = 0.3,
    augment: bool | keras.Layer = True, name: str = "cnn",
) -> keras.Model:  # fmt: skip
    """Blocks of ``[Conv3x3 -> BN -> ReLU] x n -> MaxPool -> Dropout``, then a dense head;
    ``augment``: True puts :func:`build_augmentation` first, a layer puts that layer, False none."""
    _check(len(filters) == len(convs_per_block), "give one convs_per_block entry per block")
    inputs, x = _input(augment)
    for b, (width, n_conv) in enumerate(zip(filters, convs_per_block, strict=True), start=1):
        for c in range(1, n_conv + 1):
            x = conv_bn_relu(x, width, f"b{b}c{c}")
        x = _pool_and_drop(x, dropout, f"b{b}")
    return _head(inputs, x, dense, dense_dropout, name)


def build_residual_cnn(
    filters: Sequence[int] = (16, 32, 64), *, dense: int = 128, dropout: float = 0.1,
    dense_dropout: float = 0.3, augment: bool | keras.Layer = True, name: str = "residual_cnn",
) -> keras.Model:  # fmt: skip
    """A stem ``Conv-BN-ReLU`` (``filters[0]``), then one :func:`residual_block` per further entry.
    By default it has :func:`build_cnn`'s 3x3 convolutions, pooling and head: only the skip
    connections differ."""
    _check(len(filters) >= 2, f"filters needs a stem and at least one stage, got {filters}")
    inputs, x = _input(augment)
    x = _pool_and_drop(conv_bn_relu(x, filters[0], "stem"), dropout, "s0")
    for s, width in enumerate(filters[1:], start=1):
        x = _pool_and_drop(residual_block(x, width, f"s{s}"), dropout, f"s{s}")
    return _head(inputs, x, dense, dense_dropout, name)


def make_hypermodel(
    units: Sequence[int] = (64, 128, 256, 512), lr_range=(1e-4, 1e-2), dropout_range=(0.0, 0.5)
) -> Callable[[Any], keras.Model]:
    """A keras-tuner ``build(hp)``: one-hidden-layer MLP; width, dropout (steps of 0.1), log lr."""

    def build(hp) -> keras.Model:
        width = hp.Choice("units", list(units))
        rate = hp.Float("dropout", *dropout_range, step=0.1)
        lr = hp.Float("lr", *lr_range, sampling="log")
        return compile_model(build_mlp(width, dropout=rate, name="mlp_tuned"), "adam", lr)

    return build


def make_random_search(hypermodel, *, directory, project_name: str, max_trials: int, seed: int = 1):
    """``keras_tuner.RandomSearch`` on val_accuracy (fresh each run) that needs no TensorBoard:
    keras-tuner 1.4 imports ``tensorboard`` in every trial, which TensorFlow >= 2.20 no longer
    installs; this subclass does that set-up only when a ``TensorBoard`` callback is passed."""
    why = "keras-tuner takes 0 for no seed and draws one from Python's random"
    _check(isinstance(seed, int) and seed >= 1, f"seed must be >= 1 ({why}), got {seed!r}")
    import keras_tuner as kt

    class RandomSearch(kt.RandomSearch):
        def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
            if any(type(cb).__name__ == "TensorBoard" for cb in callbacks):
                super()._configure_tensorboard_dir(callbacks, trial, execution)

    return RandomSearch(hypermodel, objective="val_accuracy", max_trials=max_trials, seed=seed,
                        directory=str(directory), project_name=project_name, overwrite=True)  # fmt: skip


def predict_proba(model: keras.Model, x: Any, *, batch_size: int = 512) -> np.ndarray:
    """Class probabilities ``(N, 10)`` for uint8 images ``(N, 28, 28)``, float images in [0, 1]
    (with or without the channel axis) or a batched ``tf.data.Dataset``."""
    if hasattr(x, "element_spec"):  # a tf.data.Dataset, batched already
        logits = model.predict(x, verbose=0)
    else:
        x = np.asarray(x)
        x = x.astype("float32") / 255 if x.dtype == np.uint8 else x.astype("float32")
        x = x[..., None] if x.ndim == 3 else x
        _check(x.shape[1:] == INPUT_SHAPE, f"images must be (N, 28, 28), got {x.shape}")
        logits = model.predict(x, batch_size=batch_size, verbose=0)
    return keras.ops.convert_to_numpy(keras.ops.softmax(logits, axis=-1))


SHIFTS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))  # (down, right) pixels: the image, 4 moves


def predict_proba_tta(model: keras.Model, x: np.ndarray, shifts=SHIFTS) -> np.ndarray:
    """Test-time augmentation: the mean of :func:`predict_proba` over copies of the images
    ``(N, 28, 28)`` moved by each ``(down, right)`` of ``shifts``, the uncovered border black."""
    x, p = np.asarray(x), max(abs(d) for shift in shifts for d in shift)
    _check(x.ndim == 3, f"images must be (N, height, width) with no channel axis, got {x.shape}")
    padded = np.pad(x, ((0, 0), (p, p), (p, p)))
    h, w = x.shape[1:3]
    views = [padded[:, p - dy : p - dy + h, p - dx : p - dx + w] for dy, dx in shifts]
    return np.mean([predict_proba(model, view) for view in views], axis=0)


def _stack(probs) -> np.ndarray:
    p = np.asarray(probs, dtype=float)
    _check(p.ndim == 3 and min(p.shape) > 0, f"probs must be (models, samples, classes): {p.shape}")
    _check(bool(np.isfinite(p).all()), "probs contains NaN or inf")
    return p


def soft_vote(probs) -> tuple[np.ndarray, np.ndarray]:
    """Average the members' probabilities ``(models, samples, classes)``; returns (labels, mean)."""
    mean = _stack(probs).mean(axis=0)
    return mean.argmax(axis=1), mean


def hard_vote(probs) -> np.ndarray:
    """Majority of the members' arg-max labels; ties go to the higher mean probability, then
    to the lower class index."""
    p = _stack(probs)
    votes = p.argmax(axis=2)  # (models, samples)
    counts = (votes[..., None] == np.arange(p.shape[2])).sum(axis=0)  # (samples, classes)
    tied = counts == counts.max(axis=1, keepdims=True)
    return np.where(tied, p.mean(axis=0), -np.inf).argmax(axis=1)


def vote(probs, method: str = "soft") -> np.ndarray:
    """Ensemble labels by "soft" (:func:`soft_vote`) or "hard" (:func:`hard_vote`) voting."""
    _check(method in ("soft", "hard"), f"unknown voting method {method!r}; use 'soft' or 'hard'")
    return soft_vote(probs)[0] if method == "soft" else hard_vote(probs)
