"""The Transformer encoder of Vaswani et al. (2017): token embeddings with sinusoidal positions, and the
encoder block (multi-head self-attention and a feed-forward network, each with a residual connection and
layer normalisation)."""

import math

import keras
from keras import ops

from attention_utils import _validation as check
from attention_utils.positional import sinusoidal_positional_encoding


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
        check.check_integer_at_least(num_heads, "num_heads", 1)
        check.check_integer_at_least(ff_dim, "ff_dim", 1)
        if key_dim is not None:
            check.check_integer_at_least(key_dim, "key_dim", 1)
        check.check_rate(dropout, "dropout")
        check.check_rate(attention_dropout, "attention_dropout")
        check.check_bool(norm_first, "norm_first")
        check.check_positive_finite(epsilon, "epsilon")
        norm_first = bool(norm_first)
        try:
            self.activation = keras.activations.get(activation)
        except ValueError as error:
            raise ValueError(
                "Invalid value for argument activation. Expected the name of a Keras activation or a "
                f"callable. Received: activation={activation!r}"
            ) from error
        self.num_heads, self.ff_dim, self.key_dim = num_heads, ff_dim, key_dim
        self.dropout, self.attention_dropout = dropout, attention_dropout
        self.norm_first, self.epsilon = norm_first, float(epsilon)
        self.supports_masking = True

    def build(self, input_shape):
        check.check_rank(keras.KerasTensor(tuple(input_shape)), "inputs", 3, "(batch_size, T, d_model)")
        check.check_known_last_dim(input_shape, "inputs", "d_model")
        d_model = input_shape[-1]
        if self.key_dim is None and d_model % self.num_heads:
            raise ValueError(
                f"Invalid value for argument num_heads. Expected a divisor of d_model={d_model} (each head "
                f"gets d_model // num_heads dimensions), or pass key_dim. Received: num_heads={self.num_heads}"
            )
        key_dim = self.key_dim or d_model // self.num_heads
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
