"""Each score function against the formula written out in NumPy, and bad input."""

import numpy as np
import pytest
from keras import ops

from attention_utils import scores


def numpy_of(x):
    return ops.convert_to_numpy(x)


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
