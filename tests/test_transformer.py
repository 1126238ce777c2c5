"""TransformerEncoderBlock, PositionalEmbedding and the sinusoidal positional encoding against NumPy
formulas: shapes, masks, the paper's equations, saving and loading, and bad input."""

import keras
import numpy as np
import pytest
from helpers import error_for_integer_argument, numpy_of, saved_and_loaded, softmax
from keras import ops

from attention_utils.layers.transformer import PositionalEmbedding, TransformerEncoderBlock
from attention_utils.positional import positional_rotation, sinusoidal_positional_encoding

ATOL = 1e-5


@pytest.fixture
def inputs(rng):
    return rng.normal(size=(2, 5, 8)).astype("float32")


@pytest.fixture
def padding():
    # Two sequences of 5 positions, padded after 3 and after 5.
    return np.array([[True, True, True, False, False], [True] * 5])


# ---- NumPy reference of the block, written from Vaswani et al. (2017) ----


def layer_norm(x, norm, epsilon):
    gamma, beta = norm.get_weights()
    mean, variance = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


def multi_head_self_attention(x, attention, mask=None):
    (w_q, b_q), (w_k, b_k), (w_v, b_v), (w_o, b_o) = (
        layer.get_weights()
        for layer in (attention.query_dense, attention.key_dense, attention.value_dense, attention.output_dense)
    )
    query = np.einsum("btd,dhk->bhtk", x, w_q) + b_q[:, None]  # (batch, heads, T, key_dim)
    key = np.einsum("btd,dhk->bhtk", x, w_k) + b_k[:, None]
    value = np.einsum("btd,dhk->bhtk", x, w_v) + b_v[:, None]
    scores = query @ np.swapaxes(key, -1, -2) / np.sqrt(query.shape[-1])  # eq. 1
    weights = softmax(scores, None if mask is None else mask[:, None])
    heads = weights @ value  # (batch, heads, T, value_dim)
    return np.einsum("bhtv,hvd->btd", heads, w_o) + b_o, weights  # Concat(head_1..head_h) W^O


def reference_block(x, block, mask=None):
    def feed_forward(h):  # eq. 2
        (w_1, b_1), (w_2, b_2) = block.ff_hidden.get_weights(), block.ff_output.get_weights()
        return np.maximum(h @ w_1 + b_1, 0) @ w_2 + b_2

    if block.norm_first:
        attended, weights = multi_head_self_attention(
            layer_norm(x, block.attention_norm, block.epsilon), block.attention, mask
        )
        h = x + attended
        return h + feed_forward(layer_norm(h, block.ff_norm, block.epsilon)), weights
    attended, weights = multi_head_self_attention(x, block.attention, mask)
    h = layer_norm(x + attended, block.attention_norm, block.epsilon)
    return layer_norm(h + feed_forward(h), block.ff_norm, block.epsilon), weights


def randomise_norms(block, rng):
    """Give the layer norms non-trivial gains and biases, so a test would see them misused."""
    for norm in (block.attention_norm, block.ff_norm):
        norm.set_weights([rng.normal(1, 0.2, size=w.shape).astype("float32") for w in norm.get_weights()])


# ---- TransformerEncoderBlock ----


def test_shapes_of_output_and_weights(inputs):
    outputs, weights = TransformerEncoderBlock(num_heads=2, ff_dim=16)(inputs, return_attention_scores=True)
    assert tuple(outputs.shape) == (2, 5, 8)
    assert tuple(weights.shape) == (2, 2, 5, 5)
    np.testing.assert_allclose(numpy_of(weights).sum(-1), 1.0, atol=ATOL)


def test_symbolic_shapes_in_a_functional_model():
    x = keras.Input((5, 8))
    outputs, weights = TransformerEncoderBlock(num_heads=4, ff_dim=16)(x, return_attention_scores=True)
    assert tuple(outputs.shape) == (None, 5, 8)
    assert tuple(weights.shape) == (None, 4, 5, 5)


@pytest.mark.parametrize("norm_first", [False, True], ids=["post_ln", "pre_ln"])
def test_matches_the_papers_equations_in_numpy(inputs, rng, norm_first):
    block = TransformerEncoderBlock(num_heads=2, ff_dim=16, norm_first=norm_first)
    block.build(inputs.shape)
    randomise_norms(block, rng)
    outputs, weights = block(inputs, return_attention_scores=True)
    expected_outputs, expected_weights = reference_block(inputs, block)
    np.testing.assert_allclose(numpy_of(weights), expected_weights, atol=ATOL)
    np.testing.assert_allclose(numpy_of(outputs), expected_outputs, atol=1e-4)


def test_key_dim_defaults_to_d_model_over_num_heads_and_can_be_set(inputs):
    block = TransformerEncoderBlock(num_heads=4, ff_dim=16)
    block(inputs)
    assert block.attention.key_dim == 2
    block = TransformerEncoderBlock(num_heads=3, ff_dim=16, key_dim=5)
    assert tuple(block(inputs).shape) == (2, 5, 8)
    assert block.attention.key_dim == 5


def test_parameter_count_is_the_papers(inputs):
    d_model, ff_dim = 8, 16
    block = TransformerEncoderBlock(num_heads=2, ff_dim=ff_dim)
    block(inputs)
    attention = 4 * (d_model * d_model + d_model)  # W^Q, W^K, W^V, W^O and their biases
    feed_forward = d_model * ff_dim + ff_dim + ff_dim * d_model + d_model
    norms = 2 * 2 * d_model
    assert block.count_params() == attention + feed_forward + norms


def test_padded_key_gets_zero_weight_and_padded_query_zero_weights(inputs, padding):
    block = TransformerEncoderBlock(num_heads=2, ff_dim=16)
    outputs, weights = block(inputs, mask=padding, return_attention_scores=True)
    weights = numpy_of(weights)
    assert np.all(weights[0, :, :, 3:] == 0)  # padded keys
    assert np.all(weights[0, :, 3:, :] == 0)  # padded queries: nothing to attend to, and no NaN
    np.testing.assert_allclose(weights[0, :, :3].sum(-1), 1.0, atol=ATOL)
    np.testing.assert_allclose(weights[1].sum(-1), 1.0, atol=ATOL)
    assert np.isfinite(numpy_of(outputs)).all()


def test_padding_leaves_real_positions_as_without_padding(inputs, padding):
    block = TransformerEncoderBlock(num_heads=2, ff_dim=16)
    padded = block(inputs, mask=padding)
    unpadded = block(inputs[:1, :3])
    np.testing.assert_allclose(numpy_of(padded)[0, :3], numpy_of(unpadded)[0], atol=ATOL)


def test_padding_mask_matches_the_numpy_reference(inputs, padding):
    block = TransformerEncoderBlock(num_heads=2, ff_dim=16)
    outputs, weights = block(inputs, mask=padding, return_attention_scores=True)
    pair_mask = padding[:, :, None] & padding[:, None, :]
    expected_outputs, expected_weights = reference_block(inputs, block, pair_mask)
    np.testing.assert_allclose(numpy_of(weights), expected_weights, atol=ATOL)
    np.testing.assert_allclose(numpy_of(outputs)[padding], expected_outputs[padding], atol=1e-4)


def test_keras_masking_from_positional_embedding_equals_an_explicit_mask():
    tokens = np.array([[3, 1, 4, 0, 0], [1, 5, 9, 2, 6]])
    embedding = PositionalEmbedding(vocabulary_size=10, max_length=5, d_model=8, mask_zero=True)
    block = TransformerEncoderBlock(num_heads=2, ff_dim=16)
    token_input = keras.Input((5,), dtype="int32")
    outputs, weights = block(embedding(token_input), return_attention_scores=True)
    model = keras.Model(token_input, [outputs, weights])
    model_outputs, model_weights = model(tokens)
    explicit_outputs, explicit_weights = block(embedding(tokens), mask=tokens != 0, return_attention_scores=True)
    np.testing.assert_allclose(numpy_of(model_weights), numpy_of(explicit_weights), atol=ATOL)
    np.testing.assert_allclose(numpy_of(model_outputs), numpy_of(explicit_outputs), atol=ATOL)
    assert np.all(numpy_of(model_weights)[0, :, :, 3:] == 0)


def test_output_carries_the_padding_mask(inputs, padding):
    block = TransformerEncoderBlock(num_heads=2, ff_dim=16)
    np.testing.assert_array_equal(numpy_of(block.compute_mask(inputs, ops.convert_to_tensor(padding))), padding)


def test_causal_mask_hides_the_future(inputs):
    block = TransformerEncoderBlock(num_heads=2, ff_dim=16)
    outputs, weights = block(inputs, use_causal_mask=True, return_attention_scores=True)
    weights = numpy_of(weights)
    upper = np.triu(np.ones((5, 5), dtype=bool), k=1)
    assert np.all(weights[..., upper] == 0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=ATOL)
    changed_future = inputs.copy()
    changed_future[:, 3:] += 1.0
    np.testing.assert_allclose(
        numpy_of(block(changed_future, use_causal_mask=True))[:, :3], numpy_of(outputs)[:, :3], atol=ATOL
    )
    _, expected_weights = reference_block(inputs, block, ~upper[None])
    np.testing.assert_allclose(weights, expected_weights, atol=ATOL)


def test_attention_mask_combines_with_padding_and_causal_masks(inputs, padding):
    block = TransformerEncoderBlock(num_heads=2, ff_dim=16)
    no_self = ~np.eye(5, dtype=bool)[None]  # (1, T, T): no position attends to itself
    _, weights = block(inputs, mask=padding, attention_mask=no_self, use_causal_mask=True, return_attention_scores=True)
    weights = numpy_of(weights)
    allowed = np.tril(np.ones((5, 5), dtype=bool), k=-1)[None] & padding[:, :, None] & padding[:, None, :]
    assert np.all(weights.transpose(1, 0, 2, 3)[:, ~allowed] == 0)
    assert np.all(weights[:, :, 0] == 0)  # position 0 has no earlier position: zero weights, not NaN
    rows = allowed.any(-1)
    np.testing.assert_allclose(weights.transpose(1, 0, 2, 3)[:, rows].sum(-1), 1.0, atol=ATOL)


def test_without_positions_the_block_is_permutation_equivariant(inputs):
    block = TransformerEncoderBlock(num_heads=2, ff_dim=16)
    permutation = np.array([3, 0, 4, 1, 2])
    outputs, weights = block(inputs, return_attention_scores=True)
    permuted_outputs, permuted_weights = block(inputs[:, permutation], return_attention_scores=True)
    np.testing.assert_allclose(numpy_of(permuted_outputs), numpy_of(outputs)[:, permutation], atol=ATOL)
    np.testing.assert_allclose(
        numpy_of(permuted_weights), numpy_of(weights)[:, :, permutation][..., permutation], atol=ATOL
    )


def test_dropout_acts_in_training_only(inputs):
    block = TransformerEncoderBlock(num_heads=2, ff_dim=16, dropout=0.5, attention_dropout=0.5)
    inference = numpy_of(block(inputs))
    np.testing.assert_allclose(numpy_of(block(inputs, training=False)), inference, atol=ATOL)
    assert not np.allclose(numpy_of(block(inputs, training=True)), inference, atol=1e-3)


def test_get_config_round_trip():
    block = TransformerEncoderBlock(
        num_heads=3,
        ff_dim=12,
        key_dim=4,
        dropout=0.2,
        attention_dropout=0.1,
        activation="gelu",
        norm_first=True,
        epsilon=1e-5,
        name="encoder",
    )
    config = block.get_config()
    again = TransformerEncoderBlock.from_config(config)
    assert again.get_config() == config
    assert config["norm_first"] is True and config["activation"] == "gelu" and config["key_dim"] == 4


@pytest.mark.parametrize("norm_first", [False, True], ids=["post_ln", "pre_ln"])
def test_saves_to_keras_and_loads_back_with_safe_mode(tmp_path, norm_first):
    tokens = np.array([[3, 1, 4, 1, 5, 0], [2, 7, 1, 8, 2, 8]])
    token_input = keras.Input((6,), dtype="int32")
    x = PositionalEmbedding(vocabulary_size=10, max_length=6, d_model=8, mask_zero=True)(token_input)
    x, weights = TransformerEncoderBlock(num_heads=2, ff_dim=16, norm_first=norm_first, activation="gelu")(
        x, return_attention_scores=True
    )
    model = keras.Model(token_input, [keras.layers.Dense(10)(x), weights])
    loaded = saved_and_loaded(model, tmp_path)
    for original, restored in zip(model(tokens), loaded(tokens)):
        np.testing.assert_array_equal(numpy_of(original), numpy_of(restored))


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"num_heads": 0, "ff_dim": 16}, "num_heads"),
        ({"num_heads": 2.0, "ff_dim": 16}, "num_heads"),
        ({"num_heads": 2, "ff_dim": "16"}, "ff_dim"),
        ({"num_heads": 2, "ff_dim": 16, "key_dim": 0}, "key_dim"),
        ({"num_heads": 2, "ff_dim": 16, "dropout": 1.0}, "dropout"),
        ({"num_heads": 2, "ff_dim": 16, "attention_dropout": -0.1}, "attention_dropout"),
        ({"num_heads": 2, "ff_dim": 16, "activation": "no_such_activation"}, "activation"),
    ],
)
def test_bad_constructor_arguments_are_named(kwargs, argument):
    integer = argument in ("num_heads", "ff_dim", "key_dim")
    error = error_for_integer_argument(kwargs[argument]) if integer else ValueError
    with pytest.raises(error, match=f"argument {argument}"):
        TransformerEncoderBlock(**kwargs)


def test_a_flag_that_is_not_a_bool_is_a_type_error():
    with pytest.raises(TypeError, match="argument norm_first"):
        TransformerEncoderBlock(num_heads=2, ff_dim=16, norm_first="yes")


def test_num_heads_must_divide_d_model_unless_key_dim_is_given(inputs):
    with pytest.raises(ValueError, match=r"argument num_heads.*d_model=8"):
        TransformerEncoderBlock(num_heads=3, ff_dim=16)(inputs)


def test_bad_call_inputs_are_named(inputs, padding):
    block = TransformerEncoderBlock(num_heads=2, ff_dim=16)
    with pytest.raises(ValueError, match=r"argument inputs.*Received: inputs.shape=\(2, 5\)"):
        block(inputs[..., 0])
    block(inputs)
    with pytest.raises(ValueError, match="arguments mask and inputs"):
        block(inputs, mask=padding[:, :4])
    with pytest.raises(ValueError, match="argument attention_mask"):
        block(inputs, attention_mask=np.ones((2, 5, 4), dtype=bool))


# ---- PositionalEmbedding ----


def test_positional_embedding_is_scaled_embedding_plus_encoding():
    tokens = np.array([[1, 2, 3], [4, 0, 6]])
    layer = PositionalEmbedding(vocabulary_size=10, max_length=4, d_model=6)
    outputs = numpy_of(layer(tokens))
    table = layer.embedding.get_weights()[0]
    expected = table[tokens] * np.sqrt(6) + sinusoidal_positional_encoding(4, 6)[:3]
    np.testing.assert_allclose(outputs, expected, atol=ATOL)
    assert layer.compute_mask(tokens) is None


def test_positional_embedding_mask_zero_marks_padding():
    tokens = np.array([[1, 2, 0], [4, 0, 0]])
    layer = PositionalEmbedding(vocabulary_size=10, max_length=3, d_model=4, mask_zero=True)
    np.testing.assert_array_equal(numpy_of(layer.compute_mask(tokens)), tokens != 0)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"vocabulary_size": 0, "max_length": 4, "d_model": 6}, "vocabulary_size"),
        ({"vocabulary_size": 10, "max_length": 0, "d_model": 6}, "max_length"),
        ({"vocabulary_size": 10, "max_length": 4, "d_model": 5}, "depth"),
    ],
)
def test_positional_embedding_bad_arguments_are_named(kwargs, argument):
    with pytest.raises(ValueError, match=f"argument {argument}"):
        PositionalEmbedding(**kwargs)


def test_positional_embedding_rejects_sequences_longer_than_max_length():
    with pytest.raises(ValueError, match=r"argument inputs.*max_length=4"):
        PositionalEmbedding(vocabulary_size=10, max_length=4, d_model=6)(np.zeros((1, 5), dtype="int32"))


# ---- sinusoidal_positional_encoding and positional_rotation ----


def test_encoding_matches_the_papers_formula():
    length, depth = 50, 16
    encoding = sinusoidal_positional_encoding(length, depth)
    assert encoding.shape == (length, depth) and encoding.dtype == np.float32
    for pos in range(length):
        for i in range(depth // 2):
            angle = pos / 10000 ** (2 * i / depth)  # Vaswani et al. 2017, section 3.5
            np.testing.assert_allclose(encoding[pos, 2 * i], np.sin(angle), atol=1e-6)
            np.testing.assert_allclose(encoding[pos, 2 * i + 1], np.cos(angle), atol=1e-6)


@pytest.mark.parametrize("offset", [1, 3, 17, -5])
def test_relative_position_is_a_fixed_linear_function(offset):
    length, depth = 64, 32
    encoding = sinusoidal_positional_encoding(length, depth).astype("float64")
    rotation = positional_rotation(offset, depth)
    positions = np.arange(max(0, -offset), min(length, length - offset))
    np.testing.assert_allclose(encoding[positions] @ rotation.T, encoding[positions + offset], atol=1e-5)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(depth), atol=1e-12)


def test_dot_product_of_encodings_depends_on_the_offset_only():
    encoding = sinusoidal_positional_encoding(40, 16).astype("float64")
    for offset in (0, 2, 7):
        dots = np.einsum("pd,pd->p", encoding[: 40 - offset], encoding[offset:])
        expected = np.cos(offset * 10000 ** (-np.arange(0, 16, 2) / 16)).sum()
        np.testing.assert_allclose(dots, expected, atol=1e-5)


@pytest.mark.parametrize(
    "call, argument, error",
    [
        (lambda: sinusoidal_positional_encoding(0, 8), "length", ValueError),
        (lambda: sinusoidal_positional_encoding(4, 7), "depth", ValueError),
        (lambda: sinusoidal_positional_encoding(4.0, 8), "length", TypeError),
        (lambda: positional_rotation(1.5, 8), "offset", TypeError),
        (lambda: positional_rotation(True, 8), "offset", TypeError),
        (lambda: positional_rotation(1, 3), "depth", ValueError),
    ],
)
def test_positional_bad_arguments_are_named(call, argument, error):
    with pytest.raises(error, match=f"argument {argument}"):
        call()
