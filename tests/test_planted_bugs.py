"""Issue 29's planted bugs in the Python code, kept killed: each is applied to a copy of the
repository and the tests named for it must fail there.

A planted bug is ``(file, old text, new text, tests)``. The old text must occur exactly once in
today's file: when a module is rewritten and its entry no longer applies,
``test_every_planted_bug_still_applies`` FAILS (a lost mutant is never silently skipped); rewrite
the entry for the new code. Running a planted bug takes a fresh pytest process on the copy
(2-15 s each), so those runs are marked ``planted`` and run by ``make mutate``, not ``make test``;
the tests that catch them run in ``make test`` like any other.

The rest of this file is the tests that kill the planted bugs no older test caught. The notebook's
planted bugs are in ``test_test_set_use.py``; the README's in ``test_published_numbers.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT, blobs

THIS = "tests/test_planted_bugs.py"


@dataclass(frozen=True)
class Planted:
    """One planted bug: in ``path``, ``old`` (found exactly once) becomes ``new``; then at least
    one of ``tests`` (pytest node ids) must fail."""

    path: str
    old: str
    new: str
    tests: tuple[str, ...]
    tf: bool = False  # the tests need TensorFlow


PLANTED = {
    "fit's early stopping monitors training accuracy": Planted(
        "from_scratch_numpy/train.py",
        'score = logs["val_accuracy"] if monitor == "val_accuracy" else -logs["val_loss"]',
        'score = logs["accuracy"] if monitor == "val_accuracy" else -logs["val_loss"]',
        ("tests/test_train.py::test_best_epoch_by_validation_accuracy_is_the_first_best",),
    ),
    "shuffling with the same permutation every epoch": Planted(
        "from_scratch_numpy/train.py",
        "order = rng.permutation(n) if shuffle else np.arange(n)",
        "order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)",
        (f"{THIS}::test_each_epoch_is_shuffled_anew",),
    ),
    "the cosine schedule built for epochs - 1": Planted(
        "from_scratch_numpy/numpy_net.py",  # generated from the notebook's build cell
        "cosine_schedule(recipe.lr, recipe.epochs, warmup=warmup)",
        "cosine_schedule(recipe.lr, recipe.epochs - 1, warmup=warmup)",
        ("tests/test_train.py::test_build_makes_the_recipes_network_optimizer_and_schedule",),
    ),
    "save/load matching arrays by shape": Planted(
        "from_scratch_numpy/train.py",
        "        W[...] = cast[k]\n",
        "        W[...] = next(a for _, a in sorted(cast.items(), reverse=True) if a.shape == W.shape)\n",
        (f"{THIS}::test_load_puts_each_array_in_its_own_layer_even_when_shapes_repeat",),
    ),
    "the fast network's backward without L2": Planted(
        "benchmarks/fast.py",
        "        if l2 and self.weight_decay:\n",
        "        if False and self.weight_decay:\n",
        (f"{THIS}::test_fast_network_with_sgd_or_momentum_and_l2_equals_the_lesson",),
    ),
    "keras-tuner's objective 'accuracy'": Planted(
        "advance_pipeline_tensorflow/study.py",
        'objective="val_accuracy"',
        'objective="accuracy"',
        ("tests/test_study.py::test_tuner_scores_and_chooses_trials_on_validation_accuracy",),
        tf=True,
    ),
    "BatchNormalization momentum 0.5 (MLP)": Planted(
        "advance_pipeline_tensorflow/keras_models.py",  # generated from the notebook
        '"batchnorm": [layers.Dense(128), layers.BatchNormalization(), layers.ReLU()],',
        '"batchnorm": [layers.Dense(128), layers.BatchNormalization(momentum=0.5), layers.ReLU()],',
        ("tests/test_keras_models.py::test_batchnorm_layers_keep_keras_defaults",),
        tf=True,
    ),
    "BatchNormalization momentum 0.5 (CNN)": Planted(
        "advance_pipeline_tensorflow/keras_models.py",
        "                  layers.BatchNormalization(), layers.ReLU()]",
        "                  layers.BatchNormalization(momentum=0.5), layers.ReLU()]",
        ("tests/test_keras_models.py::test_batchnorm_layers_keep_keras_defaults",),
        tf=True,
    ),
    "predict_proba in training mode": Planted(
        "advance_pipeline_tensorflow/study.py",
        "logits = model.predict(x, batch_size=batch_size, verbose=0)",
        "logits = model(x, training=True)",
        ("tests/test_keras_models.py::test_predict_proba_runs_the_model_in_inference_mode",),
        tf=True,
    ),
    "Keras early stopping with restore_best_weights=False": Planted(
        "advance_pipeline_tensorflow/study.py",
        "restore_best_weights=True",
        "restore_best_weights=False",
        (
            "tests/test_study.py::test_early_stopping_restores_the_best_validation_epoch_not_the_best_test_epoch",
        ),
        tf=True,
    ),
    "summary_table's val acc column from test accuracy": Planted(
        "advance_pipeline_tensorflow/study.py",
        '"val acc (%)": ms(r["val_acc"] for r in rs),',
        '"val acc (%)": ms(r["test_acc"] for r in rs),',
        ("tests/test_study.py::test_summary_table_columns_come_from_their_own_numbers",),
        tf=True,
    ),
    "the demo shows the naive resize as the MNIST-style image": Planted(
        "demo/app.py",
        "return (big(naive), big(normalised), *labels,",
        "return (big(naive), big(naive), *labels,",
        (
            "tests/test_demo.py::test_an_uploaded_image_reaches_the_models_in_mnist_form_and_both_answers_come_back",
        ),
    ),
    "Fashion-MNIST class names in the wrong order": Planted(
        "common/data.py",
        "Coat|Sandal|Shirt|Sneaker",
        "Coat|Shirt|Sandal|Sneaker",
        (f"{THIS}::test_fashion_mnist_class_names_are_zalando_s_in_label_order",),
    ),
}

# What the copy of the repository holds: the packages and tests (copied, one file then changed)
# and what tests read (linked).
COPIED = ("common", "from_scratch_numpy", "advance_pipeline_tensorflow", "demo", "benchmarks",
          "tests", "pyproject.toml")  # fmt: skip
LINKED = ("assets", "results", "requirements.txt", "README.md", "README.tr.md", "Makefile")


@pytest.mark.parametrize("name", list(PLANTED))
def test_every_planted_bug_still_applies(name):
    bug = PLANTED[name]
    text = (REPO_ROOT / bug.path).read_text(encoding="utf-8")
    count = text.count(bug.old)
    assert count == 1, (
        f"planted bug {name!r}: its text occurs {count} times in {bug.path} (must be once): "
        f"{bug.old!r}. The code changed: rewrite the entry for the new code, never delete it."
    )
    assert bug.tests, f"{name!r}: name the tests that must catch it"
    for test in bug.tests:
        file, _, function = test.partition("::")
        assert (REPO_ROOT / file).is_file(), f"{name!r}: no test file {file}"
        function = function.split("[")[0]
        assert not function or f"def {function}(" in (REPO_ROOT / file).read_text(
            encoding="utf-8"
        ), f"{name!r}: no test {test}"


def _copy_with(bug: Planted, root: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for name in COPIED:
        src = REPO_ROOT / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, root / name)
    for name in LINKED:
        if (REPO_ROOT / name).exists():
            (root / name).symlink_to(REPO_ROOT / name)
    target = root / bug.path
    text = target.read_text(encoding="utf-8")
    assert text.count(bug.old) == 1, f"{bug.path}: {bug.old!r} not found once"
    target.write_text(text.replace(bug.old, bug.new), encoding="utf-8")
    return root


@pytest.mark.planted
@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=[pytest.mark.tf] * b.tf) for n, b in PLANTED.items()]
)
def test_every_planted_bug_is_caught(name, tmp_path):
    bug = PLANTED[name]
    if bug.tf:
        pytest.importorskip("tensorflow")
    root = _copy_with(bug, tmp_path / "repo")
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
         "--rootdir", str(root), *bug.tests],
        cwd=root, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    tail = "\n".join(run.stdout.splitlines()[-15:])
    assert run.returncode != 0, f"planted bug {name!r} survived {bug.tests}:\n{tail}"
    assert run.returncode == 1 and " failed" in run.stdout, (
        f"planted bug {name!r}: pytest did not run the tests (exit {run.returncode}):\n{tail}\n"
        f"{run.stderr[-2000:]}"
    )


# ============================================================================= the killing tests
# ----------------------------------------------------------------------------- train.py
def _fit(net, optimizer, x, y, **kwargs):
    from from_scratch_numpy import train

    return train.fit(net, optimizer, x, y, progress=False, **kwargs)


def test_each_epoch_is_shuffled_anew():
    from from_scratch_numpy import numpy_net as nn

    x = (np.arange(64 * 2, dtype=np.float32) / 128).reshape(64, 2)  # every row different
    net = nn.mlp((2, 3, 2), seed=0)
    seen = []
    step = net.train_step
    net.train_step = lambda xb, yb, opt: seen.append(xb[:, 0].copy()) or step(xb, yb, opt)
    _fit(net, nn.SGD(1e-9), x, np.arange(64) % 2, epochs=3, batch_size=64, seed=0)
    orders = [tuple(s) for s in seen]
    assert len(orders) == 3 and len(set(orders)) == 3, "the same order in two epochs"


def test_load_puts_each_array_in_its_own_layer_even_when_shapes_repeat(tmp_path):
    """Two hidden layers of one width: their biases have one shape; each goes back to its layer."""
    from from_scratch_numpy import numpy_net as nn
    from from_scratch_numpy import train

    net = nn.mlp((6, 5, 5, 5, 3), seed=0)
    rng = np.random.default_rng(1)
    for W, _ in net.parameters():
        W[...] = rng.normal(size=W.shape)  # every bias different (a fresh net has zero biases)
    path = train.save_weights(net, tmp_path / "w")
    other = train.load_weights(nn.mlp((6, 5, 5, 5, 3), seed=9), path)
    for name, array in train.parameter_arrays(net).items():
        np.testing.assert_array_equal(train.parameter_arrays(other)[name], array, err_msg=name)


# ----------------------------------------------------------------------------- the fast network
def _build(recipe, seed: int, fast: bool = False):
    """(network, optimizer) of a recipe, the lesson's or the fast one: ``numpy_net.build`` and
    benchmarks/fast.py's ``build`` since issue 26, ``train.build(..., fast=)`` before."""
    from from_scratch_numpy import numpy_net, train

    if not hasattr(numpy_net, "build"):
        return train.build(recipe, seed, fast=fast)
    if not fast:
        return numpy_net.build(recipe, seed)[:2]
    if str(REPO_ROOT / "benchmarks") not in sys.path:
        sys.path.insert(0, str(REPO_ROOT / "benchmarks"))  # scripts, not a package (as test_fast)
    import fast as fast_module

    return fast_module.build(recipe, seed)[:2]


@pytest.mark.parametrize("optimizer", ["SGD", "Momentum"])
def test_fast_network_with_sgd_or_momentum_and_l2_equals_the_lesson(optimizer):
    """Weight decay with the optimizers fast.py does not fuse: the L2 gradient is in backward."""
    from from_scratch_numpy import train

    recipe = train.replace(train.IMPROVED, sizes=(20, 16, 3), optimizer=optimizer, lr=0.05,
                           weight_decay=0.05, dropout=0.0, batch_size=16)  # fmt: skip
    plain, plain_opt = _build(recipe, 3)
    quick, quick_opt = _build(recipe, 3, fast=True)
    assert type(quick) is not type(plain)  # really the fast network
    x, y = blobs(160, d=20)
    for i in range(0, 160, 16):
        assert quick.train_step(x[i : i + 16], y[i : i + 16], quick_opt) == pytest.approx(
            plain.train_step(x[i : i + 16], y[i : i + 16], plain_opt), rel=1e-5
        )
    for (W, _), (W_fast, _) in zip(plain.parameters(), quick.parameters(), strict=True):
        np.testing.assert_allclose(W_fast, W, rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------------------- common/data.py
# Zalando's label order (github.com/zalandoresearch/fashion-mnist, README "Labels"): 0..9.
ZALANDO_LABELS = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                  "Sneaker", "Bag", "Ankle boot")  # fmt: skip


def test_fashion_mnist_class_names_are_zalando_s_in_label_order():
    from common.data import DATASETS

    assert tuple(DATASETS["fashion_mnist"].class_names) == ZALANDO_LABELS
