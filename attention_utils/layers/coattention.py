"""Parallel co-attention (Lu et al. 2016): two sequences attend to each other at the same time."""

import keras
from keras import ops

from attention_utils import _float64
from attention_utils import _validation as check
from attention_utils.alignment import masked_softmax
from attention_utils.layers._base import MASK_LIST, split_list


@keras.saving.register_keras_serializable(package="attention_utils")
class ParallelCoAttention(keras.layers.Layer):
    """Parallel co-attention as in Lu et al. (2016, section 3.3): each of two sequences guides the
    attention over the other, through one affinity matrix.

    Lu et al. attend over the words of a question ``Q`` and the regions of an image ``V`` together. In
    the paper features are columns (``Q`` is ``d x T``); here, as in Keras, they are the last axis, so
    ``Q`` is ``(batch_size, T, d_q)`` and ``V`` is ``(batch_size, N, d_v)`` and each formula below is the
    paper's, transposed. (``V`` is Lu's name for the image features, not the "values" of
    query-key-value attention: both sequences here are attended.)

    The calculation follows the steps:
    1. Affinity: ``C = tanh(Q W_b V^T)``, shape ``(batch_size, T, N)`` (the paper's
       ``C = tanh(Q^T W_b V)``): how well word ``t`` and region ``n`` match.
    2. Hidden features, each sequence's own projection plus the other's, carried over by the affinity:
       ``H^v = tanh(V W_v + C^T (Q W_q))``, ``(batch_size, N, k)``;
       ``H^q = tanh(Q W_q + C (V W_v))``, ``(batch_size, T, k)``.
    3. Attention in both directions: ``a^v = softmax(H^v w_hv)`` over the ``N`` regions and
       ``a^q = softmax(H^q w_hq)`` over the ``T`` words.
    4. Attended vectors: ``q_hat = sum_t a^q_t q_t``, ``(batch_size, d_q)``, and
       ``v_hat = sum_n a^v_n v_n``, ``(batch_size, d_v)``.

    Like the paper's projections, ``W_b`` ``(d_q, d_v)``, ``W_q`` ``(d_q, k)``, ``W_v`` ``(d_v, k)``,
    ``w_hq`` and ``w_hv`` ``(k,)`` have no bias. The paper has ``d_q = d_v``; here they may differ.

    Args:
        units: ``k``, the size of the hidden features ``H``, a positive integer.
        **kwargs: base layer arguments, such as ``name`` and ``dtype``.

    Call arguments:
        inputs: a list ``[Q, V]`` of tensors of shapes ``(batch_size, T, d_q)`` and ``(batch_size, N, d_v)``.
        mask: optional ``[q_mask, v_mask]``, one ``(batch_size, T)`` and one ``(batch_size, N)``, as in
            the layers' mask rule (``attention_utils``, "Masks"), but each for one of the two attended
            sequences. A masked position gets weight 0 and its affinities are set to 0, so it does not
            influence the other sequence's attention either. A sequence with every position masked gets
            zero weights and a zero vector.
        return_attention_scores: if ``True``, also return the weights ``a^q`` and ``a^v``.

    Output:
        ``[q_hat, v_hat]``, of shapes ``(batch_size, d_q)`` and ``(batch_size, d_v)``; if
        ``return_attention_scores``, ``[q_hat, v_hat, a_q, a_v]`` with ``a_q`` ``(batch_size, T)`` and
        ``a_v`` ``(batch_size, N)``.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        check.check_integer_at_least(units, "units", 1)
        self.units = units
        self.supports_masking = True

    def build(self, input_shape):
        question, image = self._split_inputs(input_shape)
        question_dim, image_dim = question.shape[-1], image.shape[-1]
        self.w_b = self.add_weight(name="w_b", shape=(question_dim, image_dim), initializer="glorot_uniform")
        self.w_q = self.add_weight(name="w_q", shape=(question_dim, self.units), initializer="glorot_uniform")
        self.w_v = self.add_weight(name="w_v", shape=(image_dim, self.units), initializer="glorot_uniform")
        self.w_hq = self.add_weight(name="w_hq", shape=(self.units,), initializer="glorot_uniform")
        self.w_hv = self.add_weight(name="w_hv", shape=(self.units,), initializer="glorot_uniform")
        self.built = True

    def affinity(self, question, image):
        """The affinity matrix ``C = tanh(Q W_b V^T)``, ``(batch_size, T, N)``: the paper's ``tanh(Q^T W_b V)``."""
        question, image = self._split_inputs([question, image])
        return _float64.tanh(ops.matmul(ops.matmul(question, self.w_b), ops.swapaxes(image, -1, -2)))

    def call(self, inputs, mask=None, return_attention_scores=False):
        question, image = self._split_inputs(inputs)
        question_mask, image_mask = self._split_mask(mask, question, image)
        affinity = self.affinity(question, image)  # 1. (batch, T, N)
        if question_mask is not None:  # a padded word neither guides nor is guided
            affinity = affinity * ops.cast(ops.expand_dims(question_mask, -1), affinity.dtype)
        if image_mask is not None:
            affinity = affinity * ops.cast(ops.expand_dims(image_mask, -2), affinity.dtype)
        projected_question = ops.matmul(question, self.w_q)  # (batch, T, k)
        projected_image = ops.matmul(image, self.w_v)  # (batch, N, k)
        hidden_image = _float64.tanh(projected_image + ops.matmul(ops.swapaxes(affinity, -1, -2), projected_question))
        hidden_question = _float64.tanh(projected_question + ops.matmul(affinity, projected_image))  # 2.
        image_weights = masked_softmax(ops.matmul(hidden_image, self.w_hv), image_mask)  # 3. a^v (batch, N)
        question_weights = masked_softmax(ops.matmul(hidden_question, self.w_hq), question_mask)  # a^q (batch, T)
        attended_question = ops.sum(ops.expand_dims(question_weights, -1) * question, axis=1)  # 4. q_hat
        attended_image = ops.sum(ops.expand_dims(image_weights, -1) * image, axis=1)  # v_hat
        if return_attention_scores:
            return [attended_question, attended_image, question_weights, image_weights]
        return [attended_question, attended_image]

    def compute_mask(self, inputs, mask=None):
        return None  # each output is one vector per sequence: nothing left to mask

    def compute_output_spec(self, inputs, mask=None, return_attention_scores=False):
        question, image = self._split_inputs(inputs)
        self._split_mask(mask, question, image)
        batch_size = question.shape[0]
        outputs = [
            keras.KerasTensor((batch_size, question.shape[-1]), dtype=self.compute_dtype),
            keras.KerasTensor((batch_size, image.shape[-1]), dtype=self.compute_dtype),
        ]
        if return_attention_scores:
            outputs += [
                keras.KerasTensor((batch_size, question.shape[1]), dtype=self.compute_dtype),
                keras.KerasTensor((batch_size, image.shape[1]), dtype=self.compute_dtype),
            ]
        return outputs

    def _split_inputs(self, inputs):
        """``[Q, V]``, as tensors or shapes -> ``Q, V`` (symbolic for shapes), checked."""
        question, image = split_list(inputs, "inputs", self, (2,), "a list [Q, V] of two sequences")
        check.check_rank(question, "Q", 3, "(batch_size, T, d_q)")
        check.check_rank(image, "V", 3, "(batch_size, N, d_v)")
        if self.built:
            check.check_dims_match(question, "Q", -1, self.w_b, "w_b", 0, "Q must have the d_q the layer was built for")
            check.check_dims_match(image, "V", -1, self.w_b, "w_b", 1, "V must have the d_v the layer was built for")
        return question, image

    def _split_mask(self, mask, question=None, image=None):
        if mask is None:
            return None, None
        split_list(mask, "mask", self, (2,), MASK_LIST.format("[q_mask, v_mask]"), tensors=False)
        if question is None:
            return mask[0], mask[1]
        return (
            check.check_sequence_mask(mask[0], "q_mask", question, "Q", "T"),
            check.check_sequence_mask(mask[1], "v_mask", image, "V", "N"),
        )

    def get_config(self):
        return {**super().get_config(), "units": self.units}
