"""Squeeze-and-Excitation (Hu et al. 2018, eqs. 2-4): channel attention from the average alone.

CBAM's channel module (``attention_utils.layers.cbam``) extends it with a max-pooled descriptor.
Feature maps and outputs as in ``attention_utils.layers._feature_maps``.
"""

import keras
from keras import ops

from attention_utils import _validation as check
from attention_utils.layers._feature_maps import (
    _channel_weights_shape,
    _check_feature_map,
    _check_nonempty_map,
    _FeatureMapAttention,
    _hidden_units,
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
        check.check_integer_at_least(
            reduction_ratio, "reduction_ratio", 1,
            expected="a positive integer r (the hidden layer has channels // r units; the paper uses 16)",
        )
        self.reduction_ratio = reduction_ratio
        self.excite_hidden = None
        self.excite_output = None
        self._channels = None

    def build(self, input_shape):
        channels = _check_feature_map(input_shape, "inputs")
        _check_nonempty_map(input_shape, "inputs")
        units = _hidden_units(channels, self.reduction_ratio, self.__class__.__name__)
        self._channels = channels
        policy = self.dtype_policy
        self.excite_hidden = keras.layers.Dense(units, activation="relu", dtype=policy, name="excite_hidden")  # W_1
        self.excite_output = keras.layers.Dense(
            channels, activation="sigmoid", dtype=policy, name="excite_output"
        )  # W_2
        self.excite_hidden.build((None, channels))
        self.excite_output.build((None, units))

    def call(self, inputs, return_attention_scores=False):
        check.check_rank(inputs, "inputs", 4, "(batch_size, height, width, channels)")
        _check_nonempty_map(inputs.shape, "inputs")
        check.check_built_features(self, inputs, "inputs", self._channels, "channels")
        squeezed = ops.mean(inputs, axis=(1, 2))  # Hu et al. 2018, eq. 2
        weights = self.excite_output(self.excite_hidden(squeezed))  # eq. 3
        weights = ops.reshape(weights, (-1, 1, 1, ops.shape(inputs)[-1]))
        outputs = inputs * weights  # eq. 4
        return (outputs, weights) if return_attention_scores else outputs

    def _weights_shape(self, input_shape):
        return [_channel_weights_shape(input_shape)]

    def get_config(self):
        return {**super().get_config(), "reduction_ratio": self.reduction_ratio}
