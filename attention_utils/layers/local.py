"""Local attention (Luong et al. 2015): each query scores only a window of 2D + 1 keys."""

import typing

import keras
from keras import ops

from attention_utils import _float64
from attention_utils import _validation as check
from attention_utils.alignment import masked_softmax
from attention_utils.layers.luong import LuongAttention

MODES = ("monotonic", "predictive")


class Window(typing.NamedTuple):
    """The score mask of local attention: which keys each query may attend to, as a window.

    Attributes:
        positions: ``(batch, Tq, 2D + 1)`` int32, the key positions ``round(p_t) - D .. round(p_t) + D``.
        mask: ``(batch, Tq, 2D + 1)`` bool, which of them may be attended (inside ``[0, Tv)``, unmasked).
        centre: ``(batch, Tq)``, the aligned positions ``p_t``.
        num_keys: ``Tv``.
    """

    positions: typing.Any
    mask: typing.Any
    centre: typing.Any
    num_keys: typing.Any


@keras.saving.register_keras_serializable(package="attention_utils")
class LocalAttention(LuongAttention):
    """Local attention as in Luong et al. (2015, section 3.2): a window of keys around an aligned position.

    Global attention scores all ``Tv`` keys for every query. Local attention picks an aligned position
    ``p_t`` for query ``t`` and scores only the ``2D + 1`` keys at ``[p_t - D, p_t + D]``, so the number
    of scores is ``Tq * (2D + 1)`` instead of ``Tq * Tv``:

    - ``"monotonic"`` (local-m): ``p_t = t``, source and target assumed roughly aligned; the weights
      are the softmax of the window's scores (Luong et al., eq. 7).
    - ``"predictive"`` (local-p): ``p_t = S * sigmoid(v_p^T tanh(W_p h_t))`` (eq. 9), ``S`` the source
      length, and the weights favour positions near ``p_t`` with a Gaussian,
      ``a_t(s) = align(h_t, h_s) exp(-(s - p_t)^2 / (2 sigma^2))`` with ``sigma = D / 2`` (eq. 10),
      ``align`` being the softmax over the window. As in the paper, the product is not renormalised:
      the weights of a query sum to at most 1. ``p_t`` is learned through the Gaussian; the choice of
      window (rounding ``p_t``) has no gradient. Positions here count from 0, so ``p_t`` uses
      ``S - 1`` in place of the paper's ``S`` (positions 1 to ``S``): ``p_t`` spans ``[0, S - 1]``.

    ``S`` is ``Tv``, or with a value mask the number of unmasked keys of each sequence (padding at the
    end). The score is Luong's, chosen with ``score_mode`` as in ``LuongAttention``.

    The layer overrides steps of ``LuongAttention``'s ``call``, not ``call``: its score mask
    (``_calculate_score_mask``) is a ``Window``, the positions of each query's keys and which of them may
    be attended; ``_calculate_scores`` scores each query against its window's keys only, and
    ``_apply_scores`` forms the window's weights (the softmax, and local-p's Gaussian) and sums the
    window's values.

    Inputs are a list with 2 or 3 elements:
    1. A ``query`` tensor of shape ``(batch_size, Tq, query_dim)``: Luong's target states ``h_t``.
    2. A ``value`` tensor of shape ``(batch_size, Tv, value_dim)``: the source states.
    3. An optional ``key`` tensor of shape ``(batch_size, Tv, key_dim)``. If none is given, ``value``
       is used as the key.

    The calculation follows the steps:
    1. Aligned positions ``p_t``, shape ``(batch_size, Tq)``, by ``mode``.
    2. Windows: the ``2D + 1`` positions ``round(p_t) - D, ..., round(p_t) + D`` of each query; those
       outside ``[0, Tv)`` or masked are left out. Gather the window's keys and values,
       ``(batch_size, Tq, 2D + 1, key_dim)``.
    3. Score each query against its window's keys only: ``(batch_size, Tq, 2D + 1)``.
    4. Align: a masked softmax over the window; local-p multiplies it by the Gaussian.
    5. Return the weighted sum of the window's values, ``(batch_size, Tq, value_dim)``.

    Args:
        window: ``D``, a non-negative integer: each query sees ``2D + 1`` positions. In local-p it also
            sets the Gaussian's width, ``sigma = D / 2``, so it must be positive there.
        mode: ``"monotonic"`` (local-m, the default) or ``"predictive"`` (local-p).
        score_mode: ``"general"`` (the default), ``"dot"`` or ``"concat"``, or ``"bilinear"`` or
            ``"additive"``, as in ``LuongAttention``.
        units: for ``score_mode="concat"`` (``"additive"``) only, the size of the score's hidden layer.
        position_units: for ``"predictive"`` only, the rows of ``W_p`` (the size of the hidden layer
            that predicts ``p_t``); defaults to ``query_dim``.
        **kwargs: base layer arguments, such as ``name`` and ``dtype``.

    Call arguments:
        inputs: ``[query, value]`` or ``[query, value, key]``.
        mask: optional ``[query_mask, value_mask]``, the layers' mask rule (``attention_utils``,
            "Masks"). A window with no unmasked key also gets zero weights and a zero output.
        return_attention_scores: if ``True``, also return the weights spread back over all ``Tv``
            positions, ``(batch_size, Tq, Tv)``, zero outside the window. (Building them costs
            ``Tq * (2D + 1) * Tv`` memory; the context alone does not.)

    Output:
        The context, of shape ``(batch_size, Tq, value_dim)``, and if ``return_attention_scores``, the
        weights, of shape ``(batch_size, Tq, Tv)``.
    """

    def __init__(self, window, mode="monotonic", score_mode="general", units=None, position_units=None, **kwargs):
        super().__init__(score_mode=score_mode, units=units, **kwargs)
        check.check_one_of(mode, "mode", MODES)
        minimum = 1 if mode == "predictive" else 0
        check.check_integer_at_least(window, "window", minimum, expected=f"an integer >= {minimum} for mode={mode!r}")
        window = int(window)  # a NumPy integer is stored as a Python int, for get_config
        if mode == "predictive":
            if position_units is not None:
                check.check_integer_at_least(position_units, "position_units", 1)
        elif position_units is not None:
            raise ValueError(
                "Invalid value for argument position_units. Expected None: only mode='predictive' predicts "
                f"positions. Received: position_units={position_units!r} with mode={mode!r}"
            )
        self.window = window
        self.mode = mode
        self.position_units = position_units

    def _build_weights(self, query, key):
        super()._build_weights(query, key)
        if self.mode == "predictive":
            query_dim = query.shape[-1]
            units = self.position_units or query_dim
            self.w_position = self.add_weight(name="w_position", shape=(query_dim, units), initializer="glorot_uniform")
            self.v_position = self.add_weight(name="v_position", shape=(units,), initializer="glorot_uniform")

    def _calculate_score_mask(self, query, key, query_mask, value_mask):
        """Steps 1 and 2: the ``Window`` of each query, around its aligned position ``p_t``."""
        num_keys = ops.shape(key)[1]
        centre = self._aligned_positions(query, key, value_mask)  # (batch, Tq)
        positions, window_mask = self._window(centre, num_keys, query_mask, value_mask)  # (batch, Tq, 2D+1)
        return Window(positions, window_mask, centre, num_keys)

    def _calculate_scores(self, query, key, score_mask=None):
        """Step 3: each query against its window's keys only, ``(batch, Tq, 2D + 1)``."""
        window_keys = _gather_positions(key, score_mask.positions)  # (batch, Tq, 2D+1, key_dim)
        # (batch, Tq, 1, query_dim) against (batch, Tq, 2D+1, key_dim): each query scores its own window.
        return super()._calculate_scores(ops.expand_dims(query, 2), window_keys)[:, :, 0, :]

    def _apply_scores(self, scores, value, score_mask, return_attention_scores=False):
        """Steps 4 and 5: the window's weights and the weighted sum of its values. The weights are spread
        back over all ``Tv`` positions only if ``return_attention_scores``."""
        window = score_mask
        weights = masked_softmax(scores, window.mask)  # Luong et al. 2015, eq. 7, over the window
        if self.mode == "predictive":
            sigma = self.window / 2.0
            distance = ops.cast(window.positions, window.centre.dtype) - ops.expand_dims(window.centre, -1)
            weights = weights * ops.cast(ops.exp(-ops.square(distance) / (2.0 * sigma**2)), weights.dtype)  # eq. 10
        window_values = _gather_positions(value, window.positions)
        context = ops.sum(ops.expand_dims(weights, -1) * ops.cast(window_values, weights.dtype), axis=2)
        if return_attention_scores:
            return context, _spread_over_keys(weights, window.positions, window.num_keys)
        return (context,)

    def _aligned_positions(self, query, key, value_mask):
        """``p_t``, ``(batch, Tq)``: ``t`` (local-m) or ``(S - 1) sigmoid(v_p^T tanh(W_p h_t))`` (local-p)."""
        # Positions in float32 at least, whatever the compute dtype: bfloat16 holds the integers exactly
        # only up to 256, and its 8 bits would round p_t, and so pick the window, far from float32's.
        dtype = "float64" if self.compute_dtype == "float64" else "float32"
        if self.mode == "monotonic":
            steps = ops.cast(ops.arange(ops.shape(query)[1]), dtype)
            return ops.zeros_like(query[..., 0], dtype=dtype) + steps
        if value_mask is None:
            length = ops.cast(ops.shape(key)[1], dtype)
        else:
            length = ops.sum(ops.cast(value_mask, dtype), axis=-1, keepdims=True)  # S of each sequence
        hidden = _float64.tanh(ops.matmul(ops.cast(query, dtype), ops.cast(self.w_position, dtype)))
        # Luong et al. 2015, eq. 9: p_t = S sigmoid(v_p^T tanh(W_p h_t)), positions counted from 0.
        return ops.maximum(length - 1.0, 0.0) * ops.sigmoid(ops.matmul(hidden, ops.cast(self.v_position, dtype)))

    def _window(self, centre, num_keys, query_mask, value_mask):
        """Key positions ``(batch, Tq, 2D + 1)`` around ``round(p_t)``, and which of them may be attended."""
        offsets = ops.arange(-self.window, self.window + 1, dtype="int32")
        anchor = ops.cast(ops.round(ops.stop_gradient(centre)), "int32")
        positions = ops.expand_dims(anchor, -1) + offsets
        window_mask = ops.logical_and(positions >= 0, positions < num_keys)
        if value_mask is not None:
            safe = ops.clip(positions, 0, num_keys - 1)
            key_is_real = _gather_positions(ops.expand_dims(ops.cast(value_mask, "int32"), -1), safe)[..., 0]
            window_mask = ops.logical_and(window_mask, key_is_real > 0)
        if query_mask is not None:
            window_mask = ops.logical_and(window_mask, ops.expand_dims(query_mask, -1))
        return positions, window_mask

    def get_config(self):
        return {
            **super().get_config(),
            "window": self.window,
            "mode": self.mode,
            "position_units": self.position_units,
        }


def _gather_positions(sequence, positions):
    """``sequence[b, positions[b, t, j]]``: ``(batch, T, d)`` and ``(batch, Tq, W)`` -> ``(batch, Tq, W, d)``.

    Positions outside ``[0, T)`` are clipped (their entries are masked by the caller). One gather along
    the time axis, so only the windows are materialised, never a ``(batch, Tq, T, d)`` tensor. (Not a
    ``take`` from the flattened batch: JAX's ``take`` returns the wrong shape from an empty batch.)
    """
    batch_size, num_queries, width = ops.shape(positions)
    positions = ops.clip(positions, 0, ops.shape(sequence)[1] - 1)
    # The sizes, not -1: an empty batch leaves -1 undetermined.
    flat_positions = ops.reshape(positions, (batch_size, num_queries * width, 1))
    gathered = ops.take_along_axis(sequence, flat_positions, axis=1)  # (batch, Tq * W, d)
    return ops.reshape(gathered, (batch_size, num_queries, width, sequence.shape[-1]))


def _spread_over_keys(weights, positions, num_keys):
    """Window weights ``(batch, Tq, W)`` written back at their positions in ``(batch, Tq, Tv)``."""
    at_key = ops.cast(ops.expand_dims(positions, -1) == ops.arange(num_keys, dtype="int32"), weights.dtype)
    return ops.sum(ops.expand_dims(weights, -1) * at_key, axis=2)
