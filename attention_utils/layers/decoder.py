"""Bahdanau et al.'s (2014) attentional decoder: a GRU that attends with its previous state at every step.

Luong et al.'s (2015) decoder needs no layer of its own: it attends *after* its RNN step, so a GRU over
the whole target sequence followed by ``LuongAttention`` computes it (without input feeding). Greedy
decoding of a trained translator is ``attention_utils.decoding.greedy_decode``.
"""

import keras
from keras import ops

from attention_utils import _float64
from attention_utils import _validation as check
from attention_utils.alignment import masked_softmax
from attention_utils.layers.bahdanau import BahdanauAttention


@keras.saving.register_keras_serializable(package="attention_utils")
class BahdanauDecoder(keras.layers.Layer):
    """A GRU decoder that looks back at the encoder's annotations at every step (Bahdanau et al. 2014).

    At output step ``i``, given the previous state ``s_{i-1}``, the previous target's embedding
    ``y_{i-1}`` and the annotations ``h_1 .. h_Tx`` (section 3.1 and appendix A.2.2 of the paper):
    1. Score each annotation against the previous state,
       ``e_ij = v_a^T tanh(W_a s_{i-1} + U_a h_j)`` (``BahdanauAttention``, query ``s_{i-1}``).
    2. Align: ``alpha_ij = softmax_j(e_ij)``, with masked annotations getting weight 0.
    3. Take the context ``c_i = sum_j alpha_ij h_j``.
    4. Update the state with a GRU step on ``[y_{i-1}; c_i]``: ``s_i = f(s_{i-1}, y_{i-1}, c_i)``. The
       reset gate multiplies ``s_{i-1}`` before the recurrent matrix, as in the paper
       (``GRUCell(reset_after=False)``); unlike the paper, the GRU has biases.

    ``U_a h_j`` does not depend on ``i``: as in the paper's appendix A.1.2, it is computed once per
    sequence, before the loop, and each step adds ``W_a s_{i-1}`` to it. The attention comes before the
    RNN step and feeds it, so the steps run one after another even under teacher forcing: a Python
    loop over the ``Ty`` output steps, unrolled when the layer is called (so ``Ty`` must be known then;
    for ten steps this runs faster than a symbolic loop). Output layers then predict ``y_i`` from
    ``s_i``, ``c_i`` and ``y_{i-1}`` (the paper's eq. 4). With ``Ty = 0`` there is no step: the outputs
    are empty, ``(batch_size, 0, ...)``.

    Args:
        units: the size of the decoder state ``s_i``, a positive integer.
        attention_units: the size of the attention's hidden layer (``BahdanauAttention(units)``);
            defaults to ``units``.
        **kwargs: base layer arguments, such as ``name`` and ``dtype``; the attention and the GRU cell
            follow the decoder's dtype policy.

    Call arguments:
        inputs: the previous targets' embeddings ``y_0 .. y_{Ty-1}``, ``(batch_size, Ty, input_dim)``:
            under teacher forcing, the targets shifted one place right behind a start token.
        annotations: the encoder's outputs ``h_j``, ``(batch_size, Tx, annotation_dim)``.
        initial_state: ``s_0``, ``(batch_size, units)``.
        annotations_mask: optional booleans ``(batch_size, Tx)``, ``True`` for the annotations to
            attend to. A Keras mask on ``annotations`` (from ``Embedding(mask_zero=True)``) is used
            when none is given.
        return_attention_scores: if ``True``, also return the attention weights.

    Output:
        ``states`` ``(batch_size, Ty, units)`` (``s_1 .. s_Ty``) and ``contexts``
        ``(batch_size, Ty, annotation_dim)`` (``c_1 .. c_Ty``), and if ``return_attention_scores``,
        the ``weights`` ``(batch_size, Ty, Tx)``, each row summing to 1 over the unmasked annotations.
    """

    def __init__(self, units, attention_units=None, **kwargs):
        super().__init__(**kwargs)
        check.check_integer_at_least(units, "units", 1)
        if attention_units is not None:
            check.check_integer_at_least(attention_units, "attention_units", 1)
        self.units = units
        self.attention_units = attention_units
        self.attention = BahdanauAttention(attention_units or units, dtype=self.dtype_policy, name="attention")
        cell_options = {}
        if self.dtype_policy.variable_dtype in ("float16", "bfloat16"):
            # The orthogonal initializer needs a QR decomposition, which TensorFlow lacks in bfloat16
            # and JAX in both half precisions: it is computed in float32 and cast.
            cell_options["recurrent_initializer"] = _Float32Orthogonal()
        self.cell = keras.layers.GRUCell(units, reset_after=False, dtype=self.dtype_policy, name="cell", **cell_options)
        self._built_dims = None

    def build(self, inputs_shape, annotations_shape, initial_state_shape):
        self._check_shapes(inputs_shape, annotations_shape, initial_state_shape)
        self._built_dims = {"inputs": inputs_shape[-1], "annotations": annotations_shape[-1]}
        batch_size = inputs_shape[0]
        self.attention.build([(batch_size, 1, self.units), tuple(annotations_shape)])
        self.cell.build((batch_size, inputs_shape[-1] + annotations_shape[-1]))
        self.built = True

    def call(self, inputs, annotations, initial_state, annotations_mask=None, return_attention_scores=False):
        self._check_shapes(inputs.shape, annotations.shape, initial_state.shape)
        for name, x, dim_name in (("inputs", inputs, "input_dim"), ("annotations", annotations, "annotation_dim")):
            check.check_built_features(self, x, name, self._built_dims[name], dim_name)
        annotations_mask = check.check_sequence_mask(
            annotations_mask, "annotations_mask", annotations, "annotations", "Tx"
        )
        attention = self.attention
        # U_a h_j, (batch, Tx, attention_units): the same at every step (appendix A.1.2), so computed once.
        projected_annotations = ops.matmul(annotations, attention.w_key)
        state = initial_state  # s_0
        states, contexts, weights = [], [], []
        for previous_target in ops.unstack(inputs, axis=1):  # y_{i-1}, (batch, input_dim)
            # 1. e_ij = v_a^T tanh(W_a s_{i-1} + U_a h_j), (batch, Tx)
            projected_state = ops.expand_dims(ops.matmul(state, attention.w_query), 1)
            scores = ops.sum(_float64.tanh(projected_state + projected_annotations) * attention.v, axis=-1)
            # 2. alpha_ij = softmax_j(e_ij), 0 on padding; 3. c_i = sum_j alpha_ij h_j
            step_weights = masked_softmax(scores, annotations_mask)
            context = ops.einsum("bj,bjd->bd", step_weights, annotations)
            # 4. s_i = f(s_{i-1}, y_{i-1}, c_i)
            state, _ = self.cell(ops.concatenate([previous_target, context], axis=-1), [state])
            states.append(state)
            contexts.append(context)
            weights.append(step_weights)
        if not states:  # Ty = 0: no step to take, empty results of the documented shapes
            return self._no_steps(inputs, annotations, initial_state, return_attention_scores)
        outputs = (ops.stack(states, axis=1), ops.stack(contexts, axis=1))
        if return_attention_scores:
            return (*outputs, ops.stack(weights, axis=1))
        return outputs

    def _no_steps(self, inputs, annotations, initial_state, return_attention_scores):
        """Zeros ``(batch_size, 0, units)``, ``(batch_size, 0, annotation_dim)`` and ``(batch_size, 0, Tx)``,
        by broadcasting, so that an unknown batch size works too."""
        no_steps = ops.cast(ops.zeros_like(inputs[:, :, :1]), self.compute_dtype)  # (batch, 0, 1)
        states = no_steps * ops.cast(ops.zeros_like(initial_state)[:, None, :], self.compute_dtype)
        contexts = no_steps * ops.cast(ops.zeros_like(annotations[:, :1, :]), self.compute_dtype)
        if return_attention_scores:
            weights = no_steps * ops.cast(ops.zeros_like(annotations[:, None, :, 0]), self.compute_dtype)
            return states, contexts, weights
        return states, contexts

    def _check_shapes(self, inputs_shape, annotations_shape, initial_state_shape):
        inputs, annotations, initial_state = (
            keras.KerasTensor(tuple(shape)) for shape in (inputs_shape, annotations_shape, initial_state_shape)
        )
        check.check_rank(inputs, "inputs", 3, "(batch_size, Ty, input_dim)")
        check.check_rank(annotations, "annotations", 3, "(batch_size, Tx, annotation_dim)")
        check.check_rank(initial_state, "initial_state", 2, f"(batch_size, units={self.units})")
        if inputs.shape[1] is None:
            raise ValueError(
                "Invalid shape for argument inputs. Expected a known number of steps Ty: the loop over "
                f"the steps is unrolled when the layer is called. Received: inputs.shape={tuple(inputs.shape)}"
            )
        if initial_state.shape[-1] != self.units:
            raise ValueError(
                f"Invalid shape for argument initial_state. Expected (batch_size, units={self.units}). "
                f"Received: initial_state.shape={tuple(initial_state.shape)}"
            )

    def get_config(self):
        return {**super().get_config(), "units": self.units, "attention_units": self.attention_units}


class _Float32Orthogonal(keras.initializers.Orthogonal):
    """The orthogonal initializer, computed in float32 and cast: for float16 and bfloat16 variables."""

    def __call__(self, shape, dtype=None):
        return ops.cast(super().__call__(shape, dtype="float32"), dtype or keras.backend.floatx())
