"""Each score function against the formula written out in NumPy, and bad input."""

import keras
import numpy as np
import pytest
from helpers import numpy_of, softmax

from attention_utils import scores


@pytest.fixture
def query_and_key(rng):
    return rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4))


def test_dot_is_every_query_against_every_key(query_and_key):
    query, key = query_and_key
    expected = np.einsum("bqd,bkd->bqk", query, key)
    np.testing.assert_allclose(numpy_of(scores.dot(query, key)), expected, atol=1e-10)


def test_scaled_dot_divides_by_sqrt_d(query_and_key):
    query, key = query_and_key
    expected = np.einsum("bqd,bkd->bqk", query, key) / np.sqrt(4)
    np.testing.assert_allclose(numpy_of(scores.scaled_dot(query, key)), expected, atol=1e-10)


def test_cosine_is_dot_of_unit_vectors_and_bounded(query_and_key):
    query, key = query_and_key
    unit = lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True)  # noqa: E731
    expected = np.einsum("bqd,bkd->bqk", unit(query), unit(key))
    result = numpy_of(scores.cosine(query, key))
    np.testing.assert_allclose(result, expected, atol=1e-10)
    assert np.all(np.abs(result) <= 1 + 1e-12)


def test_cosine_of_a_zero_vector_is_zero_not_nan():
    result = numpy_of(scores.cosine(np.zeros((1, 3)), np.ones((2, 3))))
    np.testing.assert_array_equal(result, np.zeros((1, 2)))


def test_bilinear_is_q_transpose_w_k_with_different_sizes(rng):
    query, key, weight = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 6)), rng.normal(size=(4, 6))
    expected = np.einsum("bqi,ij,bkj->bqk", query, weight, key)
    np.testing.assert_allclose(numpy_of(scores.bilinear(query, key, weight)), expected, atol=1e-10)


def test_bilinear_with_identity_weight_is_dot(query_and_key):
    query, key = query_and_key
    np.testing.assert_allclose(
        numpy_of(scores.bilinear(query, key, np.eye(4))), numpy_of(scores.dot(query, key)), atol=1e-12
    )


def test_additive_is_bahdanau_v_tanh_wq_q_plus_wk_k(rng):
    query, key = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 6))
    w_query, w_key, v = rng.normal(size=(4, 7)), rng.normal(size=(6, 7)), rng.normal(size=7)
    expected = np.empty((2, 3, 5))
    for b in range(2):
        for i in range(3):
            for j in range(5):
                expected[b, i, j] = v @ np.tanh(w_query.T @ query[b, i] + w_key.T @ key[b, j])
    result = numpy_of(scores.additive(query, key, w_query, w_key, v))
    np.testing.assert_allclose(result, expected, atol=1e-10)


def test_leading_dimensions_broadcast(rng):
    query, key = rng.normal(size=(2, 1, 3, 4)), rng.normal(size=(1, 8, 5, 4))
    assert tuple(scores.dot(query, key).shape) == (2, 8, 3, 5)


def test_float32_inputs_stay_float32(query_and_key):
    query, key = (x.astype("float32") for x in query_and_key)
    assert scores.scaled_dot(query, key).dtype == "float32"


@pytest.mark.parametrize("score", [scores.dot, scores.scaled_dot, scores.cosine])
def test_mismatched_feature_sizes_name_both_shapes(score):
    with pytest.raises(ValueError, match=r"query and key.*query.shape=\(3, 4\), key.shape=\(5, 6\)"):
        score(np.ones((3, 4)), np.ones((5, 6)))


@pytest.mark.parametrize("score", [scores.dot, scores.scaled_dot, scores.cosine])
def test_rank_one_input_is_rejected(score):
    with pytest.raises(ValueError, match=r"argument query.*query.shape=\(4,\)"):
        score(np.ones(4), np.ones((5, 4)))


def test_batch_dimensions_that_do_not_broadcast_are_rejected():
    with pytest.raises(ValueError, match=r"leading.*query.shape=\(2, 3, 4\), key.shape=\(3, 5, 4\)"):
        scores.dot(np.ones((2, 3, 4)), np.ones((3, 5, 4)))


def test_non_numeric_input_is_a_type_error():
    with pytest.raises(TypeError, match="argument query"):
        scores.dot(np.array([["a", "b"]]), np.ones((1, 2)))


def test_bilinear_weight_of_wrong_shape_is_named():
    with pytest.raises(ValueError, match=r"weight.*query.shape=\(3, 4\), weight.shape=\(5, 6\)"):
        scores.bilinear(np.ones((3, 4)), np.ones((2, 6)), np.ones((5, 6)))
    with pytest.raises(ValueError, match=r"weight.*rank 2"):
        scores.bilinear(np.ones((3, 4)), np.ones((2, 6)), np.ones(4))


def test_additive_units_that_disagree_are_named():
    with pytest.raises(ValueError, match=r"w_query and v.*w_query.shape=\(4, 7\), v.shape=\(6,\)"):
        scores.additive(np.ones((3, 4)), np.ones((2, 6)), np.ones((4, 7)), np.ones((6, 7)), np.ones(6))
    with pytest.raises(ValueError, match=r"w_query and w_key"):
        scores.additive(np.ones((3, 4)), np.ones((2, 6)), np.ones((4, 7)), np.ones((6, 5)), np.ones(7))


def test_projected_is_scaled_dot_of_the_projections(rng):
    query, key = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 6))
    w_query, w_key = rng.normal(size=(4, 8)), rng.normal(size=(6, 8))
    expected = np.einsum("bqu,bku->bqk", query @ w_query, key @ w_key) / np.sqrt(8)
    result = numpy_of(scores.projected(query, key, w_query, w_key))
    np.testing.assert_allclose(result, expected, atol=1e-10)


def test_projected_with_scale_one_is_the_low_rank_bilinear_score(rng):
    query, key = rng.normal(size=(3, 6)), rng.normal(size=(5, 6))
    w_query, w_key = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    weight = w_query @ w_key.T
    assert np.linalg.matrix_rank(weight) == 2
    np.testing.assert_allclose(
        numpy_of(scores.projected(query, key, w_query, w_key, scale=1.0)),
        numpy_of(scores.bilinear(query, key, weight)),
        atol=1e-10,
    )


def test_projected_per_head_weights_add_a_heads_axis(rng):
    query, key = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 6))
    w_query, w_key = rng.normal(size=(3, 4, 8)), rng.normal(size=(3, 6, 8))
    expected = np.einsum(
        "bqhu,bkhu->bhqk", np.einsum("bqd,hdu->bqhu", query, w_query), np.einsum("bkd,hdu->bkhu", key, w_key)
    ) / np.sqrt(8)
    result = numpy_of(scores.projected(query, key, w_query, w_key))
    assert result.shape == (2, 3, 3, 5)
    np.testing.assert_allclose(result, expected, atol=1e-10)


def test_projected_matches_keras_multi_head_attention_weights(rng):
    query, key = rng.normal(size=(2, 3, 8)).astype("float32"), rng.normal(size=(2, 5, 8)).astype("float32")
    layer = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, use_bias=False)
    layer(query, key, key)  # builds the projections
    # Keras's kernels are (d_model, num_heads, key_dim); ours per head are (num_heads, d_model, key_dim).
    w_query = np.transpose(layer.query_dense.kernel.numpy(), (1, 0, 2))
    w_key = np.transpose(layer.key_dense.kernel.numpy(), (1, 0, 2))
    _, keras_weights = layer(query, key, key, return_attention_scores=True)
    expected = softmax(numpy_of(scores.projected(query, key, w_query, w_key)))
    np.testing.assert_allclose(numpy_of(keras_weights), expected, atol=1e-5)


def test_additive_with_projections_matches_keras_additive_attention_with_scale(rng):
    query, key = rng.normal(size=(2, 3, 4)).astype("float32"), rng.normal(size=(2, 5, 6)).astype("float32")
    w_query, w_key = rng.normal(size=(4, 7)).astype("float32"), rng.normal(size=(6, 7)).astype("float32")
    layer = keras.layers.AdditiveAttention(use_scale=True)
    projected_query, projected_key = query @ w_query, key @ w_key
    _, keras_weights = layer([projected_query, projected_key], return_attention_scores=True)
    v = layer.scale.numpy()  # Keras's learned scale is Bahdanau's v
    expected = softmax(numpy_of(scores.additive(query, key, w_query, w_key, v)))
    np.testing.assert_allclose(numpy_of(keras_weights), expected, atol=1e-5)


def test_scaled_dot_matches_keras_attention_with_its_scale_set_to_one_over_sqrt_d(query_and_key):
    query, key = (x.astype("float32") for x in query_and_key)
    layer = keras.layers.Attention(use_scale=True)
    layer.build([query.shape, key.shape])
    layer.scale.assign(1 / np.sqrt(4))
    _, keras_weights = layer([query, key], return_attention_scores=True)
    expected = softmax(numpy_of(scores.scaled_dot(query, key)))
    np.testing.assert_allclose(numpy_of(keras_weights), expected, atol=1e-6)


@pytest.mark.parametrize("score", [scores.dot, scores.scaled_dot, scores.cosine])
def test_parameter_free_scores_are_symmetric(score, rng):
    tokens = rng.normal(size=(6, 4))
    result = numpy_of(score(tokens, tokens))
    np.testing.assert_allclose(result, result.T, atol=1e-12)


def test_bilinear_and_projected_are_symmetric_only_for_symmetric_weights(rng):
    tokens, weight = rng.normal(size=(6, 4)), rng.normal(size=(4, 4))
    w_query, w_key = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    for result in (scores.bilinear(tokens, tokens, weight), scores.projected(tokens, tokens, w_query, w_key)):
        assert not np.allclose(numpy_of(result), numpy_of(result).T)
    # Swapping query and key is the same as transposing the weight.
    np.testing.assert_allclose(
        numpy_of(scores.bilinear(tokens[:2], tokens, weight)),
        numpy_of(scores.bilinear(tokens, tokens[:2], weight.T)).T,
        atol=1e-12,
    )
    for result in (
        scores.bilinear(tokens, tokens, weight + weight.T),
        scores.projected(tokens, tokens, w_query, w_query),
    ):
        np.testing.assert_allclose(numpy_of(result), numpy_of(result).T, atol=1e-12)


def test_projected_weights_of_wrong_rank_are_named():
    with pytest.raises(ValueError, match=r"argument w_query.*rank 2.*w_query.shape=\(4,\)"):
        scores.projected(np.ones((3, 4)), np.ones((2, 6)), np.ones(4), np.ones((6, 7)))
    with pytest.raises(ValueError, match=r"argument w_key.*w_key.shape=\(1, 1, 6, 7\)"):
        scores.projected(np.ones((3, 4)), np.ones((2, 6)), np.ones((4, 7)), np.ones((1, 1, 6, 7)))
    with pytest.raises(ValueError, match=r"both per head or neither.*w_key.shape=\(2, 6, 7\)"):
        scores.projected(np.ones((3, 4)), np.ones((2, 6)), np.ones((4, 7)), np.ones((2, 6, 7)))


def test_projected_shapes_that_disagree_are_named():
    with pytest.raises(ValueError, match=r"query and w_query.*query.shape=\(3, 4\), w_query.shape=\(5, 7\)"):
        scores.projected(np.ones((3, 4)), np.ones((2, 6)), np.ones((5, 7)), np.ones((6, 7)))
    with pytest.raises(ValueError, match=r"key and w_key.*key.shape=\(2, 6\), w_key.shape=\(4, 7\)"):
        scores.projected(np.ones((3, 4)), np.ones((2, 6)), np.ones((4, 7)), np.ones((4, 7)))
    with pytest.raises(ValueError, match=r"same units.*w_key.shape=\(6, 5\)"):
        scores.projected(np.ones((3, 4)), np.ones((2, 6)), np.ones((4, 7)), np.ones((6, 5)))
    with pytest.raises(ValueError, match=r"number of heads.*w_query.shape=\(2, 4, 7\), w_key.shape=\(3, 6, 7\)"):
        scores.projected(np.ones((3, 4)), np.ones((2, 6)), np.ones((2, 4, 7)), np.ones((3, 6, 7)))


@pytest.mark.parametrize("scale", [0, -1.0, "large", True])
def test_projected_scale_that_is_not_a_positive_number_is_named(scale):
    # Not a number at all ("large", True) is a TypeError, as gaussian's width; a bad number a ValueError.
    error = TypeError if isinstance(scale, (str, bool)) else ValueError
    with pytest.raises(error, match=r"argument scale.*Received: scale="):
        scores.projected(np.ones((3, 4)), np.ones((2, 4)), np.ones((4, 2)), np.ones((4, 2)), scale=scale)


def test_weights_of_another_float_precision_are_accepted(rng):
    query, key = rng.normal(size=(3, 4)).astype("float32"), rng.normal(size=(5, 4)).astype("float32")
    w_query, w_key, v = rng.normal(size=(4, 7)), rng.normal(size=(4, 7)).astype("float32"), rng.normal(size=7)
    expected = np.tanh((query @ w_query)[:, None] + (key @ w_key)[None]) @ v
    np.testing.assert_allclose(numpy_of(scores.additive(query, key, w_query, w_key, v)), expected, rtol=1e-5)
    expected = (query @ w_query) @ (key @ w_key).T / np.sqrt(7)
    np.testing.assert_allclose(numpy_of(scores.projected(query, key, w_query, w_key)), expected, rtol=1e-5)


def test_gaussian_is_minus_the_squared_distance_over_twice_the_squared_width(rng):
    query, key = rng.normal(size=(2, 3, 2)), rng.normal(size=(2, 5, 2))
    expected = -((query[:, :, None, :] - key[:, None, :, :]) ** 2).sum(-1) / (2 * 0.7**2)
    np.testing.assert_allclose(numpy_of(scores.gaussian(query, key, 0.7)), expected, rtol=1e-6)


def test_gaussian_scores_the_key_at_the_query_highest(rng):
    positions = np.linspace(0, 5, 11)[:, None]
    assert (numpy_of(scores.gaussian(positions, positions, 1.0)).argmax(-1) == np.arange(11)).all()


@pytest.mark.parametrize(
    "width, error",
    [
        (0.0, ValueError),
        (-1.0, ValueError),
        (np.inf, ValueError),
        (np.nan, ValueError),
        ("1", TypeError),
        (None, TypeError),
    ],
)
def test_gaussian_width_must_be_positive_and_finite(width, error):
    with pytest.raises(error, match="argument width"):
        scores.gaussian(np.zeros((2, 1)), np.zeros((3, 1)), width)


# The registry: one list of names for attend, the efficient functions and the layers


def test_registry_has_the_canonical_names_and_the_papers_aliases():
    assert list(scores.REGISTRY) == ["dot", "scaled_dot", "cosine", "bilinear", "additive", "projected", "gaussian"]
    assert scores.ALIASES == {"general": "bilinear", "concat": "additive"}
    assert list(scores.PARAMETER_FREE) == ["dot", "scaled_dot", "cosine"]
    for name, score in scores.REGISTRY.items():
        assert score.name == name and score.function is getattr(scores, name)
        assert score.parameter_free == (name in scores.PARAMETER_FREE)


@pytest.mark.parametrize("name", ["bilinear", "additive", "projected", "gaussian"])
def test_registered_parameters_are_the_functions_arguments_after_query_and_key(name):
    import inspect

    score = scores.REGISTRY[name]
    required = [
        parameter.name
        for parameter in inspect.signature(score.function).parameters.values()
        if parameter.default is inspect.Parameter.empty
    ]
    assert tuple(required) == ("query", "key", *score.parameters)


@pytest.mark.parametrize("alias, name", [("general", "bilinear"), ("concat", "additive"), ("dot", "dot")])
def test_get_resolves_an_alias_to_its_score(alias, name):
    assert scores.get(alias) is scores.REGISTRY[name]


@pytest.mark.parametrize("name", ["dot", "scaled_dot", "cosine"])
def test_dot_product_form_of_a_parameter_free_score_gives_its_scores(name, query_and_key):
    query, key = (keras.ops.convert_to_tensor(x) for x in query_and_key)
    transformed_query, transformed_key = scores.REGISTRY[name].as_dot_product(query, key)
    np.testing.assert_allclose(
        numpy_of(scores.dot(transformed_query, transformed_key)),
        numpy_of(scores.REGISTRY[name].function(query, key)),
        atol=1e-12,
    )


@pytest.mark.parametrize("name", ["bilinear", "general", "additive", "concat", "projected", "gaussian"])
def test_a_score_with_parameters_cannot_be_given_by_name(name):
    with pytest.raises(
        ValueError,
        match=r"argument score\. The score '.*needs parameters.*functools\.partial"
        rf".*\['cosine', 'dot', 'scaled_dot'\]\. Received: score='{name}'",
    ):
        scores.score_function(name)


def test_unknown_names_and_unsupported_ones_list_what_is_accepted():
    with pytest.raises(
        ValueError,
        match=r"argument score\. Expected one of \['additive', 'bilinear', 'concat', "
        r"'cosine', 'dot', 'gaussian', 'general', 'projected', 'scaled_dot'\]",
    ):
        scores.get("dotty")
    with pytest.raises(
        ValueError,
        match=r"argument score_mode\. Expected one of \['additive', 'concat', 'dot'\]\. "
        r"Received: score_mode='cosine'",
    ):
        scores.get("cosine", "score_mode", among=("dot", "additive"), parameter_free=False)
    with pytest.raises(TypeError, match="argument score"):
        scores.get(None)
