"""Squeeze-and-Excitation (Hu et al. 2018, eqs. 2-4): channel attention from the average alone.

CBAM's channel module (``attention_utils.layers.cbam``) extends it with a max-pooled descriptor.
Feature maps and outputs as in ``attention_utils.layers._feature_maps``.
"""

import keras
from keras import ops

from attention_utils.layers._feature_maps import (
    _build_bottleneck_mlp,
    _channel_weights_shape,
    _check_call_inputs,
    _check_reduction_ratio,
    _FeatureMapAttention,
)


@keras.saving.register_keras_serializable(package="attention_utils")
class SqueezeExcitation(_FeatureMapAttention):
    """Squeeze-and-Excitation (Hu et al. 2018, section 3, eqs. 2-4).

    1. Squeeze (eq. 2): ``z_c = 1 / (H W) sum_{i,j} u_c(i, j)``, the average of each channel over all
       positions, shape ``(batch_size, channels)``.
    2. Excite (eq. 3): ``s = sigmoid(W_2 relu(W_1 z))``, an MLP ``channels -> channels // r -> channels``
       (with biases, as in the released models), one weight in ``(0, 1)`` per channel.
    3. Scale (eq. 4): ``x_c = s_c * u_c``.

    CBAM's channel module generalises this: it adds a max-pooled descriptor through the same MLP and
    applies the sigmoid to the sum.

    Args:
        reduction_ratio: ``r``, a positive integer; the hidden layer has ``channels // r`` units
            (paper: 16). It must not exceed the number of input channels.
        **kwargs: base layer arguments, such as ``name`` and ``dtype``.

    Call arguments:
        inputs: a feature map ``U`` of shape ``(batch_size, height, width, channels)``.
        return_attention_scores: if ``True``, also return ``s``.

    Output:
        The rescaled feature map, of the input's shape, and if ``return_attention_scores`` the channel
        weights ``s``, of shape ``(batch_size, 1, 1, channels)``.
    """

    def __init__(self, reduction_ratio=16, **kwargs):
        super().__init__(**kwargs)
        _check_reduction_ratio(reduction_ratio)
        self.reduction_ratio = reduction_ratio
        self.excite_hidden = None
        self.excite_output = None
        self._channels = None

    def build(self, input_shape):
        # W_1 (C -> C/r, ReLU) and W_2 (C/r -> C, sigmoid): the excitation of eq. 3
        self.excite_hidden, self.excite_output = _build_bottleneck_mlp(
            self, input_shape, ("excite_hidden", "excite_output"), output_activation="sigmoid"
        )

    def call(self, inputs, return_attention_scores=False):
        _check_call_inputs(self, inputs)
        squeezed = ops.mean(inputs, axis=(1, 2))  # Hu et al. 2018, eq. 2
        weights = self.excite_output(self.excite_hidden(squeezed))  # eq. 3
        weights = ops.reshape(weights, (-1, 1, 1, ops.shape(inputs)[-1]))
        outputs = inputs * weights  # eq. 4
        return (outputs, weights) if return_attention_scores else outputs

    def _weights_shape(self, input_shape):
        return [_channel_weights_shape(input_shape)]

    def get_config(self):
        return {**super().get_config(), "reduction_ratio": self.reduction_ratio}
