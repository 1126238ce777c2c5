"""Dynamic meta-embeddings (Kiela et al. 2018): attention over several embeddings of the same token."""

import sys

import keras
from keras import ops

from attention_utils import _validation as check
from attention_utils.layers._base import split_list


@keras.saving.register_keras_serializable(package="attention_utils")
class DynamicMetaEmbedding(keras.layers.Layer):
    """Combines ``n`` embeddings of each token by attention over the embeddings (Kiela et al. 2018).

    Kiela et al. (2018, section 3.1) give every token ``j`` of a sentence ``n`` embeddings
    ``w_{i,j}`` (say GloVe and fastText), of sizes ``d_i``, and let the network learn, per token,
    how much of each to use. The attention here runs over representations of one token, not over
    positions: it is the *multi-representation* row of the attention taxonomy. The calculation, for
    inputs ``[w_1, ..., w_n]`` with ``w_i`` of shape ``(batch_size, T, d_i)``:

    1. Project every embedding into a common space of ``units`` dimensions (``d'`` in the paper):
       ``w'_{i,j} = P_i w_{i,j} + b_i``, stacked into ``(batch_size, T, n, units)``.
    2. Score every projected embedding: ``e_{i,j} = a^T w'_{i,j}``, shape ``(batch_size, T, n)``.
    3. Align over the embeddings: ``alpha_{i,j} = softmax_i(e_{i,j})``, ``(batch_size, T, n)``, each
       token's weights summing to 1.
    4. Sum: ``w^DME_j = sum_i alpha_{i,j} w'_{i,j}``, shape ``(batch_size, T, units)``.

    The paper writes the score as ``a^T w'_{i,j} + b`` with a scalar ``b``; ``b`` is the same for every
    embedding ``i``, so it cancels in the softmax over ``i`` (``softmax(e + b) = softmax(e)``) and would
    never receive a gradient. It is left out.

    Args:
        units: the size ``d'`` of the common space, a positive integer.
        **kwargs: base layer arguments, such as ``name`` and ``dtype``.

    Call arguments:
        inputs: a list of at least two tensors ``(batch_size, T, d_i)``: the embeddings of the same
            ``T`` tokens, ``d_i`` may differ.
        mask: optional list of boolean masks ``(batch_size, T)`` (or ``None``s), one per input; those
            made by ``Embedding(mask_zero=True)`` are passed on automatically. The attention is over
            embeddings, so a mask does not change the weights; the masks are combined with a logical AND
            and carried on to the output, for the sentence encoder that follows.
        return_attention_scores: if ``True``, also return the weights ``alpha``.

    Output:
        The meta-embeddings, ``(batch_size, T, units)``, and if ``return_attention_scores``, the weights,
        ``(batch_size, T, n)``, with ``weights[..., i]`` the weight of input ``i``.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        check.check_integer_at_least(units, "units", 1)
        self.units = units
        self.supports_masking = True

    def build(self, input_shape):
        embeddings = _check_embeddings(input_shape, self)
        self.projections, self.projection_biases = [], []
        for index, embedding in enumerate(embeddings):
            check.check_known_last_dim(embedding, f"inputs[{index}]", "the embedding size d_i")
            self.projections.append(
                self.add_weight(
                    name=f"projection_{index}", shape=(embedding.shape[-1], self.units), initializer="glorot_uniform"
                )
            )
            self.projection_biases.append(
                self.add_weight(name=f"projection_bias_{index}", shape=(self.units,), initializer="zeros")
            )
        self.attention_vector = self.add_weight(
            name="attention_vector", shape=(self.units,), initializer="glorot_uniform"
        )
        self.built = True

    def call(self, inputs, mask=None, return_attention_scores=False):
        embeddings = _check_embeddings(inputs, self)
        if len(embeddings) != len(self.projections):
            raise ValueError(
                f"Invalid value for argument inputs. This layer was built for {len(self.projections)} "
                f"embeddings. Received: {len(embeddings)} embeddings"
            )
        for index, (embedding, projection) in enumerate(zip(embeddings, self.projections)):
            check.check_built_features(self, embedding, f"inputs[{index}]", projection.shape[0], "d_i")
        projected = ops.stack(  # w'_{i,j} = P_i w_{i,j} + b_i: (batch_size, T, n, units)
            [
                ops.matmul(embedding, projection) + bias
                for embedding, projection, bias in zip(embeddings, self.projections, self.projection_biases)
            ],
            axis=-2,
        )
        scores = ops.matmul(projected, self.attention_vector)  # e_{i,j} = a^T w'_{i,j}: (batch_size, T, n)
        weights = ops.softmax(scores, axis=-1)  # over the n embeddings of each token
        meta_embedding = ops.sum(ops.expand_dims(weights, -1) * projected, axis=-2)
        if return_attention_scores:
            return meta_embedding, weights
        return meta_embedding

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        masks = mask if isinstance(mask, (list, tuple)) else [mask]
        masks = [check.as_bool_mask(m, f"mask[{index}]") for index, m in enumerate(masks) if m is not None]
        if not masks:
            return None
        combined = masks[0]
        for other in masks[1:]:
            combined = ops.logical_and(combined, other)
        return combined

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape[0])[:-1], self.units)

    def compute_output_spec(self, inputs, mask=None, return_attention_scores=False):
        embeddings = _check_embeddings(inputs, self)
        meta_embedding = keras.KerasTensor((*embeddings[0].shape[:-1], self.units), dtype=self.compute_dtype)
        if return_attention_scores:
            weights_shape = (*embeddings[0].shape[:-1], len(embeddings))
            return meta_embedding, keras.KerasTensor(weights_shape, dtype=self.compute_dtype)
        return meta_embedding

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _check_embeddings(inputs, layer):
    """A list of at least two ``(batch_size, T, d_i)`` tensors (or shapes) with the same ``T``."""
    embeddings = split_list(
        inputs,
        "inputs",
        layer,
        range(2, sys.maxsize),
        "a list of at least two embeddings [w_1, ..., w_n] of shapes (batch_size, T, d_i)",
    )
    for index, embedding in enumerate(embeddings):
        check.check_rank(embedding, f"inputs[{index}]", 3, "(batch_size, T, d_i)")
        check.check_dims_match(
            embeddings[0],
            "inputs[0]",
            -2,
            embedding,
            f"inputs[{index}]",
            -2,
            "every embedding must cover the same T tokens",
        )
    return embeddings
