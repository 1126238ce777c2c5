"""Hard attention (Xu et al. 2015): each query reads exactly one value, chosen by argmax or by sampling.

A one-hot selection has no gradient with respect to the scores, so ``HardAttention`` offers two ways to
train the scores anyway: ``reinforce_loss``, the score-function estimator Xu et al. use, and the
``"straight_through"`` mode, a Gumbel-softmax straight-through estimator.
"""

import keras
from keras import ops

from attention_utils import _validation as check
from attention_utils.alignment import masked_softmax
from attention_utils.layers.luong import LuongAttention

MODES = ("argmax", "sample", "straight_through")


@keras.saving.register_keras_serializable(package="attention_utils")
class HardAttention(LuongAttention):
    """Hard attention as in Xu et al. (2015, section 4.1): one position per query, not a blend.

    Xu et al. score each image region ``a_i`` against the decoder state, turn the scores into
    probabilities ``alpha_{t,i}`` with a softmax, and then, instead of the weighted sum
    ``z_t = sum_i alpha_{t,i} a_i`` of soft attention, draw a one-hot location variable
    ``s_t ~ Multinoulli(alpha_t)`` and read ``z_t = sum_i s_{t,i} a_i``: the value at one position.
    Their score ``f_att`` is a one-hidden-layer network, the ``"concat"`` score of ``LuongAttention``
    (the default here); ``"dot"`` and ``"general"`` are also accepted, and the registry's names
    ``"additive"`` and ``"bilinear"``. Steps 1 and 2 are ``LuongAttention``'s; the layer overrides only
    ``_apply_scores``, how the probabilities become the context.

    Inputs are a list with 2 or 3 elements:
    1. A ``query`` tensor of shape ``(batch_size, Tq, query_dim)``.
    2. A ``value`` tensor of shape ``(batch_size, Tv, value_dim)``.
    3. An optional ``key`` tensor of shape ``(batch_size, Tv, key_dim)``. If none is given, ``value``
       is used as the key.

    The calculation follows the steps:
    1. Score every key against every query with ``score_mode``: ``(batch_size, Tq, Tv)``.
    2. Normalise the scores with a masked softmax into the probabilities ``alpha``,
       ``(batch_size, Tq, Tv)``.
    3. Select one position per query, a one-hot ``selection`` of shape ``(batch_size, Tq, Tv)``:
       - ``"argmax"``: the most probable position, ``one_hot(argmax_i alpha_i)``; deterministic.
       - ``"sample"``: ``s ~ Multinoulli(alpha)``, drawn with the Gumbel-max trick,
         ``one_hot(argmax_i (log alpha_i + g_i))`` with ``g_i ~ Gumbel(0, 1)`` (Xu et al., section 4.1).
       - ``"straight_through"``: the same sample in the forward pass; in the backward pass, the gradient
         of ``y = softmax((log alpha + g) / temperature)`` (the straight-through Gumbel-softmax estimator
         of Jang et al. 2017): ``selection = y + stop_gradient(one_hot - y)``.
    4. Return the selected value, ``context = selection @ value``, of shape
       ``(batch_size, Tq, value_dim)``.

    No gradient flows from the context to the scores in modes ``"argmax"`` and ``"sample"``: train them
    with ``reinforce_loss`` (Xu et al., section 4.1), or use ``"straight_through"``.

    Args:
        mode: ``"sample"`` (the default), ``"argmax"`` or ``"straight_through"``.
        score_mode: ``"concat"`` (the default, Xu et al.'s ``f_att``), ``"general"`` or ``"dot"``, or
            ``"additive"`` or ``"bilinear"``, as in ``LuongAttention``.
        units: for ``"concat"`` (``"additive"``) only, the size of the score's hidden layer; defaults to
            ``key_dim``.
        temperature: for ``"straight_through"`` only, a positive number ``tau``: the temperature of the
            soft sample whose gradient is used. Lower is closer to the hard sample, with noisier
            gradients.
        seed: an optional non-negative integer seed for the sampling modes.
        **kwargs: base layer arguments, such as ``name`` and ``dtype``.

    Call arguments:
        inputs: ``[query, value]`` or ``[query, value, key]``.
        mask: optional ``[query_mask, value_mask]``, the layers' mask rule (``attention_utils``,
            "Masks"). A masked key is never selected; a masked query, or a query whose keys are all
            masked, selects nothing and gets a zero output.
        return_attention_scores: if ``True``, also return the ``selection`` and the probabilities
            ``alpha`` it was drawn from (``reinforce_loss`` needs both).

    Output:
        The context, of shape ``(batch_size, Tq, value_dim)``, and if ``return_attention_scores``, the
        selection and the probabilities, both of shape ``(batch_size, Tq, Tv)``.
    """

    def __init__(self, mode="sample", score_mode="concat", units=None, temperature=1.0, seed=None, **kwargs):
        super().__init__(score_mode=score_mode, units=units, **kwargs)
        check.check_one_of(mode, "mode", MODES)
        check.check_positive_finite(temperature, "temperature")
        if seed is not None:
            check.check_seed(seed, expected="a non-negative integer or None")
            seed = int(seed)  # a NumPy integer is stored as a Python int, for get_config
        self.mode = mode
        self.temperature = float(temperature)
        self.seed = seed
        if mode != "argmax":
            self.seed_generator = keras.random.SeedGenerator(seed)

    _num_attention_outputs = 2  # the selection and the probabilities

    def _apply_scores(self, scores, value, score_mask, return_attention_scores=False):
        """Steps 2 to 4: probabilities, a one-hot selection drawn from them, and the selected value.
        Returns ``(context, selection, probabilities)``."""
        probabilities = masked_softmax(scores, score_mask)
        selection = self._select(probabilities)
        context = ops.matmul(selection, ops.cast(value, selection.dtype))
        return context, selection, probabilities

    def _select(self, probabilities):
        """One-hot ``(batch, Tq, Tv)`` selection from the probabilities, per ``self.mode``."""
        allowed = probabilities > 0  # masked keys (and underflowed ones) can never be chosen
        lowest = check.lowest_float(probabilities.dtype)
        logits = ops.where(allowed, ops.log(ops.where(allowed, probabilities, 1.0)), lowest)
        if self.mode != "argmax":
            # Gumbel-max: argmax(log alpha + g), g = -log(-log u), is a sample from Multinoulli(alpha).
            uniform = keras.random.uniform(
                ops.shape(logits), minval=1e-7, maxval=1.0, dtype=logits.dtype, seed=self.seed_generator
            )
            logits = ops.where(allowed, logits - ops.log(-ops.log(uniform)), lowest)
        num_keys = probabilities.shape[-1] if probabilities.shape[-1] is not None else ops.shape(probabilities)[-1]
        hard = ops.one_hot(ops.argmax(logits, axis=-1), num_keys, dtype=probabilities.dtype)
        # A row with nothing to attend to (masked query, all keys masked) selects nothing.
        hard = hard * ops.cast(ops.any(allowed, axis=-1, keepdims=True), hard.dtype)
        if self.mode != "straight_through":
            return ops.stop_gradient(hard)
        soft = masked_softmax(logits / self.temperature, allowed)
        return soft + ops.stop_gradient(hard - soft)  # forward: hard; backward: d soft

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "temperature": self.temperature, "seed": self.seed}


def reinforce_loss(probabilities, selection, reward, baseline=0.0):
    """A surrogate loss whose gradient is the REINFORCE estimate for a hard selection.

    Williams (1992); Xu et al. (2015, section 4.1) train hard attention with it. A selection ``s`` drawn
    from ``alpha`` has no gradient, but the expected reward does:
    ``d E[r] / dW = E[(r - b) d log p(s) / dW]``, with ``p(s) = sum_i s_i alpha_i`` the probability of
    the chosen position and ``b`` a baseline that lowers the variance without biasing the estimate.
    This function returns ``-mean((r - b) * log p(s))`` with ``r - b`` held constant, so minimising it
    makes selections that did better than the baseline more probable. Rows that selected nothing
    (masked queries) are left out of the mean.

    Args:
        probabilities: ``alpha``, of shape ``(batch_size, Tq, Tv)``, differentiable with respect to the
            attention's weights (the third output of ``HardAttention``).
        selection: the one-hot selection ``s``, of the same shape (the second output).
        reward: ``r``, of shape ``(batch_size, Tq)`` or ``(batch_size,)`` (one reward per sequence,
            shared by its queries); for Xu et al., ``log p(y | s, a)``.
        baseline: ``b``, a number or a tensor broadcastable to the rewards, such as a moving average of
            past rewards.

    Returns:
        A scalar tensor.
    """
    probabilities = check.as_float_tensor(probabilities, "probabilities")
    selection = ops.cast(check.as_float_tensor(selection, "selection"), probabilities.dtype)
    reward = ops.cast(check.as_float_tensor(reward, "reward"), probabilities.dtype)
    check.check_rank(probabilities, "probabilities", 3, "(batch_size, Tq, Tv)")
    check.check_rank(selection, "selection", 3, "(batch_size, Tq, Tv)")
    if tuple(selection.shape) != tuple(probabilities.shape):
        raise ValueError(
            "Invalid shapes for arguments selection and probabilities: they must be equal. "
            f"Received: selection.shape={tuple(selection.shape)}, probabilities.shape={tuple(probabilities.shape)}"
        )
    if len(reward.shape) == 1:
        reward = ops.expand_dims(reward, -1)  # one reward per sequence, shared by its queries
    check.check_rank(reward, "reward", 2, "(batch_size, Tq) or (batch_size,)")
    check.check_broadcasts_to(reward, "reward", probabilities[..., 0], "probabilities[..., 0]")
    chosen = ops.sum(probabilities * selection, axis=-1)  # p(s), (batch, Tq)
    selected = ops.cast(ops.sum(selection, axis=-1) > 0, chosen.dtype)
    log_chosen = ops.log(ops.where(selected > 0, chosen, 1.0))
    advantage = ops.stop_gradient(reward - ops.cast(baseline, reward.dtype))
    total = ops.sum(selected * advantage * log_chosen)
    return -total / ops.maximum(ops.sum(selected), 1.0)
