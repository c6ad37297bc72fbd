"""The original Keras notebook's tf.data pipeline, from NumPy arrays (TensorFlow imported when
called: the NumPy notebook runs without it)."""

import numpy as np


def make_dataset(
    x, y, *, batch_size=128, shuffle=False, seed=None, cache=True, drop_remainder=False
):
    """``normalise -> cache -> shuffle -> batch -> prefetch``: uint8 images (N, 28, 28[, 1]) or
    (N, 784) and labels -> float32 (28, 28, 1) images in [0, 1] and int64 labels, as the original
    tfds pipeline gave them. ``shuffle`` reshuffles every epoch, in an order fixed by ``seed``."""
    import tensorflow as tf

    x = np.reshape(x, (len(x), 28, 28, 1))  # also accepts (N, 28, 28) and flat (N, 784) images

    def normalize(image, label):
        return tf.cast(image, tf.float32) / 255.0, tf.cast(label, tf.int64)

    ds = tf.data.Dataset.from_tensor_slices((x, y))
    ds = ds.map(normalize, num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
