"""Bahdanau (additive) attention, with the learned projections of the paper."""

import keras

from attention_utils import _validation as check
from attention_utils import scores as score_functions
from attention_utils.layers._base import BaseAttention


@keras.saving.register_keras_serializable(package="attention_utils")
class BahdanauAttention(BaseAttention):
    """Additive attention as in Bahdanau et al. (2014), with ``W_q``, ``W_k`` and ``v`` learned.

    Bahdanau et al. (appendix A.1.2) score the previous decoder state ``s_{i-1}`` (the query) against
    each annotation ``h_j`` (a key) with a one-hidden-layer network,
    ``e_ij = v_a^T tanh(W_a s_{i-1} + U_a h_j)``. Here ``W_a`` is ``w_query``, ``U_a`` is ``w_key`` and
    ``v_a`` is ``v``; like the paper, the projections have no bias. Keras's ``AdditiveAttention``
    computes ``sum(scale * tanh(query + key))``: this layer with identity projections, where its
    ``scale`` plays the part of ``v``.

    Inputs are a list with 2 or 3 elements:
    1. A ``query`` tensor of shape ``(batch_size, Tq, query_dim)``.
    2. A ``value`` tensor of shape ``(batch_size, Tv, value_dim)``.
    3. An optional ``key`` tensor of shape ``(batch_size, Tv, key_dim)``. If none is given, ``value``
       is used as the key.

    The calculation follows the steps:
    1. Project the queries and the keys into a space of ``units`` dimensions, add every projected key
       to every projected query, squash with ``tanh`` and read out with ``v``: scores of shape
       ``(batch_size, Tq, Tv)`` (``attention_utils.scores.additive``).
    2. Normalise the scores with a masked softmax into weights of shape ``(batch_size, Tq, Tv)``
       (``attention_utils.masked_softmax``).
    3. Return the weighted sum of the values, the context, of shape ``(batch_size, Tq, value_dim)``.

    Query and key may have different feature sizes; the intermediate ``(batch_size, Tq, Tv, units)``
    tensor is materialised, so memory grows with ``Tq * Tv * units``.

    Args:
        units: the size ``n'`` of the shared space, a positive integer.
        **kwargs: base layer arguments, such as ``name`` and ``dtype``.

    Call arguments:
        inputs: ``[query, value]`` or ``[query, value, key]``.
        mask: optional ``[query_mask, value_mask]``, the layers' mask rule (``attention_utils``,
            "Masks"). Masks made by ``Embedding(mask_zero=True)`` are passed on automatically.
        return_attention_scores: if ``True``, also return the attention weights (after masking and
            softmax).

    Output:
        The context, of shape ``(batch_size, Tq, value_dim)``, and if ``return_attention_scores``,
        the weights, of shape ``(batch_size, Tq, Tv)``.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        check.check_integer_at_least(units, "units", 1)
        self.units = units

    def _build_weights(self, query, key):
        self._add_additive_weights(query.shape[-1], key.shape[-1], self.units)

    def _calculate_scores(self, query, key, score_mask=None):
        # Bahdanau et al. 2014, appendix A.1.2: e_ij = v_a^T tanh(W_a s_{i-1} + U_a h_j)
        return score_functions.additive(query, key, self.w_query, self.w_key, self.v)

    def get_config(self):
        return {**super().get_config(), "units": self.units}
