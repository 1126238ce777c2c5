"""Positions for self-attention: the sinusoidal positional encoding of Vaswani et al. (2017).

Self-attention treats its input as a set: permute the tokens and the outputs are permuted the same way.
To let a Transformer use word order, Vaswani et al. (section 3.5) add to each token's embedding a vector
that depends only on its position::

    PE[pos, 2i]     = sin(pos / 10000^(2i / d_model))
    PE[pos, 2i + 1] = cos(pos / 10000^(2i / d_model))

Each pair of columns ``(2i, 2i + 1)`` is a point turning on a circle at the angular frequency
``w_i = 10000^(-2i / d_model)``, so moving ``k`` positions on is a rotation by the angle ``w_i k``:
``PE[pos + k]`` is a fixed linear function of ``PE[pos]``, whatever ``pos`` is.
``positional_rotation(k, depth)`` returns that linear map.
"""

import numpy as np

from attention_utils import _validation as check

BASE = 10000.0  # Vaswani et al. 2017, section 3.5


def _frequencies(depth):
    """The angular frequency ``w_i = 10000^(-2i / depth)`` of each column pair, shape ``(depth // 2,)``."""
    return BASE ** (-np.arange(0, depth, 2) / depth)


def sinusoidal_positional_encoding(length, depth, dtype="float32"):
    """The sinusoidal positional encodings of positions ``0 .. length - 1`` (Vaswani et al. 2017, 3.5).

    ``PE[pos, 2i] = sin(pos w_i)`` and ``PE[pos, 2i + 1] = cos(pos w_i)`` with
    ``w_i = 10000^(-2i / depth)``: sines and cosines interleaved as in the paper. (Some tutorials put
    all the sines first and all the cosines after them; that permutes the columns, which a following
    dense layer cannot tell apart, but it is not the paper's layout.)

    Args:
        length: the number of positions, a positive integer.
        depth: the size of each encoding (``d_model``), a positive even integer.
        dtype: the NumPy float dtype of the result, ``"float32"`` by default (``"float64"`` keeps the
            full precision of the computation).

    Returns:
        A NumPy array of shape ``(length, depth)`` and dtype ``dtype``, every entry in ``[-1, 1]``.
    """
    check.check_integer_at_least(length, "length", 1)
    check.check_integer_at_least(depth, "depth", 1, parity="even")
    try:
        is_float = np.dtype(dtype).kind == "f"
    except TypeError:
        is_float = False
    if not is_float:
        raise TypeError(f"Invalid value for argument dtype. Expected a NumPy float dtype. Received: dtype={dtype!r}")
    angles = np.arange(length)[:, None] * _frequencies(depth)[None, :]  # (length, depth // 2)
    encoding = np.empty((length, depth))
    encoding[:, 0::2] = np.sin(angles)
    encoding[:, 1::2] = np.cos(angles)
    return encoding.astype(dtype)


def positional_rotation(offset, depth):
    """The matrix ``M`` with ``PE[pos + offset] = M @ PE[pos]`` for every ``pos``.

    ``M`` is block diagonal, one 2x2 rotation per column pair (``sin(a + b) = sin a cos b + cos a sin b``,
    ``cos(a + b) = cos a cos b - sin a sin b``)::

        [sin(w (pos + k))]   [ cos(w k)  sin(w k)] [sin(w pos)]
        [cos(w (pos + k))] = [-sin(w k)  cos(w k)] [cos(w pos)]

    It depends on the offset ``k`` and not on ``pos``: relative positions are linear functions of
    absolute ones, which Vaswani et al. (section 3.5) give as the reason for choosing sinusoids.

    Args:
        offset: the number of positions to move, an integer (negative moves back).
        depth: the size of each encoding, a positive even integer.

    Returns:
        A float64 NumPy array of shape ``(depth, depth)``, orthogonal.
    """
    check.check_integer(offset, "offset")
    check.check_integer_at_least(depth, "depth", 1, parity="even")
    rotation = np.zeros((depth, depth))
    for pair, angle in enumerate(_frequencies(depth) * offset):
        cos, sin = np.cos(angle), np.sin(angle)
        rotation[2 * pair : 2 * pair + 2, 2 * pair : 2 * pair + 2] = [[cos, sin], [-sin, cos]]
    return rotation
