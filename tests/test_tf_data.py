"""common.tf_data: the tf.data pipeline (normalise, cache, shuffle, batch, prefetch)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.tf


def _arrays(n=50):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), (np.arange(n) % 10).astype(np.uint8)


def test_batches_are_normalised_float32_with_channel():
    from common.tf_data import make_dataset

    x, y = _arrays()
    batches = list(make_dataset(x, y, batch_size=16).as_numpy_iterator())
    assert [len(b[1]) for b in batches] == [16, 16, 16, 2]
    images, labels = batches[0]
    assert (
        images.dtype == np.float32 and images.shape == (16, 28, 28, 1) and labels.dtype == np.int64
    )
    np.testing.assert_allclose(images[..., 0], x[:16] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(labels, y[:16])


def test_shuffle_is_seeded_and_reshuffles_each_epoch():
    from common.tf_data import make_dataset

    x, y = _arrays()
    order = lambda ds: np.concatenate([b[1] for b in ds.as_numpy_iterator()])  # noqa: E731
    ds = make_dataset(x, y, batch_size=50, shuffle=True, seed=1)
    first, second = order(ds), order(ds)
    assert sorted(first) == sorted(y) and not np.array_equal(first, second)
    np.testing.assert_array_equal(
        order(make_dataset(x, y, batch_size=50, shuffle=True, seed=1)), first
    )


def test_drop_remainder_and_flat_images():
    from common.tf_data import make_dataset

    x, y = _arrays()
    assert sum(1 for _ in make_dataset(x, y, batch_size=16, drop_remainder=True)) == 3
    images, _ = next(make_dataset(x.reshape(50, -1), y, batch_size=50).as_numpy_iterator())
    np.testing.assert_allclose(images[..., 0], x / 255.0, rtol=1e-6)


def test_set_seed_reaches_tensorflow():
    import tensorflow as tf

    from common.repro import set_seed

    set_seed(3)
    a = tf.random.uniform((3,)).numpy()
    set_seed(3)
    np.testing.assert_array_equal(tf.random.uniform((3,)).numpy(), a)
