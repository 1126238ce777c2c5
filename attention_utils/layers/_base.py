"""What every attention layer here shares: inputs, masks, alignment and the weighted sum.

A family module (``bahdanau.py``, ``luong.py``) subclasses ``BaseAttention`` and writes only what makes
its family different: the weights it creates in ``build`` and its score in ``_calculate_scores``.
"""

import keras
from keras import ops

from attention_utils import _validation as check
from attention_utils.alignment import masked_softmax


class BaseAttention(keras.layers.Layer):
    """Attention over ``[query, value]`` or ``[query, value, key]`` with a score left to subclasses.

    1. Score: ``scores = self._calculate_scores(query, key)``, shape ``(batch_size, Tq, Tv)``.
    2. Align: ``weights = masked_softmax(scores, mask)``, each unmasked row summing to 1.
    3. Sum: ``context = weights @ value``, shape ``(batch_size, Tq, value_dim)``.

    Masks follow Keras's attention layers: ``mask=[query_mask, value_mask]``, booleans where ``True``
    means "attend". A masked key gets weight 0; a masked query gets all-zero weights and a zero output;
    a query whose keys are all masked gets zero weights and a zero output, never NaN.

    Once built, the layer accepts only the query and key feature sizes it was built for (its weights
    depend on them); masks must have one entry per query or key. An empty batch gives an empty result.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self._built_query_dim = self._built_key_dim = None

    def build(self, input_shape):
        query, _, key = self._split_inputs(input_shape, "inputs")
        self._built_query_dim, self._built_key_dim = query.shape[-1], key.shape[-1]
        self._build_weights(query, key)
        self.built = True

    def _build_weights(self, query, key):
        """Creates the layer's weights, given symbolic ``query`` and ``key`` of the input shapes."""

    def _add_additive_weights(self, query_dim, key_dim, units):
        """``W_q (query_dim, units)``, ``W_k (key_dim, units)`` and ``v (units,)`` of an additive score."""
        self.w_query = self.add_weight(
            name="w_query", shape=(query_dim, units), initializer="glorot_uniform"
        )
        self.w_key = self.add_weight(name="w_key", shape=(key_dim, units), initializer="glorot_uniform")
        self.v = self.add_weight(name="v", shape=(units,), initializer="glorot_uniform")

    def _calculate_scores(self, query, key):
        """Returns the scores ``(batch_size, Tq, Tv)`` of every key against every query."""
        raise NotImplementedError

    def call(self, inputs, mask=None, return_attention_scores=False):
        query, value, key, query_mask, value_mask = self._prepare_call(inputs, mask)
        scores = self._calculate_scores(query, key)
        weights = masked_softmax(scores, self._calculate_score_mask(query_mask, value_mask))
        context = ops.matmul(weights, value)
        if return_attention_scores:
            return context, weights
        return context

    def _calculate_score_mask(self, query_mask, value_mask):
        """Combines ``(batch, Tq)`` and ``(batch, Tv)`` masks into one that broadcasts to the scores."""
        score_mask = None
        if query_mask is not None:
            score_mask = ops.expand_dims(ops.cast(query_mask, "bool"), -1)  # (batch, Tq, 1)
        if value_mask is not None:
            value_mask = ops.expand_dims(ops.cast(value_mask, "bool"), -2)  # (batch, 1, Tv)
            score_mask = value_mask if score_mask is None else ops.logical_and(score_mask, value_mask)
        return score_mask

    def compute_mask(self, inputs, mask=None):
        # The output has one row per query, so it carries the query mask on, as in Keras.
        query_mask, _ = self._split_mask(mask)
        return None if query_mask is None else ops.convert_to_tensor(query_mask)

    def compute_output_shape(self, input_shape):
        query, value, _ = self._split_inputs(input_shape, "inputs")
        return (*query.shape[:-1], value.shape[-1])

    def compute_output_spec(self, inputs, mask=None, return_attention_scores=False):
        query, value, key = self._split_inputs(inputs, "inputs")
        self._split_mask(mask, query, key)
        context = keras.KerasTensor((*query.shape[:-1], value.shape[-1]), dtype=self.compute_dtype)
        if return_attention_scores:
            return context, keras.KerasTensor((*query.shape[:-1], key.shape[-2]), dtype=self.compute_dtype)
        return context

    def _prepare_call(self, inputs, mask):
        """The checked ``query, value, key, query_mask, value_mask`` of a call."""
        query, value, key = self._split_inputs(inputs, "inputs")
        self._check_built_dims(query, key)
        query_mask, value_mask = self._split_mask(mask, query, key)
        return query, value, key, query_mask, value_mask

    def _check_built_dims(self, query, key):
        """Raises ``ValueError`` when the query or key feature size differs from the one built for."""
        if self.built:
            check.check_built_features(self, query, "query", self._built_query_dim, "query_dim")
            check.check_built_features(self, key, "key", self._built_key_dim, "key_dim")

    def _split_inputs(self, inputs, name):
        """``[query, value]`` or ``[query, value, key]``, as tensors or shapes -> ``query, value, key``."""
        is_one_shape = isinstance(inputs, (list, tuple)) and all(
            dim is None or isinstance(dim, int) for dim in inputs
        )
        if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3) or is_one_shape:
            received = f"a tensor of shape {tuple(inputs)}" if is_one_shape else _describe(inputs)
            raise ValueError(
                f"Invalid value for argument {name}. {self.__class__.__name__} expects a list "
                f"[query, value] or [query, value, key]. Received: {name}={received}"
            )
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) == 3 else value
        # Shapes (in build) become symbolic tensors, so one set of checks serves shapes and tensors.
        query, value, key = (
            x if hasattr(x, "shape") else keras.KerasTensor(tuple(x)) for x in (query, value, key)
        )
        check.check_rank(query, "query", 3, "(batch_size, Tq, query_dim)")
        check.check_rank(value, "value", 3, "(batch_size, Tv, value_dim)")
        check.check_rank(key, "key", 3, "(batch_size, Tv, key_dim)")
        check.check_dims_match(
            key, "key", -2, value, "value", -2, "there must be one value per key (the same Tv)"
        )
        return query, value, key

    def _split_mask(self, mask, query=None, key=None):
        """``None`` or ``[query_mask, value_mask]`` (a third entry, the key mask, is ANDed with the
        value mask: keys and values share their positions) -> ``query_mask, value_mask``.

        Given ``query`` and ``key``, each mask is checked to be ``(batch_size, Tq)`` or
        ``(batch_size, Tv)``: one entry per query or per key."""
        if mask is None:
            return None, None
        if not isinstance(mask, (list, tuple)) or len(mask) not in (2, 3):
            raise ValueError(
                f"Invalid value for argument mask. {self.__class__.__name__} expects a list "
                "[query_mask, value_mask] of boolean tensors (True means attend). "
                f"Received: mask={_describe(mask)}"
            )
        query_mask, value_mask = mask[0], mask[1]
        key_mask = mask[2] if len(mask) == 3 else None
        if query is not None:
            query_mask = check.check_sequence_mask(query_mask, "query_mask", query, "query", "Tq")
            value_mask = check.check_sequence_mask(value_mask, "value_mask", key, "value", "Tv")
            key_mask = check.check_sequence_mask(key_mask, "key_mask", key, "key", "Tv")
        if key_mask is not None:
            key_mask = ops.cast(key_mask, "bool")
            value_mask = (
                key_mask if value_mask is None else ops.logical_and(ops.cast(value_mask, "bool"), key_mask)
            )
        return query_mask, value_mask


def _describe(x):
    """A short description of ``x`` for an error message: a tensor by its shape, a list by its length."""
    if hasattr(x, "shape"):
        return f"a tensor of shape {tuple(x.shape)}"
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of length {len(x)}"
    return repr(x)
