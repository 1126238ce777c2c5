"""CausalSelfAttention and TransformerDecoderBlock against independent references: Keras's
MultiHeadAttention, GroupQueryAttention and dot_product_attention, a NumPy formula of the whole computation
(rotary positions and padding included), the full call for the key-value cache; causality, masks, saving
and loading, and bad input."""

import keras
import numpy as np
import pytest
from helpers import numpy_of, saved_and_loaded, softmax
from keras import ops

from attention_utils.layers import CausalSelfAttention, TransformerDecoderBlock

ATOL = 1e-5
B, T, D_MODEL = 2, 5, 6  # d_model is not num_heads * key_dim in any test: unequal sizes catch einsum bugs
S, D_ENCODER = 4, 7  # the encoder's positions and features

# (num_heads, key_dim, num_key_value_heads, rotary): multi-head, grouped-query with RoPE, multi-query
CONFIGURATIONS = {
    "multi_head": (2, 5, None, False),
    "grouped_query_rotary": (4, 4, 2, True),
    "multi_query_rotary": (4, 2, 1, True),
}


@pytest.fixture
def inputs(rng):
    return rng.normal(size=(B, T, D_MODEL)).astype("float32")


@pytest.fixture
def padding():
    # Two sequences of 5 positions, padded after 3 and after 5.
    return np.array([[True, True, True, False, False], [True] * T])


def built_layer(configuration, inputs, **kwargs):
    num_heads, key_dim, num_key_value_heads, rotary = CONFIGURATIONS[configuration]
    layer = CausalSelfAttention(num_heads, key_dim, num_key_value_heads, rotary=rotary, **kwargs)
    layer(inputs)
    return layer


def randomise_biases(layer, rng):
    """Non-zero biases (Keras initialises them to 0), so a test would see them misused."""
    layer.set_weights([w if w.ndim == 3 else rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()])


# ---- NumPy reference, written from the papers ----


def rotated(x, positions, base=10000.0):
    """RoPE (Su et al. 2021, eq. 13 and 15) of ``x`` ``(..., T, k)``: pair ``(2i, 2i + 1)`` of the token at
    position ``m`` turned by the angle ``m base^(-2i / k)``."""
    key_dim = x.shape[-1]
    angles = np.asarray(positions, "float64")[:, None] * base ** (-np.arange(0, key_dim, 2) / key_dim)
    cos, sin = np.cos(angles), np.sin(angles)
    even, odd = x[..., 0::2], x[..., 1::2]
    turned = np.empty_like(x, dtype="float64")
    turned[..., 0::2] = even * cos - odd * sin
    turned[..., 1::2] = even * sin + odd * cos
    return turned


def reference_causal_attention(x, layer, mask=None):
    """``(outputs, weights)`` of causal self-attention in float64 NumPy from the layer's weights."""
    (w_q, b_q), (w_k, b_k), (w_v, b_v), (w_o, b_o) = (layer.get_weights()[i : i + 2] for i in range(0, 8, 2))
    x = np.asarray(x, "float64")
    query = np.einsum("btd,dhk->bhtk", x, w_q) + b_q[:, None]  # (batch, h, T, k)
    key = np.einsum("btd,dgk->bgtk", x, w_k) + b_k[:, None]  # (batch, g, T, k)
    value = np.einsum("btd,dgk->bgtk", x, w_v) + b_v[:, None]
    length = x.shape[1]
    if layer.rotary:
        query, key = rotated(query, np.arange(length)), rotated(key, np.arange(length))
    group_size = layer.num_heads // layer.num_key_value_heads  # query head i reads key/value head i // group_size
    key, value = np.repeat(key, group_size, axis=1), np.repeat(value, group_size, axis=1)
    scores = query @ np.swapaxes(key, -1, -2) / np.sqrt(layer.key_dim)  # Vaswani et al. 2017, eq. 1
    allowed = np.tril(np.ones((length, length), bool))[None, None]  # section 3.2.3
    if mask is not None:
        allowed = allowed & mask[:, None, :, None] & mask[:, None, None, :]
    weights = softmax(scores, allowed)
    return np.einsum("bhtk,hkd->btd", weights @ value, w_o) + b_o, weights


# ---- CausalSelfAttention: parity with Keras ----


def test_equals_keras_multi_head_attention_with_a_causal_mask(inputs, rng):
    mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=5)
    mha(inputs, inputs)  # builds it
    randomise_biases(mha, rng)
    expected, expected_weights = mha(inputs, inputs, use_causal_mask=True, return_attention_scores=True)
    layer = built_layer("multi_head", inputs)
    layer.set_weights(mha.get_weights())
    outputs, weights = layer(inputs, return_attention_scores=True)
    np.testing.assert_allclose(numpy_of(outputs), numpy_of(expected), atol=ATOL)
    np.testing.assert_allclose(numpy_of(weights), numpy_of(expected_weights), atol=ATOL)


# Not with 1 key/value head: Keras 3.15's TensorFlow dot_product_attention repeats key/value heads only
# when there are more than one, and its einsum then fails; GroupQueryAttention covers multi-query below.
@pytest.mark.parametrize("num_key_value_heads", [4, 2])
def test_equals_keras_dot_product_attention_on_the_projected_queries_keys_and_values(inputs, rng, num_key_value_heads):
    layer = CausalSelfAttention(4, 3, num_key_value_heads)
    layer(inputs)  # builds it
    randomise_biases(layer, rng)
    outputs = layer(inputs)
    query, key, value = layer.query(inputs), layer.key(inputs), layer.value(inputs)
    context = ops.dot_product_attention(query, key, value, is_causal=True)  # (batch, T, heads, key_dim)
    np.testing.assert_allclose(numpy_of(outputs), numpy_of(layer.attention_output(context)), atol=ATOL)


@pytest.mark.parametrize("num_key_value_heads", [2, 1], ids=["grouped_query", "multi_query"])
def test_equals_keras_group_query_attention_with_a_causal_mask(inputs, rng, num_key_value_heads):
    # Keras's argument order is (head_dim, num_query_heads, num_key_value_heads).
    gqa = keras.layers.GroupQueryAttention(3, 4, num_key_value_heads)
    gqa(inputs, inputs)
    randomise_biases(gqa, rng)
    expected = gqa(inputs, inputs, use_causal_mask=True)  # Keras's fused causal kernel
    _, expected_weights = gqa(inputs, inputs, use_causal_mask=True, return_attention_scores=True)
    layer = CausalSelfAttention(4, 3, num_key_value_heads)
    layer(inputs)
    layer.set_weights(gqa.get_weights())
    outputs, weights = layer(inputs, return_attention_scores=True)
    np.testing.assert_allclose(numpy_of(outputs), numpy_of(expected), atol=ATOL)
    np.testing.assert_allclose(numpy_of(weights), numpy_of(expected_weights), atol=ATOL)


def test_as_many_key_value_heads_as_heads_is_multi_head_attention(inputs):
    mha = keras.layers.MultiHeadAttention(num_heads=4, key_dim=3)
    expected = mha(inputs, inputs, use_causal_mask=True)
    layer = CausalSelfAttention(4, 3, num_key_value_heads=4)
    layer(inputs)
    layer.set_weights(mha.get_weights())
    np.testing.assert_allclose(numpy_of(layer(inputs)), numpy_of(expected), atol=ATOL)


def test_one_key_value_head_is_multi_query_attention(inputs):
    layer = CausalSelfAttention(4, 3, num_key_value_heads=1)
    layer(inputs)
    assert tuple(layer.query.kernel.shape) == (D_MODEL, 4, 3)
    assert tuple(layer.key.kernel.shape) == tuple(layer.value.kernel.shape) == (D_MODEL, 1, 3)
    assert tuple(layer.empty_cache(B)[0].shape) == (B, 0, 1, 3)  # a cache 4 times smaller than MHA's


@pytest.mark.parametrize("num_key_value_heads", [4, 2])
def test_weights_come_in_the_order_and_shapes_of_keras_attention_layers(inputs, num_key_value_heads):
    layer = CausalSelfAttention(4, 3, num_key_value_heads)
    layer(inputs)
    if num_key_value_heads == 4:
        keras_layer = keras.layers.MultiHeadAttention(num_heads=4, key_dim=3)
    else:
        keras_layer = keras.layers.GroupQueryAttention(3, 4, num_key_value_heads)
    keras_layer(inputs, inputs)

    def names_and_shapes(weights):  # path without the layer's own name: query/kernel, query/bias, ...
        return [(w.path.split("/", 1)[1], tuple(w.shape)) for w in weights]

    assert names_and_shapes(layer.weights) == names_and_shapes(keras_layer.weights)
    assert [name for name, _ in names_and_shapes(layer.weights)][::2] == [
        "query/kernel",
        "key/kernel",
        "value/kernel",
        "attention_output/kernel",
    ]


def test_without_biases_there_are_four_kernels(inputs):
    layer = CausalSelfAttention(2, 5, use_bias=False)
    layer(inputs)
    assert [tuple(w.shape) for w in layer.weights] == [(6, 2, 5), (6, 2, 5), (6, 2, 5), (2, 5, 6)]


# ---- CausalSelfAttention: the computation ----


@pytest.mark.parametrize("configuration", list(CONFIGURATIONS))
def test_equals_the_numpy_reference_with_rotary_positions_and_padding(inputs, padding, rng, configuration):
    layer = built_layer(configuration, inputs)
    randomise_biases(layer, rng)
    for mask in (None, padding):
        outputs, weights = layer(inputs, mask=mask, return_attention_scores=True)
        expected, expected_weights = reference_causal_attention(inputs, layer, mask)
        np.testing.assert_allclose(numpy_of(weights), expected_weights, atol=ATOL)
        np.testing.assert_allclose(numpy_of(outputs), expected, atol=ATOL)


@pytest.mark.parametrize("configuration", list(CONFIGURATIONS))
def test_later_tokens_do_not_change_earlier_outputs(inputs, rng, configuration):
    layer = built_layer(configuration, inputs)
    expected, expected_weights = (numpy_of(x) for x in layer(inputs, return_attention_scores=True))
    for t in range(T - 1):
        changed = inputs.copy()
        changed[:, t + 1 :] = rng.normal(size=changed[:, t + 1 :].shape)
        outputs, weights = (numpy_of(x) for x in layer(changed, return_attention_scores=True))
        np.testing.assert_allclose(outputs[:, : t + 1], expected[:, : t + 1], atol=1e-6)
        np.testing.assert_allclose(weights[:, :, : t + 1], expected_weights[:, :, : t + 1], atol=1e-6)
        np.testing.assert_array_equal(weights[:, :, :, t + 1 :][:, :, : t + 1], 0.0)  # no weight on the future
        assert not np.allclose(outputs[:, t + 1 :], expected[:, t + 1 :])  # the future itself did change


def test_padded_query_gets_zero_weights_and_padded_keys_weight_zero(inputs, padding):
    layer = built_layer("grouped_query_rotary", inputs)
    outputs, weights = (numpy_of(x) for x in layer(inputs, mask=padding, return_attention_scores=True))
    assert np.isfinite(outputs).all() and np.isfinite(weights).all()
    np.testing.assert_array_equal(weights[0, :, 3:], 0.0)  # padded queries attend to nothing
    np.testing.assert_array_equal(weights[0, :, :, 3:], 0.0)  # padded keys get no weight
    np.testing.assert_allclose(weights[0, :, :3].sum(-1), 1.0, atol=ATOL)
    alone = numpy_of(layer(inputs[:1, :3]))  # the real positions as without padding
    np.testing.assert_allclose(outputs[:1, :3], alone, atol=ATOL)


def test_integer_masks_are_read_as_booleans(inputs, padding):
    layer = built_layer("multi_head", inputs)
    np.testing.assert_array_equal(
        numpy_of(layer(inputs, mask=padding.astype("int32"))), numpy_of(layer(inputs, mask=padding))
    )


def test_with_rotary_positions_scores_of_identical_tokens_depend_only_on_the_offset(rng):
    # Every token the same vector: without positions every visible key would score the same. With RoPE a
    # score depends on m - n (Su et al. 2021, eq. 16); the row normalisation depends on m (query m sees
    # m + 1 keys), so compare log(w[m, n] / w[m, m]) = score(m - n) - score(0).
    tokens = np.repeat(rng.normal(size=(1, 1, D_MODEL)).astype("float32"), 6, axis=1)
    layer = CausalSelfAttention(2, 4, rotary=True)
    _, weights = layer(tokens, return_attention_scores=True)
    log_weights = np.log(numpy_of(weights)[0].astype("float64") + np.triu(np.ones((6, 6)), 1))  # (heads, m, n)
    for offset in range(1, 6):
        relative = [log_weights[:, m, m - offset] - log_weights[:, m, m] for m in range(offset, 6)]
        np.testing.assert_allclose(relative, np.broadcast_to(relative[0], np.shape(relative)), atol=1e-4)
    assert np.ptp(log_weights[:, 5]) > 1e-3, "positions had no effect"
    _, plain = CausalSelfAttention(2, 4)(tokens, return_attention_scores=True)
    np.testing.assert_allclose(numpy_of(plain)[0, :, 5], 1 / 6, atol=ATOL)  # without RoPE: uniform


# ---- CausalSelfAttention: the key-value cache ----


@pytest.mark.parametrize("prompt_length", [1, 3], ids=["token_by_token", "prompt_then_tokens"])
@pytest.mark.parametrize("configuration", list(CONFIGURATIONS))
def test_decoding_with_the_cache_equals_the_full_call(inputs, rng, configuration, prompt_length):
    layer = built_layer(configuration, inputs)
    randomise_biases(layer, rng)
    expected, expected_weights = (numpy_of(x) for x in layer(inputs, return_attention_scores=True))
    cache = layer.empty_cache(B)
    start = 0
    for stop in [prompt_length, *range(prompt_length + 1, T + 1)]:
        outputs, weights, cache = layer(inputs[:, start:stop], cache=cache, return_attention_scores=True)
        np.testing.assert_allclose(numpy_of(outputs), expected[:, start:stop], atol=ATOL)
        np.testing.assert_allclose(numpy_of(weights), expected_weights[:, :, start:stop, :stop], atol=ATOL)
        shape = (B, stop, layer.num_key_value_heads, layer.key_dim)  # one position more per token
        assert tuple(cache[0].shape) == tuple(cache[1].shape) == shape
        start = stop
    assert isinstance(layer(inputs[:, :1], cache=layer.empty_cache(B))[1], tuple)  # (outputs, cache)


def test_the_cache_holds_the_rotated_keys_and_the_values(inputs):
    layer = built_layer("grouped_query_rotary", inputs)
    _, (keys, values) = layer(inputs, cache=layer.empty_cache(B))
    expected_keys = rotated(np.swapaxes(numpy_of(layer.key(inputs)), 1, 2), np.arange(T))  # (batch, g, T, k)
    np.testing.assert_allclose(numpy_of(keys), np.swapaxes(expected_keys, 1, 2), atol=ATOL)
    np.testing.assert_allclose(numpy_of(values), numpy_of(layer.value(inputs)), atol=ATOL)


# ---- CausalSelfAttention: Keras ----


def test_in_a_functional_model_gives_outputs_and_weights(inputs):
    sequence = keras.Input((None, D_MODEL))
    outputs, weights = CausalSelfAttention(2, 4)(sequence, return_attention_scores=True)
    assert (tuple(outputs.shape), tuple(weights.shape)) == ((None, None, D_MODEL), (None, 2, None, None))
    results = keras.Model(sequence, [outputs, weights])(inputs)
    assert [tuple(x.shape) for x in results] == [(B, T, D_MODEL), (B, 2, T, T)]


def test_an_empty_batch_gives_an_empty_result_also_with_a_cache(inputs):
    layer = built_layer("grouped_query_rotary", inputs)
    outputs, weights, (keys, _) = layer(inputs[:0], cache=layer.empty_cache(0), return_attention_scores=True)
    assert (tuple(outputs.shape), tuple(weights.shape), tuple(keys.shape)) == (
        (0, T, D_MODEL),
        (0, 4, T, T),
        (0, T, 2, 4),
    )


def test_dropout_acts_on_the_weights_in_training_only(inputs):
    layer = CausalSelfAttention(2, 4, dropout=0.5)
    inference = numpy_of(layer(inputs))
    np.testing.assert_array_equal(numpy_of(layer(inputs, training=False)), inference)
    assert not np.allclose(numpy_of(layer(inputs, training=True)), inference)


def test_get_config_holds_every_constructor_argument():
    layer = CausalSelfAttention(4, 2, num_key_value_heads=2, dropout=0.1, use_bias=False, rotary=True, rotary_base=500)
    config = layer.get_config()
    assert {key: config[key] for key in ("num_heads", "key_dim", "num_key_value_heads", "dropout")} == {
        "num_heads": 4,
        "key_dim": 2,
        "num_key_value_heads": 2,
        "dropout": 0.1,
    }
    assert (config["use_bias"], config["rotary"], config["rotary_base"]) == (False, True, 500.0)
    assert CausalSelfAttention.from_config(config).get_config() == config


# ---- CausalSelfAttention: bad input ----


@pytest.mark.parametrize(
    ("kwargs", "argument", "error"),
    [
        ({"num_heads": 0, "key_dim": 2}, "num_heads", ValueError),
        ({"num_heads": 2.0, "key_dim": 2}, "num_heads", TypeError),
        ({"num_heads": 2, "key_dim": 0}, "key_dim", ValueError),
        ({"num_heads": 4, "key_dim": 2, "num_key_value_heads": 3}, "num_key_value_heads", ValueError),
        ({"num_heads": 4, "key_dim": 2, "num_key_value_heads": 0}, "num_key_value_heads", ValueError),
        ({"num_heads": 4, "key_dim": 2, "num_key_value_heads": "2"}, "num_key_value_heads", TypeError),
        ({"num_heads": 2, "key_dim": 2, "dropout": 1.0}, "dropout", ValueError),
        ({"num_heads": 2, "key_dim": 2, "use_bias": "yes"}, "use_bias", TypeError),
        ({"num_heads": 2, "key_dim": 2, "rotary": "yes"}, "rotary", TypeError),
        ({"num_heads": 2, "key_dim": 2, "rotary_base": 0.0}, "rotary_base", ValueError),
        ({"num_heads": 2, "key_dim": 3, "rotary": True}, "key_dim", ValueError),
    ],
)
def test_bad_constructor_arguments_are_named(kwargs, argument, error):
    with pytest.raises(error, match=rf"argument {argument}\b.*Received: {argument}="):
        CausalSelfAttention(**kwargs)


def test_bad_call_arguments_are_named(inputs, padding):
    layer = built_layer("grouped_query_rotary", inputs)
    cache = layer.empty_cache(B)
    with pytest.raises(TypeError, match=r"argument mask\b.*Expected a boolean"):
        layer(inputs, mask=padding.astype("float32"))
    with pytest.raises(ValueError, match=r"argument mask\b.*Received: mask.shape=\(2, 4\)"):
        layer(inputs, mask=padding[:, :4])
    with pytest.raises(ValueError, match=r"argument inputs\b.*rank 3.*Received: inputs.shape=\(2, 5\)"):
        layer(inputs[..., 0])
    with pytest.raises(ValueError, match=r"argument inputs\b.*d_model=6.*Received: inputs.shape=\(2, 5, 3\)"):
        layer(inputs[..., :3])
    with pytest.raises(ValueError, match=r"argument mask\b.*with a cache"):
        layer(inputs, mask=padding, cache=cache)
    with pytest.raises(TypeError, match=r"argument cache\b.*Received: cache="):
        layer(inputs, cache=cache[0])
    with pytest.raises(ValueError, match=r"argument cache\b.*Received: a cache of 3 entries"):
        layer(inputs, cache=(*cache, cache[0]))
    with pytest.raises(ValueError, match=r"argument cache\b.*Received: cache shapes \(\(2, 0, 4, 4\)"):
        layer(inputs, cache=CausalSelfAttention(4, 4).empty_cache(B))  # 4 key/value heads, not 2
    with pytest.raises(ValueError, match=r"argument cache\b.*inputs.shape=\(2, 5, 6\)"):
        layer(inputs, cache=layer.empty_cache(3))  # another batch size
    with pytest.raises(ValueError, match=r"argument batch_size\b.*Received: batch_size=-1"):
        layer.empty_cache(-1)


# ---- TransformerDecoderBlock ----


@pytest.fixture
def encoder_outputs(rng):
    return rng.normal(size=(B, S, D_ENCODER)).astype("float32")


@pytest.fixture
def source_padding():
    return np.array([[True, True, False, False], [True] * S])


def decoder_block(norm_first=False, **kwargs):
    return TransformerDecoderBlock(num_heads=2, ff_dim=16, key_dim=4, dropout=0.0, norm_first=norm_first, **kwargs)


def layer_norm(x, norm, epsilon):
    gamma, beta = norm.get_weights()
    mean, variance = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


def reference_block(x, block, encoder_outputs=None, mask=None, encoder_mask=None):
    """The block recomputed from its sub-layers: the attentions called on their own (tested above, or
    Keras's), layer normalisation and the feed-forward network in NumPy (Vaswani et al. 2017, 3.1, 3.3)."""

    def self_attention(h):
        return numpy_of(block.self_attention(h, mask=mask))

    def cross_attention(h):  # decoder position t may attend to source position s if both are real
        attention_mask = encoder_mask[:, None, :] & (True if mask is None else mask[:, :, None])
        attended, _ = block.cross_attention(
            h, encoder_outputs, attention_mask=attention_mask, return_attention_scores=True
        )
        return numpy_of(attended)

    def feed_forward(h):  # eq. 2
        (w_1, b_1), (w_2, b_2) = block.ff_hidden.get_weights(), block.ff_output.get_weights()
        return np.maximum(h @ w_1 + b_1, 0) @ w_2 + b_2

    sublayers = [(self_attention, block.self_attention_norm)]
    if encoder_outputs is not None:
        sublayers.append((cross_attention, block.cross_attention_norm))
    sublayers.append((feed_forward, block.ff_norm))
    for sublayer, norm in sublayers:
        if block.norm_first:  # x + Sublayer(LayerNorm(x))
            x = x + sublayer(layer_norm(x, norm, block.epsilon).astype("float32"))
        else:  # LayerNorm(x + Sublayer(x))
            x = layer_norm(x + sublayer(np.asarray(x, "float32")), norm, block.epsilon)
    return x


def randomise_norms(block, rng):
    """Non-trivial gains and biases of the layer norms, so a test would see them misused."""
    for norm in (block.self_attention_norm, block.cross_attention_norm, block.ff_norm):
        if norm is not None:
            norm.set_weights([rng.normal(1, 0.2, size=w.shape).astype("float32") for w in norm.get_weights()])


def test_decoder_block_shapes_of_both_forms(inputs, encoder_outputs):
    outputs, self_weights, cross_weights = decoder_block()(inputs, encoder_outputs, return_attention_scores=True)
    assert [tuple(x.shape) for x in (outputs, self_weights, cross_weights)] == [
        (B, T, D_MODEL),
        (B, 2, T, T),
        (B, 2, T, S),
    ]
    outputs, self_weights = decoder_block()(inputs, return_attention_scores=True)
    assert [tuple(x.shape) for x in (outputs, self_weights)] == [(B, T, D_MODEL), (B, 2, T, T)]
    decoder_only = decoder_block()
    decoder_only(inputs)
    assert decoder_only.cross_attention is None and len(decoder_only.weights) == 8 + 2 + 4 + 2


@pytest.mark.parametrize("norm_first", [False, True], ids=["post_ln", "pre_ln"])
@pytest.mark.parametrize("with_encoder", [False, True], ids=["decoder_only", "encoder_decoder"])
def test_decoder_block_equals_a_recomputation_from_its_sublayers(
    inputs, encoder_outputs, padding, source_padding, rng, norm_first, with_encoder
):
    block = decoder_block(norm_first)
    encoder = encoder_outputs if with_encoder else None
    encoder_mask = source_padding if with_encoder else None
    outputs = block(inputs, encoder, mask=padding, encoder_mask=encoder_mask)
    randomise_norms(block, rng)
    outputs = numpy_of(block(inputs, encoder, mask=padding, encoder_mask=encoder_mask))
    expected = reference_block(inputs, block, encoder, padding, encoder_mask)
    np.testing.assert_allclose(outputs, expected, atol=1e-4)


def test_decoder_only_block_ignores_the_future(inputs, rng):
    block = decoder_block(rotary=True, num_key_value_heads=1)
    expected = numpy_of(block(inputs))
    for t in range(T - 1):
        changed = inputs.copy()
        changed[:, t + 1 :] = rng.normal(size=changed[:, t + 1 :].shape)
        np.testing.assert_allclose(numpy_of(block(changed))[:, : t + 1], expected[:, : t + 1], atol=1e-6)


def test_encoder_decoder_block_ignores_padded_source_positions(inputs, encoder_outputs, source_padding, rng):
    block = decoder_block()
    outputs, _, cross_weights = (
        numpy_of(x) for x in block(inputs, encoder_outputs, encoder_mask=source_padding, return_attention_scores=True)
    )
    np.testing.assert_array_equal(cross_weights[0, ..., 2:], 0.0)
    changed = encoder_outputs.copy()
    changed[0, 2:] = rng.normal(size=changed[0, 2:].shape)
    np.testing.assert_allclose(numpy_of(block(inputs, changed, encoder_mask=source_padding)), outputs, atol=1e-6)
    assert not np.allclose(numpy_of(block(inputs, changed)), outputs)  # unmasked, the change is seen


def test_keras_masks_reach_every_block_of_a_stack(rng):
    # The encoder's Keras mask must reach the second block as well as the first: MultiHeadAttention takes
    # the mask off the tensor it reads, so the block gives it a copy of the encoder outputs.
    source_ids, target_ids = keras.Input((None,), dtype="int32"), keras.Input((None,), dtype="int32")
    source = keras.layers.Embedding(10, D_ENCODER, mask_zero=True)(source_ids)
    target = keras.layers.Embedding(10, D_MODEL, mask_zero=True)(target_ids)
    first, second = decoder_block(), decoder_block()
    hidden = first(target, source)
    outputs, self_weights, cross_weights = second(hidden, source, return_attention_scores=True)
    model = keras.Model([source_ids, target_ids], [outputs, self_weights, cross_weights])
    sources = np.array([[3, 4, 0, 0], [1, 2, 3, 4]])
    targets = np.array([[1, 2, 3, 0, 0], [5, 6, 7, 8, 9]])
    outputs, self_weights, cross_weights = (numpy_of(x) for x in model([sources, targets]))
    np.testing.assert_array_equal(cross_weights[0, ..., 2:], 0.0)  # padded source positions
    np.testing.assert_array_equal(cross_weights[0, :, 3:], 0.0)  # padded target positions, as queries
    np.testing.assert_array_equal(self_weights[0, ..., 3:], 0.0)
    alone = numpy_of(model([sources[:1, :2], targets[:1, :3]])[0])  # the real tokens without padding
    np.testing.assert_allclose(outputs[:1, :3], alone, atol=ATOL)


def test_decoder_block_passes_the_padding_mask_on(inputs, padding):
    block = decoder_block()
    block(inputs)
    np.testing.assert_array_equal(numpy_of(block.compute_mask(inputs, padding)), padding)
    tokens = keras.Input((None,), dtype="int32")
    outputs = block(keras.layers.Embedding(10, D_MODEL, mask_zero=True)(tokens))
    assert outputs._keras_mask is not None


@pytest.mark.parametrize("with_encoder", [False, True], ids=["decoder_only", "encoder_decoder"])
def test_decoding_through_the_block_with_the_cache_equals_the_full_call(inputs, encoder_outputs, with_encoder):
    block = decoder_block(norm_first=True, rotary=True, num_key_value_heads=1)
    encoder = encoder_outputs if with_encoder else None
    expected = numpy_of(block(inputs, encoder))
    cache = block.self_attention.empty_cache(B)
    for t in range(T):
        outputs, *weights, cache = block(inputs[:, t : t + 1], encoder, cache=cache, return_attention_scores=True)
        assert len(weights) == (2 if with_encoder else 1)
        np.testing.assert_allclose(numpy_of(outputs), expected[:, t : t + 1], atol=ATOL)
    assert tuple(cache[0].shape) == (B, T, 1, 4)


# Keras's saver turns variables into arrays with np.array(), which NumPy 2 warns about; not ours to fix.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
@pytest.mark.parametrize("with_encoder", [False, True], ids=["decoder_only", "encoder_decoder"])
def test_decoder_block_saves_to_keras_and_loads_back_with_safe_mode(tmp_path, inputs, encoder_outputs, with_encoder):
    sequence = keras.Input((None, D_MODEL))
    block = decoder_block(rotary=True, num_key_value_heads=1, activation="gelu")
    if with_encoder:
        encoded = keras.Input((None, D_ENCODER))
        model = keras.Model([sequence, encoded], block(sequence, encoded, return_attention_scores=True))
        data = [inputs, encoder_outputs]
    else:
        model = keras.Model(sequence, block(sequence, return_attention_scores=True))
        data = inputs
    loaded = saved_and_loaded(model, tmp_path)
    loaded_block = loaded.layers[-1]
    assert isinstance(loaded_block, TransformerDecoderBlock)
    assert (loaded_block.cross_attention is not None) == with_encoder
    assert loaded_block.get_config() == block.get_config()
    for ours, theirs in zip(model(data), loaded(data), strict=True):
        np.testing.assert_array_equal(numpy_of(theirs), numpy_of(ours))


def test_decoder_block_form_is_fixed_when_built(inputs, encoder_outputs):
    encoder_decoder = decoder_block()
    encoder_decoder(inputs, encoder_outputs)
    with pytest.raises(
        ValueError, match=r"argument encoder_outputs\b.*needs encoder_outputs.*Received: encoder_outputs=None"
    ):
        encoder_decoder(inputs)
    decoder_only = decoder_block()
    decoder_only(inputs)
    with pytest.raises(ValueError, match=r"argument encoder_outputs\b.*takes none.*Received: encoder_outputs=a tensor"):
        decoder_only(inputs, encoder_outputs)


@pytest.mark.parametrize(
    ("kwargs", "argument", "error"),
    [
        ({"num_heads": 0}, "num_heads", ValueError),
        ({"ff_dim": 0}, "ff_dim", ValueError),
        ({"num_key_value_heads": 3, "num_heads": 4}, "num_key_value_heads", ValueError),
        ({"rotary": "yes"}, "rotary", TypeError),
        ({"norm_first": 1}, "norm_first", TypeError),
        ({"dropout": -0.1}, "dropout", ValueError),
        ({"epsilon": 0.0}, "epsilon", ValueError),
        ({"activation": "no_such_activation"}, "activation", ValueError),
    ],
)
def test_decoder_block_bad_constructor_arguments_are_named(kwargs, argument, error):
    with pytest.raises(error, match=rf"argument {argument}\b.*Received: {argument}="):
        TransformerDecoderBlock(**{"num_heads": 2, "ff_dim": 8, **kwargs})


def test_decoder_block_bad_call_arguments_are_named(inputs, encoder_outputs, padding, source_padding):
    block = decoder_block()
    block(inputs, encoder_outputs)
    with pytest.raises(TypeError, match=r"argument encoder_mask\b.*Expected a boolean"):
        block(inputs, encoder_outputs, encoder_mask=source_padding.astype("float32"))
    with pytest.raises(TypeError, match=r"argument mask\b.*Expected a boolean"):
        block(inputs, encoder_outputs, mask=padding.astype("float32"))
    with pytest.raises(ValueError, match=r"argument encoder_mask\b.*Received: encoder_mask.shape=\(2, 5\)"):
        block(inputs, encoder_outputs, encoder_mask=padding)
    with pytest.raises(ValueError, match=r"argument encoder_outputs\b.*d_encoder=7"):
        block(inputs, encoder_outputs[..., :3])
    with pytest.raises(ValueError, match=r"argument encoder_outputs\b.*rank 3"):
        block(inputs, encoder_outputs[..., 0])
    with pytest.raises(ValueError, match=r"arguments inputs and encoder_outputs: one batch"):
        block(inputs, encoder_outputs[:1])
    with pytest.raises(ValueError, match=r"argument mask\b.*with a cache"):
        block(inputs, encoder_outputs, mask=padding, cache=block.self_attention.empty_cache(B))
    decoder_only = decoder_block()
    decoder_only(inputs)
    with pytest.raises(ValueError, match=r"argument encoder_mask\b.*decoder-only"):
        decoder_only(inputs, encoder_mask=source_padding)
    with pytest.raises(ValueError, match=r"argument num_heads\b.*d_model=6"):
        TransformerDecoderBlock(num_heads=4, ff_dim=8)(inputs)
    with pytest.raises(ValueError, match=r"argument key_dim\b.*rotary=True"):
        TransformerDecoderBlock(num_heads=2, ff_dim=8, rotary=True)(inputs)  # key_dim 6 // 2 = 3, odd


# ---- CausalSelfAttention with ALiBi (Press et al. 2022) ----


def reference_alibi_slopes(num_heads):
    """The slopes of ALiBi's official code (github.com/ofirpress/attention_with_linear_biases,
    fairseq/models/transformer.py, get_slopes): for a power of two ``n``, the geometric sequence from
    ``2^(-8 / n)`` with that ratio; otherwise those of the largest power of two below ``num_heads``, then
    every other slope of twice as many heads."""
    if np.log2(num_heads) % 1 == 0:
        start = 2.0 ** (-8.0 / num_heads)
        return [start ** (i + 1) for i in range(num_heads)]
    closest = 2 ** int(np.floor(np.log2(num_heads)))
    return reference_alibi_slopes(closest) + reference_alibi_slopes(2 * closest)[0::2][: num_heads - closest]


def linear_biases(num_heads, query_positions, key_positions):
    """ALiBi's ``-m_h (i - j)``, ``(heads, Tq, Tk)``, in float64."""
    distances = np.asarray(query_positions)[:, None] - np.asarray(key_positions)[None, :]
    return -np.asarray(reference_alibi_slopes(num_heads))[:, None, None] * distances


def identical_tokens_log_weights(layer, length=6, num_cached=0):
    """``log w[h, m, n]`` of the layer on ``length`` identical tokens, the last ``length - num_cached`` of
    them decoded with a cache of the first ``num_cached``: ``(heads, length - num_cached, length)``. The
    tokens are the same vector, so without positions every visible key would score the same."""
    tokens = np.repeat(np.random.default_rng(1).normal(size=(1, 1, D_MODEL)).astype("float32"), length, axis=1)
    cache = layer.empty_cache(1)
    if num_cached:
        _, cache = layer(tokens[:, :num_cached], cache=cache)
    _, weights, _ = layer(tokens[:, num_cached:], cache=cache, return_attention_scores=True)
    future = np.triu(np.ones((length, length)), 1)[num_cached:]  # log(0) avoided where the weight is 0
    return np.log(numpy_of(weights)[0].astype("float64") + future)


def test_alibi_slopes_for_8_heads_are_one_half_to_one_256():
    assert reference_alibi_slopes(8) == [2.0**-h for h in range(1, 9)]  # m_h = 2^(-8h / 8)
    log_weights = identical_tokens_log_weights(CausalSelfAttention(8, 2, alibi=True))
    # The score of a key one position back is lower by m_h: log w[m, m - 1] - log w[m, m] = -m_h.
    slopes = -(log_weights[:, 5, 4] - log_weights[:, 5, 5])
    np.testing.assert_allclose(slopes, [1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32, 1 / 64, 1 / 128, 1 / 256], atol=1e-5)


@pytest.mark.parametrize("num_heads", [1, 3, 6, 12])
def test_alibi_slopes_for_other_numbers_of_heads_follow_the_official_code(num_heads):
    # 6 heads: the 4 slopes of 4 heads (1/4 .. 1/256), then 1/2 and 1/8 from those of 8 heads
    log_weights = identical_tokens_log_weights(CausalSelfAttention(num_heads, 2, alibi=True))
    expected = reference_alibi_slopes(num_heads)
    np.testing.assert_allclose(log_weights[:, 5, 4] - log_weights[:, 5, 5], -np.asarray(expected), atol=1e-5)
    if num_heads == 6:
        assert expected == [1 / 4, 1 / 16, 1 / 64, 1 / 256, 1 / 2, 1 / 8]


@pytest.mark.parametrize("num_cached", [0, 2], ids=["full_call", "after_a_cache"])
def test_with_alibi_weights_of_identical_tokens_depend_only_on_the_offset(num_cached):
    # Every score is the same q . k / sqrt(k) plus the bias, so log(w[i, j] / w[i, i]) = -m_h (i - j)
    # exactly, for every query position i (those after a cache included) and key j <= i.
    layer = CausalSelfAttention(4, 2, num_key_value_heads=2, alibi=True)
    log_weights = identical_tokens_log_weights(layer, num_cached=num_cached)
    positions = np.arange(num_cached, 6)
    relative = log_weights - log_weights[:, np.arange(len(positions)), positions][..., None]
    expected = linear_biases(4, positions, np.arange(6))
    visible = np.tril(np.ones((6, 6), bool))[num_cached:]
    np.testing.assert_allclose(relative[:, visible], expected[:, visible], atol=1e-5)


@pytest.mark.parametrize("num_key_value_heads", [4, 2, 1], ids=["multi_head", "grouped_query", "multi_query"])
def test_with_alibi_equals_the_numpy_reference(inputs, padding, rng, num_key_value_heads):
    layer = CausalSelfAttention(4, 3, num_key_value_heads, alibi=True)
    layer(inputs)
    randomise_biases(layer, rng)
    query, key, value = (numpy_of(p(inputs)).astype("float64") for p in (layer.query, layer.key, layer.value))
    group_size = 4 // num_key_value_heads  # query head i reads key/value head i // group_size
    key, value = np.repeat(key, group_size, axis=2), np.repeat(value, group_size, axis=2)
    scores = np.einsum("bthk,bshk->bhts", query, key) / np.sqrt(3) + linear_biases(4, np.arange(T), np.arange(T))
    for mask in (None, padding):
        allowed = np.tril(np.ones((T, T), bool))[None, None]
        if mask is not None:
            allowed = allowed & mask[:, None, :, None] & mask[:, None, None, :]
        expected_weights = softmax(scores, allowed)
        context = np.einsum("bhts,bshk->bthk", expected_weights, value).astype("float32")
        outputs, weights = layer(inputs, mask=mask, return_attention_scores=True)
        np.testing.assert_allclose(numpy_of(weights), expected_weights, atol=ATOL)
        np.testing.assert_allclose(numpy_of(outputs), numpy_of(layer.attention_output(context)), atol=ATOL)


def test_with_alibi_equals_keras_dot_product_attention_with_the_biases(inputs, rng):
    layer = CausalSelfAttention(4, 3, num_key_value_heads=2, alibi=True)
    layer(inputs)
    randomise_biases(layer, rng)
    query, key, value = layer.query(inputs), layer.key(inputs), layer.value(inputs)
    biases = linear_biases(4, np.arange(T), np.arange(T))[None].astype("float32")
    context = ops.dot_product_attention(query, key, value, bias=biases, is_causal=True)
    np.testing.assert_allclose(numpy_of(layer(inputs)), numpy_of(layer.attention_output(context)), atol=ATOL)


@pytest.mark.parametrize("prompt_length", [1, 3], ids=["token_by_token", "prompt_then_tokens"])
def test_with_alibi_decoding_with_the_cache_equals_the_full_call(inputs, rng, prompt_length):
    layer = CausalSelfAttention(4, 3, num_key_value_heads=2, alibi=True)
    layer(inputs)
    randomise_biases(layer, rng)
    expected, expected_weights = (numpy_of(x) for x in layer(inputs, return_attention_scores=True))
    cache, start = layer.empty_cache(B), 0
    for stop in [prompt_length, *range(prompt_length + 1, T + 1)]:
        outputs, weights, cache = layer(inputs[:, start:stop], cache=cache, return_attention_scores=True)
        np.testing.assert_allclose(numpy_of(outputs), expected[:, start:stop], atol=ATOL)
        np.testing.assert_allclose(numpy_of(weights), expected_weights[:, :, start:stop, :stop], atol=ATOL)
        start = stop
    # The cache holds the keys as projected: the biases are no part of them.
    np.testing.assert_allclose(numpy_of(cache[0]), numpy_of(layer.key(inputs)), atol=ATOL)


def test_alibi_is_in_the_config_and_reaches_the_decoder_blocks_self_attention(inputs):
    layer = CausalSelfAttention(4, 2, alibi=True)
    config = layer.get_config()
    assert (config["alibi"], config["rotary"]) == (True, False)
    assert CausalSelfAttention.from_config(config).get_config() == config
    block = decoder_block(alibi=True)
    block(inputs)
    assert block.self_attention.alibi and not block.self_attention.rotary
    assert block.get_config()["alibi"] is True
    assert TransformerDecoderBlock.from_config(block.get_config()).get_config() == block.get_config()


@pytest.mark.parametrize("layer_class", [CausalSelfAttention, TransformerDecoderBlock])
def test_alibi_bad_arguments_are_named(layer_class):
    with pytest.raises(TypeError, match=r"argument alibi\b.*Received: alibi='yes'"):
        layer_class(4, 2, alibi="yes")
    with pytest.raises(ValueError, match=r"argument alibi\b.*with rotary=True.*Received: alibi=True"):
        layer_class(4, 2, rotary=True, alibi=True)
