"""The Transformer of Vaswani et al. (2017): token embeddings with sinusoidal positions, the encoder block
(multi-head self-attention and a feed-forward network, each with a residual connection and layer
normalisation), and the decoder block (masked self-attention, attention over the encoder's outputs and a
feed-forward network)."""

import math

import keras
from keras import ops

from attention_utils import _validation as check
from attention_utils.layers.causal import CausalSelfAttention, check_num_key_value_heads, check_position_options
from attention_utils.positional import sinusoidal_positional_encoding


def _check_block_arguments(num_heads, ff_dim, key_dim, dropout, attention_dropout, norm_first, epsilon):
    """The constructor checks the encoder and decoder blocks share."""
    check.check_integer_at_least(num_heads, "num_heads", 1)
    check.check_integer_at_least(ff_dim, "ff_dim", 1)
    if key_dim is not None:
        check.check_integer_at_least(key_dim, "key_dim", 1)
    check.check_rate(dropout, "dropout")
    check.check_rate(attention_dropout, "attention_dropout")
    check.check_bool(norm_first, "norm_first")
    check.check_positive_finite(epsilon, "epsilon")


def _activation(activation):
    """The feed-forward network's activation, from a Keras name or a callable."""
    try:
        return keras.activations.get(activation)
    except ValueError as error:
        raise ValueError(
            "Invalid value for argument activation. Expected the name of a Keras activation or a "
            f"callable. Received: activation={activation!r}"
        ) from error


def _head_size(d_model, num_heads, key_dim):
    """``key_dim``, or by default the paper's ``d_k = d_model / h`` (which must then divide evenly)."""
    if key_dim is None and d_model % num_heads:
        raise ValueError(
            f"Invalid value for argument num_heads. Expected a divisor of d_model={d_model} (each head "
            f"gets d_model // num_heads dimensions), or pass key_dim. Received: num_heads={num_heads}"
        )
    return key_dim or d_model // num_heads


@keras.saving.register_keras_serializable(package="attention_utils")
class PositionalEmbedding(keras.layers.Layer):
    """Token embeddings scaled by ``sqrt(d_model)`` plus sinusoidal positional encodings.

    Vaswani et al. (2017) multiply the embedding weights by ``sqrt(d_model)`` (section 3.4) and add the
    fixed encoding of each position (section 3.5, ``attention_utils.positional``):

    1. Look up each token: ``embedded = Embedding(tokens) * sqrt(d_model)``, shape
       ``(batch_size, T, d_model)``.
    2. Add the position of each token: ``embedded + PE[:T]``, with ``PE`` of shape
       ``(max_length, d_model)``, broadcast over the batch.

    Args:
        vocabulary_size: the number of token ids, a positive integer.
        max_length: the longest sequence the layer accepts, a positive integer.
        d_model: the size of each embedding, a positive even integer.
        mask_zero: if ``True``, token id 0 is padding: the output carries a Keras mask, ``False`` at
            padded positions, that the layers after it (such as ``TransformerEncoderBlock``) receive.
            A bool (``TypeError`` otherwise: the string ``"False"`` is not ``False``).
        **kwargs: base layer arguments, such as ``name`` and ``dtype``. The embedding table follows
            the layer's dtype policy; under a float64 policy the positional encodings are computed
            in float64 too.

    Call arguments:
        inputs: integer token ids of shape ``(batch_size, T)``, with ``T <= max_length``
            (``ValueError`` otherwise, whenever ``T`` is known when the layer is called).

    Output:
        ``(batch_size, T, d_model)``.
    """

    def __init__(self, vocabulary_size, max_length, d_model, mask_zero=False, **kwargs):
        super().__init__(**kwargs)
        check.check_integer_at_least(vocabulary_size, "vocabulary_size", 1)
        check.check_integer_at_least(max_length, "max_length", 1)
        check.check_bool(mask_zero, "mask_zero")
        mask_zero = bool(mask_zero)  # a NumPy bool is stored as a Python bool, for get_config
        encoding_dtype = "float64" if self.compute_dtype == "float64" else "float32"
        self.encoding = sinusoidal_positional_encoding(max_length, d_model, dtype=encoding_dtype)  # checks d_model
        self.vocabulary_size, self.max_length, self.d_model = vocabulary_size, max_length, d_model
        self.mask_zero = mask_zero
        self.embedding = keras.layers.Embedding(
            vocabulary_size, d_model, mask_zero=mask_zero, dtype=self.dtype_policy, name="embedding"
        )
        self.supports_masking = mask_zero

    def build(self, input_shape):
        self._check_length(input_shape)
        self.embedding.build(input_shape)
        self.built = True

    def _check_length(self, input_shape):
        """Rank 2, and at most ``max_length`` positions where the length is known."""
        check.check_rank(keras.KerasTensor(tuple(input_shape)), "inputs", 2, "(batch_size, T) token ids")
        length = input_shape[1]
        if length is not None and length > self.max_length:
            raise ValueError(
                f"Invalid shape for argument inputs. Expected at most max_length={self.max_length} "
                f"positions. Received: inputs.shape={tuple(input_shape)}"
            )

    def call(self, inputs):
        if not hasattr(inputs, "shape"):
            inputs = ops.convert_to_tensor(inputs)
        self._check_length(tuple(inputs.shape))
        embedded = self.embedding(inputs) * ops.cast(math.sqrt(self.d_model), self.compute_dtype)
        length = ops.shape(inputs)[1]
        positions = ops.slice(ops.convert_to_tensor(self.encoding, self.compute_dtype), (0, 0), (length, self.d_model))
        return embedded + positions[None]

    def compute_mask(self, inputs, mask=None):
        return self.embedding.compute_mask(inputs, mask)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.d_model)

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "max_length": self.max_length,
            "d_model": self.d_model,
            "mask_zero": self.mask_zero,
        }


@keras.saving.register_keras_serializable(package="attention_utils")
class TransformerEncoderBlock(keras.layers.Layer):
    """One encoder layer of the Transformer (Vaswani et al. 2017, section 3.1 and figure 1).

    The block has two sub-layers, multi-head self-attention and a position-wise feed-forward network.
    Each is wrapped in a residual connection and layer normalisation. By default the normalisation comes
    after the residual sum, as in the paper ("post-LN"): ``LayerNorm(x + Dropout(Sublayer(x)))``. With
    ``norm_first=True`` it comes before the sub-layer ("pre-LN", Xiong et al. 2020, used by GPT-2 and
    most recent models): ``x + Dropout(Sublayer(LayerNorm(x)))``.

    The input ``x`` has shape ``(batch_size, T, d_model)``. Post-LN computes:

    1. Self-attention: ``attended, weights = MultiHeadAttention(query=x, value=x, key=x)``, with
       ``num_heads`` heads of size ``key_dim``: ``attended`` is ``(batch_size, T, d_model)``, the
       weights are ``(batch_size, num_heads, T, T)`` (section 3.2.2).
    2. Add and normalise: ``x = LayerNorm(x + Dropout(attended))``, ``(batch_size, T, d_model)``.
    3. Feed-forward network, the same at every position: ``hidden = activation(x W_1 + b_1)`` of shape
       ``(batch_size, T, ff_dim)``, then ``ffn = hidden W_2 + b_2``, ``(batch_size, T, d_model)``
       (section 3.3, eq. 2).
    4. Add and normalise: ``output = LayerNorm(x + Dropout(ffn))``, ``(batch_size, T, d_model)``.

    Dropout is the paper's residual dropout (section 5.4): it is applied to each sub-layer's output
    before the residual sum, and only in training. ``attention_dropout`` additionally drops attention
    weights, as in the paper's reference code (tensor2tensor) and BERT.

    Masks, booleans where ``True`` means "attend", are combined with a logical AND:
    - a padding mask ``(batch_size, T)``, received from Keras masking (for example from
      ``PositionalEmbedding(mask_zero=True)``) or passed as ``mask``: padded keys get weight 0, and a
      padded query, which has nothing it should attend to, gets all-zero weights (never NaN). The mask
      is passed on to the output;
    - ``attention_mask`` ``(batch_size, T, T)`` (or anything that broadcasts to it): query ``i`` may
      attend to key ``j`` where it is ``True``;
    - ``use_causal_mask=True``: query ``i`` attends to keys ``0..i`` only, the masked self-attention of
      the Transformer's decoder (section 3.2.3).

    Args:
        num_heads: the number of attention heads ``h``, a positive integer.
        ff_dim: the size of the feed-forward network's hidden layer ``d_ff`` (the paper uses
            ``4 * d_model``).
        key_dim: the size of each head's queries and keys; defaults to ``d_model // num_heads`` (the
            paper's ``d_k = d_model / h``), in which case ``num_heads`` must divide ``d_model``.
        dropout: the residual dropout rate, in ``[0, 1)``; the paper uses 0.1.
        attention_dropout: the dropout rate on the attention weights, in ``[0, 1)``.
        activation: the feed-forward network's activation; the paper uses ``"relu"``.
        norm_first: ``False`` (the default) for post-LN as in the paper, ``True`` for pre-LN; a bool.
        epsilon: the layer normalisation's small constant, a positive, finite number.
        **kwargs: base layer arguments, such as ``name`` and ``dtype``; the sub-layers follow the
            block's dtype policy.

    Call arguments:
        inputs: ``(batch_size, T, d_model)``.
        mask: optional padding mask ``(batch_size, T)``; filled in by Keras masking.
        attention_mask: optional boolean mask broadcastable to ``(batch_size, T, T)``.
        use_causal_mask: if ``True``, each position attends only to itself and earlier positions.
        return_attention_scores: if ``True``, also return the attention weights.
        training: whether dropout is active; Keras sets it in ``fit``.

    Output:
        ``(batch_size, T, d_model)``, and if ``return_attention_scores``, the attention weights
        ``(batch_size, num_heads, T, T)``.
    """

    def __init__(
        self,
        num_heads,
        ff_dim,
        key_dim=None,
        dropout=0.1,
        attention_dropout=0.0,
        activation="relu",
        norm_first=False,
        epsilon=1e-6,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_block_arguments(num_heads, ff_dim, key_dim, dropout, attention_dropout, norm_first, epsilon)
        norm_first = bool(norm_first)
        self.activation = _activation(activation)
        self.num_heads, self.ff_dim, self.key_dim = num_heads, ff_dim, key_dim
        self.dropout, self.attention_dropout = dropout, attention_dropout
        self.norm_first, self.epsilon = norm_first, float(epsilon)
        self.supports_masking = True

    def build(self, input_shape):
        check.check_rank(keras.KerasTensor(tuple(input_shape)), "inputs", 3, "(batch_size, T, d_model)")
        check.check_known_last_dim(input_shape, "inputs", "d_model")
        d_model = input_shape[-1]
        key_dim = _head_size(d_model, self.num_heads, self.key_dim)
        self._d_model = d_model
        policy = self.dtype_policy
        self.attention = keras.layers.MultiHeadAttention(
            self.num_heads, key_dim, dropout=self.attention_dropout, dtype=policy, name="attention"
        )
        self.attention_norm = keras.layers.LayerNormalization(epsilon=self.epsilon, dtype=policy, name="attention_norm")
        self.ff_hidden = keras.layers.Dense(self.ff_dim, activation=self.activation, dtype=policy, name="ff_hidden")
        self.ff_output = keras.layers.Dense(d_model, dtype=policy, name="ff_output")
        self.ff_norm = keras.layers.LayerNormalization(epsilon=self.epsilon, dtype=policy, name="ff_norm")
        self.attention_residual_dropout = keras.layers.Dropout(self.dropout, dtype=policy)
        self.ff_residual_dropout = keras.layers.Dropout(self.dropout, dtype=policy)

        self.attention.build(input_shape, input_shape)
        self.attention_norm.build(input_shape)
        self.ff_hidden.build(input_shape)
        self.ff_output.build((*input_shape[:-1], self.ff_dim))
        self.ff_norm.build(input_shape)
        self.built = True

    def call(
        self,
        inputs,
        mask=None,
        attention_mask=None,
        use_causal_mask=False,
        return_attention_scores=False,
        training=None,
    ):
        check.check_rank(inputs, "inputs", 3, "(batch_size, T, d_model)")
        check.check_built_features(self, inputs, "inputs", self._d_model, "d_model")
        attention_mask = self._calculate_attention_mask(inputs, mask, attention_mask)
        if self.norm_first:
            attended, weights = self._self_attention(
                self.attention_norm(inputs), attention_mask, use_causal_mask, training
            )
            x = inputs + self.attention_residual_dropout(attended, training=training)
            outputs = x + self.ff_residual_dropout(self._feed_forward(self.ff_norm(x)), training=training)
        else:
            attended, weights = self._self_attention(inputs, attention_mask, use_causal_mask, training)
            x = self.attention_norm(inputs + self.attention_residual_dropout(attended, training=training))
            outputs = self.ff_norm(x + self.ff_residual_dropout(self._feed_forward(x), training=training))
        if return_attention_scores:
            return outputs, weights
        return outputs

    def _self_attention(self, x, attention_mask, use_causal_mask, training):
        # Always ask for the weights: Keras then takes its explicit softmax path, whose masked softmax
        # gives a fully masked row zero weights; the fused kernel would give it uniform ones.
        return self.attention(
            x,
            x,
            attention_mask=attention_mask,
            use_causal_mask=use_causal_mask,
            return_attention_scores=True,
            training=training,
        )

    def _feed_forward(self, x):
        # Vaswani et al. 2017, eq. 2: FFN(x) = max(0, x W_1 + b_1) W_2 + b_2
        return self.ff_output(self.ff_hidden(x))

    def _calculate_attention_mask(self, inputs, mask, attention_mask):
        """Combines a padding mask ``(batch, T)`` and an ``attention_mask`` into one ``(batch, T, T)``
        mask, or ``None`` when neither is given. (``MultiHeadAttention`` adds the causal mask.)"""
        if attention_mask is not None:
            attention_mask = check.as_bool_mask(attention_mask, "attention_mask")
            scores_shape = keras.KerasTensor((inputs.shape[0], inputs.shape[1], inputs.shape[1]))
            check.check_broadcasts_to(attention_mask, "attention_mask", scores_shape, "scores")
        if mask is None:
            return attention_mask
        mask = check.as_bool_mask(mask, "mask")
        check.check_rank(mask, "mask", 2, "(batch_size, T), True at the positions that are not padding")
        check.check_dims_match(mask, "mask", 1, inputs, "inputs", 1, "one mask entry per position")
        padding_mask = ops.logical_and(mask[:, :, None], mask[:, None, :])  # query i and key j are real
        if attention_mask is None:
            return padding_mask
        return ops.logical_and(padding_mask, attention_mask)

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_output_spec(self, inputs, return_attention_scores=False, **kwargs):
        outputs = keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)
        if return_attention_scores:
            batch_size, length = inputs.shape[0], inputs.shape[1]
            weights_shape = (batch_size, self.num_heads, length, length)
            return outputs, keras.KerasTensor(weights_shape, dtype=self.compute_dtype)
        return outputs

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "ff_dim": self.ff_dim,
            "key_dim": self.key_dim,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "activation": keras.activations.serialize(self.activation),
            "norm_first": self.norm_first,
            "epsilon": self.epsilon,
        }


@keras.saving.register_keras_serializable(package="attention_utils")
class TransformerDecoderBlock(keras.layers.Layer):
    """One decoder layer of the Transformer (Vaswani et al. 2017, section 3.1 and figure 1).

    The block has three sub-layers: masked self-attention over the decoder's own sequence, attention over
    the encoder's outputs ("encoder-decoder attention", section 3.2.3), and the position-wise feed-forward
    network. Each is wrapped, as in ``TransformerEncoderBlock``, in a residual connection and layer
    normalisation: after the residual sum by default, as in the paper ("post-LN"):
    ``LayerNorm(x + Dropout(Sublayer(x)))``; before the sub-layer with ``norm_first=True`` ("pre-LN"):
    ``x + Dropout(Sublayer(LayerNorm(x)))``.

    Without encoder outputs the block is decoder-only, as in GPT (Radford et al. 2018): masked
    self-attention and the feed-forward network. Which of the two forms a block has is fixed when it is
    built, by whether its first call passes ``encoder_outputs``.

    The input ``x`` has shape ``(batch_size, T, d_model)``, the encoder's outputs
    ``(batch_size, S, d_encoder)``. Post-LN computes:

    1. Masked self-attention: ``attended, self_weights = CausalSelfAttention(x)``, with ``num_heads``
       heads of size ``key_dim``: ``attended`` is ``(batch_size, T, d_model)``, the weights are
       ``(batch_size, num_heads, T, T)``; position ``t`` attends to positions ``0..t`` only.
    2. Add and normalise: ``x = LayerNorm(x + Dropout(attended))``.
    3. Cross-attention (encoder-decoder form only): ``attended, cross_weights =
       MultiHeadAttention(query=x, value=encoder_outputs, key=encoder_outputs)``: every decoder position
       attends to every source position, ``attended`` is ``(batch_size, T, d_model)``, the weights are
       ``(batch_size, num_heads, T, S)``.
    4. Add and normalise: ``x = LayerNorm(x + Dropout(attended))``.
    5. Feed-forward network, the same at every position: ``hidden = activation(x W_1 + b_1)`` of shape
       ``(batch_size, T, ff_dim)``, then ``ffn = hidden W_2 + b_2``, ``(batch_size, T, d_model)``
       (section 3.3, eq. 2).
    6. Add and normalise: ``output = LayerNorm(x + Dropout(ffn))``, ``(batch_size, T, d_model)``.

    Dropout is the paper's residual dropout (section 5.4), on each sub-layer's output before the residual
    sum, in training only; ``attention_dropout`` additionally drops the weights of both attentions.

    Masks are booleans, ``True`` at real tokens (the package's mask rule):
    - ``mask`` ``(batch_size, T)``, the decoder's padding: a padded position gets weight 0 as a key and
      all-zero weights as a query (never NaN), in both attentions. If not given, it is the Keras mask of
      ``inputs`` (from ``Embedding(mask_zero=True)`` or ``PositionalEmbedding(mask_zero=True)``; Keras
      itself fills in ``mask`` only when ``inputs`` is the call's one tensor argument, so the block reads
      it). It is passed on to the output.
    - ``encoder_mask`` ``(batch_size, S)``, the source's padding: padded source positions get weight 0 in
      the cross-attention. If not given, it is the Keras mask of ``encoder_outputs``.

    Decoding with a key-value cache (see ``CausalSelfAttention``): ``cache`` goes to the self-attention,
    which computes the keys and values of the new tokens only and returns the cache extended by them; the
    cross-attention and the feed-forward network work on the new positions alone. The outputs equal
    those of the whole sequence at once. No padding ``mask`` with a cache (``ValueError``).

    Args:
        num_heads: the number of attention heads ``h`` (query heads), a positive integer.
        ff_dim: the size of the feed-forward network's hidden layer ``d_ff`` (the paper uses
            ``4 * d_model``).
        key_dim: the size of each head's queries and keys; defaults to ``d_model // num_heads`` (the
            paper's ``d_k = d_model / h``), in which case ``num_heads`` must divide ``d_model``.
        num_key_value_heads: the self-attention's key/value heads, a positive divisor of ``num_heads``
            (grouped-query attention; 1 for multi-query); ``None`` for ``num_heads``, multi-head attention.
            The cross-attention is multi-head attention.
        dropout: the residual dropout rate, in ``[0, 1)``; the paper uses 0.1.
        attention_dropout: the dropout rate on the attention weights, in ``[0, 1)``.
        activation: the feed-forward network's activation; the paper uses ``"relu"``.
        norm_first: ``False`` (the default) for post-LN as in the paper, ``True`` for pre-LN; a bool.
        epsilon: the layer normalisation's small constant, a positive, finite number.
        rotary: whether the self-attention rotates its queries and keys by their positions (RoPE, Su et
            al. 2021), which then needs an even ``key_dim``; a bool.
        alibi: whether the self-attention adds linear biases by distance to its scores (ALiBi, Press et
            al. 2022); a bool, not with ``rotary``.
        **kwargs: base layer arguments, such as ``name`` and ``dtype``; the sub-layers follow the
            block's dtype policy.

    Call arguments:
        inputs: ``(batch_size, T, d_model)``.
        encoder_outputs: ``(batch_size, S, d_encoder)`` for the encoder-decoder form, ``None`` for the
            decoder-only form (the form the block was built with: ``ValueError`` otherwise).
        mask: optional padding mask ``(batch_size, T)`` of the decoder's positions.
        encoder_mask: optional padding mask ``(batch_size, S)`` of the source positions.
        cache: optional ``(keys, values)`` of the self-attention, each
            ``(batch_size, P, num_key_value_heads, key_dim)``: start from
            ``block.self_attention.empty_cache(batch_size)``.
        return_attention_scores: if ``True``, also return the attention weights.
        training: whether dropout is active; Keras sets it in ``fit``.

    Output:
        ``outputs`` ``(batch_size, T, d_model)``; with ``return_attention_scores``, then the
        self-attention weights ``(batch_size, num_heads, T, P + T)`` and, in the encoder-decoder form, the
        cross-attention weights ``(batch_size, num_heads, T, S)``; with a ``cache``, last the new cache.
        So ``(outputs, self_weights, cross_weights)`` or ``(outputs, self_weights)``, and
        ``(..., cache)`` when decoding with a cache.
    """

    def __init__(
        self,
        num_heads,
        ff_dim,
        key_dim=None,
        num_key_value_heads=None,
        dropout=0.1,
        attention_dropout=0.0,
        activation="relu",
        norm_first=False,
        epsilon=1e-6,
        rotary=False,
        alibi=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_block_arguments(num_heads, ff_dim, key_dim, dropout, attention_dropout, norm_first, epsilon)
        if num_key_value_heads is not None:
            check_num_key_value_heads(num_key_value_heads, num_heads)
        check_position_options(rotary, alibi)
        self.activation = _activation(activation)
        self.num_heads, self.ff_dim, self.key_dim = num_heads, ff_dim, key_dim
        self.num_key_value_heads = num_key_value_heads
        self.dropout, self.attention_dropout = dropout, attention_dropout
        self.norm_first, self.epsilon = bool(norm_first), float(epsilon)
        self.rotary, self.alibi = bool(rotary), bool(alibi)
        self.supports_masking = True

    def build(self, inputs_shape, encoder_outputs_shape=None):
        # Keras passes the shape of each tensor argument of call as `<argument>_shape` (and saves them, so
        # a loaded block is built in the same form): encoder_outputs_shape is None for a decoder-only block.
        check.check_rank(keras.KerasTensor(tuple(inputs_shape)), "inputs", 3, "(batch_size, T, d_model)")
        check.check_known_last_dim(inputs_shape, "inputs", "d_model")
        d_model = inputs_shape[-1]
        key_dim = _head_size(d_model, self.num_heads, self.key_dim)
        self._d_model, self._d_encoder = d_model, None
        policy = self.dtype_policy

        def layer_norm(name):
            return keras.layers.LayerNormalization(epsilon=self.epsilon, dtype=policy, name=name)

        self.self_attention = CausalSelfAttention(
            self.num_heads,
            key_dim,
            self.num_key_value_heads,
            dropout=self.attention_dropout,
            rotary=self.rotary,
            alibi=self.alibi,
            dtype=policy,
            name="self_attention",
        )
        self.self_attention_norm = layer_norm("self_attention_norm")
        self.self_attention_residual_dropout = keras.layers.Dropout(self.dropout, dtype=policy)
        self.self_attention.build(inputs_shape)
        self.self_attention_norm.build(inputs_shape)
        self.cross_attention = self.cross_attention_norm = self.cross_attention_residual_dropout = None
        if encoder_outputs_shape is not None:
            encoder_outputs = keras.KerasTensor(tuple(encoder_outputs_shape))
            check.check_rank(encoder_outputs, "encoder_outputs", 3, "(batch_size, S, d_encoder)")
            check.check_known_last_dim(encoder_outputs_shape, "encoder_outputs", "d_encoder")
            self._d_encoder = encoder_outputs_shape[-1]
            self.cross_attention = keras.layers.MultiHeadAttention(
                self.num_heads, key_dim, dropout=self.attention_dropout, dtype=policy, name="cross_attention"
            )
            self.cross_attention_norm = layer_norm("cross_attention_norm")
            self.cross_attention_residual_dropout = keras.layers.Dropout(self.dropout, dtype=policy)
            self.cross_attention.build(inputs_shape, encoder_outputs_shape)
            self.cross_attention_norm.build(inputs_shape)
        self.ff_hidden = keras.layers.Dense(self.ff_dim, activation=self.activation, dtype=policy, name="ff_hidden")
        self.ff_output = keras.layers.Dense(d_model, dtype=policy, name="ff_output")
        self.ff_norm = layer_norm("ff_norm")
        self.ff_residual_dropout = keras.layers.Dropout(self.dropout, dtype=policy)
        self.ff_hidden.build(inputs_shape)
        self.ff_output.build((*inputs_shape[:-1], self.ff_dim))
        self.ff_norm.build(inputs_shape)
        self.built = True

    def call(
        self,
        inputs,
        encoder_outputs=None,
        mask=None,
        encoder_mask=None,
        cache=None,
        return_attention_scores=False,
        training=None,
    ):
        mask, encoder_mask = self._check_call_arguments(inputs, encoder_outputs, mask, encoder_mask, cache)
        x, (self_weights, new_cache) = self._add_and_norm(  # 1-2.
            inputs,
            lambda h: self._self_attention(h, mask, cache, training),
            self.self_attention_norm,
            self.self_attention_residual_dropout,
            training,
        )
        cross_weights = None
        if self.cross_attention is not None:  # 3-4.
            x, (cross_weights,) = self._add_and_norm(
                x,
                lambda h: self._cross_attention(h, encoder_outputs, mask, encoder_mask, training),
                self.cross_attention_norm,
                self.cross_attention_residual_dropout,
                training,
            )
        outputs, _ = self._add_and_norm(  # 5-6.
            x, lambda h: (self._feed_forward(h),), self.ff_norm, self.ff_residual_dropout, training
        )
        return self._results(outputs, self_weights, cross_weights, new_cache, return_attention_scores)

    def _add_and_norm(self, x, sublayer, norm, residual_dropout, training):
        """One sub-layer with its residual connection and layer normalisation: post-LN
        ``LayerNorm(x + Dropout(sublayer(x)))`` or pre-LN ``x + Dropout(sublayer(LayerNorm(x)))``.
        ``sublayer`` returns its output first, then anything else (weights, the cache), returned as a list."""
        output, *extras = sublayer(norm(x) if self.norm_first else x)
        x = x + residual_dropout(output, training=training)
        return (x if self.norm_first else norm(x)), extras

    def _self_attention(self, x, mask, cache, training):
        """``(attended, weights, new cache or None)`` of the masked self-attention."""
        results = self.self_attention(x, mask=mask, cache=cache, return_attention_scores=True, training=training)
        return results if cache is not None else (*results, None)

    def _cross_attention(self, x, encoder_outputs, mask, encoder_mask, training):
        """``(attended, weights)``: the decoder's positions attend to the encoder's outputs."""
        # Always ask for the weights (as TransformerEncoderBlock does): Keras then takes its explicit
        # masked softmax, which gives a fully masked row zero weights. And give it a copy of the encoder's
        # outputs: MultiHeadAttention takes the Keras mask off the tensors it reads (Keras 3.15), and the
        # next decoder block reads the same encoder outputs, and their mask, again.
        return self.cross_attention(
            x,
            ops.copy(encoder_outputs),
            attention_mask=self._calculate_cross_attention_mask(mask, encoder_mask),
            return_attention_scores=True,
            training=training,
        )

    def _feed_forward(self, x):
        # Vaswani et al. 2017, eq. 2: FFN(x) = max(0, x W_1 + b_1) W_2 + b_2
        return self.ff_output(self.ff_hidden(x))

    @staticmethod
    def _calculate_cross_attention_mask(mask, encoder_mask):
        """Decoder position ``t`` may attend to source position ``s`` if both are real: a mask
        broadcastable to ``(batch_size, T, S)``, or ``None`` without padding."""
        real_queries = None if mask is None else mask[:, :, None]  # (batch_size, T, 1)
        real_sources = None if encoder_mask is None else encoder_mask[:, None, :]  # (batch_size, 1, S)
        if real_queries is None or real_sources is None:
            return real_sources if real_queries is None else real_queries
        return ops.logical_and(real_queries, real_sources)

    def _check_call_arguments(self, inputs, encoder_outputs, mask, encoder_mask, cache):
        """Checks the call's tensors against the block's form and sizes; returns the two padding masks as
        booleans (or ``None``), read from the Keras masks of the tensors where not given."""
        check.check_rank(inputs, "inputs", 3, "(batch_size, T, d_model)")
        check.check_built_features(self, inputs, "inputs", self._d_model, "d_model")
        has_cross_attention = self.cross_attention is not None
        if (encoder_outputs is not None) != has_cross_attention:
            form = (
                "with cross-attention (its first call passed encoder_outputs), so it needs encoder_outputs"
                if has_cross_attention
                else "decoder-only (its first call passed no encoder_outputs), so it takes none"
            )
            received = "None" if encoder_outputs is None else f"a tensor of shape {tuple(encoder_outputs.shape)}"
            raise ValueError(
                f"Invalid value for argument encoder_outputs. {self.__class__.__name__} '{self.name}' was "
                f"built {form}. Received: encoder_outputs={received}"
            )
        if mask is None and cache is None:  # decoding with a cache takes no mask (see CausalSelfAttention)
            mask = _keras_mask_of(inputs)
        mask = check.check_sequence_mask(mask, "mask", inputs, "inputs", "T")
        if encoder_outputs is None:
            if encoder_mask is not None:
                encoder_mask = check.as_bool_mask(encoder_mask, "encoder_mask")
                raise ValueError(
                    "Invalid value for argument encoder_mask. Expected None for a decoder-only block (no "
                    f"encoder_outputs). Received: encoder_mask.shape={tuple(encoder_mask.shape)}"
                )
            return mask, None
        check.check_rank(encoder_outputs, "encoder_outputs", 3, "(batch_size, S, d_encoder)")
        check.check_built_features(self, encoder_outputs, "encoder_outputs", self._d_encoder, "d_encoder")
        check.check_dims_match(inputs, "inputs", 0, encoder_outputs, "encoder_outputs", 0, "one batch")
        if encoder_mask is None:
            encoder_mask = _keras_mask_of(encoder_outputs)
        encoder_mask = check.check_sequence_mask(encoder_mask, "encoder_mask", encoder_outputs, "encoder_outputs", "S")
        return mask, encoder_mask

    def _results(self, outputs, self_weights, cross_weights, new_cache, return_attention_scores):
        """What a call returns, in the documented order: outputs, weights if asked, the cache if given."""
        results = (outputs,)
        if return_attention_scores:
            results += (self_weights,) if cross_weights is None else (self_weights, cross_weights)
        if new_cache is not None:
            results += (new_cache,)
        return results if len(results) > 1 else outputs

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, inputs_shape, encoder_outputs_shape=None):
        return tuple(inputs_shape)

    def compute_output_spec(
        self,
        inputs,
        encoder_outputs=None,
        mask=None,
        encoder_mask=None,
        cache=None,
        return_attention_scores=False,
        training=None,
    ):
        self._check_call_arguments(inputs, encoder_outputs, mask, encoder_mask, cache)
        _, self_weights, *new_cache = self.self_attention.compute_output_spec(
            inputs, cache=cache, return_attention_scores=True
        )
        cross_weights = None
        if encoder_outputs is not None:
            weights_shape = (inputs.shape[0], self.num_heads, inputs.shape[1], encoder_outputs.shape[1])
            cross_weights = keras.KerasTensor(weights_shape, dtype=self.compute_dtype)
        outputs = keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)
        new_cache = new_cache[0] if new_cache else None
        return self._results(outputs, self_weights, cross_weights, new_cache, return_attention_scores)

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "ff_dim": self.ff_dim,
            "key_dim": self.key_dim,
            "num_key_value_heads": self.num_key_value_heads,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "activation": keras.activations.serialize(self.activation),
            "norm_first": self.norm_first,
            "epsilon": self.epsilon,
            "rotary": self.rotary,
            "alibi": self.alibi,
        }


def _keras_mask_of(x):
    """The padding mask Keras carries on a tensor (set by ``Embedding(mask_zero=True)`` and the layers
    that pass masks on), or ``None``."""
    return getattr(x, "_keras_mask", None)
