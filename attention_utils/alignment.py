"""Alignment: step 2 of attention, turning scores into weights that sum to 1.

Masks here are boolean and follow Keras's convention: ``True`` means "attend to this position",
``False`` means "ignore it". (Older tutorials used additive masks where 1 meant "masked"; a boolean
mask cannot be mistaken for one.)
"""

import keras
import numpy as np
from keras import ops

from attention_utils import _validation as check


def masked_softmax(scores, mask=None, axis=-1):
    """Softmax over ``axis`` that gives masked positions exactly zero weight.

    ``weights_i = mask_i exp(s_i - m) / sum_j mask_j exp(s_j - m)`` with ``m`` the largest unmasked
    score, subtracted so that ``exp`` cannot overflow. A row in which every position is masked has
    nothing to attend to and gets all-zero weights, never NaN (Keras's layers give such a row uniform
    weights instead; filling masked scores with ``-inf`` would give NaN).

    Args:
        scores: ``(..., Tq, Tk)`` or any shape.
        mask: optional boolean array broadcastable to ``scores``; ``True`` means "attend".
        axis: the axis the weights sum over (the keys).

    Returns:
        Weights of the shape and dtype of ``scores``, each unmasked row summing to 1.
    """
    scores = check.as_float_tensor(scores, "scores")
    if mask is None:
        return ops.softmax(scores, axis=axis)
    mask = _as_bool_mask(mask)
    check.check_broadcasts_to(mask, "mask", scores, "scores")
    # Fill masked scores with the lowest finite value, not -inf: a row that is all -inf would give
    # -inf - (-inf) = NaN below. exp() of the filled entries underflows to 0, and where() makes it exact.
    lowest = float(np.finfo(keras.backend.standardize_dtype(scores.dtype)).min)
    filled = ops.where(mask, scores, ops.full_like(scores, lowest))
    shifted = filled - ops.stop_gradient(ops.max(filled, axis=axis, keepdims=True))
    exponentials = ops.where(mask, ops.exp(shifted), ops.zeros_like(shifted))
    total = ops.sum(exponentials, axis=axis, keepdims=True)
    # A fully masked row sums to 0; dividing by 1 instead leaves its zeros as they are.
    return exponentials / ops.where(total > 0, total, ops.ones_like(total))


def padding_mask(lengths, maxlen):
    """Boolean mask ``(batch, maxlen)``, ``True`` at the first ``lengths[b]`` positions of row ``b``.

    Broadcast it over queries with ``mask[:, None, :]`` to mask the keys of padded sequences.

    Args:
        lengths: ``(batch,)`` integers, the true length of each sequence.
        maxlen: the padded length.
    """
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or lengths.dtype.kind not in "iu":
        raise ValueError(
            "Invalid value for argument lengths. Expected a 1-D array of integers. "
            f"Received: lengths.shape={lengths.shape}, dtype={lengths.dtype}"
        )
    if isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0:
        raise ValueError(
            f"Invalid value for argument maxlen. Expected a non-negative integer. Received: maxlen={maxlen!r}"
        )
    if lengths.size and (lengths.min() < 0 or lengths.max() > maxlen):
        raise ValueError(
            f"Invalid value for argument lengths. Expected lengths between 0 and maxlen={maxlen}. "
            f"Received: lengths={lengths.tolist()}"
        )
    return ops.convert_to_tensor(np.arange(maxlen)[None, :] < lengths[:, None])


def causal_mask(num_queries, num_keys=None):
    """Boolean mask ``(Tq, Tk)`` letting query ``i`` attend to keys ``0..i`` only (no peeking ahead).

    This is the mask of decoder self-attention (Vaswani et al. 2017, section 3.2.3).
    """
    num_keys = num_queries if num_keys is None else num_keys
    for name, value in (("num_queries", num_queries), ("num_keys", num_keys)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(
                f"Invalid value for argument {name}. Expected a non-negative integer. "
                f"Received: {name}={value!r}"
            )
    return ops.convert_to_tensor(np.tril(np.ones((num_queries, num_keys), dtype=bool)))


def _as_bool_mask(mask):
    if isinstance(mask, keras.KerasTensor) or ops.is_tensor(mask):
        return mask if keras.backend.standardize_dtype(mask.dtype) == "bool" else ops.cast(mask, "bool")
    mask = np.asarray(mask)
    if mask.dtype.kind not in "biu":
        raise TypeError(
            "Invalid value for argument mask. Expected a boolean array (True means attend). "
            f"Received: mask with dtype {mask.dtype}"
        )
    return ops.convert_to_tensor(mask.astype(bool))
