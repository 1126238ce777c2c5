"""``tanh``, ``cos`` and ``sin`` that compute float64 in float64 on every backend.

In Keras 3.15 these three ``keras.ops`` functions take their result dtype from ``keras.backend.result_type``,
which on every backend but TensorFlow turns float64 into float32 (keras-team/keras#23223, changed by
keras-team/keras#23225 after 3.15.1): on JAX, with float64 enabled, ``ops.tanh`` of a float64 tensor
returns float32, so a layer under a float64 policy would lose half its digits in one step. For a float64
tensor on JAX these call JAX's own function, which keeps float64; everywhere else they are the
``keras.ops`` functions.
"""

import keras
from keras import ops


def _is_jax_float64(x):
    """Whether ``x`` is a JAX array (or tracer) of float64; a symbolic ``KerasTensor`` is left to Keras."""
    return (
        keras.backend.backend() == "jax" and ops.is_tensor(x) and keras.backend.standardize_dtype(x.dtype) == "float64"
    )


def tanh(x):
    if _is_jax_float64(x):
        import jax.numpy as jnp

        return jnp.tanh(x)
    return ops.tanh(x)


def cos(x):
    if _is_jax_float64(x):
        import jax.numpy as jnp

        return jnp.cos(x)
    return ops.cos(x)


def sin(x):
    if _is_jax_float64(x):
        import jax.numpy as jnp

        return jnp.sin(x)
    return ops.sin(x)
