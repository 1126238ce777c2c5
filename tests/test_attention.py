"""attend against NumPy and against Keras's own attention layers, with and without masks."""

import keras
import numpy as np
import pytest
from helpers import numpy_of, softmax

from attention_utils import attend, scores

ATOL = 1e-5


@pytest.fixture
def query_key_value(rng):
    def draw(*shape):
        return rng.normal(size=shape).astype("float32")

    return draw(2, 3, 4), draw(2, 5, 4), draw(2, 5, 6)


@pytest.fixture
def value_mask():
    # Two sequences of length 5, padded after 3 and after 5 positions: no row is fully masked,
    # where Keras (uniform weights) and attend (zero weights) are meant to differ.
    return np.array([[True, True, True, False, False], [True, True, True, True, True]])


def concat_score(query, key):
    """Keras's "concat" score, sum(tanh(q + k)): Bahdanau's with identity projections and v = 1."""
    d = query.shape[-1]
    return scores.additive(query, key, np.eye(d), np.eye(d), np.ones(d))


def test_matches_numpy_scaled_dot_attention(query_key_value):
    query, key, value = query_key_value
    logits = np.einsum("bqd,bkd->bqk", query, key) / 2.0
    weights = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    context, attention_weights = attend(query, value, key)
    np.testing.assert_allclose(numpy_of(attention_weights), weights, atol=ATOL)
    np.testing.assert_allclose(numpy_of(context), weights @ value, atol=ATOL)


def test_shapes(query_key_value):
    query, key, value = query_key_value
    context, weights = attend(query, value, key)
    assert tuple(context.shape) == (2, 3, 6)
    assert tuple(weights.shape) == (2, 3, 5)
    np.testing.assert_allclose(numpy_of(weights).sum(-1), 1.0, atol=ATOL)


def test_key_defaults_to_value(rng):
    query, value = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4))
    np.testing.assert_allclose(numpy_of(attend(query, value)[0]), numpy_of(attend(query, value, value)[0]))


@pytest.mark.parametrize("masked", [False, True])
def test_dot_matches_keras_attention_dot(query_key_value, value_mask, masked):
    query, key, value = query_key_value
    layer = keras.layers.Attention(score_mode="dot")
    mask = [None, value_mask] if masked else None
    expected, expected_weights = layer([query, value, key], mask=mask, return_attention_scores=True)
    context, weights = attend(query, value, key, score="dot", mask=value_mask[:, None, :] if masked else None)
    np.testing.assert_allclose(numpy_of(weights), numpy_of(expected_weights), atol=ATOL)
    np.testing.assert_allclose(numpy_of(context), numpy_of(expected), atol=ATOL)


@pytest.mark.parametrize("masked", [False, True])
def test_additive_matches_keras_attention_concat(query_key_value, value_mask, masked):
    query, key, value = query_key_value
    layer = keras.layers.Attention(score_mode="concat")
    mask = [None, value_mask] if masked else None
    expected, expected_weights = layer([query, value, key], mask=mask, return_attention_scores=True)
    context, weights = attend(query, value, key, score=concat_score, mask=value_mask[:, None, :] if masked else None)
    np.testing.assert_allclose(numpy_of(weights), numpy_of(expected_weights), atol=ATOL)
    np.testing.assert_allclose(numpy_of(context), numpy_of(expected), atol=ATOL)


@pytest.mark.parametrize("masked", [False, True])
def test_additive_matches_keras_additive_attention_without_scale(query_key_value, value_mask, masked):
    query, key, value = query_key_value
    layer = keras.layers.AdditiveAttention(use_scale=False)
    mask = [None, value_mask] if masked else None
    expected, expected_weights = layer([query, value, key], mask=mask, return_attention_scores=True)
    context, weights = attend(query, value, key, score=concat_score, mask=value_mask[:, None, :] if masked else None)
    np.testing.assert_allclose(numpy_of(weights), numpy_of(expected_weights), atol=ATOL)
    np.testing.assert_allclose(numpy_of(context), numpy_of(expected), atol=ATOL)


def test_fully_masked_query_gets_zero_context(query_key_value):
    query, key, value = query_key_value
    mask = np.ones((2, 3, 5), bool)
    mask[0, 1] = False
    context, weights = attend(query, value, key, mask=mask)
    assert not np.isnan(numpy_of(context)).any()
    np.testing.assert_array_equal(numpy_of(context)[0, 1], 0.0)
    np.testing.assert_array_equal(numpy_of(weights)[0, 1], 0.0)


def test_works_in_a_functional_model(query_key_value):
    query, key, value = query_key_value
    inputs = [keras.Input(shape=(3, 4)), keras.Input(shape=(5, 4)), keras.Input(shape=(5, 6))]
    context, _ = attend(inputs[0], inputs[2], inputs[1])
    model = keras.Model(inputs, context)
    np.testing.assert_allclose(
        model.predict([query, key, value], verbose=0), numpy_of(attend(query, value, key)[0]), atol=ATOL
    )


def test_unknown_score_name_lists_the_known_ones(query_key_value):
    query, key, value = query_key_value
    with pytest.raises(ValueError, match=r"argument score.*\['cosine', 'dot', 'scaled_dot'\].*'dotty'"):
        attend(query, value, key, score="dotty")


def test_score_that_is_neither_name_nor_callable_is_a_type_error(query_key_value):
    query, key, value = query_key_value
    with pytest.raises(TypeError, match="argument score"):
        attend(query, value, key, score=3)


def test_keys_and_values_of_different_lengths_are_rejected(rng):
    with pytest.raises(ValueError, match=r"key and value.*key.shape=\(2, 5, 4\), value.shape=\(2, 6, 4\)"):
        attend(rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 6, 4)), rng.normal(size=(2, 5, 4)))


def test_without_a_key_values_must_match_queries_in_size(rng):
    with pytest.raises(
        ValueError,
        match=r"query and value.*values serve as keys.*"
        r"query.shape=\(2, 3, 4\), value.shape=\(2, 5, 6\)",
    ):
        attend(rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 6)))


def test_mask_that_does_not_broadcast_is_rejected(query_key_value):
    query, key, value = query_key_value
    with pytest.raises(ValueError, match=r"argument mask.*\(2, 3, 5\).*mask.shape=\(2, 5\)"):
        attend(query, value, key, mask=np.ones((2, 5), bool))


@pytest.mark.parametrize("name", ["bilinear", "general", "additive", "concat", "projected", "gaussian"])
def test_a_score_with_parameters_by_name_says_to_pass_a_callable(query_key_value, name):
    query, key, value = query_key_value
    with pytest.raises(
        ValueError,
        match=rf"argument score\. The score '{name}'.* needs parameters.*"
        r"functools\.partial",
    ):
        attend(query, value, key, score=name)


def test_a_score_with_parameters_given_as_a_partial(query_key_value, rng):
    import functools

    query, key, value = query_key_value
    weight = rng.normal(size=(4, 4)).astype("float32")
    context, weights = attend(query, value, key, score=functools.partial(scores.bilinear, weight=weight))
    expected = softmax(np.einsum("bqi,ij,bkj->bqk", query, weight, key))
    np.testing.assert_allclose(numpy_of(weights), expected, atol=ATOL)
    np.testing.assert_allclose(numpy_of(context), expected @ value, atol=ATOL)
