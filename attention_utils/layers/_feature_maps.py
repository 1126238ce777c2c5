"""What the feature-map attention layers share (CBAM's two modules, CBAM, Squeeze-and-Excitation).

Feature maps are channels-last, ``(batch_size, height, width, channels)``, with a height, width and
number of channels of at least 1: an empty map has no average to squeeze, so it raises ``ValueError``
(whenever its size is known when the layer is called) rather than give NaN. A batch of 0 maps gives
an empty result. The sub-layers follow each layer's dtype policy. Each layer returns a feature map of
the shape it received, and with ``return_attention_scores=True`` also the weights it multiplied in:
``(batch_size, 1, 1, channels)`` for channel attention, ``(batch_size, height, width, 1)`` for spatial
attention.
"""

import keras
from keras import ops

from attention_utils import _validation as check


def _check_feature_map(shape, name):
    """Checks a ``(batch_size, height, width, channels)`` shape with known channels; returns channels."""
    shape = tuple(shape)
    check.check_rank(keras.KerasTensor(shape), name, 4, "(batch_size, height, width, channels)")
    check.check_known_last_dim(shape, name, "channels")
    return shape[-1]


def _check_nonempty_map(shape, name):
    """Raises ``ValueError`` when the height, width or channels of a feature map are known to be 0."""
    shape = tuple(shape)
    if len(shape) == 4 and 0 in shape[1:]:
        raise ValueError(
            f"Invalid shape for argument {name}. Expected a feature map with height, width and channels of "
            f"at least 1 (an empty map has no average to pool). Received: {name}.shape={shape}"
        )


def _max(x, axis, keepdims=False):
    """``ops.max``, except that an empty batch gives an empty result: the eager ``ops.max`` of an empty
    tensor raises. (The reduced axes are never empty: ``_check_nonempty_map`` sees to that.)"""
    if check.has_no_elements(x):
        return ops.sum(x, axis=axis, keepdims=keepdims)
    return ops.max(x, axis=axis, keepdims=keepdims)


def _hidden_units(channels, reduction_ratio, layer_name):
    """``channels // reduction_ratio``, the width of the bottleneck MLP; at least 1 or an error."""
    if channels // reduction_ratio < 1:
        raise ValueError(
            f"Invalid value for argument reduction_ratio. {layer_name} needs reduction_ratio <= channels, "
            f"so that its hidden layer has channels // reduction_ratio >= 1 units. Received: "
            f"reduction_ratio={reduction_ratio} for an input with channels={channels}"
        )
    return channels // reduction_ratio


class _FeatureMapAttention(keras.layers.Layer):
    """What the four layers share: a feature map in, the same shape out, optional attention weights."""

    def _weights_shape(self, input_shape):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_output_spec(self, inputs, training=None, return_attention_scores=False):
        _check_feature_map(inputs.shape, "inputs")
        outputs = keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)
        if not return_attention_scores:
            return outputs
        weights = [keras.KerasTensor(shape, dtype=self.compute_dtype) for shape in self._weights_shape(inputs.shape)]
        return (outputs, *weights)


def _channel_weights_shape(input_shape):
    return (input_shape[0], 1, 1, input_shape[-1])


def _spatial_weights_shape(input_shape):
    return (*input_shape[:3], 1)


def _check_reduction_ratio(reduction_ratio):
    check.check_integer_at_least(
        reduction_ratio,
        "reduction_ratio",
        1,
        expected="a positive integer r (the hidden layer has channels // r units; the paper uses 16)",
    )


def _build_bottleneck_mlp(layer, input_shape, names, output_activation=None):
    """The shared MLP of SE and CBAM's channel module, ``C -> C / r -> C`` with a ReLU between: two built
    ``Dense`` layers in the layer's dtype policy, named ``names``. Also checks the input shape and
    records the channels the layer is built for, in ``layer._channels``."""
    channels = _check_feature_map(input_shape, "inputs")
    _check_nonempty_map(input_shape, "inputs")
    units = _hidden_units(channels, layer.reduction_ratio, layer.__class__.__name__)
    layer._channels = channels
    policy = layer.dtype_policy
    hidden = keras.layers.Dense(units, activation="relu", dtype=policy, name=names[0])
    output = keras.layers.Dense(channels, activation=output_activation, dtype=policy, name=names[1])
    hidden.build((None, channels))
    output.build((None, units))
    return hidden, output


def _check_call_inputs(layer, inputs):
    """A feature map the layer can take: rank 4, not empty, the channels it was built for."""
    check.check_rank(inputs, "inputs", 4, "(batch_size, height, width, channels)")
    _check_nonempty_map(inputs.shape, "inputs")
    check.check_built_features(layer, inputs, "inputs", layer._channels, "channels")
