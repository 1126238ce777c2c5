"""One call that makes a notebook's numbers the same on every run."""

import logging
import random

import numpy as np

_MAX_SEED = 2**32 - 1  # np.random.seed's limit


def seed_everything(seed=42):
    """Seeds Python, NumPy, Keras and TensorFlow, and turns on TensorFlow's op determinism.

    After this call, re-running a notebook from a clean kernel reproduces its weight initialisations,
    shuffles, dropout masks and training curves. Op determinism makes TensorFlow pick deterministic
    kernels (and raise an error for an op that has none), at some cost in speed.

    Args:
        seed: an integer from 0 to ``2**32 - 1`` (the range NumPy's global generator takes); a NumPy
            integer works the same as the Python integer of the same value.

    Returns:
        The seed, so a notebook can print what it used.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"Invalid value for argument seed. Expected an integer. Received: seed={seed!r}")
    if not 0 <= seed <= _MAX_SEED:
        raise ValueError(
            f"Invalid value for argument seed. Expected an integer from 0 to 2**32 - 1 = {_MAX_SEED}. "
            f"Received: seed={seed!r}"
        )
    seed = int(seed)  # Python's random.seed rejects NumPy integers
    import keras
    import tensorflow as tf

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)  # seeds Python, NumPy and the backend together
    tf.config.experimental.enable_op_determinism()
    # TF's Python logger still reports retracing and deprecation warnings at WARNING level; the notebooks
    # show only what they print themselves.
    tf.get_logger().setLevel(logging.ERROR)
    return seed
