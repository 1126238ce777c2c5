"""Causal self-attention, the masked self-attention of the Transformer's decoder (Vaswani et al. 2017,
section 3.2.3), written out: multi-head, grouped-query and multi-query attention, rotary positions or
linear biases (ALiBi), and a key-value cache for decoding one token at a time."""

import math

import keras
import numpy as np
from keras import ops

from attention_utils import _validation as check
from attention_utils.alignment import masked_softmax
from attention_utils.positional import BASE, rotary_embedding


def check_num_key_value_heads(num_key_value_heads, num_heads):
    """Raises unless ``num_key_value_heads`` is a positive integer dividing ``num_heads`` (each key/value
    head serves the same number of query heads): ``TypeError`` for a wrong type, ``ValueError`` else."""
    expected = f"a positive integer dividing num_heads={num_heads}"
    check.check_integer_at_least(num_key_value_heads, "num_key_value_heads", 1, expected=expected)
    if num_heads % num_key_value_heads:
        raise ValueError(
            f"Invalid value for argument num_key_value_heads. Expected {expected}. "
            f"Received: num_key_value_heads={num_key_value_heads!r}"
        )


def check_position_options(rotary, alibi):
    """Raises unless ``rotary`` and ``alibi`` are bools, not both ``True``: each is a way of telling
    self-attention the positions, and ALiBi's paper uses it instead of any position embedding."""
    check.check_bool(rotary, "rotary")
    check.check_bool(alibi, "alibi")
    if rotary and alibi:
        raise ValueError(
            "Invalid value for argument alibi. Expected False with rotary=True (rotary positions and linear "
            "biases are two ways of giving attention the positions: choose one). Received: alibi=True"
        )


def alibi_slopes(num_heads):
    """The slope ``m_h`` of each head's linear bias in ALiBi (Press et al. 2022, section 3), ``h = 1..H``.

    For ``H`` heads, a power of two, the geometric sequence ``m_h = 2^(-8h / H)``: ``1/2, 1/4, ..., 1/256``
    for 8 heads. For other ``H``, the recipe of the paper's official code: the ``2^a`` slopes of the
    largest power of two ``2^a <= H``, then the first ``H - 2^a`` of the slopes of ``2^(a + 1)`` heads that
    fall between them, ``2^(-4 (2i + 1) / 2^a)`` for ``i = 0, 1, ...``, appended (not sorted in).

    Args:
        num_heads: the number of heads ``H``, a positive integer.

    Returns:
        A float64 NumPy array of shape ``(num_heads,)``, every slope in ``(0, 1)``.
    """
    check.check_integer_at_least(num_heads, "num_heads", 1)
    power = 1 << (int(num_heads).bit_length() - 1)  # the largest power of two <= num_heads
    slopes = 2.0 ** (-8.0 * np.arange(1, power + 1) / power)
    between = 2.0 ** (-4.0 * np.arange(1, 2 * (num_heads - power), 2) / power)  # none for a power of two
    return np.concatenate([slopes, between])


@keras.saving.register_keras_serializable(package="attention_utils")
class CausalSelfAttention(keras.layers.Layer):
    """Multi-head causal self-attention: each position attends to itself and the positions before it.

    A decoder that generates a sequence token by token must not see the tokens it has yet to produce, so
    query ``i`` may attend to keys ``0..i`` only (Vaswani et al. 2017, section 3.2.3). For the input ``x``
    of shape ``(batch_size, T, d_model)``, with ``h = num_heads`` query heads, ``g = num_key_value_heads``
    key/value heads and ``k = key_dim``, and ``P`` positions already in the cache (0 without one):

    1. Project: ``query = x W_Q + b_Q``, ``(batch_size, T, h, k)``; ``key = x W_K + b_K`` and
       ``value = x W_V + b_V``, ``(batch_size, T, g, k)``.
    2. Rotate (if ``rotary``): the query and key of the token at position ``m = P + t`` are turned by the
       rotation ``R_m`` of RoPE (Su et al. 2021; ``attention_utils.positional.rotary_embedding``, the
       paper's interleaved pairs, base ``rotary_base``), so that a score depends on the positions of its
       query and key only through their difference.
    3. Continue the cache (if ``cache``): ``keys = [cached keys; key]`` and ``values = [cached values;
       value]`` along the time axis, ``(batch_size, P + T, g, k)``.
    4. Share the key/value heads: query head ``i`` reads key/value head ``i // (h / g)`` (each repeated
       ``h / g`` times, as ``keras.layers.GroupQueryAttention`` does).
    5. Score: ``scores = query . keys / sqrt(k)``, ``(batch_size, h, T, P + T)`` (section 3.2.1, eq. 1).
    6. Bias by distance (if ``alibi``): head ``n`` (``1..h``) adds ``-m_n (i - j)`` to the score of the
       query at position ``i = P + t`` and the key at position ``j``, with the slopes ``m_n`` of
       ``alibi_slopes(h)`` (``2^(-8n / h)`` for ``h`` a power of two): the further back a key, the lower
       its score (ALiBi, Press et al. 2022, section 3: "Train short, test long"). The softmax of a row is
       unchanged by adding a constant to it, so only the ``m_n j`` part matters (all the official code
       adds); with the ``-m_n i`` part, no visible key has a bias above 0.
    7. Mask and align: query ``t`` (at position ``P + t``) may attend to key ``j`` if ``j <= P + t``, and,
       with a padding ``mask``, if both are real tokens; ``weights = masked_softmax(scores, allowed)``,
       ``(batch_size, h, T, P + T)``: masked keys get weight 0, and a query with nothing left to attend
       to (a padded one) gets all-zero weights, never NaN.
    8. Combine: ``context = Dropout(weights) @ values``, ``(batch_size, T, h, k)``.
    9. Output: ``outputs = Concat(head_1, ..., head_h) W_O + b_O``, ``(batch_size, T, d_model)``.

    Positions: without ``rotary`` or ``alibi`` the layer does not see them (add position embeddings to
    its input, or rely on the causal mask alone: Haviv et al. 2022). ``rotary`` and ``alibi`` exclude
    each other (``ValueError``). ALiBi has no weights and no position table, so it works at any length,
    and each head's slope sets how fast its attention fades with distance.

    The number of key/value heads chooses the variant: ``g = h`` (the default) is multi-head attention
    (Vaswani et al. 2017, section 3.2.2); ``g = 1`` is multi-query attention, one key and one value shared
    by every query head (Shazeer 2019); ``1 < g < h`` is grouped-query attention (Ainslie et al. 2023).
    Fewer key/value heads make the cache ``h / g`` times smaller.

    The key-value cache: generating a sequence one token at a time, step ``t`` needs the keys and values
    of tokens ``0..t``, and those of the earlier tokens do not change from step to step (they are causal).
    Given ``cache=(keys, values)`` of the ``P`` earlier tokens, a call computes the query, key and value of
    its new tokens only, appends the new keys and values to the cache and returns it, so the outputs
    equal those of a full recomputation over all ``P + T`` tokens. Start from ``empty_cache(batch_size)``.
    The cache holds keys after their rotation; ALiBi's biases are computed at each call from the
    positions (those of the new tokens start where the cache ends), so the cache holds the plain keys.

    The weights are four ``EinsumDense`` sub-layers, ``query``, ``key``, ``value`` and
    ``attention_output``, with kernels ``(d_model, h, k)``, ``(d_model, g, k)`` twice and
    ``(h, k, d_model)``, each followed by its bias (if ``use_bias``). They come in the order and shapes of
    ``keras.layers.MultiHeadAttention`` (for ``g = h``) and ``keras.layers.GroupQueryAttention``, so
    ``layer.set_weights(keras_layer.get_weights())`` makes this layer compute what the Keras layer
    computes with ``use_causal_mask=True``.

    Args:
        num_heads: the number of query heads ``h``, a positive integer.
        key_dim: the size ``k`` of each head's queries, keys and values, a positive integer (even with
            ``rotary=True``: RoPE turns pairs of features).
        num_key_value_heads: the number of key/value heads ``g``, a positive divisor of ``num_heads``;
            ``None`` (the default) for ``num_heads``.
        dropout: the dropout rate on the attention weights, in ``[0, 1)``.
        use_bias: whether the projections have biases; a bool.
        rotary: whether to rotate queries and keys by their positions (RoPE); a bool.
        rotary_base: the base of RoPE's frequencies, a positive number (10000, as in the paper).
        alibi: whether to add ALiBi's linear biases to the scores; a bool, not with ``rotary``.
        **kwargs: base layer arguments, such as ``name`` and ``dtype``; the sub-layers follow the
            layer's dtype policy.

    Call arguments:
        inputs: ``(batch_size, T, d_model)``.
        mask: optional padding mask ``(batch_size, T)``, ``True`` at real tokens (the package's mask
            rule: integers are read as booleans, a floating mask is a ``TypeError``); filled in by Keras
            masking, for example from ``Embedding(mask_zero=True)``, and passed on to the output. Not
            with a cache (``ValueError``): decoding feeds real tokens only, and the cache keeps no record
            of which earlier keys were padding. (Keras fills in ``mask`` only when ``inputs`` is the one
            tensor argument, so a cache also keeps the Keras mask of ``inputs`` out.)
        cache: optional ``(keys, values)``, each ``(batch_size, P, g, k)``, the keys and values of the
            ``P`` tokens before these (``empty_cache`` or the cache a previous call returned).
        return_attention_scores: if ``True``, also return the attention weights.
        training: whether dropout is active; Keras sets it in ``fit``.

    Output:
        ``outputs`` ``(batch_size, T, d_model)``; with ``return_attention_scores``, then the weights
        ``(batch_size, h, T, P + T)``; with a ``cache``, last the new cache ``(keys, values)``, each
        ``(batch_size, P + T, g, k)``. So: ``outputs``, ``(outputs, weights)``, ``(outputs, cache)`` or
        ``(outputs, weights, cache)``.
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        num_key_value_heads=None,
        dropout=0.0,
        use_bias=True,
        rotary=False,
        rotary_base=BASE,
        alibi=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check.check_integer_at_least(num_heads, "num_heads", 1)
        check.check_integer_at_least(key_dim, "key_dim", 1)
        num_key_value_heads = num_heads if num_key_value_heads is None else num_key_value_heads
        check_num_key_value_heads(num_key_value_heads, num_heads)
        check.check_rate(dropout, "dropout")
        check.check_bool(use_bias, "use_bias")
        check_position_options(rotary, alibi)
        check.check_positive_finite(rotary_base, "rotary_base")
        if rotary and key_dim % 2:
            raise ValueError(
                "Invalid value for argument key_dim. Expected an even number with rotary=True (RoPE turns "
                f"pairs of features). Received: key_dim={key_dim!r}"
            )
        # Python numbers and bools (not NumPy ones), for get_config
        self.num_heads, self.key_dim, self.num_key_value_heads = int(num_heads), int(key_dim), int(num_key_value_heads)
        self.dropout, self.use_bias = dropout, bool(use_bias)
        self.rotary, self.rotary_base, self.alibi = bool(rotary), float(rotary_base), bool(alibi)
        self.supports_masking = True

    def build(self, inputs_shape):
        check.check_rank(keras.KerasTensor(tuple(inputs_shape)), "inputs", 3, "(batch_size, T, d_model)")
        check.check_known_last_dim(inputs_shape, "inputs", "d_model")
        self._d_model = d_model = inputs_shape[-1]
        heads, kv_heads, key_dim = self.num_heads, self.num_key_value_heads, self.key_dim

        def projection(equation, output_shape, bias_axes, name):
            bias_axes = bias_axes if self.use_bias else None
            layer = keras.layers.EinsumDense(
                equation, output_shape, bias_axes=bias_axes, dtype=self.dtype_policy, name=name
            )
            # Position by position, like Dense: a padding mask on the input holds for the output (and
            # Keras does not warn, at every call, that the projection loses it).
            layer.supports_masking = True
            return layer

        # Created in the order of MultiHeadAttention's and GroupQueryAttention's weights, so that their
        # get_weights() fit this layer's set_weights().
        self.query = projection("btd,dhk->bthk", (None, heads, key_dim), "hk", "query")
        self.key = projection("btd,dgk->btgk", (None, kv_heads, key_dim), "gk", "key")
        self.value = projection("btd,dgk->btgk", (None, kv_heads, key_dim), "gk", "value")
        self.attention_output = projection("bthk,hkd->btd", (None, d_model), "d", "attention_output")
        self.weights_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        for projection_layer in (self.query, self.key, self.value):
            projection_layer.build(inputs_shape)
        self.attention_output.build((*inputs_shape[:-1], heads, key_dim))
        self.built = True

    def empty_cache(self, batch_size):
        """The cache before the first token: ``(keys, values)``, each
        ``(batch_size, 0, num_key_value_heads, key_dim)``, in the layer's compute dtype."""
        check.check_integer_at_least(batch_size, "batch_size", 0)
        shape = (batch_size, 0, self.num_key_value_heads, self.key_dim)
        return ops.zeros(shape, self.compute_dtype), ops.zeros(shape, self.compute_dtype)

    def call(self, inputs, mask=None, cache=None, return_attention_scores=False, training=None):
        mask, cache = self._check_call_arguments(inputs, mask, cache)
        query, key, value = self.query(inputs), self.key(inputs), self.value(inputs)  # 1.
        num_cached = 0 if cache is None else ops.shape(cache[0])[1]
        positions = num_cached + ops.arange(ops.shape(inputs)[1])  # of the new tokens
        if self.rotary:  # 2. Su et al. 2021, eq. 34
            query, key = self._rotate(query, positions), self._rotate(key, positions)
        if cache is not None:  # 3. the cache extended by the new tokens
            key, value = ops.concatenate([cache[0], key], axis=1), ops.concatenate([cache[1], value], axis=1)
            cache = (key, value)
        keys, values = self._shared_by_query_heads(key), self._shared_by_query_heads(value)  # 4.
        scores = ops.einsum("bthk,bshk->bhts", query, keys) / math.sqrt(self.key_dim)  # 5. Vaswani et al., eq. 1
        if self.alibi:  # 6. Press et al. 2022, section 3
            scores = scores + self._calculate_linear_biases(positions, ops.shape(keys)[1])
        weights = masked_softmax(scores, self._calculate_score_mask(positions, ops.shape(keys)[1], mask))  # 7.
        context = ops.einsum("bhts,bshk->bthk", self.weights_dropout(weights, training=training), values)  # 8.
        outputs = self.attention_output(context)  # 9. Concat(head_1, ..., head_h) W^O
        results = (outputs, weights) if return_attention_scores else (outputs,)
        if cache is not None:
            results = (*results, cache)
        return results if len(results) > 1 else outputs

    def _rotate(self, x, positions):
        """RoPE on ``x`` ``(batch_size, T, heads, k)``: ``rotary_embedding`` takes the tokens on axis -2,
        so the heads go before them for the rotation."""
        rotated = rotary_embedding(ops.swapaxes(x, 1, 2), positions, base=self.rotary_base, layout="interleaved")
        return ops.swapaxes(rotated, 1, 2)

    def _shared_by_query_heads(self, x):
        """Keys or values ``(batch_size, S, g, k)`` repeated to ``(batch_size, S, h, k)``: query head ``i``
        gets key/value head ``i // (h / g)`` (Ainslie et al. 2023; ``g = h`` leaves them as they are)."""
        group_size = self.num_heads // self.num_key_value_heads
        # Skipped for g = h: TensorFlow's repeat is some twenty small ops, a tenth of an eager decoding step.
        return x if group_size == 1 else ops.repeat(x, group_size, axis=2)

    def _calculate_linear_biases(self, query_positions, num_keys):
        """ALiBi's bias ``-m_n (i - j)`` of head ``n``, query position ``i`` and key position ``j``:
        ``(h, T, P + T)``, broadcast over the batch. (Positive for the future keys, which are masked.)"""
        distances = query_positions[:, None] - ops.arange(num_keys)[None, :]  # i - j
        slopes = ops.convert_to_tensor(alibi_slopes(self.num_heads), self.compute_dtype)
        return -slopes[:, None, None] * ops.cast(distances, self.compute_dtype)[None]

    def _calculate_score_mask(self, query_positions, num_keys, mask):
        """Which keys each query may attend to: ``(T, P + T)``, or ``(batch_size, 1, T, T)`` with a
        padding mask (broadcast over the heads)."""
        key_positions = ops.arange(num_keys)
        allowed = key_positions[None, :] <= query_positions[:, None]  # no peeking ahead (section 3.2.3)
        if mask is None:
            return allowed
        real_pairs = ops.logical_and(mask[:, :, None], mask[:, None, :])  # query t and key j are real tokens
        return ops.logical_and(allowed[None], real_pairs)[:, None]

    def _check_call_arguments(self, inputs, mask, cache):
        """Checks the call's arguments; returns the mask as booleans and the cache as a pair of tensors."""
        check.check_rank(inputs, "inputs", 3, "(batch_size, T, d_model)")
        check.check_built_features(self, inputs, "inputs", self._d_model, "d_model")
        mask = check.check_sequence_mask(mask, "mask", inputs, "inputs", "T")
        if cache is None:
            return mask, None
        if mask is not None:
            raise ValueError(
                "Invalid value for argument mask. Expected None with a cache: decoding feeds real tokens "
                "only, and the cache does not record which earlier keys were padding. Received: a mask "
                f"of shape {tuple(mask.shape)} with a cache"
            )
        expected = (
            f"(keys, values), each (batch_size, cached_length, num_key_value_heads={self.num_key_value_heads}, "
            f"key_dim={self.key_dim}), as empty_cache returns"
        )
        if not isinstance(cache, (tuple, list)):
            raise TypeError(f"Invalid value for argument cache. Expected {expected}. Received: cache={cache!r}")
        if len(cache) != 2:
            raise ValueError(
                f"Invalid value for argument cache. Expected {expected}. Received: a cache of {len(cache)} entries"
            )
        keys, values = (check.as_float_tensor(x, "cache") for x in cache)
        shapes = (tuple(keys.shape), tuple(values.shape))
        expected_shape = (inputs.shape[0], shapes[0][1], self.num_key_value_heads, self.key_dim)
        fits = all(
            len(shape) == 4 and all(a is None or b is None or a == b for a, b in zip(shape, expected_shape))
            for shape in shapes
        )
        if not fits:
            raise ValueError(
                f"Invalid shape for argument cache. Expected {expected}, keys and values of the batch of "
                f"inputs and of one length. Received: cache shapes {shapes}, inputs.shape={tuple(inputs.shape)}"
            )
        return mask, (keys, values)

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_spec(self, inputs, mask=None, cache=None, return_attention_scores=False, training=None):
        mask, cache = self._check_call_arguments(inputs, mask, cache)
        batch_size, length = inputs.shape[0], inputs.shape[1]
        num_keys = length
        if cache is not None:
            num_cached = cache[0].shape[1]
            num_keys = None if num_cached is None or length is None else num_cached + length
        results = (keras.KerasTensor(inputs.shape, dtype=self.compute_dtype),)
        if return_attention_scores:
            weights_shape = (batch_size, self.num_heads, length, num_keys)
            results = (*results, keras.KerasTensor(weights_shape, dtype=self.compute_dtype))
        if cache is not None:
            cache_shape = (batch_size, num_keys, self.num_key_value_heads, self.key_dim)
            new_cache = tuple(keras.KerasTensor(cache_shape, dtype=self.compute_dtype) for _ in range(2))
            results = (*results, new_cache)
        return results if len(results) > 1 else results[0]

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "num_key_value_heads": self.num_key_value_heads,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "rotary": self.rotary,
            "rotary_base": self.rotary_base,
            "alibi": self.alibi,
        }
