"""Helpers shared by the unit tests: NumPy references and the .keras round trip.

A module rather than conftest.py: the repository root has a conftest.py of its own (nbval's hooks), so
`from conftest import ...` would be ambiguous. Test modules import these with `from helpers import ...`.
"""

import keras
import numpy as np
import pytest
from keras import ops

from attention_utils import autodiff


def numpy_of(x):
    """Any tensor (or array) as a NumPy array."""
    return ops.convert_to_numpy(x)


def softmax(scores, mask=None):
    """Softmax over the last axis in NumPy, the reference for every attention weight.

    Masked keys (mask False) get weight 0, and a row with every key masked gets all zeros, as
    `attention_utils.masked_softmax` promises. Without a mask it is the textbook formula.
    """
    scores = np.asarray(scores)
    mask = np.broadcast_to(True if mask is None else mask, scores.shape)
    row_max = np.max(np.where(mask, scores, -np.inf), axis=-1, keepdims=True)
    exponentials = np.where(mask, np.exp(scores - np.where(np.isfinite(row_max), row_max, 0)), 0.0)
    total = exponentials.sum(-1, keepdims=True)
    return exponentials / np.where(total > 0, total, 1.0)


def saved_and_loaded(model, tmp_path, name="model.keras"):
    """The model saved to a .keras file and loaded back with safe mode on (no Python code unpickled).

    Keras's saver turns variables into arrays with np.array(), which NumPy 2 warns about (not ours to
    fix): tests that call this carry `@pytest.mark.filterwarnings("ignore:__array__ implementation")`.
    """
    path = tmp_path / name
    model.save(path)
    return keras.models.load_model(path, safe_mode=True)


def elu_plus_one(x):
    """phi(x) = elu(x) + 1 in NumPy, written so it cannot cancel: x + 1 above 0, exp(x) below."""
    x = np.asarray(x)
    return np.where(x > 0, x + 1.0, np.exp(np.minimum(x, 0.0)))


def linear_attention(query, key, value, causal=False, key_mask=None):
    """Katharopoulos et al. 2020, eq. 2 with sim(q, k) = phi(q) . phi(k), in float64, every pair scored:
    the O(T^2) reference for `linear_attend`. Masked keys, and the future when causal, score 0."""
    query, key, value = (np.asarray(x, dtype="float64") for x in (query, key, value))
    similarity = elu_plus_one(query) @ np.swapaxes(elu_plus_one(key), -1, -2)
    if causal:
        similarity = similarity * np.tril(np.ones((query.shape[-2], key.shape[-2])))
    if key_mask is not None:
        similarity = similarity * np.asarray(key_mask)[..., None, :]
    total = similarity.sum(-1, keepdims=True)
    return (similarity @ value) / np.where(total > 0, total, 1.0)


def error_for_integer_argument(value):
    """What a bad value of an integer argument must raise: ``TypeError`` for a wrong type (a float, a
    bool, a string, None), ``ValueError`` for an integer out of range."""
    return ValueError if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else TypeError


# Tests of TensorFlow itself (tracing inside tf.function, its graphs, its allocator), and of the features
# that need it (grad_cam, count_multiply_adds, decoding.traced): skipped on other backends.
tensorflow_only = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="needs TensorFlow: a test of TensorFlow itself (tf.function, its graphs) or of a TensorFlow-only feature",
)


# The other side of a feature that needs TensorFlow (grad_cam, count_multiply_adds, decoding.traced): on
# the other backends it must raise an error that names KERAS_BACKEND.
other_than_tensorflow = pytest.mark.skipif(
    keras.backend.backend() == "tensorflow", reason="checks the error a TensorFlow-only feature raises elsewhere"
)


def compiled(function, xla=False):
    """``function`` compiled as the backend compiles a training step: ``tf.function`` (with XLA if ``xla``)
    on TensorFlow, ``jax.jit`` on JAX (always XLA)."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(function)
    import tensorflow as tf

    return tf.function(function, autograph=False, jit_compile=xla)


def weight_gradients(function, variables):
    """The gradient of the scalar ``function()`` with respect to each of ``variables`` (Keras variables of
    built layers), on any backend, zeros where it does not depend on one.

    JAX differentiates a function's arguments only, not the variables it reads: the variables' values
    are passed in as arguments and stand in for the variables while ``function`` runs
    (``keras.StatelessScope``), so that the same test differentiates on TensorFlow and on JAX.
    """
    variables = list(variables)

    def of_values(*values):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return function()

    return autodiff.gradients(of_values, *(variable.value for variable in variables))
