"""CBAM, the Convolutional Block Attention Module (Woo et al. 2018): channel attention, then spatial.

| layer               | attends over             | source                   |
|---------------------|--------------------------|--------------------------|
| `ChannelAttention`  | channels                 | Woo et al. 2018, eq. 2   |
| `SpatialAttention`  | positions                | Woo et al. 2018, eq. 3   |
| `CBAM`              | channels, then positions | Woo et al. 2018, eq. 1   |

Feature maps and outputs as in ``attention_utils.layers._feature_maps``: channels-last, the output the
shape of the input, and with ``return_attention_scores=True`` the weights multiplied in.
"""

import keras
from keras import ops

from attention_utils import _validation as check
from attention_utils.layers._feature_maps import (
    _build_bottleneck_mlp,
    _channel_weights_shape,
    _check_call_inputs,
    _check_feature_map,
    _check_nonempty_map,
    _check_reduction_ratio,
    _FeatureMapAttention,
    _max,
    _spatial_weights_shape,
)


@keras.saving.register_keras_serializable(package="attention_utils")
class ChannelAttention(_FeatureMapAttention):
    """The channel attention module of CBAM (Woo et al. 2018, section 3, eq. 2).

    ``M_c(F) = sigmoid(MLP(AvgPool(F)) + MLP(MaxPool(F)))
             = sigmoid(W_1 relu(W_0 F_avg) + W_1 relu(W_0 F_max))``

    1. Squeeze the spatial dimensions twice: the average and the maximum of each channel over all
       positions, two descriptors ``F_avg`` and ``F_max`` of shape ``(batch_size, channels)``.
    2. Pass both through one **shared** MLP, ``channels -> channels // r -> channels`` with a ReLU
       after the hidden layer (``W_0``, ``W_1``; with biases, as in the official code).
    3. Add the two outputs and squash with a sigmoid: one weight in ``(0, 1)`` per channel, the
       channel attention map ``M_c`` of shape ``(batch_size, 1, 1, channels)``.
    4. Return ``M_c(F) * F``, each channel of the input rescaled by its weight.

    Args:
        reduction_ratio: ``r``, a positive integer; the hidden layer has ``channels // r`` units. The
            paper uses 16, as SE does. It must not exceed the number of input channels.
        **kwargs: base layer arguments, such as ``name`` and ``dtype``.

    Call arguments:
        inputs: a feature map of shape ``(batch_size, height, width, channels)``.
        return_attention_scores: if ``True``, also return ``M_c``.

    Output:
        The refined feature map ``F'``, of the input's shape, and if ``return_attention_scores`` the
        channel weights, of shape ``(batch_size, 1, 1, channels)``.
    """

    def __init__(self, reduction_ratio=16, **kwargs):
        super().__init__(**kwargs)
        _check_reduction_ratio(reduction_ratio)
        self.reduction_ratio = reduction_ratio
        self.mlp_hidden = None
        self.mlp_output = None
        self._channels = None

    def build(self, input_shape):
        # W_0 (C -> C/r, ReLU) and W_1 (C/r -> C), shared by both descriptors
        self.mlp_hidden, self.mlp_output = _build_bottleneck_mlp(self, input_shape, ("mlp_hidden", "mlp_output"))

    def _mlp(self, descriptor):
        return self.mlp_output(self.mlp_hidden(descriptor))

    def call(self, inputs, return_attention_scores=False):
        _check_call_inputs(self, inputs)
        average = ops.mean(inputs, axis=(1, 2))  # F_avg, (batch_size, channels)
        maximum = _max(inputs, axis=(1, 2))  # F_max
        weights = ops.sigmoid(self._mlp(average) + self._mlp(maximum))  # Woo et al. 2018, eq. 2
        weights = ops.reshape(weights, (-1, 1, 1, ops.shape(inputs)[-1]))
        outputs = inputs * weights  # eq. 1: F' = M_c(F) * F
        return (outputs, weights) if return_attention_scores else outputs

    def _weights_shape(self, input_shape):
        return [_channel_weights_shape(input_shape)]

    def get_config(self):
        return {**super().get_config(), "reduction_ratio": self.reduction_ratio}


@keras.saving.register_keras_serializable(package="attention_utils")
class SpatialAttention(_FeatureMapAttention):
    """The spatial attention module of CBAM (Woo et al. 2018, section 3, eq. 3).

    ``M_s(F) = sigmoid(f^{7x7}([AvgPool(F); MaxPool(F)]))``

    1. Squeeze the channels twice: the average and the maximum over channels at each position,
       concatenated into a ``(batch_size, height, width, 2)`` map, average first as in eq. 3. (The
       official code puts the maximum first; that only permutes the input channels of the kernel.)
    2. Convolve with one ``kernel_size x kernel_size`` filter, ``same`` padding and no bias, then batch
       normalisation, as the official code does (``BasicConv`` with ``relu=False``; epsilon 1e-5,
       PyTorch momentum 0.01, which is Keras momentum 0.99, the default here).
    3. Squash with a sigmoid: one weight in ``(0, 1)`` per position, the spatial attention map ``M_s``
       of shape ``(batch_size, height, width, 1)``.
    4. Return ``M_s(F) * F``, every channel at a position rescaled by that position's weight.

    Initialisation, as in the official code (``MODELS/model_resnet.py`` sets the scale of every
    batch normalisation inside a ``SpatialGate`` to 0): batch normalisation's scale ``gamma`` starts at 0
    and its offset ``beta`` at 0, so a fresh module's map is ``sigmoid(0) = 0.5`` at every position,
    whatever its input. It starts by scaling all positions alike, as if it were not there but for the
    constant factor, instead of multiplying the features by a random map that the rest of the network
    would first have to learn around; it learns where to depart from 0.5. (With ``gamma = 0`` the
    convolution's kernel gets no gradient at the first step: ``gamma`` moves first, then the kernel.)

    The convolution's kernel keeps Keras's default Glorot-uniform initialisation; the official code draws
    it from PyTorch's ``kaiming_normal_`` (fan-out). With ``gamma = 0`` at the start this matters little:
    the kernel only starts to count once ``gamma`` has moved.

    Args:
        kernel_size: a positive odd integer; the paper finds 7 best (section 4.1, Table 2).
        momentum: the momentum of batch normalisation's moving statistics, a float in ``[0, 1)``
            (Keras's convention: the share of the old value kept at each training step). The default
            0.99 is the official code's; after ``n`` training steps ``0.99 ** n`` of the initial
            statistics remain (28% after 128 steps), so a short training run wants a smaller value.
        **kwargs: base layer arguments, such as ``name`` and ``dtype``.

    Call arguments:
        inputs: a feature map of shape ``(batch_size, height, width, channels)``.
        training: whether batch normalisation uses the batch's statistics (training) or its moving
            averages (inference); set by Keras in ``fit`` and ``predict``.
        return_attention_scores: if ``True``, also return ``M_s``.

    Output:
        The refined feature map, of the input's shape, and if ``return_attention_scores`` the spatial
        weights, of shape ``(batch_size, height, width, 1)``.
    """

    def __init__(self, kernel_size=7, momentum=0.99, **kwargs):
        super().__init__(**kwargs)
        check.check_integer_at_least(
            kernel_size, "kernel_size", 1, parity="odd", expected="a positive odd integer (the paper uses 7)"
        )
        check.check_rate(momentum, "momentum")
        self.kernel_size = kernel_size
        self.momentum = float(momentum)
        self.conv = keras.layers.Conv2D(
            1, kernel_size, padding="same", use_bias=False, dtype=self.dtype_policy, name="conv"
        )
        # gamma_initializer="zeros": the map starts at 0.5 everywhere, as in the official code (docstring).
        self.batch_norm = keras.layers.BatchNormalization(
            epsilon=1e-5, momentum=self.momentum, gamma_initializer="zeros", dtype=self.dtype_policy, name="batch_norm"
        )

    def build(self, input_shape):
        _check_feature_map(input_shape, "inputs")
        _check_nonempty_map(input_shape, "inputs")
        pooled_shape = (*tuple(input_shape)[:3], 2)
        self.conv.build(pooled_shape)
        self.batch_norm.build((*pooled_shape[:3], 1))

    def call(self, inputs, training=None, return_attention_scores=False):
        check.check_rank(inputs, "inputs", 4, "(batch_size, height, width, channels)")
        _check_nonempty_map(inputs.shape, "inputs")
        pooled = ops.concatenate(
            [ops.mean(inputs, axis=-1, keepdims=True), _max(inputs, axis=-1, keepdims=True)], axis=-1
        )  # [AvgPool(F); MaxPool(F)], (batch_size, height, width, 2)
        if tuple(inputs.shape)[0] == 0:
            # An empty batch: nothing to weigh, and no statistics for batch normalisation to learn from.
            # (A slice, not zeros_like: TensorFlow's graph optimiser crashes on zeros of an empty batch.)
            weights = pooled[..., :1]
        else:
            # [..., :1] changes nothing, except for an empty batch of unknown size in a graph, where
            # TensorFlow's convolution (with oneDNN on) returns its input, two channels, instead of one.
            weights = ops.sigmoid(self.batch_norm(self.conv(pooled)[..., :1], training=training))  # eq. 3
        outputs = inputs * weights  # eq. 1: F'' = M_s(F') * F'
        return (outputs, weights) if return_attention_scores else outputs

    def _weights_shape(self, input_shape):
        return [_spatial_weights_shape(input_shape)]

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size, "momentum": self.momentum}


@keras.saving.register_keras_serializable(package="attention_utils")
class CBAM(_FeatureMapAttention):
    """Convolutional Block Attention Module (Woo et al. 2018, eq. 1): channel, then spatial attention.

    ``F'  = M_c(F)  * F``   (``ChannelAttention``)
    ``F'' = M_s(F') * F'``  (``SpatialAttention``, computed from the channel-refined ``F'``)

    The two modules are sequential: the spatial map is computed from the output of the channel module,
    not from the input. Woo et al. compare the orders (section 4.1, Table 3) and find channel-first,
    sequential arrangement best. As in the official code, a fresh module's spatial map is 0.5 at every
    position (``SpatialAttention`` explains why).

    Args:
        reduction_ratio: ``r`` of the channel module's MLP, a positive integer (paper: 16).
        kernel_size: the spatial module's convolution size, a positive odd integer (paper: 7).
        momentum: the spatial module's batch normalisation momentum, a float in ``[0, 1)`` (official
            code: 0.99 in Keras's convention; ``SpatialAttention`` says when to lower it).
        **kwargs: base layer arguments, such as ``name`` and ``dtype``.

    Call arguments:
        inputs: a feature map of shape ``(batch_size, height, width, channels)``.
        training: passed to the spatial module's batch normalisation.
        return_attention_scores: if ``True``, also return both attention maps.

    Output:
        ``F''``, of the input's shape, and if ``return_attention_scores`` the channel weights
        ``(batch_size, 1, 1, channels)`` and the spatial weights ``(batch_size, height, width, 1)``.
    """

    def __init__(self, reduction_ratio=16, kernel_size=7, momentum=0.99, **kwargs):
        super().__init__(**kwargs)
        self._channels = None
        self.channel_attention = ChannelAttention(reduction_ratio, dtype=self.dtype_policy, name="channel_attention")
        self.spatial_attention = SpatialAttention(
            kernel_size, momentum, dtype=self.dtype_policy, name="spatial_attention"
        )

    def build(self, input_shape):
        self._channels = _check_feature_map(input_shape, "inputs")
        self.channel_attention.build(input_shape)
        self.spatial_attention.build(input_shape)

    def call(self, inputs, training=None, return_attention_scores=False):
        check.check_rank(inputs, "inputs", 4, "(batch_size, height, width, channels)")
        _check_nonempty_map(inputs.shape, "inputs")
        check.check_built_features(self, inputs, "inputs", self._channels, "channels")
        refined, channel_weights = self.channel_attention(inputs, return_attention_scores=True)
        outputs, spatial_weights = self.spatial_attention(refined, training=training, return_attention_scores=True)
        return (outputs, channel_weights, spatial_weights) if return_attention_scores else outputs

    def _weights_shape(self, input_shape):
        return [_channel_weights_shape(input_shape), _spatial_weights_shape(input_shape)]

    def get_config(self):
        return {
            **super().get_config(),
            "reduction_ratio": self.channel_attention.reduction_ratio,
            "kernel_size": self.spatial_attention.kernel_size,
            "momentum": self.spatial_attention.momentum,
        }
