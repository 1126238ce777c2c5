"""Positions for self-attention: the sinusoidal positional encoding of Vaswani et al. (2017), and rotary
position embeddings (Su et al. 2021).

Self-attention treats its input as a set: permute the tokens and the outputs are permuted the same way.
To let a Transformer use word order, Vaswani et al. (section 3.5) add to each token's embedding a vector
that depends only on its position::

    PE[pos, 2i]     = sin(pos / 10000^(2i / d_model))
    PE[pos, 2i + 1] = cos(pos / 10000^(2i / d_model))

Each pair of columns ``(2i, 2i + 1)`` is a point turning on a circle at the angular frequency
``w_i = 10000^(-2i / d_model)``, so moving ``k`` positions on is a rotation by the angle ``w_i k``:
``PE[pos + k]`` is a fixed linear function of ``PE[pos]``, whatever ``pos`` is.
``positional_rotation(k, depth)`` returns that linear map.

Rotary position embeddings (RoPE) use the same rotations on the queries and keys themselves instead
of adding a vector to the input: ``rotary_embedding(x, positions)`` turns each feature pair of the
token at position ``m`` by the angle ``m w_i``, and since rotations compose, the dot product of a query
at ``m`` with a key at ``n`` depends on the positions only through ``m - n``.
"""

import numpy as np
from keras import ops

from attention_utils import _float64
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


def rotary_embedding(x, positions=None, *, base=BASE, layout="interleaved"):
    """Rotary position embedding (RoPE; Su et al. 2021, RoFormer, section 3.4): ``x`` rotated by position.

    For a token at position ``m``, each pair of features is turned by the angle ``m theta_i``, with
    ``theta_i = base^(-2i / d)`` (eq. 15; the frequencies of ``sinusoidal_positional_encoding``)::

        [x'_{2i}    ]   [cos(m theta_i)  -sin(m theta_i)] [x_{2i}    ]
        [x'_{2i + 1}] = [sin(m theta_i)   cos(m theta_i)] [x_{2i + 1}]

    computed as ``x cos + rotate(x) sin`` (eq. 34), without the matrix. Applied to the queries and the
    keys (after their projections, before the scores), it makes the score of a query at ``m`` and a key
    at ``n`` a function of their contents and of ``m - n`` only: ``(R_m q) . (R_n k) = q . R_{n - m} k``,
    since ``R_m^T R_n = R_{n - m}``. Norms are unchanged; position 0 is the identity.

    ``layout="interleaved"`` pairs features ``(2i, 2i + 1)``, as the paper does, and as Meta's own LLaMA
    code does by turning each pair as one complex number. ``layout="half"`` pairs ``(i, i + d / 2)``
    ("rotate half"), the layout of GPT-NeoX, Hugging Face's port of LLaMA and KerasHub's
    ``RotaryEmbedding``: the same rotations on a permuted order of the features, so a model trained with
    one layout gives other numbers with the other unless its query and key projections are permuted to
    match.

    Args:
        x: queries or keys, ``(..., T, d)`` with ``d`` even, positions along axis -2.
        positions: the position of each of the ``T`` tokens, integers broadcastable to ``(..., T)``;
            ``None`` for ``0 .. T - 1``. (With a key-value cache, the new tokens' positions start where
            the cache ends.)
        base: ``base`` of the frequencies, a positive number (10000, as in the paper).
        layout: ``"interleaved"`` (the paper's) or ``"half"``.

    Returns:
        A tensor of the shape and dtype of ``x``.
    """
    x = check.as_float_tensor(x, "x")
    check.check_rank_at_least(x, "x", 2, "(..., T, d): tokens along axis -2, features along axis -1")
    check.check_known_last_dim(x, "x")
    depth = x.shape[-1]
    if depth == 0 or depth % 2:
        raise ValueError(
            f"Invalid shape for argument x. Expected an even, positive number of features (pairs to rotate). "
            f"Received: x.shape={tuple(x.shape)}"
        )
    check.check_positive_finite(base, "base")
    check.check_one_of(layout, "layout", ("interleaved", "half"))
    if positions is None:
        check.check_known_dim(x, "x", -2, "number of tokens (axis -2) when positions is None")
        positions = ops.arange(x.shape[-2], dtype=x.dtype)
    else:
        positions = check.as_float_tensor(positions, "positions")
        if len(positions.shape) == 0 or positions.shape[-1] not in (1, x.shape[-2]):
            raise ValueError(
                f"Invalid shape for argument positions. Expected one position per token, broadcastable to "
                f"(..., {x.shape[-2]}). Received: positions.shape={tuple(positions.shape)}"
            )
        positions = ops.cast(positions, x.dtype)
    frequencies = ops.convert_to_tensor(base ** (-np.arange(0, depth, 2) / depth), dtype=x.dtype)
    angles = ops.expand_dims(positions, -1) * frequencies  # (..., T, d / 2)
    cos, sin = _float64.cos(angles), _float64.sin(angles)
    if layout == "half":
        first, second = x[..., : depth // 2], x[..., depth // 2 :]
        return ops.concatenate([first * cos - second * sin, first * sin + second * cos], axis=-1)
    even, odd = x[..., 0::2], x[..., 1::2]
    rotated = ops.stack([even * cos - odd * sin, even * sin + odd * cos], axis=-1)  # (..., T, d / 2, 2)
    return ops.reshape(rotated, ops.shape(x))
