"""Argument checks shared by every public function, so that errors read the same everywhere.

Each check fails early with a message that names the argument and echoes what it received, in the
form Keras uses: ``Invalid value for argument X. Expected ... Received: X.shape=(...)``. Shapes may be
partly unknown (``None``) inside a functional model; a check only judges the dimensions it can see.
"""

import keras
import numpy as np
from keras import ops


def as_float_tensor(x, name):
    """Returns ``x`` as a floating-point tensor, or raises ``TypeError`` naming the argument.

    NumPy arrays, Python lists, backend tensors and KerasTensors are accepted. Integer and boolean
    inputs are cast to Keras's float type; floating inputs keep their precision.
    """
    if isinstance(x, keras.KerasTensor) or ops.is_tensor(x):
        dtype = keras.backend.standardize_dtype(x.dtype)
    else:
        try:
            x = np.asarray(x)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"Invalid value for argument {name}. Expected an array or a tensor of numbers. "
                f"Received: {name}={x!r}"
            ) from error
        if x.dtype.kind not in "biuf":
            raise TypeError(
                f"Invalid value for argument {name}. Expected an array or a tensor of numbers. "
                f"Received: {name} with dtype {x.dtype}"
            )
        dtype = x.dtype.name
    if "float" not in dtype:
        dtype = keras.backend.floatx()
    return ops.convert_to_tensor(x, dtype=dtype)


def shape_of(x):
    """The static shape of ``x`` as a tuple (``None`` where unknown)."""
    return tuple(x.shape)


def check_rank_at_least(x, name, rank, what):
    shape = shape_of(x)
    if len(shape) < rank:
        raise ValueError(
            f"Invalid shape for argument {name}. Expected a rank of at least {rank}, {what}. "
            f"Received: {name}.shape={shape}"
        )


def check_rank(x, name, rank, what):
    shape = shape_of(x)
    if len(shape) != rank:
        raise ValueError(
            f"Invalid shape for argument {name}. Expected rank {rank}, {what}. "
            f"Received: {name}.shape={shape}"
        )


def check_dims_match(a, a_name, a_axis, b, b_name, b_axis, what):
    """Raises ``ValueError`` when ``a.shape[a_axis] != b.shape[b_axis]`` and both are known."""
    a_shape, b_shape = shape_of(a), shape_of(b)
    a_dim, b_dim = a_shape[a_axis], b_shape[b_axis]
    if a_dim is not None and b_dim is not None and a_dim != b_dim:
        raise ValueError(
            f"Invalid shapes for arguments {a_name} and {b_name}: {what}. "
            f"Received: {a_name}.shape={a_shape}, {b_name}.shape={b_shape}"
        )


def check_leading_dims_broadcast(a, a_name, b, b_name):
    """Raises ``ValueError`` unless the batch dimensions (all but the last two) of ``a`` and ``b``
    broadcast against each other. Unknown dimensions pass."""
    a_shape, b_shape = shape_of(a), shape_of(b)
    for a_dim, b_dim in zip(reversed(a_shape[:-2]), reversed(b_shape[:-2])):
        if a_dim is None or b_dim is None or a_dim == b_dim or a_dim == 1 or b_dim == 1:
            continue
        raise ValueError(
            f"Invalid shapes for arguments {a_name} and {b_name}: their leading (batch) dimensions "
            f"must broadcast. Received: {a_name}.shape={a_shape}, {b_name}.shape={b_shape}"
        )


def check_broadcasts_to(x, x_name, target, target_name):
    """Raises ``ValueError`` unless ``x`` broadcasts to the shape of ``target`` without enlarging it."""
    x_shape, target_shape = shape_of(x), shape_of(target)
    fits = len(x_shape) <= len(target_shape) and all(
        x_dim in (1, None) or t_dim is None or x_dim == t_dim
        for x_dim, t_dim in zip(reversed(x_shape), reversed(target_shape))
    )
    if not fits:
        raise ValueError(
            f"Invalid shape for argument {x_name}. Expected a shape that broadcasts to "
            f"{target_name}.shape={target_shape}. Received: {x_name}.shape={x_shape}"
        )


def check_one_of(value, name, allowed):
    if value not in allowed:
        raise ValueError(
            f"Invalid value for argument {name}. Expected one of {sorted(allowed)}. "
            f"Received: {name}={value!r}"
        )


def check_integer_at_least(value, name, minimum):
    """Raises ``ValueError`` unless ``value`` is an integer (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        named = {0: "a non-negative integer", 1: "a positive integer"}
        expected = named.get(minimum, f"an integer of at least {minimum}")
        raise ValueError(f"Invalid value for argument {name}. Expected {expected}. Received: {name}={value!r}")
