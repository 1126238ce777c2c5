"""Attention in one call: score, align, and take the weighted sum of the values.

``attend`` builds the whole ``(Tq, Tk)`` matrix of scores and weights, so its time and memory grow with
``Tq Tk``: the quadratic wall. It is the reference every other implementation is checked against; the
functions that get around the wall are in ``attention_utils.efficient`` (notebook 12).
"""

from keras import ops

from attention_utils import _validation as check
from attention_utils import scores as score_functions
from attention_utils.alignment import masked_softmax


def attend(query, value, key=None, score="scaled_dot", mask=None):
    """Soft attention: every query reads a weighted blend of the values.

    1. Score: ``scores = score(query, key)``, shape ``(..., Tq, Tk)``.
    2. Align: ``weights = masked_softmax(scores, mask)``, each row summing to 1 over the keys.
    3. Sum: ``context = weights @ value``, shape ``(..., Tq, d_value)``.

    Args:
        query: ``(..., Tq, d)``.
        value: ``(..., Tk, d_value)``.
        key: ``(..., Tk, d)``; defaults to ``value``, as in Keras's attention layers.
        score: the name of a parameter-free score function (``"dot"``, ``"scaled_dot"``,
            ``"cosine"``), looked up in ``attention_utils.scores.REGISTRY``, or a callable
            ``score(query, key) -> (..., Tq, Tk)``. A score with parameters (``"bilinear"``, alias
            ``"general"``; ``"additive"``, alias ``"concat"``; ``"projected"``; ``"gaussian"``) is a
            ``ValueError`` by name: pass it as a callable, e.g.
            ``functools.partial(scores.bilinear, weight=W)``.
        mask: optional, broadcastable to ``(..., Tq, Tk)``; the functions' mask rule (``attention_utils``,
            "Masks"). To mask padded keys, pass ``key_mask[:, None, :]``.

    Returns:
        ``(context, weights)``: ``(..., Tq, d_value)`` and ``(..., Tq, Tk)``. A query whose keys are
        all masked gets zero weights and a zero context.
    """
    score_function = score_functions.score_function(score)
    value = check.as_float_tensor(value, "value")
    check.check_rank_at_least(value, "value", 2, "(..., Tk, d_value)")
    if key is None and isinstance(score, str):
        # Say "value", the argument the caller passed, rather than a "key" they never gave.
        query = check.as_float_tensor(query, "query")
        check.check_rank_at_least(query, "query", 2, "(..., Tq, d)")
        check.check_dims_match(
            query,
            "query",
            -1,
            value,
            "value",
            -1,
            "without a key, the values serve as keys, so queries and values need the same feature size d",
        )
    if key is None:
        key = value
    else:
        key = check.as_float_tensor(key, "key")
        check.check_rank_at_least(key, "key", 2, "(..., Tk, d)")
    check.check_dims_match(key, "key", -2, value, "value", -2, "there must be one value per key (the same Tk)")
    scores = score_function(query, key)
    weights = masked_softmax(scores, mask)
    # The wider of the two dtypes: float16 weights must not round float32 values (nor the other way).
    dtype = check.common_float_dtype(weights.dtype, value.dtype)
    context = ops.matmul(ops.cast(weights, dtype), ops.cast(value, dtype))
    return context, weights
