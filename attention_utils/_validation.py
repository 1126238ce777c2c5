"""Argument checks shared by every public function, so that errors read the same everywhere.

Each check fails early with a message that names the argument and echoes what it received, in the
form Keras uses: ``Invalid value for argument X. Expected ... Received: X.shape=(...)``. Shapes may be
partly unknown (``None``) inside a functional model; a check only judges the dimensions it can see.
"""

import math
import numbers

import keras
import ml_dtypes
import numpy as np
from keras import ops


def as_float_tensor(x, name):
    """Returns ``x`` as a floating-point tensor, or raises ``TypeError`` naming the argument.

    NumPy arrays (``bfloat16`` ones too), Python lists, backend tensors, variables and KerasTensors are
    accepted. Integer and boolean inputs are cast to Keras's float type; floating inputs keep their
    precision, but for float64 where the backend has none (JAX without ``JAX_ENABLE_X64``): float32. A
    variable is read into a tensor (gradients still reach it).
    """
    x = _read_variable(x)
    if isinstance(x, keras.KerasTensor) or ops.is_tensor(x):
        dtype = keras.backend.standardize_dtype(x.dtype)
        if not any(kind in dtype for kind in ("float", "int", "bool")):  # not a string, not complex
            raise TypeError(
                f"Invalid value for argument {name}. Expected an array or a tensor of numbers. "
                f"Received: {name} with dtype {dtype}"
            )
    else:
        try:
            x = np.asarray(x)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"Invalid value for argument {name}. Expected an array or a tensor of numbers. Received: {name}={x!r}"
            ) from error
        if x.dtype.kind not in "biuf" and x.dtype != ml_dtypes.bfloat16:
            raise TypeError(
                f"Invalid value for argument {name}. Expected an array or a tensor of numbers. "
                f"Received: {name} with dtype {x.dtype}"
            )
        dtype = x.dtype.name
    if "float" not in dtype:
        dtype = keras.backend.floatx()
    elif dtype == "float64" and not float64_available():
        dtype = "float32"  # what JAX would make of it anyway, without its warning at every call
    return ops.convert_to_tensor(x, dtype=dtype)


def as_bool_mask(mask, name="mask"):
    """Returns ``mask`` as a boolean tensor, or raises ``TypeError`` naming the argument.

    Boolean masks pass; integer masks (0/1) are cast to bool, ``nonzero`` meaning "attend", the same for
    NumPy arrays, lists and tensors. A floating mask is refused whatever it is held in: it may be an
    additive mask (``0`` keep, ``-1e9`` drop) or a "1 means masked" mask, and casting either to bool
    would silently attend to the wrong keys.
    """
    mask = _read_variable(mask)
    is_tensor = isinstance(mask, keras.KerasTensor) or ops.is_tensor(mask)
    if is_tensor:
        dtype = keras.backend.standardize_dtype(mask.dtype)
    else:
        try:
            mask = np.asarray(mask)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"Invalid value for argument {name}. Expected a boolean array (True means attend). "
                f"Received: {name}={mask!r}"
            ) from error
        dtype = mask.dtype.name  # bool, int64, uint8, float64, str32, object, bfloat16...
    if dtype != "bool" and not dtype.startswith(("int", "uint")):
        raise TypeError(
            f"Invalid value for argument {name}. Expected a boolean array (True means attend). "
            f"Received: {name} with dtype {dtype}"
        )
    if not is_tensor:
        return ops.convert_to_tensor(mask.astype(bool))
    return mask if dtype == "bool" else ops.cast(mask, "bool")


def _read_variable(x):
    """A variable (Keras's or the backend's) as the tensor of its value; anything else unchanged."""
    if isinstance(x, keras.Variable):
        x = x.value
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if isinstance(x, tf.Variable):
            return tf.convert_to_tensor(x)
    return x


def float64_available():
    """Whether the backend computes float64 in float64. JAX does only with ``JAX_ENABLE_X64=1``; otherwise
    it makes float64 arrays float32 (with a warning). Read from JAX's configuration, not by making a
    float64 tensor, which would give that warning."""
    if keras.backend.backend() != "jax":
        return True
    import jax

    return bool(jax.config.jax_enable_x64)


def check_backend(what, backends=("tensorflow",)):
    """Raises ``RuntimeError`` unless Keras runs on one of ``backends``, naming ``KERAS_BACKEND``: for a
    feature that needs them. ``what`` says what the feature does with them, as the message's start."""
    backend = keras.backend.backend()
    if backend not in backends:
        needs = " or ".join(f"KERAS_BACKEND={name}" for name in backends)
        raise RuntimeError(f"{what}; it needs {needs}. Received: backend={backend!r}")
    return backend


def common_float_dtype(*dtypes):
    """The wider of floating dtypes, as NumPy would choose it: float16 and float32 give float32, float16
    and bfloat16 give float32, and float64 stays float64 on every backend (Keras's own ``result_type``
    turns float64 into float32 on backends other than TensorFlow, even when JAX computes in float64)."""
    dtypes = [keras.backend.standardize_dtype(dtype) for dtype in dtypes]
    return "float64" if "float64" in dtypes else keras.backend.result_type(*dtypes)


def lowest_float(dtype):
    """The lowest finite value of a floating dtype (``bfloat16`` included), as a Python float."""
    return float(ml_dtypes.finfo(keras.backend.standardize_dtype(dtype)).min)


def smallest_normal_float(dtype):
    """The smallest positive normal value of a floating dtype (``bfloat16`` included)."""
    return float(ml_dtypes.finfo(keras.backend.standardize_dtype(dtype)).smallest_normal)


def largest_float(dtype):
    """The largest finite value of a floating dtype (``bfloat16`` included), as a Python float."""
    return float(ml_dtypes.finfo(keras.backend.standardize_dtype(dtype)).max)


def shape_of(x):
    """The static shape of ``x`` as a tuple (``None`` where unknown)."""
    return tuple(x.shape)


def has_no_elements(x):
    """Whether ``x`` is known, from its static shape, to hold no elements (a dimension of 0).

    Eager tensors always have a static shape; an unknown (``None``) dimension counts as non-empty."""
    return any(dim == 0 for dim in shape_of(x))


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
            f"Invalid shape for argument {name}. Expected rank {rank}, {what}. Received: {name}.shape={shape}"
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


def check_last_dim_positive(x, name, size="a feature size d"):
    """Raises ``ValueError`` for a last axis of size 0: the scores would be divided by ``sqrt(0)``."""
    if x.shape[-1] == 0:
        raise ValueError(
            f"Invalid shape for argument {name}. Expected {size} of at least 1 on the last axis "
            f"(the scores are divided by its square root). Received: {name}.shape={tuple(x.shape)}"
        )


def check_one_of(value, name, allowed):
    if value not in allowed:
        raise ValueError(
            f"Invalid value for argument {name}. Expected one of {sorted(allowed)}. Received: {name}={value!r}"
        )


def check_integer_at_least(value, name, minimum, parity=None, expected=None, multiple_of=None):
    """Raises ``TypeError`` unless ``value`` is an integer (a NumPy integer too, not a bool), and
    ``ValueError`` unless it is at least ``minimum`` and, with ``parity="even"`` or ``"odd"``, of that
    parity, and with ``multiple_of``, a multiple of it. ``expected`` replaces the generated description
    of what is expected."""
    is_integer = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    wrong_parity = parity is not None and is_integer and value % 2 != (parity == "odd")
    wrong_multiple = multiple_of is not None and is_integer and value % multiple_of != 0
    if not is_integer or value < minimum or wrong_parity or wrong_multiple:
        if expected is None:
            named = {0: "a non-negative integer", 1: "a positive integer"}
            expected = named.get(minimum, f"an integer of at least {minimum}")
            if parity is not None:
                expected = expected.replace(" integer", f" {parity} integer")
            if multiple_of is not None:
                expected = f"{expected}, a multiple of {multiple_of}"
        # A wrong type (a float, a string, a bool) is a TypeError; a wrong value a ValueError.
        error = ValueError if is_integer else TypeError
        raise error(f"Invalid value for argument {name}. Expected {expected}. Received: {name}={value!r}")


def check_rate(value, name):
    """Raises unless ``value`` is a number in ``[0, 1)``: a dropout rate.

    ``TypeError`` for a value that is not a real number (a bool, a string, None), ``ValueError`` for a
    number outside ``[0, 1)`` (NaN included)."""
    message = f"Invalid value for argument {name}. Expected a float in [0, 1). Received: {name}={value!r}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(message)
    if not (0 <= value < 1):
        raise ValueError(message)


def check_bool(value, name):
    """Raises ``TypeError`` unless ``value`` is a Python or NumPy bool (not a string, number or None)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"Invalid value for argument {name}. Expected True or False. Received: {name}={value!r}")


def check_positive_finite(value, name, expected="a positive, finite number"):
    """Raises ``TypeError`` if ``value`` is not a real number at all (a bool, a string, None), and
    ``ValueError`` unless it is finite and positive. ``expected`` describes what is expected."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"Invalid value for argument {name}. Expected {expected}. Received: {name}={value!r}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"Invalid value for argument {name}. Expected {expected}. Received: {name}={value!r}")


def check_built_features(layer, x, name, built_dim, dim_name="features"):
    """Raises ``ValueError`` when the last dimension of ``x`` is known and differs from ``built_dim``,
    the size ``layer`` was built for (``None`` passes): its weights are sized for that one."""
    dim = tuple(x.shape)[-1]
    if built_dim is not None and dim is not None and dim != built_dim:
        raise ValueError(
            f"Invalid shape for argument {name}. {layer.__class__.__name__} '{layer.name}' was built for "
            f"{dim_name}={built_dim} ({name}.shape[-1]), and its weights fix that size. "
            f"Received: {name}.shape={tuple(x.shape)}"
        )


def check_sequence_mask(mask, name, x, x_name, length_name):
    """Checks a ``(batch_size, T)`` mask against ``x`` ``(batch_size, T, d)``; returns it as a boolean
    tensor (``as_bool_mask``: a floating mask is a ``TypeError`` naming ``name``). ``None`` passes; a
    batch of 1 broadcasts; unknown dimensions pass."""
    if mask is None:
        return None
    mask = as_bool_mask(mask, name)
    shape, x_shape = tuple(mask.shape), tuple(x.shape)
    fits = (
        len(shape) == 2
        and (shape[1] is None or x_shape[1] is None or shape[1] == x_shape[1])
        and (shape[0] in (None, 1) or x_shape[0] is None or shape[0] == x_shape[0])
    )
    if not fits:
        raise ValueError(
            f"Invalid shape for argument {name}. Expected (batch_size, {length_name}), one entry per "
            f"position of {x_name}. Received: {name}.shape={shape}, {x_name}.shape={x_shape}"
        )
    return mask


def check_seed(seed, maximum=None, expected="a non-negative integer"):
    """Raises unless ``seed`` is a non-negative integer (a NumPy integer too, not a bool), and at most
    ``maximum`` if one is given.

    ``TypeError`` for a value that is not an integer, ``ValueError`` for one out of range.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(
            f"Invalid value for argument seed. Expected {expected}. "
            f"Received: seed={seed!r} of type {type(seed).__name__}"
        )
    if seed < 0 or (maximum is not None and seed > maximum):
        raise ValueError(f"Invalid value for argument seed. Expected {expected}. Received: seed={seed!r}")


def check_non_negative_number(value, name):
    """Raises unless ``value`` is a finite real number ``>= 0`` (a NumPy scalar too, not a bool).

    ``TypeError`` for a value that is not a real number, ``ValueError`` for NaN, an infinity or a negative.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"Invalid value for argument {name}. Expected a finite non-negative number. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    if not math.isfinite(value) or value < 0:
        raise ValueError(
            f"Invalid value for argument {name}. Expected a finite non-negative number. Received: {name}={value!r}"
        )


def check_integer(value, name, expected="an integer"):
    """Raises ``TypeError`` unless ``value`` is an integer of any sign (a NumPy integer too, not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"Invalid value for argument {name}. Expected {expected}. Received: {name}={value!r} "
            f"of type {type(value).__name__}"
        )


def check_integer_array(x, name, ndims, what):
    """``x`` as a NumPy array of integers whose number of dimensions is one of ``ndims``.

    ``TypeError`` for an array that does not hold integers (floats, bools, strings), ``ValueError`` for
    one of another number of dimensions; ``what`` describes the expected shape. An empty array is
    accepted whatever its dtype (an empty list is float64 to NumPy) and returned as int32.
    """
    x = np.asarray(x)
    if x.size == 0 and x.dtype.kind in "fb":
        x = x.astype("int32")
    if x.dtype.kind not in "iu":
        raise TypeError(
            f"Invalid value for argument {name}. Expected integers of shape {what}. "
            f"Received: {name} with shape {x.shape} and dtype {x.dtype}"
        )
    if x.ndim not in ndims:
        raise ValueError(
            f"Invalid shape for argument {name}. Expected integers of shape {what}. "
            f"Received: {name} with shape {x.shape} and dtype {x.dtype}"
        )
    return x


def check_known_dim(x, name, axis, what):
    """Raises ``ValueError`` when dimension ``axis`` of ``x`` (a tensor or a shape) is unknown (``None``):
    ``what`` says why it must be known, as in ``"the last dimension (features)"``."""
    shape = tuple(x.shape) if hasattr(x, "shape") else tuple(x)
    if shape[axis] is None:
        raise ValueError(f"Invalid shape for argument {name}. Expected a known {what}. Received: {name}.shape={shape}")


def check_known_last_dim(x, name, what="features"):
    """Raises ``ValueError`` when the last dimension of ``x`` (a tensor or a shape) is unknown: a layer's
    weights are sized by it. ``what`` names the dimension."""
    check_known_dim(x, name, -1, f"last dimension ({what})")


def check_rank_in(x, name, ranks, what):
    """Raises ``ValueError`` unless the rank of ``x`` is one of ``ranks``; ``what`` describes the shapes."""
    shape = shape_of(x)
    if len(shape) not in ranks:
        raise ValueError(f"Invalid shape for argument {name}. Expected {what}. Received: {name}.shape={shape}")


def check_mask_matches(mask, name, x, x_name, num_trailing=1):
    """Raises ``ValueError`` unless ``mask`` has the shape of ``x`` without its last ``num_trailing``
    dimensions (one entry per position; unknown dimensions pass)."""
    mask_shape, expected = shape_of(mask), shape_of(x)[:-num_trailing]
    fits = len(mask_shape) == len(expected) and all(
        a is None or b is None or a == b for a, b in zip(mask_shape, expected)
    )
    if not fits:
        raise ValueError(
            f"Invalid shape for argument {name}. Expected one entry per position, the shape {expected} of "
            f"{x_name}.shape[:-{num_trailing}]. Received: {name}.shape={mask_shape}, {x_name}.shape={shape_of(x)}"
        )


def check_characters(characters, name):
    """``characters`` as a list of distinct one-character strings.

    ``TypeError`` for an entry that is not a string, ``ValueError`` for no characters, a string of
    another length or a repeated character."""
    try:
        characters = list(characters)
    except TypeError:
        raise TypeError(
            f"Invalid value for argument {name}. Expected distinct single characters. Received: {name}={characters!r}"
        ) from None
    message = f"Invalid value for argument {name}. Expected distinct single characters. Received: {name}={characters!r}"
    if any(not isinstance(c, str) for c in characters):
        raise TypeError(message)
    if not characters or len(set(characters)) != len(characters) or any(len(c) != 1 for c in characters):
        raise ValueError(message)
    return characters


def check_option_or_callable(value, name, options, what="a callable"):
    """Raises unless ``value`` is ``None``, one of the string ``options`` or a callable.

    ``TypeError`` for anything else than a string, ``None`` or a callable; ``ValueError`` for a string
    that is not an option. ``what`` describes what the callable must do."""
    expected = f"None, one of {sorted(options)} or {what}"
    if value is None or callable(value):
        return
    if not isinstance(value, str):
        raise TypeError(f"Invalid value for argument {name}. Expected {expected}. Received: {name}={value!r}")
    if value not in options:
        raise ValueError(f"Invalid value for argument {name}. Expected {expected}. Received: {name}={value!r}")
