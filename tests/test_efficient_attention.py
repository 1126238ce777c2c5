"""blockwise_attend, windowed_attend and linear_attend against independent references: attend (itself
tested against NumPy and Keras) with the equivalent mask, and linear attention's explicit O(T^2) formula
written in NumPy. Then bad input. The backward pass that recomputes the tiles has its own module,
test_efficient_gradient.py."""

import keras
import numpy as np
import pytest
from helpers import compiled, error_for_integer_argument, linear_attention, numpy_of
from keras import ops

from attention_utils import attend, autodiff, causal_mask
from attention_utils.efficient import blockwise_attend, linear_attend, windowed_attend

ATOL = 1e-5
TQ, TK = 13, 17  # lengths that no block size below divides


@pytest.fixture
def query_key_value(rng):
    def draw(*shape):
        return rng.normal(size=shape).astype("float32")

    return draw(2, 3, TQ, 4), draw(2, 3, TK, 4), draw(2, 3, TK, 5)


def band_mask(num_queries, num_keys, window, causal=False):
    offset = np.arange(num_queries)[:, None] - np.arange(num_keys)[None, :]  # i - j
    return (offset <= window) & (offset >= (0 if causal else -window))


# blockwise_attend: exact attention, tile by tile


@pytest.mark.parametrize(
    ("block_size", "query_block_size"), [(1, 13), (4, 1), (4, 1024), (5, 6), (16, 13), (17, 6), (64, 1024)]
)
def test_blockwise_equals_attend_for_every_block_size(query_key_value, block_size, query_block_size):
    query, key, value = query_key_value
    expected, _ = attend(query, value, key)
    context = blockwise_attend(query, value, key, block_size=block_size, query_block_size=query_block_size)
    np.testing.assert_allclose(numpy_of(context), numpy_of(expected), atol=ATOL)


@pytest.mark.parametrize("score", ["dot", "scaled_dot", "cosine"])
def test_blockwise_equals_attend_for_every_named_score(query_key_value, score):
    query, key, value = query_key_value
    expected, _ = attend(query, value, key, score=score)
    context = blockwise_attend(query, value, key, score=score, block_size=4, query_block_size=5)
    np.testing.assert_allclose(numpy_of(context), numpy_of(expected), atol=ATOL)


def test_blockwise_calls_a_score_function_on_blocks(query_key_value):
    query, key, value = query_key_value

    def negative_distance(query, key):  # not a matrix product: a score only a callable can give
        return -ops.sum((query[..., :, None, :] - key[..., None, :, :]) ** 2, axis=-1)

    expected, _ = attend(query, value, key, score=negative_distance)
    context = blockwise_attend(query, value, key, score=negative_distance, block_size=5, query_block_size=4)
    np.testing.assert_allclose(numpy_of(context), numpy_of(expected), atol=ATOL)


@pytest.mark.parametrize("block_size", [1, 4, 16, 64])
def test_blockwise_with_a_full_mask_equals_attend(query_key_value, rng, block_size):
    query, key, value = query_key_value
    mask = rng.random((2, 3, TQ, TK)) > 0.4
    mask[0, 1, 2] = False  # a fully masked row
    expected, _ = attend(query, value, key, mask=mask)
    context = numpy_of(blockwise_attend(query, value, key, mask=mask, block_size=block_size, query_block_size=5))
    np.testing.assert_allclose(context, numpy_of(expected), atol=ATOL)
    assert np.all(context[0, 1, 2] == 0.0)  # zeros, like masked_softmax, never NaN


@pytest.mark.parametrize("shape", [(TK,), (1, TK), (2, 1, 1, TK), (TQ, 1), (3, TQ, TK)])
def test_blockwise_broadcasts_the_mask_like_attend(query_key_value, rng, shape):
    query, key, value = query_key_value
    mask = rng.random(shape) > 0.3
    expected, _ = attend(query, value, key, mask=mask)
    context = blockwise_attend(query, value, key, mask=mask, block_size=4, query_block_size=5)
    np.testing.assert_allclose(numpy_of(context), numpy_of(expected), atol=ATOL)


def test_blockwise_with_a_padding_mask(query_key_value):
    query, key, value = query_key_value
    lengths = np.array([TK, 6])
    key_mask = np.arange(TK)[None, :] < lengths[:, None]  # (batch, Tk)
    expected, _ = attend(query, value, key, mask=key_mask[:, None, None, :])
    context = blockwise_attend(query, value, key, mask=key_mask[:, None, None, :], block_size=4)
    np.testing.assert_allclose(numpy_of(context), numpy_of(expected), atol=ATOL)


@pytest.mark.parametrize("lengths", [(TQ, TK), (TK, TQ), (TQ, TQ)])
@pytest.mark.parametrize("block_size", [1, 4, 64])
def test_blockwise_causal_equals_attend_with_the_causal_mask(rng, lengths, block_size):
    num_queries, num_keys = lengths
    query, key = rng.normal(size=(2, num_queries, 4)), rng.normal(size=(2, num_keys, 4))
    value = rng.normal(size=(2, num_keys, 3))
    expected, _ = attend(query, value, key, mask=causal_mask(num_queries, num_keys))
    context = blockwise_attend(query, value, key, causal=True, block_size=block_size, query_block_size=3)
    np.testing.assert_allclose(numpy_of(context), numpy_of(expected), atol=ATOL)


def test_blockwise_key_defaults_to_value(rng):
    query, value = rng.normal(size=(2, TQ, 4)), rng.normal(size=(2, TK, 4))
    np.testing.assert_allclose(
        numpy_of(blockwise_attend(query, value, block_size=4)), numpy_of(attend(query, value)[0]), atol=ATOL
    )


def test_blockwise_compiled_equals_eager(query_key_value, rng):
    query, key, value = query_key_value
    mask = rng.random((TQ, TK)) > 0.3

    def run(query, key, value):
        return blockwise_attend(query, value, key, mask=mask, block_size=4, query_block_size=6)

    np.testing.assert_allclose(numpy_of(compiled(run)(query, key, value)), numpy_of(run(query, key, value)), atol=ATOL)


def test_blockwise_gradients_equal_attends(query_key_value, rng):
    mask = rng.random((TQ, TK)) > 0.3
    mask[:, 0] = True

    def gradients(attention):
        return autodiff.gradients(lambda q, k, v: ops.sum(attention(q, k, v) ** 2), *query_key_value)

    expected = gradients(lambda q, k, v: attend(q, v, k, mask=mask)[0])
    actual = gradients(lambda q, k, v: blockwise_attend(q, v, k, mask=mask, block_size=4, query_block_size=5))
    for got, want in zip(actual, expected):
        np.testing.assert_allclose(numpy_of(got), numpy_of(want), atol=1e-4)


def test_blockwise_keeps_float64(rng):
    query, key, value = rng.normal(size=(TQ, 4)), rng.normal(size=(TK, 4)), rng.normal(size=(TK, 3))
    context = blockwise_attend(query, value, key, block_size=4)
    assert keras.backend.standardize_dtype(context.dtype) == "float64"
    np.testing.assert_allclose(numpy_of(context), numpy_of(attend(query, value, key)[0]), atol=1e-12)


# windowed_attend: exact attention within a band


@pytest.mark.parametrize("window", [0, 1, 3, 20])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("block_size", [256, 2, 5])
def test_windowed_equals_attend_with_a_band_mask(query_key_value, window, causal, block_size):
    query, key, value = query_key_value
    expected, _ = attend(query, value, key, mask=band_mask(TQ, TK, window, causal))
    context = windowed_attend(query, value, key, window=window, causal=causal, block_size=block_size)
    np.testing.assert_allclose(numpy_of(context), numpy_of(expected), atol=ATOL)


def test_windowed_combines_the_band_with_a_mask(query_key_value, rng):
    query, key, value = query_key_value
    mask = rng.random((2, 1, TQ, TK)) > 0.3
    expected, _ = attend(query, value, key, mask=mask & band_mask(TQ, TK, 2))
    context = windowed_attend(query, value, key, mask=mask, window=2, block_size=4)
    np.testing.assert_allclose(numpy_of(context), numpy_of(expected), atol=ATOL)


def test_windowed_gives_zeros_to_a_query_with_no_key_in_its_window(rng):
    query, key, value = rng.normal(size=(12, 4)), rng.normal(size=(4, 4)), rng.normal(size=(4, 3))
    context = numpy_of(windowed_attend(query, value, key, window=2, block_size=3))
    expected, _ = attend(query, value, key, mask=band_mask(12, 4, 2))
    np.testing.assert_allclose(context, numpy_of(expected), atol=ATOL)
    assert np.all(context[6:] == 0.0)  # queries 6.. are more than 2 positions past the last key


# linear_attend: a different attention, equal to its own explicit formula


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("lengths", [(TQ, TK), (TK, TQ), (TQ, TQ)])
@pytest.mark.parametrize("block_size", [1, 4, 256])
def test_linear_equals_its_explicit_quadratic_formula(rng, causal, lengths, block_size):
    num_queries, num_keys = lengths
    query, key = rng.normal(size=(2, 3, num_queries, 4)), rng.normal(size=(2, 3, num_keys, 4))
    value = rng.normal(size=(2, 3, num_keys, 5))
    expected = linear_attention(query, key, value, causal=causal)
    context = linear_attend(query, value, key, causal=causal, block_size=block_size)
    np.testing.assert_allclose(numpy_of(context), expected, atol=ATOL)


@pytest.mark.parametrize("causal", [False, True])
def test_linear_with_a_key_mask(query_key_value, causal):
    query, key, value = query_key_value
    key_mask = np.ones((2, 1, TK), dtype=bool)
    key_mask[1, 0, 5:] = False
    key_mask[0, 0, :] = False  # nothing to read: zero context
    expected = linear_attention(query, key, value, causal=causal, key_mask=key_mask)
    context = numpy_of(linear_attend(query, value, key, causal=causal, key_mask=key_mask, block_size=4))
    np.testing.assert_allclose(context, expected, atol=ATOL)
    assert np.all(context[0] == 0.0)


def test_linear_is_an_approximation_not_softmax_attention(query_key_value):
    query, key, value = query_key_value
    exact, _ = attend(query, value, key, score="dot")  # the kernel exp(q . k) that phi(q) . phi(k) replaces
    context = linear_attend(query, value, key)
    relative_error = np.linalg.norm(numpy_of(context) - numpy_of(exact)) / np.linalg.norm(numpy_of(exact))
    assert relative_error > 0.05


# Bad input


@pytest.mark.parametrize("function", [blockwise_attend, windowed_attend])
def test_unknown_score_name_is_rejected(query_key_value, function):
    query, key, value = query_key_value
    with pytest.raises(ValueError, match=r"argument score\. Expected one of .*Received: score='dotty'"):
        function(query, value, key, score="dotty", **({"window": 1} if function is windowed_attend else {}))


@pytest.mark.parametrize("function", [blockwise_attend, windowed_attend])
@pytest.mark.parametrize("name", ["general", "bilinear", "additive", "gaussian"])
def test_a_score_with_parameters_by_name_says_to_pass_a_callable(query_key_value, function, name):
    query, key, value = query_key_value
    with pytest.raises(ValueError, match=rf"argument score\. The score '{name}'.* needs parameters.*functools"):
        function(query, value, key, score=name, **({"window": 1} if function is windowed_attend else {}))


def test_a_score_with_parameters_given_as_a_partial_equals_attend(query_key_value, rng):
    import functools

    from attention_utils import scores

    query, key, value = query_key_value
    score = functools.partial(scores.gaussian, width=2.0)
    expected, _ = attend(query, value, key, score=score)
    for context in (
        blockwise_attend(query, value, key, score=score, block_size=4, query_block_size=5),
        windowed_attend(query, value, key, score=score, window=TK, block_size=4),
    ):
        np.testing.assert_allclose(numpy_of(context), numpy_of(expected), atol=ATOL)


def test_score_that_is_neither_name_nor_callable_is_rejected(query_key_value):
    query, key, value = query_key_value
    with pytest.raises(TypeError, match="argument score"):
        blockwise_attend(query, value, key, score=3)


@pytest.mark.parametrize("block_size", [0, -4, 2.5, True, "8"])
def test_block_size_must_be_a_positive_integer(query_key_value, block_size):
    query, key, value = query_key_value
    message = r"Invalid value for argument block_size\. Expected a positive integer\. Received: block_size="
    error = error_for_integer_argument(block_size)
    with pytest.raises(error, match=message):
        blockwise_attend(query, value, key, block_size=block_size)
    with pytest.raises(error, match=message):
        linear_attend(query, value, key, causal=True, block_size=block_size)
    with pytest.raises(error, match="argument query_block_size"):
        blockwise_attend(query, value, key, query_block_size=block_size)


@pytest.mark.parametrize("window", [-1, 1.5, None])
def test_window_must_be_a_non_negative_integer(query_key_value, window):
    query, key, value = query_key_value
    with pytest.raises(error_for_integer_argument(window), match=r"argument window\. Expected a non-negative integer"):
        windowed_attend(query, value, key, window=window)


@pytest.mark.parametrize("function", [blockwise_attend, linear_attend])
def test_keys_and_values_must_have_the_same_length(rng, function):
    query, key, value = rng.normal(size=(TQ, 4)), rng.normal(size=(TK, 4)), rng.normal(size=(TK + 1, 3))
    with pytest.raises(ValueError, match=r"one value per key .* key\.shape=\(17, 4\), value\.shape=\(18, 3\)"):
        function(query, value, key)


@pytest.mark.parametrize("function", [blockwise_attend, linear_attend])
def test_queries_and_keys_must_have_the_same_size(rng, function):
    query, key, value = rng.normal(size=(TQ, 4)), rng.normal(size=(TK, 6)), rng.normal(size=(TK, 3))
    with pytest.raises(ValueError, match=r"same feature size d\. Received: query\.shape=\(13, 4\), key\.shape"):
        function(query, value, key)


def test_without_a_key_the_error_names_value(rng):
    query, value = rng.normal(size=(TQ, 4)), rng.normal(size=(TK, 6))
    with pytest.raises(ValueError, match=r"value\.shape=\(17, 6\)"):
        blockwise_attend(query, value)


def test_a_mask_that_does_not_broadcast_is_rejected(query_key_value):
    query, key, value = query_key_value
    with pytest.raises(
        ValueError,
        match=r"argument mask\. Expected a shape that broadcasts to scores\.shape="
        r"\(2, 3, 13, 17\)\. Received: mask\.shape=\(13, 16\)",
    ):
        blockwise_attend(query, value, key, mask=np.ones((TQ, TK - 1), dtype=bool))


def test_a_key_mask_that_does_not_broadcast_is_rejected(query_key_value):
    query, key, value = query_key_value
    with pytest.raises(ValueError, match=r"argument key_mask.*Received: key_mask\.shape=\(2, 3, 16\)"):
        linear_attend(query, value, key, key_mask=np.ones((2, 3, TK - 1), dtype=bool))


def test_a_float_mask_is_rejected(query_key_value):
    query, key, value = query_key_value
    with pytest.raises(TypeError, match="argument mask. Expected a boolean array"):
        blockwise_attend(query, value, key, mask=np.ones((TQ, TK)))


def test_a_query_without_a_length_axis_is_rejected(rng):
    with pytest.raises(ValueError, match=r"argument query\. Expected a rank of at least 2.*query\.shape=\(4,\)"):
        blockwise_attend(rng.normal(size=4), rng.normal(size=(TK, 4)))


def test_an_unknown_length_is_rejected():
    query = keras.KerasTensor((None, None, 4))
    value = keras.KerasTensor((None, TK, 4))
    with pytest.raises(ValueError, match=r"argument query\. Expected a known length .* query\.shape=\(None, None, 4\)"):
        blockwise_attend(query, value)


def test_non_numeric_input_is_rejected():
    with pytest.raises(TypeError, match="argument query"):
        linear_attend([["a", "b"]], np.ones((2, 2)))
