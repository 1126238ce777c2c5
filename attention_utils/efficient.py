"""Attention that gets around the quadratic wall: exact block-wise, windowed, and linear attention.

``attention_utils.attend`` builds the whole ``(Tq, Tk)`` matrix of scores and weights; these functions
do not (notebook 12):

| function           | computes                                       | time                   | extra memory |
|--------------------|------------------------------------------------|------------------------|--------------|
| `blockwise_attend` | exact attention, tile by tile, online softmax  | O(Tq Tk d)             | one tile     |
| `windowed_attend`  | exact attention within a band abs(i - j) <= w  | O(Tq (w + block) d)    | one tile     |
| `linear_attend`    | linear attention: a different, approximate one | O((Tq + Tk) d d_value) | O(T d)       |

The memory column holds for training too. The backward pass of ``blockwise_attend`` and
``windowed_attend`` is FlashAttention's (Dao et al. 2022; Dao 2023): it keeps the context and one
number per query, and recomputes each tile from them, one tile at a time: five matrix products per
tile to the forward pass's two. (With a named score on TensorFlow or JAX; a callable score keeps plain
autodiff, which keeps every tile.) ``linear_attend`` holds phi(Q) and phi(K), ``O(T d)``, besides its
``O(d d_value)`` running sums; autodiff keeps what it computes, ``O(T d)``, and with ``causal=True``
one ``block_size x block_size`` tile per block.
"""

import functools

import keras
import numpy as np
from keras import ops

from attention_utils import _validation as check
from attention_utils import scores as score_functions


def blockwise_attend(
    query, value, key=None, score="scaled_dot", mask=None, *, causal=False, block_size=512, query_block_size=1024
):
    """Exact attention computed over blocks of keys with a running (online) softmax.

    The result equals ``attend(query, value, key, score, mask)[0]``, but the ``(Tq, Tk)`` matrix of
    scores is never built: queries are cut into blocks of ``query_block_size`` rows and keys into
    blocks of ``block_size``, and only one ``(query block, key block)`` tile of scores exists at a time
    (Rabe and Staats 2021; the loop order of Dao 2023, Algorithm 1, queries outside; the running softmax
    is Milakov and Gimelshein 2018's). For each query, keeping a running maximum ``m``, a running sum
    ``l`` and a running unnormalised context ``c``, each key block ``B`` does:

    1. Score the block: ``s_j = score(q, k_j)`` for ``j`` in ``B`` (masked keys left out).
    2. New maximum: ``m' = max(m, max_j s_j)``.
    3. Rescale what came before: ``l = exp(m - m') l``, ``c = exp(m - m') c``; the old terms were
       ``exp(s - m)``, they become ``exp(s - m')``.
    4. Add the block: ``l += sum_j exp(s_j - m')``, ``c += sum_j exp(s_j - m') v_j``; ``m = m'``.

    After the last block, ``context = c / l``: the softmax-weighted sum of the values, exactly, since
    ``exp(s_j - m) / sum_i exp(s_i - m)`` does not depend on ``m``. The extra memory is one tile,
    ``O(query_block_size * block_size)`` per head, instead of ``O(Tq Tk)``; the arithmetic is the same
    as ``attend``'s plus the rescaling, ``O(Tq Tk d)``.

    The backward pass does not keep the tiles either: it recomputes them, as FlashAttention does (Dao
    et al. 2022: the gradients in appendix B.2, the backward pass in Algorithm 4), here in the form of
    FlashAttention-2 (Dao 2023, Algorithms 1 and 2), which saves one number per query instead of ``m``
    and ``l``. The forward pass saves the context ``O`` and, for each query ``i``, the log-sum-exp of
    its scores, ``L_i = m_i + log(l_i)`` (``+inf`` for a query with no key). Given the gradient
    ``dO`` of the loss with respect to the context, with ``Q_i`` a block of queries and ``K_j``, ``V_j``
    a block of keys and values:

    5. ``D_i = rowsum(dO_i * O_i)``, once (it equals ``rowsum(P_i * dP_i)``).
    6. For each tile the forward pass read (the same masks, the causal tiles skipped): recompute
       ``S_ij = Q_i K_j^T`` and the weights ``P_ij = exp(S_ij - L_i)``, already normalised (0 where masked).
    7. ``dV_j += P_ij^T dO_i``.
    8. ``dP_ij = dO_i V_j^T`` and, through the softmax, ``dS_ij = P_ij * (dP_ij - D_i)``.
    9. ``dQ_i += dS_ij K_j`` and ``dK_j += dS_ij^T Q_i``.

    For ``"scaled_dot"`` and ``"cosine"``, ``Q`` and ``K`` are the scaled queries and the normalised
    queries and keys, and autodiff carries their gradients back through that transform. The backward
    pass holds ``O``, ``L``, ``D`` and the gradients, ``O(T d)``, and one tile at a time: training
    memory is ``O(T d)`` plus a tile, instead of ``O(Tq Tk)``, for one more matrix product per tile
    than autodiff's backward pass does (five, ``S_ij`` recomputed, to its four; the forward's are
    two). The gradient with respect to ``mask`` is none (booleans), and the gradient has no gradient of
    its own: asking for second derivatives is a ``NotImplementedError`` (``jax.hessian`` included), and so
    is forward-mode differentiation (``jax.jvp``, ``jax.jacfwd``: JAX's custom gradients are reverse mode
    only; TensorFlow's ``ForwardAccumulator`` meets the same error). It is a custom gradient
    (``keras.ops.custom_gradient``: ``tf.custom_gradient`` on TensorFlow, ``jax.custom_gradient`` on
    JAX); on other backends, and with a callable ``score``, gradients flow by plain autodiff through the
    loop, exact (to any order) but keeping every tile: a callable may close over trainable tensors that a
    custom gradient would not reach.

    The blocks are cut at fixed positions, so ``Tq`` and ``Tk`` must be known: a Python loop runs over
    the query blocks and ``ops.fori_loop`` over the key blocks, one after the other. The function runs
    eagerly, or inside ``tf.function``, where the graph runs faster (notebook 12); pass
    ``autograph=False`` there, since the loops need no conversion and AutoGraph's costs seconds. On JAX
    it runs eagerly (the loops operation by operation, as on TensorFlow) or inside ``jax.jit``; an eager
    gradient compiles its backward loops at every call, so compile a training step.

    Args:
        query: ``(..., Tq, d)``.
        value: ``(..., Tk, d_value)``.
        key: ``(..., Tk, d)``; defaults to ``value``.
        score: the name of a parameter-free score of ``attention_utils.scores.REGISTRY`` (``"dot"``,
            ``"scaled_dot"`` or ``"cosine"``), or a callable ``score(query, key)`` that scores every row
            of ``query`` against every row of ``key`` (it is called on blocks). A score with parameters
            is a ``ValueError`` by name, as in ``attend``: pass a callable (``functools.partial``).
        mask: optional, broadcastable to ``(..., Tq, Tk)``; the functions' mask rule
            (``attention_utils``, "Masks").
        causal: a bool; if ``True``, query ``i`` also ignores keys ``j > i``, as with ``causal_mask``; tiles
            above the diagonal are skipped rather than computed and masked. Keyword only.
        block_size: keys per block (the last block may be shorter). Keyword only. The fastest size
            depends on how the call runs: measured on 2 AVX-512 cores (``make bench``), the default 512
            suits ``tf.function``, while under XLA (``jit_compile=True``) 128 ran training 1.3 to 2
            times as fast as 512 (44-54% of the matrix-product rate from 2048 to 8192 positions, against
            26-45%).
        query_block_size: queries per block. Keyword only.

    Returns:
        The context, ``(..., Tq, d_value)``. A query whose keys are all masked, or that has no keys
        (``Tk = 0``), gets a zero context; an empty batch or ``Tq = 0`` gives an empty context.
    """
    query, key, value = _queries_keys_values(query, value, key, score)
    check.check_bool(causal, "causal")
    block_size = _integer_at_least(block_size, "block_size", 1)
    query_block_size = _integer_at_least(query_block_size, "query_block_size", 1)
    band = _causal_band if causal else None

    def plan(q_start, q_stop):
        return _grid_plan(q_start, q_stop, key.shape[-2], block_size, band)

    return _online_softmax_attention(
        query, key, value, score, _scores_mask(mask, query, key), query_block_size, plan, block_size
    )


def windowed_attend(query, value, key=None, score="scaled_dot", mask=None, *, window, causal=False, block_size=256):
    """Sliding-window (local) attention: query ``i`` attends only to keys ``j`` with ``|i - j| <= window``.

    Each query reads the ``2 window + 1`` keys around its own position (``window + 1`` with
    ``causal=True``: keys ``i - window .. i``): the local attention of Luong et al. 2015 (section 3.2,
    local-m, the window centred on the query's own position, here applied to self-attention) and the sliding
    window of Longformer (Beltagy et al. 2020). It equals ``attend`` with the band mask
    ``|i - j| <= window`` (and ``mask``), but reads only the keys near each query: every block of
    ``block_size`` queries scores the ``block_size + 2 window`` keys around it as one tile, with
    ``blockwise_attend``'s masked softmax. Time grows as ``O(Tq (block_size + 2 window) d)`` and memory
    as ``O(block_size (block_size + 2 window))`` per head: linear in the length for a fixed window. The
    backward pass recomputes the tiles, as ``blockwise_attend``'s does, so this holds for training too.

    Args:
        query: ``(..., Tq, d)``.
        value: ``(..., Tk, d_value)``.
        key: ``(..., Tk, d)``; defaults to ``value``.
        score: as in ``blockwise_attend``.
        mask: optional, broadcastable to ``(..., Tq, Tk)`` (the functions' mask rule, ``attention_utils``,
            "Masks"), combined with the band.
        window: a non-negative integer, how many positions each query sees on either side. Keyword
            only, required.
        causal: a bool; if ``True``, only the keys at and before the query's position. Keyword only.
        block_size: queries per block. Keyword only.

    Returns:
        The context, ``(..., Tq, d_value)``. A query with no key in its window gets a zero context; an
        empty batch or ``Tq = 0`` gives an empty context.
    """
    query, key, value = _queries_keys_values(query, value, key, score)
    window = _integer_at_least(window, "window", 0)
    check.check_bool(causal, "causal")
    block_size = _integer_at_least(block_size, "block_size", 1)
    num_keys = key.shape[-2]

    def plan(q_start, q_stop):  # one tile: the keys within `window` of any of these queries
        k_start, k_stop = max(q_start - window, 0), min(q_stop + (0 if causal else window), num_keys)
        if k_start >= k_stop:  # no key near these queries: one fully masked key gives their zero context
            return [("tile", 0, 1, np.zeros((q_stop - q_start, 1), dtype=bool))]
        offset = np.arange(q_start, q_stop)[:, None] - np.arange(k_start, k_stop)[None, :]  # i - j
        inside = (offset <= window) & (offset >= (0 if causal else -window))
        return [("tile", k_start, k_stop, None if inside.all() else inside)]

    return _online_softmax_attention(query, key, value, score, _scores_mask(mask, query, key), block_size, plan)


def linear_attend(query, value, key=None, *, causal=False, key_mask=None, block_size=256):
    """Linear attention (Katharopoulos et al. 2020): a kernel that factorises, in place of the softmax.

    Softmax attention weighs value ``j`` for query ``i`` by ``exp(q_i . k_j)``, which does not
    factorise, so every pair must be scored. Linear attention uses ``phi(q_i) . phi(k_j)`` instead, with
    the positive feature map ``phi(x) = elu(x) + 1`` (section 3.2 of the paper), and reorders the sums:

        context_i = phi(q_i)^T (sum_j phi(k_j) v_j^T) / phi(q_i)^T (sum_j phi(k_j))

    The two sums, ``(d, d_value)`` and ``(d,)``, are computed once for all queries: time
    ``O((Tq + Tk) d d_value)``, memory ``O(d d_value)`` for the sums, besides ``phi(Q)`` and ``phi(K)``,
    ``O(T d)``. With
    ``causal=True`` the sums run over ``j <= i`` only (section 3.3): they are carried from block to
    block of ``block_size`` positions, and inside a block the few pairs are scored directly.

    This is a different attention, not a faster way to compute softmax attention: its weights
    ``phi(q_i) . phi(k_j) / sum_j' phi(q_i) . phi(k_j')`` are smoother than the softmax's, and the
    context differs from ``attend``'s. Notebook 12 reports by how much.

    Args:
        query: ``(..., Tq, d)``.
        value: ``(..., Tk, d_value)``.
        key: ``(..., Tk, d)``; defaults to ``value``.
        causal: a bool; if ``True``, query ``i`` reads keys ``0 .. i`` only, as with ``causal_mask``.
            Keyword only.
        key_mask: optional boolean array broadcastable to ``(..., Tk)``, ``True`` for keys to attend
            to (a padding mask). The one exception to the functions' mask rule (``attention_utils``,
            "Masks"): one entry per key, not per ``(query, key)`` pair, since a per-pair ``(Tq, Tk)``
            mask cannot be factorised; hence its other name. Keyword only.
        block_size: positions per block when ``causal=True``. Keyword only.

    Returns:
        The context, ``(..., Tq, d_value)``. A query with no key to read gets a zero context; an empty
        batch or ``Tq = 0`` gives an empty context.
    """
    query, key, value = _queries_keys_values(query, value, key, "dot")
    check.check_bool(causal, "causal")
    block_size = _integer_at_least(block_size, "block_size", 1)
    if key_mask is not None:
        key_mask = check.as_bool_mask(key_mask, "key_mask")
        check.check_broadcasts_to(key_mask, "key_mask", keras.KerasTensor(key.shape[:-1]), "key[..., 0]")
    if _no_query_or_key(query, key, value):
        return _empty_or_zero_context(query, key, value)
    # phi(q_i) may be scaled by any positive number per query, and phi(k_j) by one number for all the
    # keys: both cancel between numerator and denominator. Scaling the largest feature to 1 keeps
    # exp(x) for very negative x from underflowing to 0 (a zero context) where the ratio is well defined.
    query_features, key_features = _elu_plus_one(query, axis=-1), _elu_plus_one(key, axis=(-2, -1))
    if key_mask is not None:
        # A masked key with phi(k) = 0 adds nothing to either sum.
        key_features = key_features * ops.cast(key_mask, key_features.dtype)[..., None]
    if not causal:
        key_value_sum = ops.matmul(ops.swapaxes(key_features, -1, -2), value)  # (..., d, d_value)
        key_sum = ops.sum(key_features, axis=-2, keepdims=True)  # (..., 1, d)
        numerator = ops.matmul(query_features, key_value_sum)
        denominator = ops.sum(query_features * key_sum, axis=-1, keepdims=True)
        return numerator / ops.where(denominator > 0, denominator, ops.ones_like(denominator))

    num_queries, num_keys = query.shape[-2], key.shape[-2]
    contexts, key_value_sum, key_sum = [], None, None
    for start in range(0, num_queries, block_size):
        stop = min(start + block_size, num_queries)
        block_queries = query_features[..., start:stop, :]
        numerator = denominator = 0.0
        if key_value_sum is not None:  # the keys of earlier blocks, all visible
            numerator = ops.matmul(block_queries, key_value_sum)
            denominator = ops.sum(block_queries * key_sum, axis=-1, keepdims=True)
        if start < num_keys:  # this block's own keys, visible up to the diagonal
            key_stop = min(stop, num_keys)
            block_keys, block_values = key_features[..., start:key_stop, :], value[..., start:key_stop, :]
            lower = ops.convert_to_tensor(np.tril(np.ones((stop - start, key_stop - start), dtype=bool)))
            pair_weights = ops.matmul(block_queries, ops.swapaxes(block_keys, -1, -2))
            pair_weights = ops.where(lower, pair_weights, ops.zeros_like(pair_weights))
            numerator = numerator + ops.matmul(pair_weights, block_values)
            denominator = denominator + ops.sum(pair_weights, axis=-1, keepdims=True)
            block_key_value = ops.matmul(ops.swapaxes(block_keys, -1, -2), block_values)
            block_key_sum = ops.sum(block_keys, axis=-2, keepdims=True)
            if key_value_sum is None:
                key_value_sum, key_sum = block_key_value, block_key_sum
            else:
                key_value_sum, key_sum = key_value_sum + block_key_value, key_sum + block_key_sum
        contexts.append(numerator / ops.where(denominator > 0, denominator, ops.ones_like(denominator)))
    return contexts[0] if len(contexts) == 1 else ops.concatenate(contexts, axis=-2)


def _elu_plus_one(x, axis=None):
    """The feature map of Katharopoulos et al. 2020, section 3.2: positive, so weights stay positive.

    ``elu(x) + 1`` is ``x + 1`` for ``x > 0`` and ``exp(x)`` otherwise, computed as such: ``(exp(x) - 1)
    + 1`` would cancel to 0 in float32 below ``x = -17``. With ``axis``, the features are divided by
    ``exp(m)``, ``m = min(max(x over axis), 0)``: where every ``x`` along ``axis`` is negative, the
    largest feature becomes 1 instead of ``exp(max(x))``, which could underflow.
    """
    if check.has_no_elements(x):  # nothing to map (and ops.max refuses an empty tensor)
        return x + 1.0
    negative_part = ops.minimum(x, 0.0)  # exp() of the branch where() drops must not overflow (NaN gradients)
    if axis is not None:
        shift = ops.stop_gradient(ops.minimum(ops.max(x, axis=axis, keepdims=True), 0.0))
        negative_part = negative_part - shift
    return ops.where(x > 0, x + 1.0, ops.exp(negative_part))


def _causal_band(q_start, q_stop, k_start, k_stop):
    """Which (query, key) pairs of a tile a causal mask keeps: ``None`` all, ``False`` none, else a mask."""
    if k_stop - 1 <= q_start:
        return None
    if k_start > q_stop - 1:
        return False
    return np.arange(q_start, q_stop)[:, None] >= np.arange(k_start, k_stop)[None, :]


def _online_softmax_attention(query, key, value, score, mask, query_block_size, plan, key_block_size=None):
    """The attention of ``blockwise_attend`` and ``windowed_attend``: one block of queries at a time, each
    reading its tiles of keys into a running maximum, sum and context (steps 1-4 in ``blockwise_attend``),
    with a backward pass that reads the same tiles again (steps 5-9) instead of keeping them.

    ``plan(q_start, q_stop)`` lists the tiles a query block reads, in order: ``("tile", k_start, k_stop,
    allowed)`` with ``allowed`` the pairs its positions allow (``None`` for all, else a boolean NumPy
    array), and ``("loop", first, stop)`` for the whole key blocks ``first .. stop - 1`` of
    ``key_block_size`` keys, every pair allowed. A loop picks its block by index: inside ``tf.function``
    the graph then holds one loop per query block instead of one copy of the step per tile, so it
    traces quickly and runs one tile after the other.

    The recomputing backward pass is for the named scores, which are a plain dot product once queries
    and keys are transformed (``_prepared_for_score``; autodiff differentiates the transform), and for
    TensorFlow's and JAX's tensors. A callable score keeps plain autodiff through the loop, which keeps the
    tiles: it may close over trainable tensors, and a custom gradient would not reach them. Other backends
    and symbolic tensors (a functional model being built) keep it too.
    """
    query, key, score_tile = _prepared_for_score(query, key, score)
    if _no_query_or_key(query, key, value):
        return _empty_or_zero_context(query, key, value)
    tiling = _Tiling(query.shape[-2], key.shape[-2], mask, query_block_size, plan, key_block_size)
    if callable(score) or not _custom_gradient_tensors(query, key, value):
        return _online_softmax_forward(query, key, value, tiling, score_tile)[0]
    return _attention_recomputing_tiles_backward(query, key, value, tiling)


def _online_softmax_forward(query, key, value, tiling, score_tile):
    """Steps 1-4 of ``blockwise_attend`` over every tile of ``tiling``. Returns the context
    ``(..., Tq, d_value)`` and each query's log-sum-exp of its scores, ``L = m + log(l)`` (Dao 2023,
    Algorithm 1), ``(..., Tq, 1)``, from which the backward pass recomputes the weights; ``+inf`` for a
    query with no key, so that its recomputed weights ``exp(s - L)`` are 0."""
    lowest = check.lowest_float(query.dtype)
    contexts, log_sum_exps = [], []
    for q_start, q_stop, items, tiles in tiling.query_blocks(key, value):
        step = functools.partial(_forward_step, query[..., q_start:q_stop, :], score_tile, lowest)
        after = contexts[-1] if contexts else None  # one query block after the other
        running_max, running_sum, context = tiling.run(items, tiles, step, None, after)
        has_keys = running_sum > 0
        safe_sum = ops.where(has_keys, running_sum, ops.ones_like(running_sum))
        # A query whose keys were all masked has a running sum of 0 and a zero context: keep the zeros.
        contexts.append(context / safe_sum)
        log_sum_exps.append(
            ops.where(has_keys, running_max + ops.log(safe_sum), ops.full_like(running_sum, float("inf")))
        )
    return _concatenated_rows(contexts), _concatenated_rows(log_sum_exps)


def _forward_step(query_block, score_tile, lowest, state, key_tile, value_tile, tile_mask, at):
    scores = score_tile(query_block, key_tile)  # 1. one tile of scores
    return _online_softmax_step(state, scores, value_tile, tile_mask, lowest)


def _attention_recomputing_tiles_backward(query, key, value, tiling):
    """``_online_softmax_forward``'s context, whose gradient recomputes the tiles (``blockwise_attend``,
    steps 5-9) from the saved context and log-sum-exp, instead of keeping them: Keras's
    ``ops.custom_gradient`` over the dot-product scores ``query . key``, which is ``tf.custom_gradient``
    on TensorFlow and ``jax.custom_gradient`` (a ``jax.custom_vjp``) on JAX. On both, what the backward
    pass keeps is what ``gradient`` reads: the inputs, the context and the log-sum-exp, no tile.
    """

    @ops.custom_gradient
    def attention(*inputs):
        # tf.custom_gradient lets an eager GradientTape record the operations inside, and each would keep
        # its tile for a backward pass that never uses it: the forward reads inputs cut off from the tape.
        query, key, value = (ops.stop_gradient(x) for x in inputs)
        context, log_sum_exp = _online_softmax_forward(query, key, value, tiling, _dot_product_scores)

        def gradient(context_grad):
            grads = _recomputed_gradients(query, key, value, context, log_sum_exp, context_grad, tiling)
            # Every gradient depends on every input again, through a zero, so that a second differentiation
            # with respect to any input reaches `_not_differentiable` and its error, rather than finding no
            # path (with the context's gradient a constant, the cut-off inputs above would give none: a
            # silent 0). The zero is one number: 0 * (sum of each input's first entry).
            link = sum(0 * ops.reshape(x, (-1,))[0] for x in inputs)
            return tuple(_not_differentiable(_sum_to_shape(grad, x) + link) for grad, x in zip(grads, inputs))

        return context, gradient

    return attention(query, key, value)


def _not_differentiable(grad):
    """``grad``, whose own gradient is an error: the backward pass takes the saved context and
    log-sum-exp as constants, so differentiating it again would give wrong second derivatives."""

    @ops.custom_gradient
    def identity(grad):
        def second_order(upstream):
            raise NotImplementedError(
                "blockwise_attend and windowed_attend have no second-order gradients: their backward pass "
                "recomputes the weights from saved statistics that it takes as constants. Use "
                "attention_utils.attend, or score=<a callable>, which autodiff differentiates to any order."
            )

        return grad, second_order  # tf.custom_gradient and jax.custom_gradient return a new tensor

    return identity(grad)


def _recomputed_gradients(query, key, value, context, log_sum_exp, context_grad, tiling):
    """Steps 5-9 of ``blockwise_attend``: the gradients of the loss with respect to the dot-product queries,
    keys and values, given its gradient ``context_grad`` with respect to the context (Dao 2023, Algorithm 2).

    FlashAttention-2's loop keeps a block of keys and runs over the queries; this one keeps a block of
    queries and runs over its tiles, as the forward pass does (the same plan, causal skipping included),
    and adds each tile's ``dK_j``, ``dV_j`` into gradients of all the keys and values, ``O(Tk d)``. The
    keys of a loop's whole blocks go to gradients cut into the same blocks, a block picked by index.
    Returns ``(dQ, dK, dV)``, each in the batch shape of the context (its broadcast inputs' batch shape).
    """
    lowest = check.lowest_float(query.dtype)
    delta = ops.sum(context_grad * context, axis=-1, keepdims=True)  # 5. D_i = rowsum(dO_i * O_i)
    # Zeros of the context's batch shape, (..., 1, 1), computed from it rather than constant: XLA's pass that
    # propagates constants into loops fails on these loops when their starting states are constants.
    batch_zeros = context[..., :1, :1] * 0
    key_grad, value_grad = ops.zeros_like(key) + batch_zeros, ops.zeros_like(value) + batch_zeros
    key_blocks_grad = value_blocks_grad = None
    if tiling.num_whole > 1:
        blocks_zeros = ops.expand_dims(batch_zeros, -3)
        key_blocks_grad = ops.zeros_like(tiling.blocks(key, -2)) + blocks_zeros
        value_blocks_grad = ops.zeros_like(tiling.blocks(value, -2)) + blocks_zeros
    query_grads = []
    for q_start, q_stop, items, tiles in tiling.query_blocks(key, value):
        rows = [x[..., q_start:q_stop, :] for x in (query, context_grad, log_sum_exp, delta)]
        step = functools.partial(_backward_step, *rows, lowest, key.shape[-2])
        state = (ops.zeros_like(rows[0]) + batch_zeros, key_grad, value_grad, key_blocks_grad, value_blocks_grad)
        query_block_grad, key_grad, value_grad, key_blocks_grad, value_blocks_grad = tiling.run(
            items, tiles, step, state
        )
        query_grads.append(query_block_grad)
    if key_blocks_grad is not None:
        key_grad = key_grad + tiling.unblocked(key_blocks_grad)
        value_grad = value_grad + tiling.unblocked(value_blocks_grad)
    return _concatenated_rows(query_grads), key_grad, value_grad


def _backward_step(
    query_block,
    context_grad_block,
    log_sum_exp_block,
    delta_block,
    lowest,
    num_keys,
    state,
    key_tile,
    value_tile,
    tile_mask,
    at,
):
    """Steps 6-9 of ``blockwise_attend`` for one tile; ``state`` is ``(dQ_i, dK, dV, dK blocks, dV blocks)``
    and ``at`` where the tile's keys are: ``(k_start, k_stop)``, or the index of a whole key block."""
    query_grad, key_grad, value_grad, key_blocks_grad, value_blocks_grad = state
    scores = _dot_product_scores(query_block, key_tile)  # 6. S_ij = Q_i K_j^T, recomputed
    if tile_mask is not None:
        # The lowest finite score, as in the forward pass: exp(lowest - L) is exactly 0.
        scores = ops.where(tile_mask, scores, ops.full_like(scores, lowest))
    weights = ops.exp(scores - log_sum_exp_block)  # P_ij = exp(S_ij - L_i): softmax weights, normalised
    tile_value_grad = ops.matmul(ops.swapaxes(weights, -1, -2), context_grad_block)  # 7. dV_j += P_ij^T dO_i
    weights_grad = ops.matmul(context_grad_block, ops.swapaxes(value_tile, -1, -2))  # 8. dP_ij = dO_i V_j^T
    scores_grad = weights * (weights_grad - delta_block)  # dS_ij = P_ij * (dP_ij - D_i)
    tile_key_grad = ops.matmul(ops.swapaxes(scores_grad, -1, -2), query_block)  # 9. dK_j += dS_ij^T Q_i
    query_grad = query_grad + ops.matmul(scores_grad, key_tile)  # dQ_i += dS_ij K_j
    if isinstance(at, tuple):
        key_grad = _added_at_keys(key_grad, *at, tile_key_grad)
        value_grad = _added_at_keys(value_grad, *at, tile_value_grad)
    else:
        key_blocks_grad = _added_at_block(key_blocks_grad, at, tile_key_grad)
        value_blocks_grad = _added_at_block(value_blocks_grad, at, tile_value_grad)
    return query_grad, key_grad, value_grad, key_blocks_grad, value_blocks_grad


def _added_at_keys(grad, k_start, k_stop, tile_grad):
    """``grad`` ``(..., Tk, d)`` with a tile's gradient ``(..., k_stop - k_start, d)`` added to its keys.

    Cut and joined rather than ``grad + pad(tile_grad)``: in a graph, the padded copy, ``O(Tk d)``, does
    not depend on ``grad`` and could be made for every tile long before ``grad`` reaches it.
    """
    rows = grad[..., k_start:k_stop, :] + tile_grad
    return ops.concatenate([grad[..., :k_start, :], rows, grad[..., k_stop:, :]], axis=-2)


def _added_at_block(blocks_grad, index, tile_grad):
    """``blocks_grad`` ``(..., num_blocks, block_size, d)`` with ``tile_grad`` added to block ``index``, a
    tensor (a loop's counter). ``O(Tk d)`` work, small beside the tile's ``O(bq bk d)``."""
    hit = ops.reshape(ops.arange(blocks_grad.shape[-3]) == index, (-1, 1, 1))
    return ops.where(hit, blocks_grad + ops.expand_dims(tile_grad, -3), blocks_grad)


def _sum_to_shape(grad, x):
    """``grad``, of a broadcast shape, summed over the axes along which ``x`` was broadcast: ``x``'s
    gradient, as automatic differentiation takes it through broadcasting. Batch sizes may be unknown in
    a TensorFlow graph, where TensorFlow's own rule for broadcast gradients finds the axes at run time."""
    grad_shape, x_shape = tuple(grad.shape), tuple(x.shape)
    if None in grad_shape or None in x_shape:
        import tensorflow as tf

        axes, _ = tf.raw_ops.BroadcastGradientArgs(s0=tf.shape(x), s1=tf.shape(grad))
        return tf.reshape(tf.reduce_sum(grad, axis=axes), tf.shape(x))
    leading = len(grad_shape) - len(x_shape)
    axes = tuple(range(leading)) + tuple(
        leading + i for i, size in enumerate(x_shape) if size == 1 and grad_shape[leading + i] != 1
    )
    return ops.reshape(ops.sum(grad, axis=axes), x_shape) if axes else grad


class _Tiling:
    """The tiles of one call: the blocks of ``query_block_size`` queries and, for each, the tiles of keys
    that ``plan`` lists (see ``_online_softmax_attention``). The forward and backward passes read the
    same tiles in the same order through ``query_blocks`` and ``run``."""

    def __init__(self, num_queries, num_keys, mask, query_block_size, plan, key_block_size):
        self.num_queries, self.num_keys, self.mask = num_queries, num_keys, mask
        self.query_block_size, self.plan, self.key_block_size = query_block_size, plan, key_block_size
        self.num_whole = 0 if key_block_size is None else num_keys // key_block_size

    def blocks(self, x, axis):
        """The whole key blocks of ``x``: ``(..., Tk, ...)`` -> ``(..., num_whole, key_block_size, ...)``."""
        shape = tuple(ops.shape(x))
        stop = self.num_whole * self.key_block_size
        whole = x[..., :stop, :] if axis == -2 else x[..., :stop]
        return ops.reshape(whole, shape[:axis] + (self.num_whole, self.key_block_size) + shape[len(shape) + axis + 1 :])

    def unblocked(self, blocks_grad):
        """A gradient cut into whole key blocks, ``(..., num_whole, key_block_size, d)``, back to all the
        keys, ``(..., Tk, d)``: zeros for the keys after the last whole block."""
        shape = tuple(ops.shape(blocks_grad))
        whole = ops.reshape(blocks_grad, shape[:-3] + (self.num_whole * self.key_block_size, shape[-1]))
        rest = self.num_keys - self.num_whole * self.key_block_size
        return ops.pad(whole, [(0, 0)] * (len(shape) - 3) + [(0, rest), (0, 0)])

    def query_blocks(self, key, value):
        """Yields ``(q_start, q_stop, items, tiles)`` for each block of queries: its plan and its ``_Tiles``."""
        mask = self.mask
        key_blocks, value_blocks = (None, None)
        if self.num_whole > 1:
            key_blocks, value_blocks = self.blocks(key, -2), self.blocks(value, -2)
        for q_start in range(0, self.num_queries, self.query_block_size):
            q_stop = min(q_start + self.query_block_size, self.num_queries)
            mask_rows = None if mask is None else mask if mask.shape[-2] == 1 else mask[..., q_start:q_stop, :]
            mask_blocks = None
            if mask_rows is not None and mask_rows.shape[-1] != 1 and self.num_whole > 1:
                mask_blocks = self.blocks(mask_rows, -1)
            tiles = _Tiles(key, value, mask_rows, key_blocks, value_blocks, mask_blocks)
            yield q_start, q_stop, self.plan(q_start, q_stop), tiles

    def run(self, items, tiles, step, state, after=None):
        """Runs ``state = step(state, key_tile, value_tile, tile_mask, at)`` over the tiles ``items`` lists, in
        order, and returns the last state. ``at`` is ``(k_start, k_stop)`` for a tile cut by position and
        the block's index, a tensor, in a loop; ``state`` may be ``None`` before the first tile. Each tile
        is read once the state before it is computed (the first once ``after`` is), see ``_once_computed``."""

        def read(tile, state):
            key_tile, value_tile, tile_mask = tile
            key_tile, value_tile = _once_computed((key_tile, value_tile), after if state is None else state)
            return key_tile, value_tile, tile_mask

        for item in items:
            if item[0] == "tile":
                state = step(state, *read(tiles.cut(*item[1:]), state), item[1:3])
                continue
            first, stop = item[1:]
            if state is None:  # the loop carries a state: start it from the run's first block
                at = (first * self.key_block_size, (first + 1) * self.key_block_size)
                state = step(None, *read(tiles.cut(*at, None), None), at)
                first += 1
            state = _one_iteration_at_a_time_loop(
                first, stop, lambda index, state: step(state, *read(tiles.pick(index), state), index), state
            )
        return state


class _Tiles:
    """The tiles of one query block: ``cut`` gives the keys, values and mask of a tile cut by position,
    ``pick`` those of a whole key block picked by its index (inside a loop)."""

    def __init__(self, key, value, mask_rows, key_blocks, value_blocks, mask_blocks):
        self.key, self.value, self.mask_rows = key, value, mask_rows
        self.key_blocks, self.value_blocks, self.mask_blocks = key_blocks, value_blocks, mask_blocks

    def cut(self, k_start, k_stop, allowed):
        tile_mask = _tile_mask(self.mask_rows, allowed, k_start, k_stop)
        return self.key[..., k_start:k_stop, :], self.value[..., k_start:k_stop, :], tile_mask

    def pick(self, index):
        tile_mask = self.mask_rows if self.mask_blocks is None else ops.take(self.mask_blocks, index, axis=-2)
        return ops.take(self.key_blocks, index, axis=-3), ops.take(self.value_blocks, index, axis=-3), tile_mask


def _concatenated_rows(blocks):
    """Blocks of rows ``(..., rows, features)``, in order, as one tensor."""
    return blocks[0] if len(blocks) == 1 else ops.concatenate(blocks, axis=-2)


def _no_query_or_key(query, key, value):
    """Whether there is nothing to attend with or to: an empty batch, no queries, or no keys."""
    return any(dim == 0 for x in (query, key, value) for dim in x.shape[:-1])


def _empty_or_zero_context(query, key, value):
    """The context when ``_no_query_or_key``: of shape ``(..., Tq, d_value)``, empty for an empty batch or
    no queries, and zeros for queries with no key to read (as for a query whose keys are all masked)."""
    no_scores = ops.matmul(query[..., :0], ops.swapaxes(key[..., :0], -1, -2))  # (..., Tq, Tk), all zeros
    return ops.matmul(no_scores, value)


def _once_computed(tensors, dependencies):
    """``tensors``, which a TensorFlow graph is not to read before ``dependencies`` are computed.

    A graph runs an operation as soon as its inputs are ready. A tile needs only the inputs, so the
    executor could compute the tiles of every block ahead of the running state they are added to, and
    hold them all at once: with a dependency on the state before it, one tile is computed at a time
    (outside loops too; within a loop, see ``_one_iteration_at_a_time_loop``). Eagerly, where operations
    run in order, and on other backends, ``tensors`` as they are.
    """
    dependencies = [x for x in (dependencies if isinstance(dependencies, tuple) else (dependencies,)) if x is not None]
    if not dependencies or not _tensorflow_tensors(*tensors, *dependencies):
        return tensors
    import tensorflow as tf

    if tf.executing_eagerly():
        return tensors
    with tf.control_dependencies(dependencies):
        return tuple(tf.identity(x) for x in tensors)


def _custom_gradient_tensors(*tensors):
    """Whether the backend is TensorFlow or JAX, whose custom gradients ``ops.custom_gradient`` calls alike,
    and ``tensors`` are its tensors (not symbolic KerasTensors)."""
    symbolic = any(isinstance(x, keras.KerasTensor) for x in tensors)
    return keras.backend.backend() in ("tensorflow", "jax") and not symbolic


def _concrete_jax_arrays(*tensors):
    """Whether the backend is JAX and ``tensors`` are arrays with values, not tracers (nor KerasTensors)."""
    if keras.backend.backend() != "jax" or not tensors:
        return False
    import jax

    return all(isinstance(x, jax.Array) and not isinstance(x, jax.core.Tracer) for x in tensors)


def _tensorflow_tensors(*tensors):
    """Whether the backend is TensorFlow and ``tensors`` are its tensors (not symbolic KerasTensors)."""
    symbolic = any(isinstance(x, keras.KerasTensor) for x in tensors)
    return keras.backend.backend() == "tensorflow" and not symbolic


def _one_iteration_at_a_time_loop(lower, upper, body, state):
    """``ops.fori_loop(lower, upper, body, state)``, but never starting an iteration before the last ends.

    Inside ``tf.function``, TensorFlow's while loop may run up to 10 iterations ahead
    (``parallel_iterations=10``): each would score its tile before the running state reaches it, and
    the tiles waiting in memory would undo what the loop is for. So on TensorFlow, with backend tensors
    (not symbolic KerasTensors), the loop is ``tf.while_loop`` with ``parallel_iterations=1``; the
    backward pass's loops too.
    """
    tensors = [x for x in state if x is not None]
    if _concrete_jax_arrays(*tensors):
        # Eager JAX would compile a loop at every call (seconds); run operation by operation instead, as
        # eager TensorFlow does. Under jax.jit or a JAX transformation the arrays are tracers: fori_loop.
        for index in range(lower, upper):
            state = body(index, state)
        return state
    if not _tensorflow_tensors(*tensors):
        return ops.fori_loop(lower, upper, body, state)
    import tensorflow as tf

    return tf.while_loop(
        lambda index, state: index < upper,
        lambda index, state: (index + 1, body(index, state)),
        (lower, state),
        parallel_iterations=1,
    )[1]


def _online_softmax_step(state, scores, values, tile_mask, lowest):
    """Steps 2-4 of ``blockwise_attend`` for one tile of scores ``(..., bq, bk)`` and its values.

    ``state`` is ``(running_max, running_sum, context)``, or ``None`` before the first tile.
    """
    if tile_mask is not None:
        # The lowest finite value, not -inf: a fully masked row stays finite (see masked_softmax).
        scores = ops.where(tile_mask, scores, ops.full_like(scores, lowest))
    tile_max = ops.stop_gradient(ops.max(scores, axis=-1, keepdims=True))
    new_max = tile_max if state is None else ops.maximum(state[0], tile_max)  # 2. the new maximum
    exponentials = ops.exp(scores - new_max)
    if tile_mask is not None:
        exponentials = ops.where(tile_mask, exponentials, ops.zeros_like(exponentials))
    tile_sum = ops.sum(exponentials, axis=-1, keepdims=True)
    tile_context = ops.matmul(exponentials, values)
    if state is None:
        return new_max, tile_sum, tile_context
    running_max, running_sum, context = state
    correction = ops.exp(running_max - new_max)  # 3. rescale what came before to the new maximum
    return new_max, correction * running_sum + tile_sum, correction * context + tile_context  # 4. add


def _grid_plan(q_start, q_stop, num_keys, key_block_size, band):
    """The tiles a query block reads when the keys are cut into blocks of ``key_block_size`` (see
    ``_online_softmax_attention``). ``band(q_start, q_stop, k_start, k_stop)`` says which pairs of a tile
    its positions allow: ``None`` all of them, ``False`` none (the tile is skipped), or a boolean array."""
    plan = []
    for index, k_start in enumerate(range(0, num_keys, key_block_size)):
        k_stop = min(k_start + key_block_size, num_keys)
        allowed = None if band is None else band(q_start, q_stop, k_start, k_stop)
        if allowed is False:
            continue
        if allowed is None and k_stop - k_start == key_block_size:
            if plan and plan[-1][0] == "loop" and plan[-1][2] == index:
                plan[-1] = ("loop", plan[-1][1], index + 1)
            else:
                plan.append(("loop", index, index + 1))
        else:
            plan.append(("tile", k_start, k_stop, allowed))
    # (The plan is never empty: the causal band, the only one, always allows key 0.) A loop over a
    # single block is just a tile.
    return [
        ("tile", item[1] * key_block_size, item[2] * key_block_size, None)
        if item[0] == "loop" and item[2] - item[1] == 1
        else item
        for item in plan
    ]


def _prepared_for_score(query, key, score):
    """Returns ``(query, key, score_tile)`` with ``score_tile(query_block, key_block)`` the scores of one
    tile. A named score becomes a plain matrix product after transforming queries and keys once, rather
    than once per tile, by its registry entry's ``as_dot_product``: scaling the queries
    (``"scaled_dot"``) or normalising queries and keys (``"cosine"``, as ``scores.cosine``)."""
    if callable(score):
        return query, key, score
    query, key = score_functions.get(score, parameter_free=True).as_dot_product(query, key)
    return query, key, _dot_product_scores


def _dot_product_scores(query_block, key_block):
    """The scores of one tile once queries and keys are transformed: ``query_block key_block^T``."""
    return ops.matmul(query_block, ops.swapaxes(key_block, -1, -2))


def _tile_mask(mask_rows, allowed, k_start, k_stop):
    """The mask of one tile: this query block's rows of ``mask``, cut to the tile's keys, and the band."""
    if mask_rows is not None and mask_rows.shape[-1] != 1:
        mask_rows = mask_rows[..., k_start:k_stop]
    if allowed is None:
        return mask_rows
    allowed = ops.convert_to_tensor(allowed)
    return allowed if mask_rows is None else ops.logical_and(mask_rows, allowed)


def _scores_mask(mask, query, key):
    """``mask`` as a boolean tensor of rank >= 2, checked to broadcast to the scores ``(..., Tq, Tk)``."""
    if mask is None:
        return None
    mask = check.as_bool_mask(mask, "mask")
    batch_shape = np.broadcast_shapes(*(tuple(1 if dim is None else dim for dim in x.shape[:-2]) for x in (query, key)))
    scores_shape = batch_shape + (query.shape[-2], key.shape[-2])
    check.check_broadcasts_to(mask, "mask", keras.KerasTensor(scores_shape), "scores")
    while len(mask.shape) < 2:
        mask = ops.expand_dims(mask, 0)
    return mask


def _queries_keys_values(query, value, key, score):
    """Checks the inputs of the block-wise functions and returns ``(query, key, value)`` as tensors of
    one floating dtype. Lengths must be known: the blocks are cut at fixed positions."""
    score_functions.score_function(score)  # a name of the registry's parameter-free scores, or a callable
    query = check.as_float_tensor(query, "query")
    value = check.as_float_tensor(value, "value")
    check.check_rank_at_least(query, "query", 2, "(..., Tq, d)")
    check.check_rank_at_least(value, "value", 2, "(..., Tk, d_value)")
    key_name = "value" if key is None else "key"  # name the argument the caller passed
    key = value if key is None else check.as_float_tensor(key, "key")
    check.check_rank_at_least(key, key_name, 2, "(..., Tk, d)")
    check.check_dims_match(key, "key", -2, value, "value", -2, "there must be one value per key (the same Tk)")
    if isinstance(score, str):
        check.check_dims_match(query, "query", -1, key, key_name, -1, "queries and keys need the same feature size d")
    check.check_leading_dims_broadcast(query, "query", key, key_name)
    check.check_leading_dims_broadcast(key, key_name, value, "value")
    for x, name in ((query, "query"), (key, key_name)):
        check.check_known_dim(x, name, -2, "length on axis -2 (the blocks are cut at fixed positions)")
    dtype = check.common_float_dtype(query.dtype, key.dtype, value.dtype)
    return ops.cast(query, dtype), ops.cast(key, dtype), ops.cast(value, dtype)


def _integer_at_least(value, name, minimum):
    """``check.check_integer_at_least``, then ``value`` as a Python ``int``."""
    check.check_integer_at_least(value, name, minimum)
    return int(value)
