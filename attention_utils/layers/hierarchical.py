"""Attention pooling with a learned context vector, the building block of the hierarchical attention
network of Yang et al. (2016): word-level attention makes sentence vectors, sentence-level attention
makes the document vector."""

import keras
from keras import ops

from attention_utils import _float64
from attention_utils import _validation as check
from attention_utils.alignment import masked_softmax


@keras.saving.register_keras_serializable(package="attention_utils")
class AttentionPooling(keras.layers.Layer):
    """Pools a sequence of vectors into one by attention with a learned context vector (Yang et al. 2016).

    Yang et al. (2016, section 2.2) attend over the annotations ``h_t`` of a sequence with a query that
    is not computed from any input: a *context vector* ``u_w`` learned with the rest of the network, which
    they describe as a high-level representation of the question "which is the informative word?". The
    same computation serves both levels of their hierarchical attention network: over the words of a
    sentence (word attention, giving a sentence vector ``s_i``) and over the sentences of a document
    (sentence attention, giving the document vector ``v``).

    The input ``h`` has shape ``(batch_size, ..., T, features)``: attention runs over the axis ``T`` of
    length ``T``, independently for every index of the axes in between. So one layer pools the words of
    every sentence of a batch of documents, ``(batch_size, num_sentences, num_words, features)``, with no
    ``TimeDistributed`` needed (wrapping it in ``TimeDistributed`` gives the same result). The calculation:

    1. Hidden representation of every position: ``u_t = tanh(W h_t + b)``, shape
       ``(batch_size, ..., T, units)``.
    2. Score against the context vector: ``e_t = u_t^T u_w``, shape ``(batch_size, ..., T)``.
    3. Align: ``alpha_t = exp(e_t) / sum_k exp(e_k)`` over the unmasked positions,
       ``(batch_size, ..., T)``.
    4. Pool: ``s = sum_t alpha_t h_t``, shape ``(batch_size, ..., features)``. Note that the pooled
       vectors are the annotations ``h_t`` themselves, not their projections ``u_t``.

    Args:
        units: the size of ``u_t`` and of the context vector ``u_w``, a positive integer.
        **kwargs: base layer arguments, such as ``name`` and ``dtype``.

    Call arguments:
        inputs: ``(batch_size, ..., T, features)``, rank 3 or more.
        mask: optional boolean tensor ``(batch_size, ..., T)``, ``True`` meaning "attend"; masks made by
            ``Embedding(mask_zero=True)`` (and carried by ``TimeDistributed`` or recurrent layers) are
            passed on automatically. A masked position gets weight 0; a sequence with every position
            masked (say a padding sentence) gets all-zero weights and a zero vector, never NaN.
        return_attention_scores: if ``True``, also return the weights ``alpha``.

    Output:
        The pooled vectors, ``(batch_size, ..., features)``, and if ``return_attention_scores``, the
        weights, ``(batch_size, ..., T)``. When the output still has a sequence axis (an input of rank 4
        or more, such as words pooled into sentences), it carries a mask that is ``False`` where every
        position was masked, so the next level of attention skips padding sentences.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        check.check_integer_at_least(units, "units", 1)
        self.units = units
        self.supports_masking = True

    def build(self, input_shape):
        inputs = keras.KerasTensor(tuple(input_shape))
        check.check_rank_at_least(inputs, "inputs", 3, "(batch_size, ..., T, features)")
        check.check_known_last_dim(inputs, "inputs")
        features = input_shape[-1]
        self.kernel = self.add_weight(name="kernel", shape=(features, self.units), initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
        self.context_vector = self.add_weight(name="context_vector", shape=(self.units,), initializer="glorot_uniform")
        self.built = True

    def call(self, inputs, mask=None, return_attention_scores=False):
        check.check_rank_at_least(inputs, "inputs", 3, "(batch_size, ..., T, features)")
        check.check_built_features(self, inputs, "inputs", self.kernel.shape[0])
        hidden = _float64.tanh(ops.matmul(inputs, self.kernel) + self.bias)  # u_t = tanh(W h_t + b)
        scores = ops.matmul(hidden, self.context_vector)  # e_t = u_t^T u_w: (batch_size, ..., T)
        if mask is not None:
            mask = check.as_bool_mask(mask, "mask")
            check.check_mask_matches(mask, "mask", inputs, "inputs")
        weights = masked_softmax(scores, mask)
        pooled = ops.sum(ops.expand_dims(weights, -1) * inputs, axis=-2)  # s = sum_t alpha_t h_t
        if return_attention_scores:
            return pooled, weights
        return pooled

    def compute_mask(self, inputs, mask=None):
        if mask is None or len(inputs.shape) < 4:
            return None  # the output of a rank-3 input is one vector per example: nothing left to mask
        return ops.any(check.as_bool_mask(mask, "mask"), axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-2], input_shape[-1])

    def compute_output_spec(self, inputs, mask=None, return_attention_scores=False):
        check.check_rank_at_least(inputs, "inputs", 3, "(batch_size, ..., T, features)")
        pooled = keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype=self.compute_dtype)
        if return_attention_scores:
            return pooled, keras.KerasTensor(inputs.shape[:-1], dtype=self.compute_dtype)
        return pooled

    def get_config(self):
        return {**super().get_config(), "units": self.units}
