"""Whole models the notebooks reuse: a character translator with or without attention, ResNet-50 with an
attention module, and the counts the papers give.

``seq2seq_translator`` builds notebook 09's encoder-decoder (a bidirectional GRU encoder and a decoder
without attention, with Bahdanau's or with Luong's attention), which notebook 09 writes from scratch and
notebook 10 imports.

``resnet50`` builds the ResNet-50 of He et al. (2016) with one of the feature-map attention modules
(``"se"``: ``SqueezeExcitation``, ``"cbam"``: ``CBAM``) on the residual branch of every bottleneck
block, as in the official CBAM code; ``count_multiply_adds`` counts its multiply-adds the way the
papers count FLOPs; ``trainable_parameters`` counts parameters the way the papers (and PyTorch's
``parameters()``) do.
"""

import math

import keras
import numpy as np

from attention_utils import _validation as check
from attention_utils.layers.cbam import CBAM
from attention_utils.layers.decoder import BahdanauDecoder
from attention_utils.layers.luong import LuongAttention
from attention_utils.layers.squeeze_excitation import SqueezeExcitation


def trainable_parameters(model_or_layer):
    """The number of trainable weights of a model or layer: what the papers count as parameters.

    Batch normalisation's moving statistics are state, not parameters, so they are left out, as
    PyTorch's ``parameters()`` leaves them out; ``count_params()`` counts them.
    """
    if not isinstance(model_or_layer, keras.layers.Layer):
        raise TypeError(
            "Invalid value for argument model_or_layer. Expected a Keras model or layer. "
            f"Received: model_or_layer={model_or_layer!r}"
        )
    return sum(int(np.prod(weight.shape)) for weight in model_or_layer.trainable_weights)


SEQ2SEQ_DECODERS = ("none", "bahdanau", "luong")


def seq2seq_translator(
    decoder,
    source_vocabulary_size,
    target_vocabulary_size,
    source_length,
    target_length,
    embedding_dim=32,
    encoder_units=32,
    decoder_units=64,
    name=None,
):
    """An RNN encoder-decoder over token ids, without attention or with Bahdanau's or Luong's.

    The model of notebook 09, built from the same layers with the same names:
    1. Encoder (Bahdanau et al. 2014, section 3.2): an ``Embedding`` with ``mask_zero=True`` (id 0 is
       padding) and a bidirectional GRU (``"encoder"``) whose outputs are the annotations
       ``h_j = [fwd_j; bwd_j]``, ``(batch_size, source_length, 2 * encoder_units)``. The decoder starts
       from ``s_0 = tanh(W_s [fwd_Tx; bwd_1])`` (``"initial_state"``).
    2. The previous targets ``y_{i-1}`` (teacher forcing) are embedded (``"target_embedding"``).
    3. Decoder (``"decoder"``):
       - ``"none"``: ``s_i = GRU(s_{i-1}, y_{i-1})``; the source reaches it through ``s_0`` only
         (Sutskever et al. 2014). Features ``s_i``.
       - ``"bahdanau"``: ``BahdanauDecoder``, attending with ``s_{i-1}`` and feeding ``c_i`` into the GRU
         step. Features ``[s_i; c_i; y_{i-1}]`` (the paper's eq. 4).
       - ``"luong"``: the GRU step first, then ``LuongAttention("general")`` (``"attention"``) with the
         current state ``h_t`` as query (Luong et al. 2015, eqs. 5-8, without input feeding).
         Features ``[c_t; h_t]``.
    4. Output: ``Dense(decoder_units, tanh)`` (``"hidden"``; Luong's ``h~_t``) and a linear layer to
       one logit per target token (``"logits"``).

    Args:
        decoder: one of ``"none"``, ``"bahdanau"``, ``"luong"``.
        source_vocabulary_size, target_vocabulary_size: numbers of token ids, at least 2 (id 0 is
            padding in the source).
        source_length, target_length: ``Tx`` and ``Ty``, positive integers (the Bahdanau decoder's loop
            is unrolled over ``Ty`` steps).
        embedding_dim, encoder_units, decoder_units: layer sizes, positive integers.
        name: the model's name; defaults to ``"translator_<decoder>"``.

    Returns:
        ``(model, aligner)``: ``model`` maps ``[source (batch_size, Tx), previous_targets (batch_size,
        Ty)]``, integer ids, to logits ``(batch_size, Ty, target_vocabulary_size)``; ``aligner`` shares
        its layers and returns the attention weights ``(batch_size, Ty, Tx)``, or is ``None`` for
        ``decoder="none"``.
    """
    check.check_one_of(decoder, "decoder", SEQ2SEQ_DECODERS)
    for argument, value, minimum in (
        ("source_vocabulary_size", source_vocabulary_size, 2),
        ("target_vocabulary_size", target_vocabulary_size, 2),
        ("source_length", source_length, 1),
        ("target_length", target_length, 1),
        ("embedding_dim", embedding_dim, 1),
        ("encoder_units", encoder_units, 1),
        ("decoder_units", decoder_units, 1),
    ):
        check.check_integer_at_least(value, argument, minimum)
    source = keras.Input((source_length,), dtype="int32", name="source")
    previous_targets = keras.Input((target_length,), dtype="int32", name="previous_targets")
    embedded_source = keras.layers.Embedding(source_vocabulary_size, embedding_dim, mask_zero=True)(source)
    annotations, forward_final, backward_final = keras.layers.Bidirectional(
        keras.layers.GRU(encoder_units, return_sequences=True, return_state=True), name="encoder"
    )(embedded_source)
    initial_state = keras.layers.Dense(decoder_units, activation="tanh", name="initial_state")(
        keras.layers.Concatenate()([forward_final, backward_final])
    )
    embedded_previous = keras.layers.Embedding(target_vocabulary_size, embedding_dim, name="target_embedding")(
        previous_targets
    )
    weights = None
    if decoder == "bahdanau":
        states, contexts, weights = BahdanauDecoder(decoder_units, name="decoder")(
            embedded_previous, annotations, initial_state, return_attention_scores=True
        )
        features = keras.layers.Concatenate()([states, contexts, embedded_previous])
    else:
        states = keras.layers.GRU(decoder_units, return_sequences=True, name="decoder")(
            embedded_previous, initial_state=initial_state
        )
        features = states
        if decoder == "luong":
            contexts, weights = LuongAttention("general", name="attention")(
                [states, annotations], return_attention_scores=True
            )
            features = keras.layers.Concatenate()([contexts, states])
    hidden = keras.layers.Dense(decoder_units, activation="tanh", name="hidden")(features)
    logits = keras.layers.Dense(target_vocabulary_size, name="logits")(hidden)
    model = keras.Model([source, previous_targets], logits, name=name or f"translator_{decoder}")
    aligner = None if weights is None else keras.Model([source, previous_targets], weights)
    return model, aligner


_MODULES = {"se": SqueezeExcitation, "cbam": CBAM}
# ResNet-50 (He et al. 2016, Table 1): (filters of the bottleneck, blocks) for stages conv2_x .. conv5_x.
_RESNET50_STAGES = ((64, 3), (128, 4), (256, 6), (512, 3))


def _conv_bn(x, filters, kernel_size, strides, name):
    # No bias: batch normalisation follows and its beta would absorb it (the usual ResNet definition).
    x = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(
        x
    )
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
    check.check_option_or_callable(
        attention, "attention", _MODULES, "a callable mapping a feature map to one of the same shape"
    )
    check.check_integer_at_least(num_classes, "num_classes", 1)
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
