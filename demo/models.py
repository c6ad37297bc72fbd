"""The trained models the demo and the notebooks' "Try your own digit" use: the shipped ones.

A full run on MNIST (``make reproduce``) writes ``results/models/numpy_mlp.npz`` and
``results/models/cnn.keras``, and the repository ships them, so a fresh clone answers with the
real models. Only when a file is missing or does not load is a quick model trained instead (and
the message says why). No gradio here: the notebooks import this without the web app."""

import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

SHIPPED = Path(__file__).resolve().parents[1] / "results" / "models"  # committed with the code
MAX_MODEL_BYTES = 200 << 20  # a .keras file may declare this much, unpacked: ours are a few MB

Predictor = Callable[[np.ndarray], np.ndarray]  # uint8 (N, 28, 28) -> probabilities (N, K)


def load_numpy_mlp(path: str | Path):
    """The NumPy notebook's final network (``train.IMPROVED``) from ``path``; ``ValueError``
    naming the problem when the file is missing, corrupted or another network's."""
    from from_scratch_numpy import numpy_net, train

    return train.load_weights(numpy_net.build(train.IMPROVED)[0], path)


def load_cnn(path: str | Path):
    """The Keras notebook's CNN from a ``.keras`` file; ``ValueError`` naming the problem when it
    is missing, not a zip archive (what ``.keras`` files are), too large, or Keras refuses it.
    Keras's safe mode stays on: no code from the file runs."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path} is not a Keras model file (a .keras file is a zip archive): truncated, or "
            "another file renamed; delete it and run `make reproduce`"
        )
    with zipfile.ZipFile(path) as z:
        declared = sum(info.file_size for info in z.infolist())
    if declared > MAX_MODEL_BYTES:
        raise ValueError(f"{path} declares {declared:,} bytes unpacked: not one of our models")
    import keras

    try:
        return keras.models.load_model(path, safe_mode=True)
    except Exception as e:  # Keras raises ValueError, OSError, KeyError, TypeError, ...
        raise ValueError(f"{path}: Keras cannot load it ({type(e).__name__}: {e})") from e


def save_cnn(model, path: str | Path) -> Path:
    """``model.save(path)`` all at once (a full disk leaves any earlier ``cnn.keras`` as it was):
    the notebooks' final save of the model this module loads."""
    from common.results import atomic_write

    return atomic_write(path, model.save, suffix=".part.keras")


def numpy_predictor(models: Path, x=None, y=None) -> Predictor:
    """The shipped NumPy MLP, else (with training data ``x, y``) a quick one, saying why."""
    from from_scratch_numpy import train

    path = Path(models) / "numpy_mlp.npz"
    try:
        net = load_numpy_mlp(path)
        print(f"NumPy MLP: {path}")
    except ValueError as e:
        if x is None:
            raise
        print(f"NumPy MLP: {e} (`make reproduce` saves it); training a quick one")
        recipe = train.replace(train.IMPROVED, sizes=(784, 128, 10), dropout=0.0, epochs=3)
        net, _ = train.train(recipe, x, y, progress=True)
    return lambda images: train.predict_proba(net, images)


def cnn_predictor(models: Path, x=None, y=None) -> Predictor:
    """The shipped CNN, else (with training data ``x, y``) a quick one, saying why."""
    import keras

    from advance_pipeline_tensorflow import keras_models, study

    path = Path(models) / "cnn.keras"
    try:
        model = load_cnn(path)
        print(f"CNN: {path}")
    except ValueError as e:
        if x is None:
            raise
        print(f"CNN: {e} (`make reproduce` saves it); training a quick one")
        model = keras_models.compile_model(
            keras_models.build_cnn(augment=False), keras.optimizers.Adam(1e-3)
        )
        # batches of 32: enough steps in one epoch for BatchNorm's running statistics to settle
        model.fit(x[..., None].astype("float32") / 255, y, epochs=1, batch_size=32, verbose=1)
    return lambda images: study.predict_proba(model, images)  # uint8 (N, 28, 28)


def load_predictors(models: Path = SHIPPED, n_quick: int = 15_000) -> dict[str, Predictor]:
    """Both models from ``models`` (default: the shipped ones); a model whose file is missing or
    does not load is trained quickly on MNIST's first ``n_quick`` digits instead."""
    makers = {"NumPy MLP": numpy_predictor, "CNN (Keras)": cnn_predictor}
    predictors, missing = {}, []
    for name, make in makers.items():
        try:
            predictors[name] = make(models)
        except ValueError as e:
            missing.append(name)
            print(f"{name}: {e}")
        except Exception as e:  # no TensorFlow, say: one model must not stop the other
            print(f"{name}: unavailable ({type(e).__name__}: {e})", file=sys.stderr)
    if missing:
        from common.data import load_mnist

        (x, y), _ = load_mnist()
        for name in missing:
            try:
                predictors[name] = makers[name](models, x[:n_quick], y[:n_quick])
            except Exception as e:
                print(f"{name}: unavailable ({type(e).__name__}: {e})", file=sys.stderr)
    return {name: predictors[name] for name in makers if name in predictors}
