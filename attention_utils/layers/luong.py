"""Luong (global) attention with the three score functions of the paper: dot, general and concat.

The scores are looked up in ``attention_utils.scores.REGISTRY``, which knows the paper's names as
aliases: ``"general"`` is ``"bilinear"`` and ``"concat"`` is ``"additive"``. The layer takes either.
"""

import keras

from attention_utils import _validation as check
from attention_utils import scores as score_functions
from attention_utils.layers._base import BaseAttention

SCORES = {"dot": (), "bilinear": ("w",), "additive": ("w_query", "w_key", "v")}
"""The registry's scores a Luong layer computes, by canonical name, with the attributes holding their
parameters, in the order of ``Score.parameters``."""


@keras.saving.register_keras_serializable(package="attention_utils")
class LuongAttention(BaseAttention):
    """Global attention as in Luong et al. (2015), with the score ``"dot"``, ``"general"`` or ``"concat"``.

    Luong et al. (eq. 8) score the current decoder state ``h_t`` (the query) against each source state
    ``h_s`` (a key) in one of three ways:

    | ``score_mode``                | score                           | weights                                 |
    |-------------------------------|---------------------------------|-----------------------------------------|
    | ``"dot"``                     | ``h_t^T h_s``                   | none; query and key of the same size    |
    | ``"general"`` (``"bilinear"``)| ``h_t^T W_a h_s``               | ``w`` of shape ``(query_dim, key_dim)`` |
    | ``"concat"`` (``"additive"``) | ``v_a^T tanh(W_a [h_t; h_s])``  | ``w_query``, ``w_key``, ``v``           |

    The paper's names and the package's (``attention_utils.scores.REGISTRY``) are the same scores: either
    may be passed, and ``get_config`` keeps the one given, so configs saved with either load back.

    ``"concat"`` splits ``W_a`` into the block that multiplies ``h_t`` and the block that multiplies
    ``h_s``: ``W_a [h_t; h_s] = W_q h_t + W_k h_s``, Bahdanau's additive score. (The two papers differ
    in which decoder state is the query, ``h_t`` or ``s_{i-1}``, not in this formula.) Keras's
    ``Attention(score_mode="dot")`` is this layer's ``"dot"``; Keras's ``"concat"`` is
    ``sum(tanh(query + key))``, with no ``W_a`` and no ``v_a``.

    Inputs are a list with 2 or 3 elements:
    1. A ``query`` tensor of shape ``(batch_size, Tq, query_dim)``.
    2. A ``value`` tensor of shape ``(batch_size, Tv, value_dim)``.
    3. An optional ``key`` tensor of shape ``(batch_size, Tv, key_dim)``. If none is given, ``value``
       is used as the key.

    The calculation follows the steps:
    1. Score every key against every query with ``score_mode``: scores of shape
       ``(batch_size, Tq, Tv)`` (``attention_utils.scores.dot``, ``bilinear`` or ``additive``, the
       registry's function for the name).
    2. Normalise the scores with a masked softmax into weights of shape ``(batch_size, Tq, Tv)``
       (``attention_utils.masked_softmax``): Luong's alignment vector ``a_t``.
    3. Return the weighted sum of the values, the context ``c_t``, of shape
       ``(batch_size, Tq, value_dim)``.

    Args:
        score_mode: ``"general"`` (the default), ``"dot"`` or ``"concat"``, or the registry's names for
            them, ``"bilinear"`` and ``"additive"``.
        units: for ``"concat"`` (``"additive"``) only, the size of the hidden layer ``v_a`` reads out;
            defaults to ``key_dim``. Must be ``None`` for the other modes, which have no hidden layer.
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

    def __init__(self, score_mode="general", units=None, **kwargs):
        super().__init__(**kwargs)
        self._score = score_functions.get(score_mode, "score_mode", among=SCORES)
        if self._score.name == "additive":
            if units is not None:
                check.check_integer_at_least(units, "units", 1)
        elif units is not None:
            raise ValueError(
                "Invalid value for argument units. Expected None: only score_mode='concat' (or 'additive') "
                f"has a hidden layer. Received: units={units!r} with score_mode={score_mode!r}"
            )
        self.score_mode = score_mode  # as given, for get_config; self._score.name is the canonical name
        self.units = units

    def _build_weights(self, query, key):
        query_dim, key_dim = query.shape[-1], key.shape[-1]
        if self._score.name == "dot":
            check.check_dims_match(
                query,
                "query",
                -1,
                key,
                "key",
                -1,
                "score_mode='dot' needs queries and keys of the same size (use 'general' otherwise)",
            )
        elif self._score.name == "bilinear":
            self.w = self.add_weight(name="w", shape=(query_dim, key_dim), initializer="glorot_uniform")
        elif self._score.name == "additive":
            self._add_additive_weights(query_dim, key_dim, self.units or key_dim)

    def _calculate_scores(self, query, key, score_mask=None):
        # Luong et al. 2015, eq. 8: "dot" h_t^T h_s; "general" h_t^T W_a h_s; "concat"
        # v_a^T tanh(W_a [h_t; h_s]), with W_a [h_t; h_s] = W_q h_t + W_k h_s.
        return self._score.function(query, key, *(getattr(self, weight) for weight in SCORES[self._score.name]))

    def get_config(self):
        return {**super().get_config(), "score_mode": self.score_mode, "units": self.units}
