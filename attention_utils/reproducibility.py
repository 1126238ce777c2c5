"""One call that makes a notebook's numbers the same on every run, on TensorFlow or JAX."""

import logging
import random

import numpy as np

from attention_utils import _validation as check

_MAX_SEED = 2**32 - 1  # np.random.seed's limit


def seed_everything(seed=42):
    """Seeds Python, NumPy and Keras (its backend's generators too) and, on TensorFlow, turns on op determinism.

    After this call, re-running a notebook from a clean kernel reproduces its weight initialisations,
    shuffles, dropout masks and training curves, on TensorFlow and on JAX. Keras's own random operations
    (initialisers, dropout) draw from its global seed generator, which ``keras.utils.set_random_seed``
    seeds on every backend (it also seeds TensorFlow's generator wherever TensorFlow is installed, and so
    imports it, on JAX too). On TensorFlow, op determinism also makes TensorFlow pick deterministic kernels
    (and raise an error for an op that has none), at some cost in speed. On JAX, on the CPU, nothing more
    is needed: its random numbers come from explicit keys, and XLA's CPU kernels are deterministic (on a
    GPU, XLA needs its own flag, ``--xla_gpu_deterministic_ops``). The same seed gives different weights
    on the two backends: their generators differ.

    Args:
        seed: an integer from 0 to ``2**32 - 1`` (the range NumPy's global generator takes); a NumPy
            integer works the same as the Python integer of the same value.

    Returns:
        The seed, so a notebook can print what it used.
    """
    check.check_seed(seed, maximum=_MAX_SEED, expected=f"an integer from 0 to 2**32 - 1 = {_MAX_SEED}")
    seed = int(seed)  # Python's random.seed rejects NumPy integers
    import keras

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)  # seeds Python, NumPy and the backend together
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
        # TF's Python logger still reports retracing and deprecation warnings at WARNING level; the
        # notebooks show only what they print themselves.
        tf.get_logger().setLevel(logging.ERROR)
    return seed
