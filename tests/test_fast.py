"""benchmarks/fast.py trains exactly the lesson's network, only faster."""

import dataclasses
import sys

import numpy as np
import pytest
from conftest import REPO_ROOT

from from_scratch_numpy import numpy_net, train

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
import fast  # noqa: E402  (benchmarks/ is scripts, not a package)

# Small enough to be quick; three Dense layers like the real network (weights, then biases, in the flat vector).
SMALL = dataclasses.replace(train.IMPROVED, sizes=(784, 96, 64, 10), batch_size=32)


def batches(n_steps, batch_size, seed=0):
    """n_steps random MNIST-shaped batches (float32 pixels in [0, 1], labels 0..9)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n_steps * batch_size, 784), dtype=np.float32)
    y = rng.integers(0, 10, n_steps * batch_size)
    return [(x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(x), batch_size)]


def train_both(recipe, n_steps=200, seed=3):
    """Train the plain and the fast network side by side; return both and their losses.

    200 steps: past step 165, where Adam's 1 - beta1**t rounds to 1 in float32 (fast.py skips m / 1).
    """
    plain, plain_opt, _ = numpy_net.build(recipe, seed)
    quick, quick_opt, _ = fast.build(recipe, seed)
    losses = [
        (plain.train_step(x, y, plain_opt), quick.train_step(x, y, quick_opt))
        for x, y in batches(n_steps, recipe.batch_size)
    ]
    return plain, quick, np.array(losses)


@pytest.mark.parametrize(
    "recipe",
    [
        SMALL,
        dataclasses.replace(SMALL, dropout=0.0, weight_decay=0.0, label_smoothing=0.0),
        dataclasses.replace(SMALL, weight_decay=0.05),  # L2 strong enough to see on every number
    ],
    ids=["improved", "no-regularisation", "strong-l2"],
)
def test_fast_adam_network_equals_the_lesson_step_by_step(recipe):
    plain, quick, losses = train_both(recipe)
    assert isinstance(quick, fast.FastNetwork)
    assert isinstance(fast.build(recipe)[1], fast.Adam)  # the compiled update
    np.testing.assert_allclose(losses[:, 1], losses[:, 0], rtol=1e-5)
    assert losses[-1, 0] < losses[0, 0]  # it learned something: the comparison is not vacuous
    pairs = list(zip(plain.parameters(), quick.parameters(), strict=True))
    assert len(pairs) == 6
    for (W, _), (W_fast, _) in pairs:
        np.testing.assert_allclose(W_fast, W, rtol=1e-4, atol=1e-7)
        assert W_fast.dtype == W.dtype == np.float32


def test_fast_network_with_sgd_equals_the_lesson():
    """The original recipe (SGD, float64, batch 32) runs through the fast layers unchanged."""
    recipe = dataclasses.replace(train.ORIGINAL, sizes=(784, 64, 10))
    plain, quick, losses = train_both(recipe, n_steps=50)
    np.testing.assert_allclose(losses[:, 1], losses[:, 0], rtol=1e-10)
    for (W, _), (W_fast, _) in zip(plain.parameters(), quick.parameters(), strict=True):
        np.testing.assert_allclose(W_fast, W, rtol=1e-10)


def test_fast_network_predicts_and_fits_like_the_lesson():
    plain, quick, _ = train_both(SMALL, n_steps=5)
    ((x, y),) = batches(1, 500, seed=9)
    np.testing.assert_allclose(
        train.predict_proba(quick, x, 100), train.predict_proba(plain, x, 100), rtol=1e-5
    )
    np.testing.assert_allclose(train.evaluate(quick, x, y), train.evaluate(plain, x, y), rtol=1e-5)
    histories = [
        train.fit(net, opt, x, y, epochs=2, batch_size=50, progress=False)
        for net, opt, _ in (numpy_net.build(SMALL, 1), fast.build(SMALL, 1))
    ]
    np.testing.assert_allclose(histories[1]["loss"], histories[0]["loss"], rtol=1e-5)
    assert histories[1]["accuracy"] == histories[0]["accuracy"]


def test_numbers_drawn_ahead_are_the_generator_s_own_in_its_order():
    """take(n) after any pattern of draw_ahead() calls gives exactly what rng.random(n) gives."""
    ahead, reference = fast.DrawnAhead(np.random.default_rng(5)), np.random.default_rng(5)
    pattern = np.random.default_rng(0)
    for _ in range(60):
        n = int(pattern.integers(0, 500))
        np.testing.assert_array_equal(ahead.take(n), reference.random(n))
        if pattern.random() < 0.5:
            ahead.draw_ahead()  # as many as were taken since the last call, in the background


def test_fast_network_with_uneven_batches_equals_the_lesson():
    """Smaller batches (an epoch's last) take fewer numbers than were drawn ahead: none is lost."""
    plain, plain_opt, _ = numpy_net.build(SMALL, 4)
    quick, quick_opt, _ = fast.build(SMALL, 4)
    (numbers,) = quick.numbers  # the dropout layers share one generator, so one DrawnAhead
    sizes = [32, 32, 20, 32, 7, 7, 32, 32, 1, 32, 32, 16]
    for (x, y), size in zip(batches(12, 32), sizes, strict=True):
        x, y = x[:size], y[:size]
        loss, loss_fast = plain.train_step(x, y, plain_opt), quick.train_step(x, y, quick_opt)
        np.testing.assert_allclose(loss_fast, loss, rtol=1e-5)
        numbers._wait()
        assert len(numbers.ready) >= size * sum(SMALL.sizes[1:-1])  # the next step's, drawn ahead
    for (W, _), (W_fast, _) in zip(plain.parameters(), quick.parameters(), strict=True):
        np.testing.assert_allclose(W_fast, W, rtol=1e-4, atol=1e-7)
