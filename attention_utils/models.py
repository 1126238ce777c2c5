"""Whole models the notebooks reuse: a character translator with or without attention, a Transformer
language model, ResNet-50 with an attention module, and the counts the papers give.

``seq2seq_translator`` builds notebook 09's encoder-decoder (a bidirectional GRU encoder and a decoder
without attention, with Bahdanau's or with Luong's attention), which notebook 09 writes from scratch and
notebook 10 imports. ``transformer_translator`` builds the encoder-decoder Transformer that notebook 13
trains on the same task, with the same inputs and outputs. ``TransformerLanguageModel`` is a decoder-only
Transformer (GPT) that predicts each next token, with a choice of positions (sinusoidal, learned, rotary,
ALiBi or none), grouped-query attention and a key-value cache for generating (``decoding.generate``).

``resnet50`` builds the ResNet-50 of He et al. (2016) with one of the feature-map attention modules
(``"se"``: ``SqueezeExcitation``, ``"cbam"``: ``CBAM``) on the residual branch of every bottleneck
block, as in the official CBAM code; ``count_multiply_adds`` counts its multiply-adds the way the
papers count FLOPs; ``trainable_parameters`` counts parameters the way the papers (and PyTorch's
``parameters()``) do.
"""

import math

import keras
import numpy as np
from keras import ops

from attention_utils import _validation as check
from attention_utils.layers.causal import check_num_key_value_heads
from attention_utils.layers.cbam import CBAM
from attention_utils.layers.decoder import BahdanauDecoder
from attention_utils.layers.luong import LuongAttention
from attention_utils.layers.squeeze_excitation import SqueezeExcitation
from attention_utils.layers.transformer import PositionalEmbedding, TransformerDecoderBlock, TransformerEncoderBlock
from attention_utils.positional import sinusoidal_positional_encoding


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


def transformer_translator(
    source_vocabulary_size,
    target_vocabulary_size,
    source_length,
    target_length,
    d_model=64,
    num_heads=4,
    ff_dim=128,
    num_layers=1,
    dropout=0.0,
    name="translator_transformer",
):
    """The encoder-decoder Transformer of Vaswani et al. (2017, figure 1) over token ids.

    A drop-in for ``seq2seq_translator``: the same inputs and outputs, so that the same training,
    ``greedy_decode`` and alignment measures apply.
    1. Encoder: ``PositionalEmbedding(mask_zero=True)`` of the source (id 0 is padding), then
       ``num_layers`` ``TransformerEncoderBlock`` (``"encoder_0"``, ...), ``(batch_size, Tx, d_model)``.
    2. Decoder: ``PositionalEmbedding`` of the previous targets (teacher forcing), then ``num_layers``
       ``TransformerDecoderBlock`` (``"decoder_0"``, ...): causal self-attention, attention over the
       encoder's outputs with the source padding masked out, feed-forward; ``(batch_size, Ty, d_model)``.
    3. Output: a linear layer to one logit per target token (``"logits"``; the paper's final linear
       layer before the softmax).

    Args:
        source_vocabulary_size, target_vocabulary_size: numbers of token ids, at least 2 (id 0 is
            padding in the source).
        source_length, target_length: ``Tx`` and ``Ty``, positive integers.
        d_model: the width of every layer, a positive even integer divisible by ``num_heads``.
        num_heads, ff_dim, num_layers: positive integers (the paper's base model: 8, 2048, 6).
        dropout: the residual dropout of every block, in ``[0, 1)``.
        name: the model's name.

    Returns:
        ``(model, aligner)``: ``model`` maps ``[source (batch_size, Tx), previous_targets (batch_size,
        Ty)]``, integer ids, to logits ``(batch_size, Ty, target_vocabulary_size)``; ``aligner`` shares
        its layers and returns the last decoder block's encoder-decoder attention weights
        ``(batch_size, num_heads, Ty, Tx)``.
    """
    for argument, value, minimum in (
        ("source_vocabulary_size", source_vocabulary_size, 2),
        ("target_vocabulary_size", target_vocabulary_size, 2),
        ("source_length", source_length, 1),
        ("target_length", target_length, 1),
        ("num_heads", num_heads, 1),
        ("ff_dim", ff_dim, 1),
        ("num_layers", num_layers, 1),
    ):
        check.check_integer_at_least(value, argument, minimum)
    check.check_integer_at_least(d_model, "d_model", 2, parity="even")
    if d_model % num_heads:
        raise ValueError(
            f"Invalid value for argument num_heads. Expected a divisor of d_model={d_model} (each head gets "
            f"d_model // num_heads dimensions). Received: num_heads={num_heads}"
        )
    source = keras.Input((source_length,), dtype="int32", name="source")
    previous_targets = keras.Input((target_length,), dtype="int32", name="previous_targets")
    encoded = PositionalEmbedding(
        source_vocabulary_size, source_length, d_model, mask_zero=True, name="source_embedding"
    )(source)
    for layer in range(num_layers):
        encoded = TransformerEncoderBlock(num_heads, ff_dim, dropout=dropout, name=f"encoder_{layer}")(encoded)
    decoded = PositionalEmbedding(target_vocabulary_size, target_length, d_model, name="target_embedding")(
        previous_targets
    )
    for layer in range(num_layers):
        decoded, _, weights = TransformerDecoderBlock(num_heads, ff_dim, dropout=dropout, name=f"decoder_{layer}")(
            decoded,
            encoded,
            return_attention_scores=True,  # the source's padding mask rides on `encoded`
        )
    logits = keras.layers.Dense(target_vocabulary_size, name="logits")(decoded)
    model = keras.Model([source, previous_targets], logits, name=name)
    return model, keras.Model([source, previous_targets], weights)


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

    TensorFlow only: the count reads the operations of the TensorFlow graph that ``tf.function`` traces
    (their types and shapes), which no other backend builds; on another backend, a ``RuntimeError``
    naming ``KERAS_BACKEND``.

    Args:
        model: a built Keras model whose inputs have known shapes apart from the batch dimension.

    Returns:
        The number of multiply-adds, an ``int``.
    """
    check.check_backend("count_multiply_adds reads TensorFlow's graph")
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


_LANGUAGE_MODEL_POSITIONS = ("sinusoidal", "learned", "rotary", "alibi", "none")


@keras.saving.register_keras_serializable(package="attention_utils")
class TransformerLanguageModel(keras.Model):
    """A decoder-only Transformer language model (GPT: Radford et al. 2018, 2019) over token ids.

    It predicts each next token from the tokens before it. For ``tokens`` of shape ``(batch_size, T)`` at
    positions ``P, ..., P + T - 1`` (``P`` the length of the ``cache``, 0 without one):

    1. Embed: ``x = Embedding(tokens) * sqrt(d_model)``, ``(batch_size, T, d_model)`` (Vaswani et al. 2017,
       section 3.4, as ``PositionalEmbedding``), plus, by ``positions``:
       - ``"sinusoidal"``: the fixed encodings of the positions, ``sinusoidal_positional_encoding`` rows
         ``P .. P + T - 1`` of a table of ``max_length`` rows (Vaswani et al. 2017, section 3.5);
       - ``"learned"``: rows ``P .. P + T - 1`` of a trainable table ``(max_length, d_model)`` (GPT);
       - ``"rotary"``: nothing; every self-attention rotates its queries and keys (RoPE, Su et al. 2021);
       - ``"alibi"``: nothing; every self-attention biases its scores by distance (Press et al. 2022);
       - ``"none"``: nothing at all. The causal mask alone lets a decoder infer positions (Haviv et al.
         2022, "Transformer language models without positional encodings still learn positional
         information").
       Then ``x = Dropout(x)`` (section 5.4).
    2. ``num_layers`` decoder-only ``TransformerDecoderBlock`` (``"decoder_0"``, ...): causal
       self-attention with ``num_heads`` query heads of size ``d_model // num_heads`` and
       ``num_key_value_heads`` key/value heads, then the feed-forward network of size ``ff_dim``.
    3. With ``norm_first`` (pre-LN, as GPT-2), a final ``LayerNormalization`` (``"final_norm"``): pre-LN
       blocks leave their output unnormalised.
    4. ``logits = Dense(vocabulary_size)(x)`` (``"logits"``), ``(batch_size, T, vocabulary_size)``.

    Token id 0 is an ordinary token here: a language model's training sequences are full, so there is
    no padding and no mask.

    Decoding with a key-value cache: ``cache = model.empty_cache(batch_size)``, then
    ``logits, cache = model(tokens, cache=cache)`` with the prompt, then with each new token. Each call
    computes the new tokens only (their positions start where the cache ends), and its logits equal
    those of a call on the whole sequence so far. ``attention_utils.decoding.generate`` does the loop.

    Args:
        vocabulary_size: the number of token ids, a positive integer.
        max_length: the number of rows of the position table with ``"sinusoidal"`` and ``"learned"``
            positions: tokens at positions ``max_length`` and beyond are a ``ValueError`` (where the
            length is known when the model is called). The other ``positions`` have no limit.
        d_model: the width of every layer, a positive integer divisible by ``num_heads`` (even with
            ``"sinusoidal"``; ``d_model // num_heads`` even with ``"rotary"``).
        num_heads: the number of query heads of each self-attention, a positive integer.
        ff_dim: the size of the feed-forward networks' hidden layer, a positive integer.
        num_layers: the number of decoder blocks, a positive integer.
        num_key_value_heads: the key/value heads of each self-attention, a positive divisor of
            ``num_heads`` (grouped-query attention; 1 for multi-query); ``None`` for ``num_heads``.
        positions: one of ``"sinusoidal"``, ``"learned"``, ``"rotary"``, ``"alibi"``, ``"none"``.
        dropout: the dropout rate of the embeddings and of every block's residual branches, in ``[0, 1)``.
        norm_first: ``False`` for post-LN blocks as in Vaswani et al. and GPT, ``True`` for pre-LN as in
            GPT-2; a bool.
        **kwargs: ``keras.Model`` arguments, such as ``name`` and ``dtype``; every layer follows the
            model's dtype policy.

    Call arguments:
        tokens: integer token ids ``(batch_size, T)``.
        cache: optional, a list of ``num_layers`` ``(keys, values)`` pairs, one per block, each
            ``(batch_size, P, num_key_value_heads, d_model // num_heads)``: ``empty_cache`` or the cache a
            previous call returned.
        training: whether dropout is active; Keras sets it in ``fit``.

    Output:
        ``logits`` ``(batch_size, T, vocabulary_size)``; with a ``cache``, ``(logits, new_cache)``, the
        cache of ``P + T`` positions.

    Also: ``empty_cache(batch_size)``; ``max_positions``, ``max_length`` with a position table and
    ``None`` without (what ``generate`` checks lengths against); ``key_dim``, ``d_model // num_heads``.
    """

    def __init__(
        self,
        vocabulary_size,
        max_length,
        d_model=64,
        num_heads=4,
        ff_dim=128,
        num_layers=2,
        num_key_value_heads=None,
        positions="sinusoidal",
        dropout=0.0,
        norm_first=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for argument, value in (
            ("vocabulary_size", vocabulary_size),
            ("max_length", max_length),
            ("d_model", d_model),
            ("num_heads", num_heads),
            ("ff_dim", ff_dim),
            ("num_layers", num_layers),
        ):
            check.check_integer_at_least(value, argument, 1)
        num_key_value_heads = num_heads if num_key_value_heads is None else num_key_value_heads
        check_num_key_value_heads(num_key_value_heads, num_heads)
        check.check_one_of(positions, "positions", _LANGUAGE_MODEL_POSITIONS)
        check.check_rate(dropout, "dropout")
        check.check_bool(norm_first, "norm_first")
        if d_model % num_heads:
            raise ValueError(
                f"Invalid value for argument d_model. Expected a multiple of num_heads={num_heads} (each head "
                f"gets d_model // num_heads dimensions). Received: d_model={d_model!r}"
            )
        if positions == "rotary" and (d_model // num_heads) % 2:
            raise ValueError(
                f"Invalid value for argument d_model. Expected d_model // num_heads even with "
                f"positions='rotary' (RoPE turns pairs of features). Received: d_model={d_model!r}, "
                f"num_heads={num_heads!r}"
            )
        if positions == "sinusoidal" and d_model % 2:
            raise ValueError(
                "Invalid value for argument d_model. Expected an even number with positions='sinusoidal' "
                f"(sines and cosines come in pairs). Received: d_model={d_model!r}"
            )
        # Python numbers and bools (not NumPy ones), for get_config
        self.vocabulary_size, self.max_length, self.d_model = int(vocabulary_size), int(max_length), int(d_model)
        self.num_heads, self.ff_dim, self.num_layers = int(num_heads), int(ff_dim), int(num_layers)
        self.num_key_value_heads, self.key_dim = int(num_key_value_heads), self.d_model // self.num_heads
        self.positions, self.dropout, self.norm_first = positions, dropout, bool(norm_first)
        policy = self.dtype_policy
        self.token_embedding = keras.layers.Embedding(vocabulary_size, d_model, dtype=policy, name="token_embedding")
        self.position_embedding = None
        if positions == "learned":
            self.position_embedding = keras.layers.Embedding(
                max_length, d_model, dtype=policy, name="position_embedding"
            )
        self.sinusoids = None
        if positions == "sinusoidal":
            encoding_dtype = "float64" if self.compute_dtype == "float64" else "float32"
            self.sinusoids = sinusoidal_positional_encoding(max_length, d_model, dtype=encoding_dtype)
        self.embedding_dropout = keras.layers.Dropout(dropout, dtype=policy, name="embedding_dropout")
        self.blocks = [
            TransformerDecoderBlock(
                num_heads,
                ff_dim,
                num_key_value_heads=num_key_value_heads,
                dropout=dropout,
                norm_first=norm_first,
                rotary=positions == "rotary",
                alibi=positions == "alibi",
                dtype=policy,
                name=f"decoder_{layer}",
            )
            for layer in range(num_layers)
        ]
        self.final_norm = None
        if norm_first:
            self.final_norm = keras.layers.LayerNormalization(epsilon=1e-6, dtype=policy, name="final_norm")
        self.logits = keras.layers.Dense(vocabulary_size, dtype=policy, name="logits")

    @property
    def max_positions(self):
        """The most positions the model can read, ``max_length`` with a position table
        (``"sinusoidal"``, ``"learned"``), ``None`` (no limit) with the others."""
        return self.max_length if self.positions in ("sinusoidal", "learned") else None

    def build(self, tokens_shape):
        tokens_shape = tuple(tokens_shape)  # a list when read back from a saved build config
        self._check_length(tokens_shape, 0)
        hidden_shape = (*tokens_shape, self.d_model)
        self.token_embedding.build(tokens_shape)
        if self.position_embedding is not None:
            self.position_embedding.build((tokens_shape[1],))
        for block in self.blocks:
            block.build(hidden_shape)
        if self.final_norm is not None:
            self.final_norm.build(hidden_shape)
        self.logits.build(hidden_shape)

    def empty_cache(self, batch_size):
        """The cache before the first token: a list of ``num_layers`` ``(keys, values)`` pairs, each
        ``(batch_size, 0, num_key_value_heads, d_model // num_heads)``, in the compute dtype. (Builds the
        model if it is not built yet: the caches come from its blocks.)"""
        check.check_integer_at_least(batch_size, "batch_size", 0)
        if not self.built:
            self.build((None, None))
        return [block.self_attention.empty_cache(batch_size) for block in self.blocks]

    def call(self, tokens, cache=None, training=None):
        tokens, cache = self._check_call_arguments(tokens, cache)
        num_cached = 0 if cache is None else ops.shape(cache[0][0])[1]
        positions = num_cached + ops.arange(ops.shape(tokens)[1])  # of the new tokens
        x = self.token_embedding(tokens) * ops.cast(math.sqrt(self.d_model), self.compute_dtype)  # 1.
        if self.position_embedding is not None:
            x = x + self.position_embedding(positions)[None]
        elif self.sinusoids is not None:
            x = x + ops.take(ops.convert_to_tensor(self.sinusoids, self.compute_dtype), positions, axis=0)[None]
        x = self.embedding_dropout(x, training=training)
        new_cache = []
        for layer, block in enumerate(self.blocks):  # 2.
            if cache is None:
                x = block(x, training=training)
            else:
                x, block_cache = block(x, cache=cache[layer], training=training)
                new_cache.append(block_cache)
        if self.final_norm is not None:  # 3.
            x = self.final_norm(x)
        logits = self.logits(x)  # 4.
        return logits if cache is None else (logits, new_cache)

    def _check_length(self, tokens_shape, num_cached):
        """With a position table, at most ``max_length`` positions, where the lengths are known."""
        length = tokens_shape[1]
        if self.max_positions is None or length is None or num_cached is None:
            return
        if num_cached + length > self.max_positions:
            after = f" after a cache of {num_cached} positions" if num_cached else ""
            raise ValueError(
                f"Invalid shape for argument tokens. Expected positions below max_length={self.max_length} "
                f"(positions={self.positions!r}: the position table has no row beyond). Received: "
                f"tokens.shape={tokens_shape}{after}"
            )

    def _check_call_arguments(self, tokens, cache):
        """Checks the tokens (integer ids, rank 2, within the position table) and the cache (one pair per
        block); returns the tokens as a tensor and the cache."""
        if not hasattr(tokens, "shape"):
            tokens = ops.convert_to_tensor(tokens)
        dtype = keras.backend.standardize_dtype(tokens.dtype)
        if not dtype.startswith(("int", "uint")):
            raise TypeError(
                f"Invalid value for argument tokens. Expected integer token ids. Received: tokens with dtype {dtype}"
            )
        check.check_rank(tokens, "tokens", 2, "(batch_size, T) token ids")
        if cache is None:
            self._check_length(tuple(tokens.shape), 0)
            return tokens, None
        expected = f"a list of num_layers={self.num_layers} (keys, values) pairs, as empty_cache returns"
        if not isinstance(cache, (list, tuple)):
            raise TypeError(f"Invalid value for argument cache. Expected {expected}. Received: cache={cache!r}")
        if len(cache) != self.num_layers or not all(isinstance(pair, (list, tuple)) for pair in cache):
            raise ValueError(
                f"Invalid value for argument cache. Expected {expected}. Received: a cache of {len(cache)} "
                f"entries of types {[type(pair).__name__ for pair in cache]}"
            )
        self._check_length(tuple(tokens.shape), tuple(cache[0][0].shape)[1])
        return tokens, cache

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "max_length": self.max_length,
            "d_model": self.d_model,
            "num_heads": self.num_heads,
            "ff_dim": self.ff_dim,
            "num_layers": self.num_layers,
            "num_key_value_heads": self.num_key_value_heads,
            "positions": self.positions,
            "dropout": self.dropout,
            "norm_first": self.norm_first,
        }
