"""What every attention layer here shares: inputs, masks, alignment and the weighted sum.

A family module (``bahdanau.py``, ``luong.py``) subclasses ``BaseAttention`` and writes only what makes
its family different: the weights it creates in ``_build_weights`` and its score in
``_calculate_scores``. A variant overrides a step of ``call``, never ``call`` itself: ``hard.py`` how the
weights become the context (``_apply_scores``), ``local.py`` which keys each query may attend to
(``_calculate_score_mask``) and so which it scores and sums.

``split_list`` and ``describe`` check the list arguments (``inputs``, ``mask``) of any layer of the
package that takes several tensors, ``ParallelCoAttention`` too.
"""

import keras
from keras import ops

from attention_utils import _validation as check
from attention_utils.alignment import masked_softmax


class BaseAttention(keras.layers.Layer):
    """Attention over ``[query, value]`` or ``[query, value, key]`` with a score left to subclasses.

    ``call`` is written once, here, as the steps of Keras's own base attention layer, each a method a
    subclass may override:

    0. ``score_mask = self._calculate_score_mask(query, key, query_mask, value_mask)``: which keys each
       query may attend to; by default a boolean mask broadcastable to ``(batch_size, Tq, Tv)``, or
       ``None``.
    1. Score: ``scores = self._calculate_scores(query, key, score_mask)``, shape ``(batch_size, Tq, Tv)``.
    2. and 3. ``context, *attention = self._apply_scores(scores, value, score_mask)``: by default, align
       (``weights = masked_softmax(scores, score_mask)``, each unmasked row summing to 1) and sum
       (``context = weights @ value``, shape ``(batch_size, Tq, value_dim)``), returning
       ``(context, weights)``. ``call`` returns the context, or with ``return_attention_scores`` the whole
       tuple.

    Masks follow the layers' mask rule of the package (``attention_utils``, "Masks"):
    ``mask=[query_mask, value_mask]``, as in Keras's attention layers.

    Once built, the layer accepts only the query and key feature sizes it was built for (its weights
    depend on them); masks must have one entry per query or key. An empty batch gives an empty result.
    """

    _num_attention_outputs = 1
    """How many ``(batch_size, Tq, Tv)`` tensors ``_apply_scores`` returns after the context."""

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
        self.w_query = self.add_weight(name="w_query", shape=(query_dim, units), initializer="glorot_uniform")
        self.w_key = self.add_weight(name="w_key", shape=(key_dim, units), initializer="glorot_uniform")
        self.v = self.add_weight(name="v", shape=(units,), initializer="glorot_uniform")

    def call(self, inputs, mask=None, return_attention_scores=False):
        query, value, key, query_mask, value_mask = self._prepare_call(inputs, mask)
        score_mask = self._calculate_score_mask(query, key, query_mask, value_mask)
        scores = self._calculate_scores(query, key, score_mask)
        outputs = self._apply_scores(scores, value, score_mask, return_attention_scores=return_attention_scores)
        return tuple(outputs) if return_attention_scores else outputs[0]

    def _calculate_score_mask(self, query, key, query_mask, value_mask):
        """Which keys each query may attend to: ``(batch, Tq)`` and ``(batch, Tv)`` masks combined into
        one that broadcasts to the scores, ``(batch, Tq, 1)``, ``(batch, 1, Tv)`` or ``(batch, Tq, Tv)``,
        or ``None`` when there is no mask. The result is passed to the two steps that follow."""
        score_mask = None
        if query_mask is not None:
            score_mask = ops.expand_dims(query_mask, -1)  # (batch, Tq, 1)
        if value_mask is not None:
            value_mask = ops.expand_dims(value_mask, -2)  # (batch, 1, Tv)
            score_mask = value_mask if score_mask is None else ops.logical_and(score_mask, value_mask)
        return score_mask

    def _calculate_scores(self, query, key, score_mask=None):
        """Returns the scores ``(batch_size, Tq, Tv)`` of every key against every query.

        ``score_mask`` is what ``_calculate_score_mask`` returned: a global score has no use for it (masked
        keys are scored and then given weight 0); a variant that scores only some keys reads them from it.
        """
        raise NotImplementedError

    def _apply_scores(self, scores, value, score_mask, return_attention_scores=False):
        """Turns the scores into weights and the weights into the context: returns ``(context, weights)``,
        the context ``(batch_size, Tq, value_dim)`` first, then ``_num_attention_outputs`` tensors that
        ``call`` returns with ``return_attention_scores``. (A variant may leave those out when
        ``return_attention_scores`` is ``False`` and they are costly.)"""
        weights = masked_softmax(scores, score_mask)
        return ops.matmul(weights, value), weights

    def compute_mask(self, inputs, mask=None):
        # The output has one row per query, so it carries the query mask on, as in Keras.
        query_mask, _ = self._split_mask(mask)
        return query_mask

    def compute_output_shape(self, input_shape):
        query, value, _ = self._split_inputs(input_shape, "inputs")
        return (*query.shape[:-1], value.shape[-1])

    def compute_output_spec(self, inputs, mask=None, return_attention_scores=False):
        query, value, key = self._split_inputs(inputs, "inputs")
        self._split_mask(mask, query, key)
        context = keras.KerasTensor((*query.shape[:-1], value.shape[-1]), dtype=self.compute_dtype)
        if return_attention_scores:
            weights_shape = (*query.shape[:-1], key.shape[-2])
            return (
                context,
                *(
                    keras.KerasTensor(weights_shape, dtype=self.compute_dtype)
                    for _ in range(self._num_attention_outputs)
                ),
            )
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
        inputs = split_list(inputs, name, self, (2, 3), "a list [query, value] or [query, value, key]")
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) == 3 else value
        check.check_rank(query, "query", 3, "(batch_size, Tq, query_dim)")
        check.check_rank(value, "value", 3, "(batch_size, Tv, value_dim)")
        check.check_rank(key, "key", 3, "(batch_size, Tv, key_dim)")
        check.check_dims_match(key, "key", -2, value, "value", -2, "there must be one value per key (the same Tv)")
        return query, value, key

    def _split_mask(self, mask, query=None, key=None):
        """``None`` or ``[query_mask, value_mask]`` (a third entry, the key mask, is ANDed with the
        value mask: keys and values share their positions) -> ``query_mask, value_mask``.

        Given ``query`` and ``key``, each mask is checked to be ``(batch_size, Tq)`` or
        ``(batch_size, Tv)``: one entry per query or per key. The masks are returned as boolean tensors;
        a floating mask is a ``TypeError`` naming its entry (``check.as_bool_mask``)."""
        if mask is None:
            return None, None
        split_list(mask, "mask", self, (2, 3), MASK_LIST.format("[query_mask, value_mask]"), tensors=False)
        query_mask, value_mask = mask[0], mask[1]
        key_mask = mask[2] if len(mask) == 3 else None
        if query is not None:
            query_mask = check.check_sequence_mask(query_mask, "query_mask", query, "query", "Tq")
            value_mask = check.check_sequence_mask(value_mask, "value_mask", key, "value", "Tv")
            key_mask = check.check_sequence_mask(key_mask, "key_mask", key, "key", "Tv")
        else:
            query_mask, value_mask, key_mask = (
                None if entry is None else check.as_bool_mask(entry, entry_name)
                for entry, entry_name in (
                    (query_mask, "query_mask"),
                    (value_mask, "value_mask"),
                    (key_mask, "key_mask"),
                )
            )
        if key_mask is not None:
            value_mask = key_mask if value_mask is None else ops.logical_and(value_mask, key_mask)
        return query_mask, value_mask


MASK_LIST = "a list {} of boolean tensors (True means attend)"
"""How an error message describes a layer's list of masks, given its entries' names."""


def split_list(value, name, layer, lengths, expected, tensors=True):
    """Checks a list argument of ``layer`` (``inputs`` or ``mask``) and returns it as a list.

    Args:
        value: the argument: a list or tuple with one of ``lengths`` entries. A single shape, a list of
            integers, is refused, so that ``build`` reports ``input_shape`` of one tensor clearly.
        name: the argument's name, for error messages.
        layer: the layer, named in error messages.
        lengths: the numbers of entries allowed, a container: ``(2, 3)``, or ``range(2, sys.maxsize)`` for
            "at least two".
        expected: what the layer expects, as a phrase: ``"a list [query, value] or [query, value, key]"``.
        tensors: if ``True``, entries that are shapes (in ``build``) become symbolic tensors, so one set
            of checks serves shapes and tensors; if ``False``, entries are returned as they are.

    Raises:
        ValueError: naming the argument, the layer and what it expects.
    """
    is_one_shape = isinstance(value, (list, tuple)) and all(dim is None or isinstance(dim, int) for dim in value)
    if not isinstance(value, (list, tuple)) or len(value) not in lengths or (tensors and is_one_shape):
        received = f"a tensor of shape {tuple(value)}" if tensors and is_one_shape else describe(value)
        raise ValueError(
            f"Invalid value for argument {name}. {layer.__class__.__name__} expects {expected}. "
            f"Received: {name}={received}"
        )
    if not tensors:
        return list(value)
    return [x if hasattr(x, "shape") else keras.KerasTensor(tuple(x)) for x in value]


def describe(x):
    """A short description of ``x`` for an error message: a tensor by its shape, a list by its length."""
    if hasattr(x, "shape"):
        return f"a tensor of shape {tuple(x.shape)}"
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of length {len(x)}"
    return repr(x)
