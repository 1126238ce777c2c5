"""Alignment: step 2 of attention, turning scores into weights that sum to 1.

``masked_softmax`` (with a temperature) and ``sparsemax`` turn scores into weights; ``padding_mask``
and ``causal_mask`` build the boolean masks they take.

Masks follow the package's one mask rule, the "Masks" section of ``attention_utils``'s docstring.
"""

import keras
import numpy as np
from keras import ops

from attention_utils import _validation as check


def masked_softmax(scores, mask=None, axis=-1, *, temperature=1.0):
    """Softmax over ``axis`` that gives masked positions exactly zero weight.

    ``weights_i = mask_i exp(s_i / T - m) / sum_j mask_j exp(s_j / T - m)``, with ``T`` the temperature
    and ``m`` the largest unmasked ``s_j / T``, subtracted so that ``exp`` cannot overflow. A row in
    which every position is masked has nothing to attend to and gets all-zero weights, never NaN.
    (``keras.layers.Attention`` subtracts ``1e9`` from masked scores: in float32 that rounds scores with
    ``|s| <= 32`` to the same number, so such a row gets uniform weights, but larger scores survive and
    the row gets the unmasked weights. Filling masked scores with ``-inf`` would give NaN.)

    A temperature below 1 sharpens the weights towards the one-hot vector of the largest score (hard
    attention, reached as ``T -> 0``); above 1 it flattens them towards uniform (``T -> inf``).

    Args:
        scores: ``(..., Tq, Tk)`` or any shape.
        mask: optional, broadcastable to ``scores``; the functions' mask rule (``attention_utils``,
            "Masks").
        axis: the axis the weights sum over (the keys).
        temperature: a positive number ``T``; the scores are divided by it, after subtracting their
            maximum (so the quotient cannot overflow), in float32 or float64 if the scores' dtype cannot
            hold ``T`` (``1e-8`` in float16). Keyword only.

    Returns:
        Weights of the shape and dtype of ``scores``, each row with an unmasked position summing to 1.
    """
    scores = check.as_float_tensor(scores, "scores")
    check.check_positive_finite(temperature, "temperature")
    temperature = float(temperature)
    if mask is not None:
        mask = check.as_bool_mask(mask)
        check.check_broadcasts_to(mask, "mask", scores, "scores")
    if check.has_no_elements(scores):  # an empty batch or no queries: nothing to normalise
        return scores  # (itself, not zeros_like: TF's graph optimiser can crash on zeros of an empty batch)
    if mask is None:
        if temperature == 1.0:
            return ops.softmax(scores, axis=axis)
        shifted = scores - ops.stop_gradient(ops.max(scores, axis=axis, keepdims=True))
        return ops.softmax(_divided_by_temperature(shifted, temperature), axis=axis)
    # Fill masked scores with the lowest finite value, not -inf: a row that is all -inf would give
    # -inf - (-inf) = NaN below. exp() of the filled entries underflows to 0, and where() makes it exact.
    lowest = check.lowest_float(scores.dtype)
    filled = ops.where(mask, scores, ops.full_like(scores, lowest))
    shifted = filled - ops.stop_gradient(ops.max(filled, axis=axis, keepdims=True))
    if temperature != 1.0:
        shifted = _divided_by_temperature(shifted, temperature)
    exponentials = ops.where(mask, ops.exp(shifted), ops.zeros_like(shifted))
    total = ops.sum(exponentials, axis=axis, keepdims=True)
    # A fully masked row sums to 0; dividing by 1 instead leaves its zeros as they are.
    return exponentials / ops.where(total > 0, total, ops.ones_like(total))


def _divided_by_temperature(shifted, temperature):
    """``shifted / temperature`` for scores already shifted so that their largest is 0 (all <= 0).

    Shifting first means the quotient can only fall towards -inf, where exp() gives 0, never overflow
    to +inf (and inf - inf = NaN). A temperature that the scores' dtype cannot hold as a normal number
    (``1e-8`` in float16 rounds to 0, and 0 / 0 = NaN) is applied in a wider float instead.
    """
    dtype = keras.backend.standardize_dtype(shifted.dtype)
    # JAX without JAX_ENABLE_X64 makes float64 tensors float32: float64 is no way out there.
    candidates = (dtype, "float32", "float64") if check.float64_available() else (dtype, "float32")
    for compute_dtype in candidates:
        if check.smallest_normal_float(compute_dtype) <= temperature <= check.largest_float(compute_dtype):
            break
    else:  # below the widest float's normal range: processors flush such numbers to 0
        widest = candidates[-1]
        raise ValueError(
            f"Invalid value for argument temperature. Expected a positive number that {widest} holds as a "
            f"normal number (at least {check.smallest_normal_float(widest)}). Received: "
            f"temperature={temperature!r}"
        )
    # convert_to_tensor, not cast: ops.cast(1e-38, "float64") goes through float32 and flushes it to 0.
    if compute_dtype == dtype:
        return shifted / ops.convert_to_tensor(temperature, dtype)
    quotient = ops.cast(shifted, compute_dtype) / ops.convert_to_tensor(temperature, compute_dtype)
    return ops.cast(quotient, dtype)


def sparsemax(scores, mask=None, axis=-1):
    """Sparsemax (Martins and Astudillo 2016): like softmax, but gives low scores exactly zero weight.

    Sparsemax is the Euclidean projection of the scores ``z`` onto the probability simplex,
    ``sparsemax(z) = argmin_{p >= 0, sum(p) = 1} ||p - z||^2``, computed by the paper's Algorithm 1:

    1. Sort: ``z_(1) >= z_(2) >= ... >= z_(K)``.
    2. Support size: ``k(z) = max{k : 1 + k z_(k) > z_(1) + ... + z_(k)}``.
    3. Threshold: ``tau(z) = (z_(1) + ... + z_(k(z)) - 1) / k(z)``.
    4. Weights: ``sparsemax_i(z) = max(z_i - tau(z), 0)``.

    The weights sum to 1, and every score at or below ``tau`` gets weight exactly 0. Adding a constant
    to every score changes nothing; a key whose score exceeds all others by at least 1 takes all the
    weight. Masked positions get weight exactly 0, and a fully masked row gets all-zero weights.
    The computation uses ``keras.ops`` only, so it runs on tensors, is differentiable, and works inside
    a functional model.

    Args:
        scores: ``(..., Tq, Tk)`` or any shape.
        mask: optional, broadcastable to ``scores``; the functions' mask rule (``attention_utils``,
            "Masks").
        axis: the axis the weights sum over (the keys).

    Returns:
        Weights of the shape and dtype of ``scores``, each row with an unmasked position summing to 1.
    """
    scores = check.as_float_tensor(scores, "scores")
    if mask is not None:
        mask = check.as_bool_mask(mask)
        check.check_broadcasts_to(mask, "mask", scores, "scores")
    if check.has_no_elements(scores):  # an empty batch or no queries: nothing to normalise
        return scores  # (empty, as above)
    everywhere = ops.ones_like(scores, dtype="bool")
    mask = everywhere if mask is None else ops.logical_and(mask, everywhere)  # broadcast to the scores' shape
    # Sparsemax ignores a shift of every score, so shift the largest unmasked score to 0: the cumulative
    # sums below then stay small and exact. Masked scores become -2: the threshold is at least
    # max(z) - 1 = -1, so they fall below it and stay out of the support.
    lowest = check.lowest_float(scores.dtype)
    row_max = ops.max(ops.where(mask, scores, ops.full_like(scores, lowest)), axis=axis, keepdims=True)
    row_max = ops.where(ops.any(mask, axis=axis, keepdims=True), row_max, ops.zeros_like(row_max))
    z = ops.where(mask, scores - ops.stop_gradient(row_max), ops.full_like(scores, -2.0))
    z_sorted = ops.flip(ops.sort(z, axis=axis), axis=axis)  # 1. descending
    rank = ops.cumsum(ops.ones_like(z_sorted), axis=axis)  # k = 1, 2, ..., K
    in_support = 1.0 + rank * z_sorted > ops.cumsum(z_sorted, axis=axis)
    support_size = ops.max(ops.where(in_support, rank, ops.zeros_like(rank)), axis=axis, keepdims=True)  # 2.
    support_sum = ops.sum(ops.where(rank <= support_size, z_sorted, ops.zeros_like(z_sorted)), axis=axis, keepdims=True)
    threshold = (support_sum - 1.0) / support_size  # 3.
    weights = ops.maximum(z - threshold, 0.0)  # 4.
    return ops.where(mask, weights, ops.zeros_like(weights))  # exact zeros, also in a fully masked row


def padding_mask(lengths, maxlen):
    """Boolean mask ``(batch, maxlen)``, ``True`` at the first ``lengths[b]`` positions of row ``b``.

    Broadcast it over queries with ``mask[:, None, :]`` to mask the keys of padded sequences.

    Args:
        lengths: ``(batch,)`` integers, the true length of each sequence.
        maxlen: the padded length.
    """
    lengths = check.check_integer_array(lengths, "lengths", (1,), "(batch,)")
    check.check_integer_at_least(maxlen, "maxlen", 0)
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
    check.check_integer_at_least(num_queries, "num_queries", 0)
    check.check_integer_at_least(num_keys, "num_keys", 0)
    return ops.convert_to_tensor(np.tril(np.ones((num_queries, num_keys), dtype=bool)))
