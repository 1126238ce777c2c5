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

The first three have no parameters; ``attend(score=...)`` accepts them by name.
"""

from keras import ops

from attention_utils import _validation as check


def _queries_and_keys(query, key, same_size=True):
    query = check.as_float_tensor(query, "query")
    key = check.as_float_tensor(key, "key")
    check.check_rank_at_least(query, "query", 2, "(..., Tq, d)")
    check.check_rank_at_least(key, "key", 2, "(..., Tk, d)")
    if same_size:
        check.check_dims_match(
            query, "query", -1, key, "key", -1, "queries and keys must have the same feature size d"
        )
    check.check_leading_dims_broadcast(query, "query", key, "key")
    return query, key


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
    unit_query = query / ops.maximum(ops.norm(query, axis=-1, keepdims=True), epsilon)
    unit_key = key / ops.maximum(ops.norm(key, axis=-1, keepdims=True), epsilon)
    return _matmul_transposed(unit_query, unit_key)


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
    return _matmul_transposed(ops.matmul(query, weight), key)


def additive(query, key, w_query, w_key, v):
    """Additive score, ``s(q, k) = v^T tanh(W_q q + W_k k)`` (Bahdanau et al. 2014, eq. 6 and app. A).

    Query and key are projected into a shared space of ``units`` dimensions, added, squashed by
    ``tanh``, and read out by ``v``. Keras's ``AdditiveAttention`` computes ``sum(tanh(q + k))``: this
    function with identity projections and ``v`` all ones.

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
    projected_query = ops.expand_dims(ops.matmul(query, w_query), -2)  # (..., Tq, 1, units)
    projected_key = ops.expand_dims(ops.matmul(key, w_key), -3)  # (..., 1, Tk, units)
    return ops.sum(ops.tanh(projected_query + projected_key) * v, axis=-1)


PARAMETER_FREE = {"dot": dot, "scaled_dot": scaled_dot, "cosine": cosine}
"""The score functions ``attend`` accepts by name."""
