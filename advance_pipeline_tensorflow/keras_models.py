"""Keras model builders for ``advanced_algorithm_keras_pipeline.ipynb``.

Conventions shared by every builder
-----------------------------------
* **Inputs** are float32 images in ``[0, 1]`` of shape ``(28, 28, 1)`` (channels last), as
  :func:`common.tf_data.make_dataset` produces them.
* **Outputs are logits** (a final ``Dense(10)`` without activation), as in the original notebook.
  :func:`compile_model` therefore uses ``SparseCategoricalCrossentropy(from_logits=True)``;
  :func:`predict_proba` applies the softmax when probabilities are needed (ensembles, plots).
* Builders return **uncompiled** models. :func:`compile_model` is the single place where the
  optimizer, learning rate and schedule are chosen, so a comparison changes only the factor under
  study. (The original notebook compiled its BatchNorm models without an optimizer, so Keras
  silently used its default, RMSprop, and the "BatchNorm effect" was confounded with the optimizer.)
* **Strategy friendly**: nothing is created at import time. Calling a builder and
  :func:`compile_model` inside ``with strategy.scope():`` (e.g. ``tf.distribute.MirroredStrategy``)
  is all a multi-GPU run needs; variables and optimizer slots are then created under the strategy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
from keras import layers

__all__ = [
    "INPUT_SHAPE",
    "NUM_CLASSES",
    "MLP_VARIANTS",
    "OPTIMIZERS",
    "build_augmentation",
    "build_cnn",
    "build_mlp",
    "build_original_mlp",
    "build_residual_cnn",
    "compile_model",
    "hard_vote",
    "make_hypermodel",
    "make_optimizer",
    "make_random_search",
    "make_schedule",
    "predict_proba",
    "soft_vote",
    "vote",
]

INPUT_SHAPE: tuple[int, int, int] = (28, 28, 1)
"""Image shape the models expect: 28x28 grey-scale, channels last."""

NUM_CLASSES: int = 10
"""Number of output logits."""

OPTIMIZERS: tuple[str, ...] = ("adam", "sgd", "rmsprop", "adamw", "nadam")
"""Optimizer names :func:`make_optimizer` understands."""

MLP_VARIANTS: tuple[str, ...] = ("adam", "sgd", "dropout", "batchnorm", "batchnorm_dropout")
"""The five models of the original notebook, in its order (see :func:`build_original_mlp`)."""

SCHEDULES: tuple[str, ...] = ("constant", "cosine", "onecycle")
"""Learning-rate schedule names :func:`make_schedule` understands."""


# ----------------------------------------------------------------------------- validation
def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_rate(value: Any, name: str) -> float:
    """A dropout-like rate in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    value = float(value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return value


def _check_positive_float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return value


def _check_widths(widths: Sequence[int] | int, name: str) -> tuple[int, ...]:
    if isinstance(widths, (int, np.integer)) and not isinstance(widths, bool):
        widths = (widths,)
    widths = tuple(widths)
    if not widths:
        raise ValueError(f"{name} must contain at least one width")
    return tuple(_check_positive_int(w, f"{name}[{i}]") for i, w in enumerate(widths))


def _per_layer(value: float | Sequence[float], n: int, name: str) -> tuple[float, ...]:
    """Broadcast one dropout rate to ``n`` layers, or check a sequence of ``n`` rates."""
    if isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool):
        return tuple(_check_rate(value, name) for _ in range(n))
    values = tuple(value)
    if len(values) != n:
        raise ValueError(f"{name} must be one rate or {n} rates, got {len(values)}")
    return tuple(_check_rate(v, f"{name}[{i}]") for i, v in enumerate(values))


# ----------------------------------------------------------------------------- MLPs
def build_mlp(
    hidden: Sequence[int] | int = 128,
    *,
    dropout: float | Sequence[float] = 0.0,
    batchnorm: bool = False,
    name: str = "mlp",
) -> keras.Model:
    """A multilayer perceptron: ``Flatten -> [Dense -> (BatchNorm) -> ReLU -> (Dropout)]* -> Dense(10)``.

    Parameters
    ----------
    hidden : int or sequence of int
        Width of each hidden layer (positive).
    dropout : float or sequence of float
        Dropout rate after each hidden layer, in ``[0, 1)``; 0 means no Dropout layer.
    batchnorm : bool
        Insert ``BatchNormalization`` between each hidden Dense layer and its ReLU, as the
        original did (``Dense -> BN``, the activation applied after normalisation).
    name : str
        Model name.

    Returns
    -------
    keras.Model
        Uncompiled; outputs 10 logits.
    """
    widths = _check_widths(hidden, "hidden")
    rates = _per_layer(dropout, len(widths), "dropout")
    inputs = keras.Input(INPUT_SHAPE, name="image")
    x = layers.Flatten(name="flatten")(inputs)
    for i, (width, rate) in enumerate(zip(widths, rates, strict=True), start=1):
        if batchnorm:
            x = layers.Dense(width, name=f"dense{i}")(x)
            x = layers.BatchNormalization(name=f"bn{i}")(x)
            x = layers.Activation("relu", name=f"relu{i}")(x)
        else:
            x = layers.Dense(width, activation="relu", name=f"dense{i}")(x)
        if rate > 0:
            x = layers.Dropout(rate, name=f"dropout{i}")(x)
    outputs = layers.Dense(NUM_CLASSES, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def build_original_mlp(variant: str) -> keras.Model:
    """One of the five MLPs of the original notebook (uncompiled).

    ========================  ============================================================
    variant                   architecture
    ========================  ============================================================
    ``"adam"``, ``"sgd"``     Dense 128 ReLU -> Dense 10 (the same network; only the
                              optimizer differs, chosen in :func:`compile_model`)
    ``"dropout"``             Dense 128 ReLU -> Dropout 0.5 -> Dense 10
    ``"batchnorm"``           Dense 128 -> BatchNorm -> ReLU -> Dense 10
    ``"batchnorm_dropout"``   Dense 128 -> BN -> ReLU -> Dropout 0.3 -> Dense 64 -> BN -> ReLU
                              -> Dropout 0.2 -> Dense 10
    ========================  ============================================================

    Parameters
    ----------
    variant : str
        One of :data:`MLP_VARIANTS`.

    Returns
    -------
    keras.Model
        Uncompiled; outputs 10 logits.
    """
    if variant in ("adam", "sgd"):
        return build_mlp(128, name=f"mlp_{variant}")
    if variant == "dropout":
        return build_mlp(128, dropout=0.5, name="mlp_dropout")
    if variant == "batchnorm":
        return build_mlp(128, batchnorm=True, name="mlp_batchnorm")
    if variant == "batchnorm_dropout":
        return build_mlp((128, 64), dropout=(0.3, 0.2), batchnorm=True, name="mlp_bn_dropout")
    raise ValueError(f"unknown MLP variant {variant!r}; expected one of {MLP_VARIANTS}")


# ----------------------------------------------------------------------------- optimizers
def make_schedule(
    kind: str,
    lr: float,
    total_steps: int | None = None,
    *,
    warmup_fraction: float = 0.2,
    final_fraction: float = 0.01,
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """A learning rate or a per-step learning-rate schedule.

    * ``"constant"``: ``lr`` itself.
    * ``"cosine"``: cosine decay from ``lr`` to ``final_fraction * lr`` over ``total_steps``,
      :math:`\\eta_t = \\eta_{min} + \\tfrac12(\\eta - \\eta_{min})(1 + \\cos(\\pi t / T))`.
    * ``"onecycle"``: linear warm-up from ``lr / 25`` to ``lr`` over the first
      ``warmup_fraction`` of the steps, then the cosine decay above (Smith's one-cycle policy,
      as ``keras.optimizers.schedules.CosineDecay`` with ``warmup_target``).

    Parameters
    ----------
    kind : str
        One of ``"constant"``, ``"cosine"``, ``"onecycle"``.
    lr : float
        Peak (and, for "cosine", initial) learning rate.
    total_steps : int, optional
        Number of optimizer steps of the whole training (epochs x batches per epoch); required
        by the schedules.
    warmup_fraction : float
        Share of the steps used for the warm-up ("onecycle"), in ``[0, 1)``.
    final_fraction : float
        Final learning rate as a fraction of ``lr``, in ``[0, 1)``.
    """
    lr = _check_positive_float(lr, "lr")
    if kind == "constant":
        return lr
    if kind not in SCHEDULES:
        raise ValueError(f"unknown schedule {kind!r}; expected one of {SCHEDULES}")
    total_steps = _check_positive_int(total_steps, "total_steps")
    warmup_fraction = _check_rate(warmup_fraction, "warmup_fraction")
    final_fraction = _check_rate(final_fraction, "final_fraction")
    if kind == "cosine":
        return keras.optimizers.schedules.CosineDecay(lr, total_steps, alpha=final_fraction)
    warmup = int(round(warmup_fraction * total_steps))
    start = lr / 25.0
    return keras.optimizers.schedules.CosineDecay(
        start,
        decay_steps=max(total_steps - warmup, 1),
        alpha=final_fraction,  # after the warm-up, relative to warmup_target (= lr)
        warmup_target=lr,
        warmup_steps=warmup,
    )


def make_optimizer(
    name: str,
    lr: float | keras.optimizers.schedules.LearningRateSchedule,
    *,
    momentum: float = 0.0,
    weight_decay: float | None = None,
) -> keras.optimizers.Optimizer:
    """A Keras optimizer by name, with an explicit learning rate (never a silent default).

    Parameters
    ----------
    name : str
        One of :data:`OPTIMIZERS` (case-insensitive).
    lr : float or LearningRateSchedule
        Learning rate, or a schedule from :func:`make_schedule`.
    momentum : float
        Momentum for "sgd" and "rmsprop", in ``[0, 1)``. The original used plain SGD (0).
    weight_decay : float, optional
        Decoupled weight decay ("adamw" defaults to 1e-4; ignored as None elsewhere).
    """
    if not isinstance(name, str) or name.lower() not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {OPTIMIZERS}")
    if not isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
        lr = _check_positive_float(lr, "lr")
    momentum = _check_rate(momentum, "momentum")
    name = name.lower()
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=lr, weight_decay=weight_decay)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(
            learning_rate=lr, momentum=momentum, weight_decay=weight_decay
        )
    if name == "adamw":
        return keras.optimizers.AdamW(
            learning_rate=lr, weight_decay=1e-4 if weight_decay is None else weight_decay
        )
    return keras.optimizers.Nadam(learning_rate=lr, weight_decay=weight_decay)


def compile_model(
    model: keras.Model,
    optimizer_name: str,
    lr: float,
    schedule: str | keras.optimizers.schedules.LearningRateSchedule | None = None,
    *,
    total_steps: int | None = None,
    momentum: float = 0.0,
    weight_decay: float | None = None,
    steps_per_execution: int = 1,
) -> keras.Model:
    """Compile ``model`` with an explicit optimizer and learning rate; returns the same model.

    Loss: ``SparseCategoricalCrossentropy(from_logits=True)`` (the builders output logits);
    metric: accuracy. Call it inside ``strategy.scope()`` when using a distribution strategy.

    Parameters
    ----------
    model : keras.Model
        A model from one of the builders.
    optimizer_name : str
        One of :data:`OPTIMIZERS`.
    lr : float
        (Peak) learning rate.
    schedule : None, str or LearningRateSchedule
        None or "constant" for a fixed rate; "cosine" or "onecycle" (then ``total_steps`` is
        required), see :func:`make_schedule`; or a ready schedule object (``lr`` is then only
        validated and recorded).
    total_steps : int, optional
        Optimizer steps of the whole training, for the named schedules.
    momentum, weight_decay : see :func:`make_optimizer`.
    steps_per_execution : int
        Batches run per call of the compiled train function (fewer Python round trips; logs and
        callbacks are unaffected at epoch granularity).

    Returns
    -------
    keras.Model
        ``model``, compiled.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model, got {type(model).__name__}")
    lr = _check_positive_float(lr, "lr")
    steps_per_execution = _check_positive_int(steps_per_execution, "steps_per_execution")
    if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        rate = schedule
    else:
        rate = make_schedule(schedule or "constant", lr, total_steps)
    optimizer = make_optimizer(optimizer_name, rate, momentum=momentum, weight_decay=weight_decay)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    return model


# ----------------------------------------------------------------------------- CNNs
def build_augmentation(
    rotation_degrees: float = 10.0,
    shift: float = 0.1,
    zoom: float = 0.1,
    *,
    seed: int | None = None,
) -> keras.Sequential:
    """Random rotation, translation and zoom as Keras preprocessing layers.

    The layers transform their input only when called with ``training=True`` (inside
    ``fit``); at inference (``predict``, ``evaluate``, ``model(x, training=False)``) they pass
    the images through unchanged. Empty pixels are filled with 0 (black background).

    Parameters
    ----------
    rotation_degrees : float
        Maximum rotation either way, in degrees, in ``[0, 180)``; 0 disables it.
    shift : float
        Maximum shift as a fraction of height/width, in ``[0, 1)``; 0 disables it.
    zoom : float
        Maximum zoom in or out as a fraction, in ``[0, 1)``; 0 disables it.
    seed : int, optional
        Seed of the random transforms (each layer gets ``seed + i``).
    """
    if isinstance(rotation_degrees, bool) or not 0.0 <= float(rotation_degrees) < 180.0:
        raise ValueError(f"rotation_degrees must be in [0, 180), got {rotation_degrees!r}")
    shift = _check_rate(shift, "shift")
    zoom = _check_rate(zoom, "zoom")

    def _seed(i: int) -> int | None:
        return None if seed is None else int(seed) + i

    steps: list[layers.Layer] = []
    if rotation_degrees > 0:
        steps.append(
            layers.RandomRotation(
                float(rotation_degrees) / 360.0, fill_mode="constant", seed=_seed(0), name="rotate"
            )
        )
    if shift > 0:
        steps.append(
            layers.RandomTranslation(
                shift, shift, fill_mode="constant", seed=_seed(1), name="shift"
            )
        )
    if zoom > 0:
        steps.append(
            layers.RandomZoom(zoom, zoom, fill_mode="constant", seed=_seed(2), name="zoom")
        )
    return keras.Sequential(steps, name="augmentation")


def _conv_bn_relu(x, filters: int, name: str, strides: int = 1):
    x = layers.Conv2D(
        filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_conv"
    )(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def _head(x, dense: int, dropout: float):
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense, use_bias=False, name="dense")(x)
    x = layers.BatchNormalization(name="dense_bn")(x)
    x = layers.Activation("relu", name="dense_relu")(x)
    if dropout > 0:
        x = layers.Dropout(dropout, name="dense_dropout")(x)
    return layers.Dense(NUM_CLASSES, name="logits")(x)


def _augmented_input(augment: bool, augmentation: keras.Layer | None):
    inputs = keras.Input(INPUT_SHAPE, name="image")
    x = inputs
    if augment:
        x = (augmentation if augmentation is not None else build_augmentation())(x)
    return inputs, x


def _pool(x, name: str):
    # "same" padding: 28 -> 14 -> 7 -> 4, no row or column dropped at odd sizes.
    return layers.MaxPooling2D(padding="same", name=name)(x)


def build_cnn(
    filters: Sequence[int] = (16, 32, 64),
    *,
    convs_per_block: int | Sequence[int] = (1, 2, 2),
    dense: int = 128,
    dropout: float = 0.1,
    dense_dropout: float = 0.3,
    augment: bool = True,
    augmentation: keras.Layer | None = None,
    name: str = "cnn",
) -> keras.Model:
    """A VGG-style CNN: blocks of ``[Conv3x3 -> BN -> ReLU] x n -> MaxPool -> Dropout``.

    Then ``Flatten -> Dense -> BN -> ReLU -> Dropout -> Dense(10)``. With the default three
    blocks the feature maps go 28x28 -> 14x14 -> 7x7 -> 4x4; the first block has a single
    convolution, so little work is done at full resolution (the expensive part on a CPU).

    Parameters
    ----------
    filters : sequence of int
        Channels of each block (one block per entry).
    convs_per_block : int or sequence of int
        Convolutions per block (one number for all blocks, or one per block).
    dense : int
        Width of the hidden dense layer.
    dropout : float
        Dropout after each pooling, in ``[0, 1)``.
    dense_dropout : float
        Dropout before the output layer, in ``[0, 1)``.
    augment : bool
        Put the augmentation layers (active only in training) at the start of the model.
    augmentation : keras.Layer, optional
        Custom augmentation (default :func:`build_augmentation`).
    name : str
        Model name.

    Returns
    -------
    keras.Model
        Uncompiled; outputs 10 logits.
    """
    widths = _check_widths(filters, "filters")
    if isinstance(convs_per_block, (int, np.integer)) and not isinstance(convs_per_block, bool):
        convs = (_check_positive_int(convs_per_block, "convs_per_block"),) * len(widths)
    else:
        convs = _check_widths(convs_per_block, "convs_per_block")
        if len(convs) != len(widths):
            raise ValueError(
                f"convs_per_block must be one number or {len(widths)} numbers, got {len(convs)}"
            )
    dense = _check_positive_int(dense, "dense")
    dropout = _check_rate(dropout, "dropout")
    dense_dropout = _check_rate(dense_dropout, "dense_dropout")
    inputs, x = _augmented_input(augment, augmentation)
    for b, (width, n_conv) in enumerate(zip(widths, convs, strict=True), start=1):
        for c in range(1, n_conv + 1):
            x = _conv_bn_relu(x, width, f"b{b}c{c}")
        x = _pool(x, f"b{b}_pool")
        if dropout > 0:
            x = layers.Dropout(dropout, name=f"b{b}_dropout")(x)
    return keras.Model(inputs, _head(x, dense, dense_dropout), name=name)


def _residual_block(x, filters: int, name: str):
    """``relu(x + BN(conv(relu(BN(conv(x))))))``; a 1x1 convolution projects the shortcut if needed."""
    shortcut = x
    if x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_proj")(x)
        shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    y = _conv_bn_relu(x, filters, f"{name}_1")
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    y = layers.BatchNormalization(name=f"{name}_2_bn")(y)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def build_residual_cnn(
    filters: Sequence[int] = (16, 32, 64),
    *,
    blocks_per_stage: int = 1,
    dense: int = 128,
    dropout: float = 0.1,
    dense_dropout: float = 0.3,
    augment: bool = True,
    augmentation: keras.Layer | None = None,
    name: str = "residual_cnn",
) -> keras.Model:
    """A small ResNet: a stem convolution, then stages of residual blocks, each stage pooled.

    ``filters[0]`` is the stem (one ``Conv3x3 -> BN -> ReLU``, MaxPool, Dropout); each further
    entry is a stage of ``blocks_per_stage`` residual blocks followed by MaxPool and Dropout. A
    residual block computes :math:`y = \\mathrm{ReLU}(x + F(x))` with
    :math:`F = \\mathrm{BN}\\circ\\mathrm{Conv}\\circ\\mathrm{ReLU}\\circ\\mathrm{BN}\\circ\\mathrm{Conv}`
    (an ``Add`` layer; a 1x1 convolution projects ``x`` when the channel count changes).

    With the defaults it has exactly the 3x3 convolutions of :func:`build_cnn`'s defaults (16;
    32, 32; 64, 64 channels) and the same head: the two differ only by the skip connections.

    Parameters
    ----------
    filters : sequence of int
        Channels of the stem, then of each stage (at least two entries).
    blocks_per_stage : int
        Residual blocks per stage.
    dense, dropout, dense_dropout, augment, augmentation, name
        As in :func:`build_cnn`.

    Returns
    -------
    keras.Model
        Uncompiled; outputs 10 logits.
    """
    widths = _check_widths(filters, "filters")
    if len(widths) < 2:
        raise ValueError(f"filters needs a stem and at least one stage, got {widths}")
    blocks_per_stage = _check_positive_int(blocks_per_stage, "blocks_per_stage")
    dense = _check_positive_int(dense, "dense")
    dropout = _check_rate(dropout, "dropout")
    dense_dropout = _check_rate(dense_dropout, "dense_dropout")
    inputs, x = _augmented_input(augment, augmentation)
    for s, width in enumerate(widths):
        if s == 0:
            x = _conv_bn_relu(x, width, "stem")
        else:
            for b in range(1, blocks_per_stage + 1):
                x = _residual_block(x, width, f"s{s}b{b}")
        x = _pool(x, f"s{s}_pool")
        if dropout > 0:
            x = layers.Dropout(dropout, name=f"s{s}_dropout")(x)
    return keras.Model(inputs, _head(x, dense, dense_dropout), name=name)


# ----------------------------------------------------------------------------- keras-tuner
def make_hypermodel(
    *,
    units: Sequence[int] = (64, 128, 256, 512),
    lr_range: tuple[float, float] = (1e-4, 1e-2),
    dropout_range: tuple[float, float] = (0.0, 0.5),
    dropout_step: float = 0.1,
    optimizer_name: str = "adam",
) -> Callable[[Any], keras.Model]:
    """A keras-tuner ``build(hp)`` function for a one-hidden-layer MLP.

    Search space: ``units`` (choice of widths), ``dropout`` (``dropout_range`` in steps of
    ``dropout_step``), ``lr`` (log-uniform in ``lr_range``). The returned function builds and
    compiles a model (keras-tuner needs compiled models) with :func:`build_mlp` and
    :func:`compile_model`.

    Example
    -------
    >>> tuner = make_random_search(make_hypermodel(), directory="results/tuner",
    ...                            project_name="mlp", max_trials=8)
    >>> tuner.search(train_ds, validation_data=val_ds, epochs=3, verbose=0)  # doctest: +SKIP
    """
    widths = _check_widths(units, "units")
    lo, hi = (_check_positive_float(v, "lr_range") for v in lr_range)
    if lo >= hi:
        raise ValueError(f"lr_range must be (low, high) with low < high, got {lr_range!r}")
    d_lo, d_hi = (_check_rate(v, "dropout_range") for v in dropout_range)
    if d_lo > d_hi:
        raise ValueError(
            f"dropout_range must be (low, high) with low <= high, got {dropout_range!r}"
        )
    dropout_step = _check_positive_float(dropout_step, "dropout_step")
    if optimizer_name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer_name!r}; expected one of {OPTIMIZERS}")

    def build(hp) -> keras.Model:
        width = hp.Choice("units", list(widths))
        rate = hp.Float("dropout", d_lo, d_hi, step=dropout_step) if d_hi > d_lo else d_lo
        lr = hp.Float("lr", lo, hi, sampling="log")
        model = build_mlp(width, dropout=rate, name="mlp_tuned")
        return compile_model(model, optimizer_name, lr)

    return build


def make_random_search(
    hypermodel: Callable[[Any], keras.Model],
    *,
    directory: str,
    project_name: str,
    max_trials: int,
    seed: int = 0,
    objective: str = "val_accuracy",
):
    """A ``keras_tuner.RandomSearch`` that does not need TensorBoard installed.

    keras-tuner 1.4 imports ``tensorboard`` in every trial with the TensorFlow backend, even when
    no ``TensorBoard`` callback is used, and TensorFlow >= 2.20 no longer installs it. This
    subclass only does that TensorBoard set-up when such a callback is actually passed.
    ``overwrite=True``: each run starts a fresh search in ``directory/project_name``.
    """
    import keras_tuner as kt

    max_trials = _check_positive_int(max_trials, "max_trials")

    class RandomSearch(kt.RandomSearch):
        def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
            if any(type(cb).__name__ == "TensorBoard" for cb in callbacks):
                super()._configure_tensorboard_dir(callbacks, trial, execution)

    return RandomSearch(
        hypermodel,
        objective=objective,
        max_trials=max_trials,
        seed=seed,
        directory=str(directory),
        project_name=project_name,
        overwrite=True,
    )


# ----------------------------------------------------------------------------- ensembles
def predict_proba(model: keras.Model, x: Any, *, batch_size: int = 512) -> np.ndarray:
    """Class probabilities: the softmax of the model's logits, shape ``(n, 10)``.

    ``x`` is an array of images or a ``tf.data.Dataset`` (then ``batch_size`` is ignored).
    """
    kwargs = {} if hasattr(x, "element_spec") else {"batch_size": batch_size}
    logits = model.predict(x, verbose=0, **kwargs)
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _stack_probs(probs: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    p = np.asarray(probs, dtype=float)
    if p.ndim != 3 or p.shape[0] == 0 or p.shape[1] == 0 or p.shape[2] == 0:
        raise ValueError(
            "probs must have shape (n_models, n_samples, n_classes) with no empty axis, "
            f"got {p.shape}"
        )
    if not np.all(np.isfinite(p)):
        raise ValueError("probs contains NaN or inf")
    return p


def soft_vote(probs: Sequence[np.ndarray] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Soft voting: average the members' probabilities, predict the arg-max.

    Parameters
    ----------
    probs : array-like of shape (n_models, n_samples, n_classes)
        Each member's class probabilities (softmax outputs).

    Returns
    -------
    labels : ndarray of shape (n_samples,)
        Arg-max of the mean probability (lowest class index on exact ties, NumPy's rule).
    mean_probs : ndarray of shape (n_samples, n_classes)
        The averaged probabilities.
    """
    p = _stack_probs(probs)
    mean = p.mean(axis=0)
    return mean.argmax(axis=1), mean


def hard_vote(probs: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """Hard (majority) voting: each member votes for its arg-max class; most votes wins.

    Ties between classes with the same number of votes are broken deterministically: first by
    the higher mean probability among the tied classes (the soft vote restricted to them), then
    by the lower class index.

    Parameters
    ----------
    probs : array-like of shape (n_models, n_samples, n_classes)
        Each member's class probabilities.

    Returns
    -------
    ndarray of shape (n_samples,)
        The voted labels.
    """
    p = _stack_probs(probs)
    n_models, n_samples, n_classes = p.shape
    votes = p.argmax(axis=2)  # (n_models, n_samples)
    counts = np.zeros((n_samples, n_classes), dtype=np.int64)
    np.add.at(counts, (np.arange(n_samples)[None, :].repeat(n_models, 0), votes), 1)
    tied = counts == counts.max(axis=1, keepdims=True)
    score = np.where(tied, p.mean(axis=0), -np.inf)  # argmax keeps the lowest index on ties
    return score.argmax(axis=1)


def vote(probs: Sequence[np.ndarray] | np.ndarray, method: str = "soft") -> np.ndarray:
    """Ensemble labels by ``method`` "soft" (:func:`soft_vote`) or "hard" (:func:`hard_vote`)."""
    if method == "soft":
        return soft_vote(probs)[0]
    if method == "hard":
        return hard_vote(probs)
    raise ValueError(f"unknown voting method {method!r}; expected 'soft' or 'hard'")
