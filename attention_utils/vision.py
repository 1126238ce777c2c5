"""Attention over feature maps: CBAM (Woo et al. 2018), Squeeze-and-Excitation (Hu et al. 2018), ResNet-50.

| layer               | attends over             | source                   |
|---------------------|--------------------------|--------------------------|
| `ChannelAttention`  | channels                 | Woo et al. 2018, eq. 2   |
| `SpatialAttention`  | positions                | Woo et al. 2018, eq. 3   |
| `CBAM`              | channels, then positions | Woo et al. 2018, eq. 1   |
| `SqueezeExcitation` | channels                 | Hu et al. 2018, eqs. 2-4 |

Feature maps are channels-last, ``(batch_size, height, width, channels)``, with a height, width and
number of channels of at least 1: an empty map has no average to squeeze, so it raises ``ValueError``
(whenever its size is known when the layer is called) rather than give NaN. A batch of 0 maps gives
an empty result. The sub-layers follow each layer's dtype policy. Each layer returns a
feature map of the shape it received, and with ``return_attention_scores=True`` also the weights it
multiplied in: ``(batch_size, 1, 1, channels)`` for channel attention, ``(batch_size, height, width,
1)`` for spatial attention.

``resnet50`` builds the ResNet-50 of He et al. (2016) with one of these modules on the residual branch
of every bottleneck block, as in the official CBAM code, and ``count_multiply_adds`` counts its
multiply-adds the way the papers count FLOPs.
"""

import math

import keras
from keras import ops

from attention_utils import _validation as check


def _check_positive_int(value, name, expected="a positive integer", odd=False):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or (odd and value % 2 == 0):
        raise ValueError(f"Invalid value for argument {name}. Expected {expected}. Received: {name}={value!r}")


def _check_feature_map(shape, name):
    """Checks a ``(batch_size, height, width, channels)`` shape with known channels; returns channels."""
    shape = tuple(shape)
    if len(shape) != 4 or shape[-1] is None:
        raise ValueError(
            f"Invalid shape for argument {name}. Expected rank 4, (batch_size, height, width, channels), "
            f"with a known number of channels. Received: {name}.shape={shape}"
        )
    return shape[-1]


def _check_nonempty_map(shape, name):
    """Raises ``ValueError`` when the height, width or channels of a feature map are known to be 0."""
    shape = tuple(shape)
    if len(shape) == 4 and 0 in shape[1:]:
        raise ValueError(
            f"Invalid shape for argument {name}. Expected a feature map with height, width and channels of "
            f"at least 1 (an empty map has no average to pool). Received: {name}.shape={shape}"
        )


def _check_channels(layer, inputs, built_channels):
    """Raises ``ValueError`` when the input's channels differ from those the layer was built for."""
    channels = tuple(inputs.shape)[-1]
    if built_channels is not None and channels is not None and channels != built_channels:
        raise ValueError(
            f"Invalid shape for argument inputs. {layer.__class__.__name__} '{layer.name}' was built for "
            f"channels={built_channels} (inputs.shape[-1]), and its weights fix that number. "
            f"Received: inputs.shape={tuple(inputs.shape)}"
        )


def _max(x, axis, keepdims=False):
    """``ops.max``, except that an empty batch gives an empty result: the eager ``ops.max`` of an empty
    tensor raises. (The reduced axes are never empty: ``_check_nonempty_map`` sees to that.)"""
    if 0 in tuple(x.shape):
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
        _check_positive_int(reduction_ratio, "reduction_ratio",
                            "a positive integer r (the hidden layer has channels // r units; the paper uses 16)")
        self.reduction_ratio = reduction_ratio
        self.mlp_hidden = None
        self.mlp_output = None
        self._channels = None

    def build(self, input_shape):
        channels = _check_feature_map(input_shape, "inputs")
        _check_nonempty_map(input_shape, "inputs")
        units = _hidden_units(channels, self.reduction_ratio, self.__class__.__name__)
        self._channels = channels
        policy = self.dtype_policy
        self.mlp_hidden = keras.layers.Dense(units, activation="relu", dtype=policy, name="mlp_hidden")  # W_0
        self.mlp_output = keras.layers.Dense(channels, dtype=policy, name="mlp_output")  # W_1
        self.mlp_hidden.build((None, channels))
        self.mlp_output.build((None, units))

    def _mlp(self, descriptor):
        return self.mlp_output(self.mlp_hidden(descriptor))

    def call(self, inputs, return_attention_scores=False):
        check.check_rank(inputs, "inputs", 4, "(batch_size, height, width, channels)")
        _check_nonempty_map(inputs.shape, "inputs")
        _check_channels(self, inputs, self._channels)
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
       PyTorch momentum 0.01, which is Keras momentum 0.99).
    3. Squash with a sigmoid: one weight in ``(0, 1)`` per position, the spatial attention map ``M_s``
       of shape ``(batch_size, height, width, 1)``.
    4. Return ``M_s(F) * F``, every channel at a position rescaled by that position's weight.

    Args:
        kernel_size: a positive odd integer; the paper finds 7 best (section 4.1, Table 2).
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

    def __init__(self, kernel_size=7, **kwargs):
        super().__init__(**kwargs)
        _check_positive_int(kernel_size, "kernel_size", "a positive odd integer (the paper uses 7)", odd=True)
        self.kernel_size = kernel_size
        self.conv = keras.layers.Conv2D(
            1, kernel_size, padding="same", use_bias=False, dtype=self.dtype_policy, name="conv"
        )
        self.batch_norm = keras.layers.BatchNormalization(
            epsilon=1e-5, momentum=0.99, dtype=self.dtype_policy, name="batch_norm"
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
        return {**super().get_config(), "kernel_size": self.kernel_size}


@keras.saving.register_keras_serializable(package="attention_utils")
class CBAM(_FeatureMapAttention):
    """Convolutional Block Attention Module (Woo et al. 2018, eq. 1): channel, then spatial attention.

    ``F'  = M_c(F)  * F``   (``ChannelAttention``)
    ``F'' = M_s(F') * F'``  (``SpatialAttention``, computed from the channel-refined ``F'``)

    The two modules are sequential: the spatial map is computed from the output of the channel module,
    not from the input. Woo et al. compare the orders (section 4.1, Table 3) and find channel-first,
    sequential arrangement best.

    Args:
        reduction_ratio: ``r`` of the channel module's MLP, a positive integer (paper: 16).
        kernel_size: the spatial module's convolution size, a positive odd integer (paper: 7).
        **kwargs: base layer arguments, such as ``name`` and ``dtype``.

    Call arguments:
        inputs: a feature map of shape ``(batch_size, height, width, channels)``.
        training: passed to the spatial module's batch normalisation.
        return_attention_scores: if ``True``, also return both attention maps.

    Output:
        ``F''``, of the input's shape, and if ``return_attention_scores`` the channel weights
        ``(batch_size, 1, 1, channels)`` and the spatial weights ``(batch_size, height, width, 1)``.
    """

    def __init__(self, reduction_ratio=16, kernel_size=7, **kwargs):
        super().__init__(**kwargs)
        self._channels = None
        self.channel_attention = ChannelAttention(reduction_ratio, dtype=self.dtype_policy, name="channel_attention")
        self.spatial_attention = SpatialAttention(kernel_size, dtype=self.dtype_policy, name="spatial_attention")

    def build(self, input_shape):
        self._channels = _check_feature_map(input_shape, "inputs")
        self.channel_attention.build(input_shape)
        self.spatial_attention.build(input_shape)

    def call(self, inputs, training=None, return_attention_scores=False):
        check.check_rank(inputs, "inputs", 4, "(batch_size, height, width, channels)")
        _check_nonempty_map(inputs.shape, "inputs")
        _check_channels(self, inputs, self._channels)
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
        }


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
        _check_positive_int(reduction_ratio, "reduction_ratio",
                            "a positive integer r (the hidden layer has channels // r units; the paper uses 16)")
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
        _check_channels(self, inputs, self._channels)
        squeezed = ops.mean(inputs, axis=(1, 2))  # Hu et al. 2018, eq. 2
        weights = self.excite_output(self.excite_hidden(squeezed))  # eq. 3
        weights = ops.reshape(weights, (-1, 1, 1, ops.shape(inputs)[-1]))
        outputs = inputs * weights  # eq. 4
        return (outputs, weights) if return_attention_scores else outputs

    def _weights_shape(self, input_shape):
        return [_channel_weights_shape(input_shape)]

    def get_config(self):
        return {**super().get_config(), "reduction_ratio": self.reduction_ratio}


_MODULES = {"se": SqueezeExcitation, "cbam": CBAM}
# ResNet-50 (He et al. 2016, Table 1): (filters of the bottleneck, blocks) for stages conv2_x .. conv5_x.
_RESNET50_STAGES = ((64, 3), (128, 4), (256, 6), (512, 3))


def _conv_bn(x, filters, kernel_size, strides, name):
    # No bias: batch normalisation follows and its beta would absorb it (the usual ResNet definition).
    x = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False,
                            name=f"{name}_conv")(x)
    return keras.layers.BatchNormalization(epsilon=1e-5, name=f"{name}_bn")(x)


def _bottleneck(x, filters, strides, attention, name):
    """1x1 (stride), 3x3, 1x1 (4 x filters); the attention module ends the residual branch."""
    shortcut = x
    if strides != 1 or x.shape[-1] != 4 * filters:
        shortcut = _conv_bn(x, 4 * filters, 1, strides, f"{name}_0")
    branch = keras.layers.ReLU(name=f"{name}_1_relu")(_conv_bn(x, filters, 1, strides, f"{name}_1"))
    branch = keras.layers.ReLU(name=f"{name}_2_relu")(_conv_bn(branch, filters, 3, 1, f"{name}_2"))
    branch = _conv_bn(branch, 4 * filters, 1, 1, f"{name}_3")
    if isinstance(attention, str):
        branch = _MODULES[attention](name=f"{name}_{attention}")(branch)
    elif attention is not None:
        attended = attention(branch)
        if not hasattr(attended, "shape") or tuple(attended.shape) != tuple(branch.shape):
            received = f"shape {tuple(attended.shape)}" if hasattr(attended, "shape") else repr(attended)
            raise ValueError(
                "Invalid value for argument attention. Expected a callable that returns a feature map of "
                f"the shape it received, {tuple(branch.shape)} in block {name}. Received: {received} "
                f"from attention={attention!r}"
            )
        branch = attended
    return keras.layers.ReLU(name=f"{name}_out")(keras.layers.Add(name=f"{name}_add")([shortcut, branch]))


def resnet50(attention=None, input_shape=(224, 224, 3), num_classes=1000, name=None):
    """ResNet-50 (He et al. 2016), optionally with an attention module in every bottleneck block.

    The network of He et al. (2016, Table 1): a 7x7/2 convolution and a 3x3/2 max pool, then 3, 4, 6
    and 3 bottleneck blocks (1x1, 3x3, 1x1 convolutions, each followed by batch normalisation) with
    64, 128, 256 and 512 filters (4x as many out), global average pooling and a softmax classifier.
    Convolutions have no bias, and a stage's first block strides in its first 1x1 convolution, as in
    the original ResNet and ``keras.applications.ResNet50``. (The official CBAM code strides in the
    3x3 convolution instead: the same parameters, about 6% more multiply-adds.)

    The attention module goes on the residual branch of every block, after the last batch
    normalisation and before the addition of the shortcut, as in the official CBAM code. The weights
    are freshly initialised: nothing is downloaded.

    Args:
        attention: ``None``; ``"se"`` for ``SqueezeExcitation(16)``; ``"cbam"`` for ``CBAM(16, 7)``; or
            a callable taking the branch's feature map (a KerasTensor) and returning one of the same
            shape.
        input_shape: the image shape, channels last.
        num_classes: the number of output classes.
        name: the model's name; defaults to ``resnet50``, ``resnet50_se`` or ``resnet50_cbam``.

    Returns:
        A functional ``keras.Model`` from images to class probabilities.
    """
    if not (attention is None or attention in _MODULES or callable(attention)):
        raise ValueError(
            "Invalid value for argument attention. Expected None, one of ['cbam', 'se'] or a callable "
            f"mapping a feature map to one of the same shape. Received: attention={attention!r}"
        )
    _check_positive_int(num_classes, "num_classes")
    if name is None:
        name = "resnet50" if not isinstance(attention, str) else f"resnet50_{attention}"
    inputs = keras.Input(input_shape, name="image")
    x = keras.layers.ReLU(name="conv1_relu")(_conv_bn(inputs, 64, 7, 2, "conv1"))
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    for stage, (filters, blocks) in enumerate(_RESNET50_STAGES, start=2):
        for block in range(1, blocks + 1):
            strides = 2 if block == 1 and stage > 2 else 1
            x = _bottleneck(x, filters, strides, attention, f"conv{stage}_block{block}")
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def count_multiply_adds(model):
    """Multiply-adds of one forward pass of ``model`` on a single example, as the papers count FLOPs.

    He et al. (2016), Hu et al. (2018) and Woo et al. (2018) report "FLOPs" as multiply-adds of the
    convolutions and fully connected layers. This function traces the model (TensorFlow backend) for a
    batch of one and sums, over every ``Conv2D`` op, ``output elements x kernel height x kernel width x
    input channels``, and over every matrix product, ``output elements x inner dimension``. An MLP
    applied twice is counted twice. Poolings, batch normalisation, activations and element-wise
    products and sums are not counted (nor are they by the papers).

    Args:
        model: a built Keras model whose inputs have known shapes apart from the batch dimension.

    Returns:
        The number of multiply-adds, an ``int``.
    """
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            "count_multiply_adds reads TensorFlow's graph; it needs KERAS_BACKEND=tensorflow. "
            f"Received: backend={keras.backend.backend()!r}"
        )
    import tensorflow as tf

    specs = [tf.TensorSpec((1, *tensor.shape[1:]), tensor.dtype) for tensor in model.inputs]
    for spec in specs:
        if None in spec.shape:
            raise ValueError(
                "Invalid value for argument model. Expected inputs of known shape apart from the batch "
                f"dimension. Received: model input shape {tuple(spec.shape)}"
            )

    def forward(*inputs):
        return model(list(inputs) if len(inputs) > 1 else inputs[0], training=False)

    graph = tf.function(forward).get_concrete_function(*specs).graph
    total = 0
    for op in graph.get_operations():
        if op.type == "Conv2D":
            kernel_height, kernel_width, in_channels, _ = op.inputs[1].shape
            total += math.prod(op.outputs[0].shape) * kernel_height * kernel_width * in_channels
        elif op.type in ("MatMul", "BatchMatMulV2"):
            transposed = op.get_attr("transpose_a" if op.type == "MatMul" else "adj_x")
            inner = op.inputs[0].shape[-2 if transposed else -1]
            total += math.prod(op.outputs[0].shape) * inner
    return int(total)
