"""Edge cases of the layers: dtype policies, empty batches, empty feature maps, bad masks and flags,
feature sizes that change after ``build``. Each was a silent wrong answer or an obscure error."""

import keras
import numpy as np
import pytest
from helpers import numpy_of, tensorflow_only

from attention_utils import layers, models
from attention_utils.positional import sinusoidal_positional_encoding

DTYPES = ["float64", "float16", "bfloat16", "mixed_float16"]
COMPUTE_DTYPE = {"float64": "float64", "float16": "float16", "bfloat16": "bfloat16", "mixed_float16": "float16"}


def dtype_of(x):
    return keras.backend.standardize_dtype(x.dtype)


def draw(rng, *shape):
    return rng.normal(size=shape).astype("float32")


# Every layer with a way to build its inputs: name -> (factory(**base_kwargs), inputs(rng, batch_size)).
def _query_value(rng, batch):
    return [draw(rng, batch, 3, 5), draw(rng, batch, 4, 6)]


LAYERS = {
    "BahdanauAttention": (lambda **kw: layers.BahdanauAttention(4, **kw), _query_value),
    "LuongAttention": (lambda **kw: layers.LuongAttention("concat", **kw), _query_value),
    "LocalAttention-m": (lambda **kw: layers.LocalAttention(1, **kw), _query_value),
    "LocalAttention-p": (lambda **kw: layers.LocalAttention(1, mode="predictive", **kw), _query_value),
    "HardAttention": (lambda **kw: layers.HardAttention("argmax", **kw), _query_value),
    "ParallelCoAttention": (lambda **kw: layers.ParallelCoAttention(4, **kw), _query_value),
    "AttentionPooling": (lambda **kw: layers.AttentionPooling(4, **kw), lambda rng, b: draw(rng, b, 3, 5)),
    "DynamicMetaEmbedding": (
        lambda **kw: layers.DynamicMetaEmbedding(4, **kw),
        lambda rng, b: [draw(rng, b, 3, 5), draw(rng, b, 3, 6)],
    ),
    "StructuredSelfAttention": (
        lambda **kw: layers.StructuredSelfAttention(4, 2, **kw),
        lambda rng, b: draw(rng, b, 3, 5),
    ),
    "TransformerEncoderBlock": (
        lambda **kw: layers.TransformerEncoderBlock(2, 8, **kw),
        lambda rng, b: draw(rng, b, 3, 4),
    ),
    "PositionalEmbedding": (
        lambda **kw: layers.PositionalEmbedding(10, 5, 4, **kw),
        lambda rng, b: rng.integers(0, 10, size=(b, 3)).astype("int32"),
    ),
    "CBAM": (lambda **kw: layers.CBAM(2, 3, **kw), lambda rng, b: draw(rng, b, 4, 4, 4)),
    "SqueezeExcitation": (lambda **kw: layers.SqueezeExcitation(2, **kw), lambda rng, b: draw(rng, b, 4, 4, 4)),
    "ChannelAttention": (lambda **kw: layers.ChannelAttention(2, **kw), lambda rng, b: draw(rng, b, 4, 4, 4)),
    "SpatialAttention": (lambda **kw: layers.SpatialAttention(3, **kw), lambda rng, b: draw(rng, b, 4, 4, 4)),
}


def _first(outputs):
    return outputs[0] if isinstance(outputs, (list, tuple)) else outputs


def _decoder_inputs(rng, batch):
    return draw(rng, batch, 3, 5), draw(rng, batch, 4, 6), draw(rng, batch, 4)


# ---- 1. dtype policies ----


@pytest.mark.parametrize("policy", DTYPES)
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_output_has_the_compute_dtype_of_the_policy(rng, name, policy):
    make, inputs = LAYERS[name]
    layer = make(dtype=policy)
    outputs = layer(inputs(rng, 2))
    assert dtype_of(_first(outputs)) == COMPUTE_DTYPE[policy]
    for sublayer in layer._flatten_layers(include_self=False):
        assert sublayer.dtype_policy.name == policy, sublayer.name


@pytest.mark.parametrize("policy", DTYPES)
def test_bahdanau_decoder_computes_in_the_dtype_of_its_policy(rng, policy):
    decoder = layers.BahdanauDecoder(4, dtype=policy)
    inputs, annotations, state = _decoder_inputs(rng, 2)
    mask = np.array([[True, True, True, False], [True, True, True, True]])
    states, contexts, weights = decoder(inputs, annotations, state, annotations_mask=mask, return_attention_scores=True)
    assert {dtype_of(states), dtype_of(contexts), dtype_of(weights)} == {COMPUTE_DTYPE[policy]}
    assert decoder.attention.dtype_policy.name == decoder.cell.dtype_policy.name == policy


def _same_weights(make, inputs, call=lambda layer, x: layer(x)):
    """The outputs of a float32 layer and of a float64 one given the same weights."""
    single = make(dtype="float32")
    expected = call(single, inputs)
    double = make(dtype="float64")
    call(double, inputs)
    double.set_weights(single.get_weights())
    return expected, call(double, inputs)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_float64_matches_float32_with_the_same_weights(rng, name):
    make, inputs = LAYERS[name]
    expected, outputs = _same_weights(make, inputs(rng, 2))
    assert dtype_of(_first(outputs)) == "float64"
    np.testing.assert_allclose(numpy_of(_first(outputs)), numpy_of(_first(expected)), rtol=1e-5, atol=1e-5)


def test_bahdanau_decoder_float64_matches_float32_with_the_same_weights(rng):
    expected, outputs = _same_weights(
        lambda **kw: layers.BahdanauDecoder(4, **kw), _decoder_inputs(rng, 2), lambda layer, x: layer(*x)
    )
    for ours, theirs in zip(outputs, expected):
        assert dtype_of(ours) == "float64"
        np.testing.assert_allclose(numpy_of(ours), numpy_of(theirs), rtol=1e-5, atol=1e-5)


def test_positional_embedding_uses_float64_encodings_under_a_float64_policy():
    layer = layers.PositionalEmbedding(10, 5, 4, dtype="float64")
    np.testing.assert_array_equal(layer.encoding, sinusoidal_positional_encoding(5, 4, dtype="float64"))
    assert layers.PositionalEmbedding(10, 5, 4).encoding.dtype == np.float32


def test_positional_encoding_dtype_must_be_a_float_dtype():
    for dtype in ["int32", "not a dtype"]:
        with pytest.raises(TypeError, match="argument dtype"):
            sinusoidal_positional_encoding(5, 4, dtype=dtype)


# ---- 2. masks of the wrong length ----


@pytest.mark.parametrize("mode", ["monotonic", "predictive"])
def test_local_attention_rejects_a_value_mask_of_the_wrong_length(rng, mode):
    query, value = _query_value(rng, 2)
    with pytest.raises(ValueError, match=r"argument value_mask.*value_mask.shape=\(2, 3\)"):
        layers.LocalAttention(1, mode=mode)([query, value], mask=[None, np.ones((2, 3), bool)])
    with pytest.raises(ValueError, match=r"argument query_mask.*query_mask.shape=\(2, 4\)"):
        layers.LocalAttention(1, mode=mode)([query, value], mask=[np.ones((2, 4), bool), None])


@pytest.mark.parametrize("make", [lambda: layers.LuongAttention("dot"), lambda: layers.HardAttention("argmax")])
def test_attention_layers_reject_a_value_mask_of_the_wrong_length(rng, make):
    query, value = rng.normal(size=(2, 3, 6)), rng.normal(size=(2, 4, 6))
    with pytest.raises(ValueError, match=r"argument value_mask.*value_mask.shape=\(2, 5\)"):
        make()([query, value], mask=[None, np.ones((2, 5), bool)])


def test_co_attention_and_decoder_reject_masks_of_the_wrong_length(rng):
    question, image = _query_value(rng, 2)
    with pytest.raises(ValueError, match=r"argument v_mask.*v_mask.shape=\(2, 3\)"):
        layers.ParallelCoAttention(4)([question, image], mask=[None, np.ones((2, 3), bool)])
    with pytest.raises(ValueError, match=r"argument annotations_mask.*annotations_mask.shape=\(2, 5\)"):
        layers.BahdanauDecoder(4)(*_decoder_inputs(rng, 2), annotations_mask=np.ones((2, 5), bool))


# ---- 3. frobenius_penalty of an empty batch ----


def test_frobenius_penalty_of_an_empty_batch_is_zero():
    penalty = layers.frobenius_penalty(np.zeros((0, 2, 3), "float32"))
    assert float(numpy_of(penalty)) == 0.0 and tuple(penalty.shape) == ()
    assert float(numpy_of(layers.frobenius_penalty(np.zeros((2, 0, 2, 3))))) == 0.0


# A batch size unknown until the call exists only in a TensorFlow graph: JAX traces with the call's shapes.
@tensorflow_only
def test_frobenius_penalty_of_an_empty_batch_is_zero_in_a_graph():
    import tensorflow as tf

    penalty = tf.function(layers.frobenius_penalty, input_signature=[tf.TensorSpec((None, 2, 3), "float32")])
    assert float(penalty(np.zeros((0, 2, 3), "float32"))) == 0.0
    one_hot = np.eye(3, dtype="float32")[None, :2]  # two hops on two positions: no penalty
    halves = np.full((1, 2, 3), 0.5, "float32")
    np.testing.assert_allclose(
        float(penalty(np.concatenate([one_hot, halves]))), float(layers.frobenius_penalty(halves)) / 2, rtol=1e-6
    )


# ---- 4. boolean flags, and positions beyond max_length ----


@pytest.mark.parametrize("flag", ["False", "True", 0, 1, None, np.array([True])])
def test_boolean_flags_must_be_bools(flag):
    with pytest.raises(TypeError, match=r"argument mask_zero.*Received: mask_zero="):
        layers.PositionalEmbedding(10, 5, 4, mask_zero=flag)
    with pytest.raises(TypeError, match=r"argument norm_first.*Received: norm_first="):
        layers.TransformerEncoderBlock(2, 8, norm_first=flag)


def test_numpy_bools_are_flags_and_stored_as_python_bools():
    embedding = layers.PositionalEmbedding(10, 5, 4, mask_zero=np.bool_(False))
    block = layers.TransformerEncoderBlock(2, 8, norm_first=np.bool_(True))
    assert embedding.get_config()["mask_zero"] is False and block.get_config()["norm_first"] is True
    assert embedding.compute_mask(np.array([[0, 1]])) is None


def test_positional_embedding_rejects_positions_beyond_max_length_once_built():
    layer = layers.PositionalEmbedding(10, 4, 6)
    layer(np.zeros((1, 3), "int32"))
    with pytest.raises(ValueError, match=r"argument inputs.*max_length=4.*inputs.shape=\(1, 5\)"):
        layer(np.zeros((1, 5), "int32"))


# ---- 5. empty feature maps, and attention modules that change the shape ----


@pytest.mark.parametrize("name", ["CBAM", "SqueezeExcitation", "ChannelAttention", "SpatialAttention"])
@pytest.mark.parametrize("shape", [(2, 0, 4, 4), (2, 4, 0, 4)])
def test_empty_feature_maps_are_rejected(name, shape):
    make, _ = LAYERS[name]
    with pytest.raises(ValueError, match=r"argument inputs.*height, width and channels of at least 1"):
        make()(np.zeros(shape, "float32"))
    built = make()
    built(np.ones((2, 4, 4, 4), "float32"))
    with pytest.raises(ValueError, match=r"argument inputs.*at least 1.*Received: inputs.shape"):
        built(np.zeros(shape, "float32"))


# Keras converts a bfloat16 tensor to NumPy with np.array(x), which NumPy 2 flags; not ours to fix.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
@pytest.mark.parametrize("policy", DTYPES)
def test_a_fresh_spatial_map_is_exactly_one_half_in_every_policy(rng, policy):
    # gamma starts at 0 (the official initialisation): sigmoid(0) is 0.5 in 16 bits too.
    for layer in (layers.SpatialAttention(3, dtype=policy), layers.CBAM(2, 3, dtype=policy)):
        weights = layer(draw(rng, 2, 4, 4, 4) * 100, training=True, return_attention_scores=True)[-1]
        assert dtype_of(weights) == COMPUTE_DTYPE[policy]
        np.testing.assert_array_equal(numpy_of(weights).astype("float32"), 0.5)


@pytest.mark.parametrize("name", ["CBAM", "SpatialAttention"])
def test_float64_matches_float32_once_the_spatial_map_has_left_one_half(rng, name):
    # The same check as test_float64_matches_float32_with_the_same_weights, with a trained-looking gamma,
    # so that the convolution and the normalisation take part.
    def make(**kwargs):
        layer = LAYERS[name][0](**kwargs)
        layer(np.ones((2, 4, 4, 4), "float32"))
        spatial = layer if name == "SpatialAttention" else layer.spatial_attention
        spatial.batch_norm.gamma.assign([1.5])
        return layer

    inputs = draw(rng, 2, 4, 4, 4)
    expected, outputs = _same_weights(make, inputs, lambda layer, x: layer(x, return_attention_scores=True))
    assert float(np.ptp(numpy_of(outputs[-1]))) > 0.1  # the map is no longer uniform
    for ours, theirs in zip(outputs, expected, strict=True):
        np.testing.assert_allclose(numpy_of(ours), numpy_of(theirs), rtol=1e-5, atol=1e-5)


def test_resnet50_rejects_an_attention_that_changes_the_shape():
    with pytest.raises(ValueError, match=r"argument attention.*the shape it received"):
        models.resnet50(attention=lambda x: x[..., :1], input_shape=(32, 32, 3), num_classes=2)
    with pytest.raises(ValueError, match=r"argument attention"):
        models.resnet50(attention=lambda x: None, input_shape=(32, 32, 3), num_classes=2)


# ---- 6. a feature size that changes after build ----

CHANGED_FEATURES = {
    "BahdanauAttention": ([(2, 3, 7), (2, 4, 6)], r"argument query.*built for query_dim=5.*query.shape=\(2, 3, 7\)"),
    "LuongAttention": ([(2, 3, 5), (2, 4, 7)], r"argument key.*built for key_dim=6.*key.shape=\(2, 4, 7\)"),
    "LocalAttention-p": ([(2, 3, 7), (2, 4, 6)], r"argument query.*built for query_dim=5"),
    "HardAttention": ([(2, 3, 5), (2, 4, 7)], r"argument key.*built for key_dim=6"),
    "AttentionPooling": ((2, 3, 7), r"argument inputs.*built for features=5.*inputs.shape=\(2, 3, 7\)"),
    "DynamicMetaEmbedding": ([(2, 3, 5), (2, 3, 7)], r"argument inputs\[1\].*built for d_i=6"),
    "StructuredSelfAttention": ((2, 3, 7), r"argument inputs.*built for features=5"),
    "TransformerEncoderBlock": ((2, 3, 6), r"argument inputs.*built for d_model=4.*inputs.shape=\(2, 3, 6\)"),
    "CBAM": ((2, 4, 4, 8), r"argument inputs.*CBAM.*built for channels=4.*inputs.shape=\(2, 4, 4, 8\)"),
    "SqueezeExcitation": ((2, 4, 4, 8), r"argument inputs.*built for channels=4"),
}


@pytest.mark.parametrize("name", sorted(CHANGED_FEATURES))
def test_a_feature_size_that_changes_after_build_is_named(rng, name):
    make, inputs = LAYERS[name]
    layer = make()
    layer(inputs(rng, 2))
    shapes, message = CHANGED_FEATURES[name]
    changed = [draw(rng, *shape) for shape in shapes] if isinstance(shapes, list) else draw(rng, *shapes)
    with pytest.raises(ValueError, match=message):
        layer(changed)


def test_bahdanau_decoder_names_a_changed_input_size(rng):
    decoder = layers.BahdanauDecoder(4)
    inputs, annotations, state = _decoder_inputs(rng, 2)
    decoder(inputs, annotations, state)
    with pytest.raises(
        ValueError, match=r"argument annotations.*built for annotation_dim=6 \(annotations.shape\[-1\]\)"
    ):
        decoder(inputs, draw(rng, 2, 4, 9), state)
    with pytest.raises(ValueError, match=r"argument inputs.*built for input_dim=5 \(inputs.shape\[-1\]\)"):
        decoder(draw(rng, 2, 3, 2), annotations, state)


# ---- 7. empty batches ----


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_an_empty_batch_gives_an_empty_result(rng, name):
    make, inputs = LAYERS[name]
    full = make()(inputs(rng, 2))
    empty = make()(inputs(rng, 0))
    for ours, theirs in zip(
        empty if isinstance(empty, (list, tuple)) else [empty], full if isinstance(full, (list, tuple)) else [full]
    ):
        assert tuple(ours.shape) == (0, *tuple(theirs.shape)[1:])


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_an_empty_batch_after_a_full_one_with_scores_and_in_training(rng, name):
    make, inputs = LAYERS[name]
    layer = make()
    layer(inputs(rng, 2))
    kwargs = {} if name == "PositionalEmbedding" else {"return_attention_scores": True}
    if name in ("TransformerEncoderBlock", "CBAM", "SpatialAttention"):
        kwargs["training"] = True
    outputs = layer(inputs(rng, 0), **kwargs)
    for output in outputs if isinstance(outputs, (list, tuple)) else [outputs]:
        assert tuple(output.shape)[0] == 0
    for weight in layer.weights:  # batch normalisation learns nothing (no NaN) from an empty batch
        assert np.all(np.isfinite(numpy_of(weight)))


@pytest.mark.parametrize("name", ["BahdanauAttention", "LocalAttention-m", "LocalAttention-p", "HardAttention"])
def test_an_empty_batch_with_masks(rng, name):
    make, inputs = LAYERS[name]
    context, weights, *_ = make()(
        inputs(rng, 0), mask=[np.ones((0, 3), bool), np.ones((0, 4), bool)], return_attention_scores=True
    )
    assert tuple(context.shape) == (0, 3, 6) and tuple(weights.shape) == (0, 3, 4)


def test_an_empty_batch_with_masks_in_the_other_layers(rng):
    question, image = _query_value(rng, 0)
    q_hat, v_hat = layers.ParallelCoAttention(4)([question, image], mask=[np.ones((0, 3), bool), np.ones((0, 4), bool)])
    assert tuple(q_hat.shape) == (0, 5) and tuple(v_hat.shape) == (0, 6)
    pooled = layers.AttentionPooling(4)(draw(rng, 0, 3, 5), mask=np.ones((0, 3), bool))
    assert tuple(pooled.shape) == (0, 5)
    embedding = layers.StructuredSelfAttention(4, 2)(draw(rng, 0, 3, 5), mask=np.ones((0, 3), bool))
    assert tuple(embedding.shape) == (0, 2, 5)
    encoded = layers.TransformerEncoderBlock(2, 8)(draw(rng, 0, 3, 4), mask=np.ones((0, 3), bool))
    assert tuple(encoded.shape) == (0, 3, 4)


def test_bahdanau_decoder_on_an_empty_batch(rng):
    states, contexts, weights = layers.BahdanauDecoder(4)(
        *_decoder_inputs(rng, 0), annotations_mask=np.ones((0, 4), bool), return_attention_scores=True
    )
    assert tuple(states.shape) == (0, 3, 4) and tuple(contexts.shape) == (0, 3, 6)
    assert tuple(weights.shape) == (0, 3, 4)


@tensorflow_only  # as above: only a TensorFlow graph has a batch size unknown until the call
@pytest.mark.parametrize("name", ["CBAM", "SqueezeExcitation", "SpatialAttention"])
def test_an_empty_batch_of_unknown_size_in_a_graph(rng, name):
    import tensorflow as tf

    layer = LAYERS[name][0]()
    layer(draw(rng, 2, 4, 4, 4))
    traced = tf.function(lambda x: layer(x), input_signature=[tf.TensorSpec((None, 4, 4, 4), "float32")])
    assert tuple(traced(np.zeros((0, 4, 4, 4), "float32")).shape) == (0, 4, 4, 4)


def test_a_model_predicts_an_empty_batch():
    inputs = keras.Input((4, 4, 4))
    model = keras.Model(inputs, layers.CBAM(2, 3)(layers.SqueezeExcitation(2)(inputs)))
    assert model.predict_on_batch(np.zeros((0, 4, 4, 4), "float32")).shape == (0, 4, 4, 4)


# ---- 8. floating masks, and arguments of the wrong type ----


def _additive(mask):
    """A boolean mask as an additive one: 0 keeps a position, -1e9 drops it."""
    return np.where(np.asarray(mask), 0.0, -1e9)


FLOAT_MASK_CALLS = {
    "LuongAttention value_mask": (
        lambda rng: layers.LuongAttention("general")(_query_value(rng, 1), mask=[None, _additive([[1, 1, 1, 0]])]),
        "value_mask",
    ),
    "LuongAttention query_mask": (
        lambda rng: layers.LuongAttention("general")(_query_value(rng, 1), mask=[_additive([[1, 1, 0]]), None]),
        "query_mask",
    ),
    "BahdanauAttention key_mask": (
        lambda rng: layers.BahdanauAttention(3)(
            [*_query_value(rng, 1), draw(rng, 1, 4, 5)], mask=[None, None, _additive([[1, 1, 1, 0]])]
        ),
        "key_mask",
    ),
    "ParallelCoAttention v_mask": (
        lambda rng: layers.ParallelCoAttention(3)(_query_value(rng, 1), mask=[None, _additive([[1, 1, 1, 0]])]),
        "v_mask",
    ),
    "ParallelCoAttention q_mask": (
        lambda rng: layers.ParallelCoAttention(3)(_query_value(rng, 1), mask=[_additive([[1, 1, 0]]), None]),
        "q_mask",
    ),
    "AttentionPooling": (
        lambda rng: layers.AttentionPooling(3)(draw(rng, 1, 4, 5), mask=_additive([[1, 1, 1, 0]])),
        "mask",
    ),
    "StructuredSelfAttention": (
        lambda rng: layers.StructuredSelfAttention(3, 2)(draw(rng, 1, 4, 5), mask=_additive([[1, 1, 1, 0]])),
        "mask",
    ),
    "TransformerEncoderBlock mask": (
        lambda rng: layers.TransformerEncoderBlock(1, 4)(draw(rng, 1, 4, 4), mask=_additive([[1, 1, 1, 0]])),
        "mask",
    ),
    "TransformerEncoderBlock attention_mask": (
        lambda rng: layers.TransformerEncoderBlock(1, 4)(
            draw(rng, 1, 4, 4), attention_mask=_additive(np.tril(np.ones((4, 4))))
        ),
        "attention_mask",
    ),
    "BahdanauDecoder annotations_mask": (
        lambda rng: layers.BahdanauDecoder(4)(*_decoder_inputs(rng, 1), annotations_mask=_additive([[1, 1, 1, 0]])),
        "annotations_mask",
    ),
}


@pytest.mark.parametrize("name", list(FLOAT_MASK_CALLS))
def test_a_floating_mask_is_a_type_error_naming_the_mask(name, rng):
    # Cast to bool, an additive mask (0 keep, -1e9 drop) would attend to exactly the dropped positions.
    call, argument = FLOAT_MASK_CALLS[name]
    with pytest.raises(TypeError, match=rf"argument {argument}\. Expected a boolean array.*dtype float"):
        call(rng)


def test_an_additive_mask_is_not_read_as_attend_to_the_dropped_key(rng):
    query, value = _query_value(rng, 1)
    layer = layers.LuongAttention("general")
    with pytest.raises(TypeError, match="argument value_mask"):
        layer([query, value], mask=[None, np.array([[0.0, 0.0, 0.0, -1e9]])], return_attention_scores=True)


@pytest.mark.parametrize("name", ["LuongAttention", "LocalAttention", "HardAttention"])
def test_integer_and_boolean_masks_give_identical_results(name, rng):
    build = {
        "LuongAttention": lambda: layers.LuongAttention("general"),
        "LocalAttention": lambda: layers.LocalAttention(1),
        "HardAttention": lambda: layers.HardAttention("argmax", score_mode="general"),
    }[name]
    query, value = _query_value(rng, 2)
    masks = [np.array([[1, 1, 0], [1, 1, 1]]), np.array([[1, 0, 1, 1], [1, 1, 1, 0]])]
    layer = build()
    as_bool = numpy_of(layer([query, value], mask=[m.astype(bool) for m in masks]))
    as_int = numpy_of(layer([query, value], mask=masks))
    np.testing.assert_array_equal(as_int, as_bool)


def test_structured_and_transformer_still_take_keras_boolean_masks(rng):
    tokens = np.array([[3, 4, 0, 0], [5, 6, 7, 8]])
    embedded = keras.layers.Embedding(10, 4, mask_zero=True)
    x, mask = embedded(tokens), embedded.compute_mask(tokens)
    block = layers.TransformerEncoderBlock(2, 8, dropout=0.0)
    _, weights = block(x, mask=mask, return_attention_scores=True)
    np.testing.assert_array_equal(numpy_of(weights)[0, :, :, 2:], 0.0)
    _, hops = layers.StructuredSelfAttention(3, 2)(x, mask=mask, return_attention_scores=True)
    np.testing.assert_array_equal(numpy_of(hops)[0, :, 2:], 0.0)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"epsilon": -1.0}, ValueError),
        ({"epsilon": 0.0}, ValueError),
        ({"epsilon": float("nan")}, ValueError),
        ({"epsilon": "x"}, TypeError),
        ({"epsilon": None}, TypeError),
        ({"dropout": "0.1"}, TypeError),
        ({"attention_dropout": True}, TypeError),
        ({"dropout": 1.0}, ValueError),
    ],
)
def test_transformer_rejects_bad_epsilon_and_rates(kwargs, error):
    argument = next(iter(kwargs))
    with pytest.raises(error, match=f"argument {argument}"):
        layers.TransformerEncoderBlock(2, 8, **kwargs)


def test_transformer_accepts_a_numpy_epsilon():
    block = layers.TransformerEncoderBlock(2, 8, epsilon=np.float32(1e-5))
    assert type(block.epsilon) is float
    assert layers.TransformerEncoderBlock.from_config(block.get_config()).epsilon == block.epsilon


def test_bahdanau_decoder_with_no_steps_gives_empty_results(rng):
    decoder = layers.BahdanauDecoder(4)
    _, annotations, state = _decoder_inputs(rng, 2)
    outputs = decoder(draw(rng, 2, 0, 5), annotations, state, return_attention_scores=True)
    assert [tuple(x.shape) for x in outputs] == [(2, 0, 4), (2, 0, 6), (2, 0, 4)]
    assert [tuple(x.shape) for x in decoder(draw(rng, 2, 0, 5), annotations, state)] == [(2, 0, 4), (2, 0, 6)]
    symbolic = decoder(keras.Input((0, 5)), keras.Input((4, 6)), keras.Input((4,)), return_attention_scores=True)
    assert [tuple(x.shape) for x in symbolic] == [(None, 0, 4), (None, 0, 6), (None, 0, 4)]


@pytest.mark.parametrize(
    "build, shape, message",
    [
        (
            lambda: layers.AttentionPooling(3),
            (None, 4, None),
            r"argument inputs\. Expected a known last dimension \(features\)",
        ),
        (lambda: layers.StructuredSelfAttention(3, 2), (None, 4, None), r"known last dimension \(features\)"),
        (lambda: layers.TransformerEncoderBlock(2, 8), (None, 4, None), r"known last dimension \(d_model\)"),
        (lambda: layers.SqueezeExcitation(2), (None, 4, 4, None), r"known last dimension \(channels\)"),
    ],
)
def test_an_unknown_last_dimension_is_named(build, shape, message):
    with pytest.raises(ValueError, match=message):
        build().build(shape)


def test_dynamic_meta_embedding_names_an_unknown_embedding_size():
    with pytest.raises(
        ValueError, match=r"argument inputs\[1\]\. Expected a known last dimension \(the embedding size"
    ):
        layers.DynamicMetaEmbedding(3).build([(None, 4, 5), (None, 4, None)])
    with pytest.raises(ValueError, match=r"argument inputs\. DynamicMetaEmbedding expects a list of at least two"):
        layers.DynamicMetaEmbedding(3).build([(None, 4, 5)])


def test_resnet50_attention_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match=r"argument attention.*Received: attention=5"):
        models.resnet50(attention=5)
    with pytest.raises(ValueError, match=r"argument attention.*Received: attention='eca'"):
        models.resnet50(attention="eca")
