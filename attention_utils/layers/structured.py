"""Structured self-attention (Lin et al. 2017): ``r`` attention hops over one sequence, a matrix
sentence embedding, and the penalty that keeps the hops apart."""

import keras
from keras import ops

from attention_utils import _float64
from attention_utils import _validation as check
from attention_utils.alignment import masked_softmax


def frobenius_penalty(attention):
    """The penalty ``P = ||A A^T - I||_F^2`` of Lin et al. (2017, section 2.2), averaged over the batch.

    Each row of ``A`` (a hop) is a distribution over the ``n`` positions. Entry ``(i, k)`` of ``A A^T``
    is the overlap ``sum_t A_it A_kt`` of hops ``i`` and ``k``: subtracting the identity and squaring
    penalises overlap between different hops (off the diagonal) and hops that spread their weight
    (on the diagonal, ``sum_t A_it^2`` is 1 only for a one-hot row). ``P = 0`` exactly when the hops
    are one-hot on ``r`` different positions. (The authors' reference code uses the norm unsquared;
    the paper squares it, as here.)

    Args:
        attention: ``(..., r, n)``: ``r`` hops over ``n`` positions, for example the weights of
            ``StructuredSelfAttention`` of shape ``(batch_size, r, n)``.

    Returns:
        A scalar: ``||A A^T - I||_F^2`` of each ``(r, n)`` matrix, averaged over the leading dimensions.
        An empty batch (no matrices) has no overlap to penalise: its penalty is 0, not the NaN of a
        mean over nothing, so a loss that adds it stays finite.
    """
    attention = check.as_float_tensor(attention, "attention")
    check.check_rank_at_least(attention, "attention", 2, "(..., r, n): r hops over n positions")
    num_hops = attention.shape[-2]
    gram = ops.matmul(attention, ops.swapaxes(attention, -1, -2))  # A A^T: (..., r, r)
    identity = ops.eye(num_hops if num_hops is not None else ops.shape(attention)[-2], dtype=gram.dtype)
    per_matrix = ops.sum(ops.square(gram - identity), axis=(-2, -1))
    if 0 not in tuple(per_matrix.shape):  # the usual case, and an unknown batch size in a graph
        penalty = ops.mean(per_matrix)
        return (
            penalty
            if None not in tuple(per_matrix.shape)
            else ops.where(ops.size(per_matrix) > 0, penalty, ops.zeros_like(penalty))
        )
    return ops.zeros((), dtype=per_matrix.dtype)


@keras.saving.register_keras_serializable(package="attention_utils")
class StructuredSelfAttention(keras.layers.Layer):
    """Self-attention with ``r`` hops that embeds a sequence as a matrix (Lin et al. 2017).

    Lin et al. (2017, section 2) attend over the hidden states ``H`` of a sequence (their BiLSTM's,
    ``(n, 2u)``) not once but ``r`` times, each hop free to focus on a different part of the sentence;
    the ``r`` weighted sums form a matrix embedding ``M``. It is the *multi-dimensional* row of the
    attention taxonomy: the weights have a dimension (the hops) beyond the positions. For ``H`` of shape
    ``(batch_size, n, features)``:

    1. Hidden layer: ``tanh(W_s1 H^T)``, with ``W_s1`` of shape ``(units, features)`` (``d_a`` in the
       paper): ``(batch_size, units, n)``.
    2. Scores: ``W_s2 tanh(W_s1 H^T)``, with ``W_s2`` of shape ``(num_hops, units)`` (``r`` in the
       paper): ``(batch_size, num_hops, n)``. The paper has no biases, nor does this layer.
    3. Align: ``A = softmax(W_s2 tanh(W_s1 H^T))``, the softmax over the ``n`` positions of each hop:
       ``(batch_size, num_hops, n)``, each row summing to 1.
    4. Embed: ``M = A H``, ``(batch_size, num_hops, features)``.
    5. If ``penalty_coefficient > 0``, add ``penalty_coefficient * ||A A^T - I||_F^2`` (averaged over
       the batch, ``frobenius_penalty``) to the model's loss with ``add_loss``, so that the hops are
       pushed to attend to different positions (section 2.2).

    Args:
        units: the size ``d_a`` of the hidden layer, a positive integer.
        num_hops: the number of hops ``r``, a positive integer.
        penalty_coefficient: the weight of the penalty in the loss, a number ``>= 0``; 0 turns it off.
        **kwargs: base layer arguments, such as ``name`` and ``dtype``.

    Call arguments:
        inputs: ``H``, of shape ``(batch_size, n, features)``.
        mask: optional boolean tensor ``(batch_size, n)``, ``True`` meaning "attend"; masks made by
            ``Embedding(mask_zero=True)`` and carried by recurrent layers are passed on automatically.
            A masked position gets weight 0 in every hop.
        return_attention_scores: if ``True``, also return ``A``.

    Output:
        ``M``, of shape ``(batch_size, num_hops, features)``, and if ``return_attention_scores``, ``A``,
        of shape ``(batch_size, num_hops, n)``. The output carries no mask: its rows are hops, not
        positions.
    """

    def __init__(self, units, num_hops, penalty_coefficient=1.0, **kwargs):
        super().__init__(**kwargs)
        check.check_integer_at_least(units, "units", 1)
        check.check_integer_at_least(num_hops, "num_hops", 1)
        check.check_non_negative_number(penalty_coefficient, "penalty_coefficient")
        self.units, self.num_hops = units, num_hops
        self.penalty_coefficient = float(penalty_coefficient)
        self.supports_masking = True

    def build(self, input_shape):
        inputs = keras.KerasTensor(tuple(input_shape))
        check.check_rank(inputs, "inputs", 3, "(batch_size, n, features)")
        check.check_known_last_dim(inputs, "inputs")
        # Stored transposed, so that H W_s1^T and (.) W_s2^T are plain matmuls over the feature axis.
        self.w_s1 = self.add_weight(name="w_s1", shape=(input_shape[-1], self.units), initializer="glorot_uniform")
        self.w_s2 = self.add_weight(name="w_s2", shape=(self.units, self.num_hops), initializer="glorot_uniform")
        self.built = True

    def call(self, inputs, mask=None, return_attention_scores=False):
        check.check_rank(inputs, "inputs", 3, "(batch_size, n, features)")
        check.check_built_features(self, inputs, "inputs", self.w_s1.shape[0])
        hidden = _float64.tanh(ops.matmul(inputs, self.w_s1))  # (W_s1 H^T)^T: (batch_size, n, units)
        scores = ops.swapaxes(ops.matmul(hidden, self.w_s2), -1, -2)  # W_s2 tanh(.): (batch_size, r, n)
        if mask is not None:
            mask = check.as_bool_mask(mask, "mask")
            check.check_rank(mask, "mask", 2, "(batch_size, n), one entry per position")
            check.check_dims_match(mask, "mask", -1, inputs, "inputs", -2, "one mask entry per position")
            mask = ops.expand_dims(mask, -2)  # the same positions masked in every hop
        attention = masked_softmax(scores, mask)  # A: (batch_size, r, n)
        if self.penalty_coefficient > 0:
            self.add_loss(self.penalty_coefficient * frobenius_penalty(attention))
        embedding = ops.matmul(attention, inputs)  # M = A H: (batch_size, r, features)
        if return_attention_scores:
            return embedding, attention
        return embedding

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_hops, input_shape[-1])

    def compute_output_spec(self, inputs, mask=None, return_attention_scores=False):
        check.check_rank(inputs, "inputs", 3, "(batch_size, n, features)")
        embedding = keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype=self.compute_dtype)
        if return_attention_scores:
            weights_shape = (inputs.shape[0], self.num_hops, inputs.shape[1])
            return embedding, keras.KerasTensor(weights_shape, dtype=self.compute_dtype)
        return embedding

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "num_hops": self.num_hops,
            "penalty_coefficient": self.penalty_coefficient,
        }
