"""One call that makes a notebook's numbers the same on every run."""

import logging
import random

import numpy as np


def seed_everything(seed=42):
    """Seeds Python, NumPy, Keras and TensorFlow, and turns on TensorFlow's op determinism.

    After this call, re-running a notebook from a clean kernel reproduces its weight initialisations,
    shuffles, dropout masks and training curves. Op determinism makes TensorFlow pick deterministic
    kernels (and raise an error for an op that has none), at some cost in speed.

    Args:
        seed: a non-negative integer.

    Returns:
        The seed, so a notebook can print what it used.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(
            f"Invalid value for argument seed. Expected a non-negative integer. Received: seed={seed!r}"
        )
    import keras
    import tensorflow as tf

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)  # seeds Python, NumPy and the backend together
    tf.config.experimental.enable_op_determinism()
    # TF's Python logger still reports retracing and deprecation warnings at WARNING level; the notebooks
    # show only what they print themselves.
    tf.get_logger().setLevel(logging.ERROR)
    return int(seed)
