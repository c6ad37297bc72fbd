"""Behaviour tests of from_scratch_numpy/train.py that kill mutants the other tests let through
(`make mutate`, issue 29): ``train`` is ``build`` then ``fit`` with every setting of the recipe
(seed, epochs override, shuffling, schedule), and ``Recipe.describe`` says what the recipe is.
"""

from __future__ import annotations

import numpy as np
from conftest import blobs

from from_scratch_numpy import numpy_net
from from_scratch_numpy import train as T


def test_train_is_build_then_fit_with_every_setting_of_the_recipe():
    """The same network, step for step, as building and fitting by hand: the seed reaches the
    initial weights and the shuffling, ``epochs=`` overrides the recipe's (and its schedule and
    warm-up, halved to fit), the recipe's shuffling and cosine schedule are used."""
    x, y = blobs(96, d=784)
    recipe = T.replace(T.IMPROVED, sizes=(784, 8, 3), epochs=5, batch_size=32, warmup_epochs=1.5,
                       early_stopping_patience=None)  # fmt: skip
    net, hist = T.train(recipe, x, y, seed=5, epochs=2, progress=False)

    short = T.replace(recipe, epochs=2, warmup_epochs=1.0)  # warm-up at most half the epochs
    ref, optimizer, schedule = numpy_net.build(short, 5)
    ref_hist = T.fit(ref, optimizer, x, y, epochs=2, batch_size=32, shuffle=True, seed=5,
                     lr_schedule=schedule, progress=False)  # fmt: skip
    assert len(hist["loss"]) == 2
    np.testing.assert_allclose(hist["lr"], ref_hist["lr"], rtol=1e-12)
    np.testing.assert_allclose(hist["loss"], ref_hist["loss"], rtol=1e-6)
    for (W, _), (W_ref, _) in zip(net.parameters(), ref.parameters(), strict=True):
        np.testing.assert_array_equal(W, W_ref)
    other, _ = T.train(recipe, x, y, seed=6, epochs=2, progress=False)
    assert not np.array_equal(other.parameters()[0][0], net.parameters()[0][0])


def test_describe_names_every_setting():
    assert T.ORIGINAL.describe() == (
        "784-128-10, small_normal init, float64, SGD lr 0.01, constant lr, batch 32, 10 epochs, "
        "not shuffled"
    )
    assert T.IMPROVED.describe() == (
        "784-800-800-10, he init, float32, dropout 0.4, label smoothing 0.1, L2 5e-05, "
        "Adam lr 0.001, cosine, batch 128, 10 epochs, shuffled"
    )


def test_flush_tiny_zeroes_subnormal_weights_and_optimizer_state_only():
    """Values below TINY in the weights and in Adam's moments become 0; the rest is untouched."""
    net = numpy_net.mlp((4, 3, 3), seed=0)
    optimizer = numpy_net.Adam(1e-3)
    x, y = blobs(8, d=4)
    net.train_step(x, y, optimizer)  # creates Adam's m and v
    arrays = [W for W, _ in net.parameters()] + list(optimizer.m) + list(optimizer.v)
    flat = [a.reshape(-1) for a in arrays]  # views: the arrays are contiguous
    for a in flat:
        a[0], a[-1] = T.TINY / 10, -T.TINY / 10
    before = [a.copy() for a in flat]
    T.flush_tiny(net, optimizer)
    for a, b in zip(flat, before, strict=True):
        assert a[0] == 0 and a[-1] == 0
        np.testing.assert_array_equal(a[1:-1], b[1:-1])
