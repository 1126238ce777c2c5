"""Score functions: step 1 of attention, how well each key matches each query.

Every function takes queries of shape ``(..., Tq, d_query)`` and keys of shape ``(..., Tk, d_key)``,
as NumPy arrays or tensors, and returns scores of shape ``(..., Tq, Tk)``: row ``i`` scores every key
against query ``i``. Leading (batch, head) dimensions broadcast.

| function     | score of query q against key k    | source                          |
|--------------|-----------------------------------|---------------------------------|
| `dot`        | q . k                             | Luong et al. 2015, "dot"        |
| `scaled_dot` | q . k / sqrt(d)                   | Vaswani et al. 2017, eq. 1      |
| `cosine`     | q . k / (|q| |k|)                 | Graves et al. 2014 (NTM)        |
| `bilinear`   | q^T W k                           | Luong et al. 2015, "general"    |
| `additive`   | v^T tanh(W_q q + W_k k)           | Bahdanau et al. 2014, eq. 6     |
| `projected`  | (q W_q) . (k W_k) / sqrt(units)   | Vaswani et al. 2017, sec. 3.2.2 |
| `gaussian`   | -|q - k|^2 / (2 w^2)              | Nadaraya 1964, Watson 1964      |

Inputs of different floating precisions (float16 and float32, say) are cast to the wider one.

``projected`` with ``scale=1.0`` is the low-rank form of ``bilinear``: ``W = W_q W_k^T`` of rank at
most ``units``.

The registry
------------
``REGISTRY`` is the one list of score names the package reads: ``attend`` and the efficient functions
(``score="..."``) and the layers (``LuongAttention(score_mode="...")``) all look names up in it, with
``get``. It maps each canonical name to a ``Score``: the function, the names of the parameters it
needs besides ``query`` and ``key``, the papers' names for it (aliases) and its source.

| name         | parameters                 | aliases     |
|--------------|----------------------------|-------------|
| `dot`        | none                       |             |
| `scaled_dot` | none                       |             |
| `cosine`     | none                       |             |
| `bilinear`   | `weight`                   | `"general"` |
| `additive`   | `w_query`, `w_key`, `v`    | `"concat"`  |
| `projected`  | `w_query`, `w_key`         |             |
| `gaussian`   | `width`                    |             |

The aliases are Luong et al.'s names (2015, eq. 8): their "general" is ``bilinear`` and their "concat",
``v_a^T tanh(W_a [h_t; h_s])``, is ``additive``. (Keras's ``Attention(score_mode="concat")`` is another
score, ``sum(tanh(q + k))``: ``additive`` with identity projections and ``v`` all ones.)

A function takes a score by name only if it needs no parameters (``PARAMETER_FREE``); for any other,
pass a callable ``score(query, key)``, for instance ``functools.partial(scores.bilinear, weight=W)``.
"""

import dataclasses
import typing

from keras import ops

from attention_utils import _float64
from attention_utils import _validation as check


def _queries_and_keys(query, key, same_size=True):
    """``query`` and ``key`` as checked tensors of one floating dtype: of different precisions (say
    float16 and float32), both are cast to the wider one, as NumPy would, rather than failing in matmul."""
    query = check.as_float_tensor(query, "query")
    key = check.as_float_tensor(key, "key")
    check.check_rank_at_least(query, "query", 2, "(..., Tq, d)")
    check.check_rank_at_least(key, "key", 2, "(..., Tk, d)")
    if same_size:
        check.check_dims_match(query, "query", -1, key, "key", -1, "queries and keys must have the same feature size d")
    check.check_leading_dims_broadcast(query, "query", key, "key")
    dtype = _common_float_dtype(query, key)
    return ops.cast(query, dtype), ops.cast(key, dtype)


def _common_float_dtype(*tensors):
    return check.common_float_dtype(*(tensor.dtype for tensor in tensors))


def unit_vectors(x, epsilon=1e-12):
    """``x / max(|x|, epsilon)`` over the last axis, without overflow or underflow in ``|x|``.

    ``|x|`` is computed as ``s |x / s|`` with ``s`` the largest absolute component, so squaring cannot
    overflow (``|x|`` of ``[1e20] * 3`` in float32, or of ``[200] * 3`` in float16, is finite) nor
    underflow. An all-zero vector stays zero, never NaN, even where ``epsilon`` rounds to 0 (float16).
    """
    if check.has_no_elements(x):  # nothing to normalise (and ops.max refuses an empty tensor)
        return x
    # The result does not depend on the scale s, so no gradient needs to flow through it.
    largest = ops.stop_gradient(ops.max(ops.abs(x), axis=-1, keepdims=True))
    largest = ops.where(largest > 0, largest, ops.ones_like(largest))
    scaled = x / largest  # components in [-1, 1], the largest of magnitude 1
    floor = ops.cast(epsilon, x.dtype) / largest  # |x| >= epsilon  <=>  |scaled| >= epsilon / largest
    # sqrt(sum(square)), not ops.norm, which computes float64 in float32 on JAX (keras-team/keras#23223).
    denominator = ops.maximum(ops.sqrt(ops.sum(ops.square(scaled), axis=-1, keepdims=True)), floor)
    return scaled / ops.where(denominator > 0, denominator, ops.ones_like(denominator))


def _matmul_transposed(a, b):
    """``a @ b^T`` over the last two axes: every row of ``a`` against every row of ``b``."""
    return ops.matmul(a, ops.swapaxes(b, -1, -2))


def dot(query, key):
    """Dot-product score, ``s(q, k) = q . k`` (Luong et al. 2015, eq. 8, "dot").

    Args:
        query: ``(..., Tq, d)``.
        key: ``(..., Tk, d)``.

    Returns:
        Scores of shape ``(..., Tq, Tk)``.
    """
    query, key = _queries_and_keys(query, key)
    return _matmul_transposed(query, key)


def scaled_dot(query, key):
    """Scaled dot-product score, ``s(q, k) = q . k / sqrt(d)`` (Vaswani et al. 2017, eq. 1).

    For queries and keys with independent unit-variance components, ``q . k`` has variance ``d``;
    dividing by ``sqrt(d)`` brings it back to 1, so the softmax does not saturate as ``d`` grows.

    Args:
        query: ``(..., Tq, d)``.
        key: ``(..., Tk, d)``.

    Returns:
        Scores of shape ``(..., Tq, Tk)``.
    """
    query, key = _queries_and_keys(query, key)
    check.check_last_dim_positive(query, "query")
    d = ops.cast(ops.shape(query)[-1], query.dtype)
    return _matmul_transposed(query, key) / ops.sqrt(d)


def cosine(query, key, epsilon=1e-12):
    """Cosine similarity, ``s(q, k) = q . k / (|q| |k|)``, bounded in ``[-1, 1]``.

    Content-based addressing in Neural Turing Machines (Graves et al. 2014, eq. 6). Because the scores
    are bounded, a softmax over them is close to uniform unless they are sharpened by a temperature.

    Args:
        query: ``(..., Tq, d)``.
        key: ``(..., Tk, d)``.
        epsilon: guards the division for an all-zero vector, whose score is then 0.

    Returns:
        Scores of shape ``(..., Tq, Tk)``.
    """
    query, key = _queries_and_keys(query, key)
    return _matmul_transposed(unit_vectors(query, epsilon), unit_vectors(key, epsilon))


def gaussian(query, key, width):
    """The Gaussian kernel's score, ``s(q, k) = -|q - k|^2 / (2 w^2)``: close keys score high.

    A softmax over these scores gives the Nadaraya-Watson kernel regression weights (Nadaraya 1964,
    Watson 1964), attention pooling with a fixed score and no parameters to learn (notebook 01). The
    width ``w`` sets how far a query looks: the weights of keys farther than a few widths vanish.

    Args:
        query: ``(..., Tq, d)``.
        key: ``(..., Tk, d)``.
        width: the kernel's width ``w``, a positive, finite number.

    Returns:
        Scores of shape ``(..., Tq, Tk)``; the differences are taken pairwise, so memory grows as
        ``Tq * Tk * d``: meant for small ``d``, as in kernel regression.
    """
    check.check_positive_finite(width, "width")
    query, key = _queries_and_keys(query, key)
    differences = ops.expand_dims(query, -2) - ops.expand_dims(key, -3)  # (..., Tq, Tk, d)
    return -ops.sum(differences**2, axis=-1) / ops.cast(2 * width**2, query.dtype)


def bilinear(query, key, weight):
    """Bilinear ("general") score, ``s(q, k) = q^T W k`` (Luong et al. 2015, eq. 8).

    Luong writes ``h_t^T W_a h_s`` with the decoder state ``h_t`` as the query and the encoder state
    ``h_s`` as the key. ``W`` lets queries and keys live in spaces of different sizes. Unlike ``dot``,
    the score is not symmetric in ``q`` and ``k`` unless ``W`` is.

    Args:
        query: ``(..., Tq, d_query)``.
        key: ``(..., Tk, d_key)``.
        weight: ``W``, of shape ``(d_query, d_key)``.

    Returns:
        Scores of shape ``(..., Tq, Tk)``.
    """
    query, key = _queries_and_keys(query, key, same_size=False)
    weight = check.as_float_tensor(weight, "weight")
    check.check_rank(weight, "weight", 2, "(d_query, d_key)")
    check.check_dims_match(query, "query", -1, weight, "weight", 0, "weight must have d_query rows")
    check.check_dims_match(key, "key", -1, weight, "weight", 1, "weight must have d_key columns")
    dtype = _common_float_dtype(query, weight)
    query, key, weight = (ops.cast(x, dtype) for x in (query, key, weight))
    return _matmul_transposed(ops.matmul(query, weight), key)


def additive(query, key, w_query, w_key, v):
    """Additive score, ``s(q, k) = v^T tanh(W_q q + W_k k)`` (Bahdanau et al. 2014, eq. 6 and app. A).

    Query and key are projected into a shared space of ``units`` dimensions, added, squashed by
    ``tanh``, and read out by ``v``. Keras's ``AdditiveAttention`` computes ``sum(scale * tanh(q + k))``
    with a learned ``scale`` of shape ``(dim,)``: this function with identity projections and
    ``v = scale`` (``v`` all ones with ``use_scale=False``). It has no projections of its own; project
    the query and key first and it computes Bahdanau's score.

    Args:
        query: ``(..., Tq, d_query)``.
        key: ``(..., Tk, d_key)``.
        w_query: ``W_q``, of shape ``(d_query, units)``.
        w_key: ``W_k``, of shape ``(d_key, units)``.
        v: ``(units,)``.

    Returns:
        Scores of shape ``(..., Tq, Tk)``. The intermediate ``(..., Tq, Tk, units)`` tensor is
        materialised, as in Keras's layer.
    """
    query, key = _queries_and_keys(query, key, same_size=False)
    w_query = check.as_float_tensor(w_query, "w_query")
    w_key = check.as_float_tensor(w_key, "w_key")
    v = check.as_float_tensor(v, "v")
    check.check_rank(w_query, "w_query", 2, "(d_query, units)")
    check.check_rank(w_key, "w_key", 2, "(d_key, units)")
    check.check_rank(v, "v", 1, "(units,)")
    check.check_dims_match(query, "query", -1, w_query, "w_query", 0, "w_query must have d_query rows")
    check.check_dims_match(key, "key", -1, w_key, "w_key", 0, "w_key must have d_key rows")
    check.check_dims_match(w_query, "w_query", 1, w_key, "w_key", 1, "both project to the same units")
    check.check_dims_match(w_query, "w_query", 1, v, "v", 0, "v must have one entry per unit")
    dtype = _common_float_dtype(query, w_query, w_key, v)
    query, key, w_query, w_key, v = (ops.cast(x, dtype) for x in (query, key, w_query, w_key, v))
    projected_query = ops.expand_dims(ops.matmul(query, w_query), -2)  # (..., Tq, 1, units)
    projected_key = ops.expand_dims(ops.matmul(key, w_key), -3)  # (..., 1, Tk, units)
    return ops.sum(ops.multiply(_float64.tanh(ops.add(projected_query, projected_key)), v), axis=-1)


def projected(query, key, w_query, w_key, scale=None):
    """Projected score, ``s(q, k) = (q W_q) . (k W_k) * scale`` (Vaswani et al. 2017, sec. 3.2.2).

    Query and key are projected into a shared space of ``units`` dimensions and compared there with a
    dot product. With the default ``scale = 1 / sqrt(units)`` this is the score of one head of the
    Transformer's multi-head attention, ``Q W_i^Q (K W_i^K)^T / sqrt(d_k)``.

    It is also a low-rank bilinear score: ``(q W_q) . (k W_k) = q^T (W_q W_k^T) k``, the ``bilinear``
    score with ``W = W_q W_k^T``, a matrix of rank at most ``units`` held in
    ``units * (d_query + d_key)`` parameters instead of ``d_query * d_key``. Pass ``scale=1.0`` for it.
    It is symmetric in ``q`` and ``k`` exactly when ``W_q W_k^T`` is: ``W_q = W_k`` is one such case,
    ``W_k = W_q A`` with ``A`` symmetric another.

    Weights of rank 3 hold one projection per head: the scores then gain a heads axis before ``Tq``,
    in the layout of Keras's ``MultiHeadAttention``, ``(batch, num_heads, Tq, Tk)``.

    Args:
        query: ``(..., Tq, d_query)``.
        key: ``(..., Tk, d_key)``.
        w_query: ``W_q``, of shape ``(d_query, units)`` or ``(num_heads, d_query, units)``.
        w_key: ``W_k``, of shape ``(d_key, units)`` or ``(num_heads, d_key, units)``, the same rank as
            ``w_query``.
        scale: a positive, finite number multiplying the scores; ``None`` means ``1 / sqrt(units)``.

    Returns:
        Scores of shape ``(..., Tq, Tk)``, or ``(..., num_heads, Tq, Tk)`` for rank-3 weights.
    """
    query, key = _queries_and_keys(query, key, same_size=False)
    w_query = check.as_float_tensor(w_query, "w_query")
    w_key = check.as_float_tensor(w_key, "w_key")
    for name, weight, what in (("w_query", w_query, "d_query"), ("w_key", w_key, "d_key")):
        check.check_rank_in(weight, name, (2, 3), f"rank 2, ({what}, units), or rank 3, (num_heads, {what}, units)")
    if len(w_query.shape) != len(w_key.shape):
        raise ValueError(
            "Invalid shapes for arguments w_query and w_key: both per head or neither. "
            f"Received: w_query.shape={tuple(w_query.shape)}, w_key.shape={tuple(w_key.shape)}"
        )
    if len(w_query.shape) == 3:
        check.check_dims_match(w_query, "w_query", 0, w_key, "w_key", 0, "the same number of heads")
    check.check_dims_match(query, "query", -1, w_query, "w_query", -2, "w_query must have d_query rows")
    check.check_dims_match(key, "key", -1, w_key, "w_key", -2, "w_key must have d_key rows")
    check.check_dims_match(w_query, "w_query", -1, w_key, "w_key", -1, "both project to the same units")
    if scale is None:
        check.check_last_dim_positive(w_query, "w_query", "a number of units")
        scale = 1.0 / float(w_query.shape[-1]) ** 0.5
    else:
        check.check_positive_finite(scale, "scale", expected="a positive, finite number or None")
    dtype = _common_float_dtype(query, w_query, w_key)
    query, key, w_query, w_key = (ops.cast(x, dtype) for x in (query, key, w_query, w_key))
    if len(w_query.shape) == 3:
        # (..., 1, T, d) @ (num_heads, d, units) -> (..., num_heads, T, units)
        query, key = ops.expand_dims(query, -3), ops.expand_dims(key, -3)
    projected_query = ops.matmul(query, w_query)
    projected_key = ops.matmul(key, w_key)
    return _matmul_transposed(projected_query, projected_key) * ops.cast(scale, projected_query.dtype)


@dataclasses.dataclass(frozen=True)
class Score:
    """One entry of ``REGISTRY``: a score function and what a caller needs to know to use it.

    Attributes:
        name: the canonical name, the function's own.
        function: ``function(query, key, *parameters) -> (..., Tq, Tk)``.
        parameters: the names of the arguments it needs after ``query`` and ``key``, in order; empty for
            a parameter-free score, which can be given by name to ``attend``.
        aliases: other names for it, from the papers.
        source: where the score comes from.
        as_dot_product: for a parameter-free score that is a dot product of transformed queries and
            keys, ``(query, key) -> (query', key')`` with ``score = query' . key'``. The block-wise
            functions transform once and then score every tile with a plain matrix product.
    """

    name: str
    function: typing.Callable
    parameters: tuple = ()
    aliases: tuple = ()
    source: str = ""
    as_dot_product: typing.Callable | None = None

    @property
    def parameter_free(self):
        return not self.parameters


def _scaled_queries(query, key):
    check.check_last_dim_positive(query, "query")
    return query / ops.sqrt(ops.cast(query.shape[-1], query.dtype)), key


REGISTRY = {
    score.name: score
    for score in (
        Score("dot", dot, source='Luong et al. 2015, eq. 8, "dot"', as_dot_product=lambda query, key: (query, key)),
        Score("scaled_dot", scaled_dot, source="Vaswani et al. 2017, eq. 1", as_dot_product=_scaled_queries),
        Score(
            "cosine",
            cosine,
            source="Graves et al. 2014 (NTM)",
            as_dot_product=lambda query, key: (unit_vectors(query), unit_vectors(key)),
        ),
        Score("bilinear", bilinear, ("weight",), ("general",), 'Luong et al. 2015, eq. 8, "general"'),
        Score(
            "additive",
            additive,
            ("w_query", "w_key", "v"),
            ("concat",),
            'Bahdanau et al. 2014, eq. 6; Luong et al. 2015, eq. 8, "concat"',
        ),
        Score("projected", projected, ("w_query", "w_key"), source="Vaswani et al. 2017, sec. 3.2.2"),
        Score("gaussian", gaussian, ("width",), source="Nadaraya 1964, Watson 1964"),
    )
}
"""Every score function, by canonical name. Aliases are in ``ALIASES``; look a name up with ``get``."""

ALIASES = {alias: score.name for score in REGISTRY.values() for alias in score.aliases}
"""The papers' names, each mapped to its canonical name: ``{"general": "bilinear", "concat": "additive"}``."""

PARAMETER_FREE = {name: score.function for name, score in REGISTRY.items() if score.parameter_free}
"""The score functions a function accepts by name (``dot``, ``scaled_dot``, ``cosine``), by name."""


def get(name, argument="score", among=None, parameter_free=False):
    """The ``Score`` that ``name``, a canonical name or an alias, stands for.

    Args:
        name: a name of ``REGISTRY`` or ``ALIASES``.
        argument: the caller's argument, named in error messages.
        among: optional canonical names the caller supports (a layer's scores); any other is refused.
        parameter_free: if ``True``, a score that needs parameters is refused with a ``ValueError``
            saying so, and suggesting a callable such as ``functools.partial``.

    Raises:
        TypeError: ``name`` is not a string.
        ValueError: ``name`` is unknown, not among the supported ones, or needs parameters.
    """
    supported = [score.name for score in REGISTRY.values() if among is None or score.name in among]
    allowed = [each for each in supported if REGISTRY[each].parameter_free or not parameter_free]
    known = sorted(spelling for each in allowed for spelling in (each, *REGISTRY[each].aliases))
    unknown = f"Invalid value for argument {argument}. Expected one of {known}. Received: {argument}={name!r}"
    if not isinstance(name, str):
        raise TypeError(unknown)
    canonical = ALIASES.get(name, name)
    if canonical in supported and canonical not in allowed:
        score = REGISTRY[canonical]
        called = repr(name) if name == canonical else f"{name!r} (an alias of {canonical!r})"
        raise ValueError(
            f"Invalid value for argument {argument}. The score {called} needs parameters "
            f"({', '.join(score.parameters)}), so it cannot be given by name: pass a callable "
            f"{argument}(query, key) instead, such as functools.partial(attention_utils.scores.{canonical}, "
            f"{', '.join(f'{parameter}=...' for parameter in score.parameters)}). Names accepted: {known}. "
            f"Received: {argument}={name!r}"
        )
    if canonical not in allowed:
        raise ValueError(unknown)
    return REGISTRY[canonical]


def score_function(score, argument="score"):
    """The callable ``score(query, key)`` that a function's ``score`` argument stands for.

    Args:
        score: the name of a parameter-free score (``"dot"``, ``"scaled_dot"``, ``"cosine"``), looked up
            with ``get``, or a callable ``score(query, key) -> (..., Tq, Tk)``, returned as it is.
        argument: the caller's argument, named in error messages.

    Raises:
        ValueError: an unknown name, or the name of a score that needs parameters.
        TypeError: neither a name nor a callable.
    """
    if isinstance(score, str):
        return get(score, argument, parameter_free=True).function
    if callable(score):
        return score
    raise TypeError(
        f"Invalid value for argument {argument}. Expected the name of a score function or a callable "
        f"{argument}(query, key). Received: {argument}={score!r}"
    )
