"""masked_softmax and the masks against NumPy references, including the fully masked row."""

import keras
import numpy as np
import pytest
from keras import ops

from attention_utils import masked_softmax
from attention_utils.alignment import causal_mask, padding_mask


def numpy_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_without_mask_is_the_softmax(rng):
    scores = rng.normal(size=(2, 3, 5))
    np.testing.assert_allclose(ops.convert_to_numpy(masked_softmax(scores)), numpy_softmax(scores))


def test_masked_position_gets_exactly_zero_weight(rng):
    scores = rng.normal(size=(2, 3, 5))
    mask = rng.random((2, 3, 5)) > 0.3
    mask[..., 0] = True  # no fully masked row here
    weights = ops.convert_to_numpy(masked_softmax(scores, mask))
    assert np.all(weights[~mask] == 0.0)
    expected = numpy_softmax(np.where(mask, scores, -np.inf))
    np.testing.assert_allclose(weights, expected, atol=1e-12)
    np.testing.assert_allclose(weights.sum(-1), 1.0)


def test_fully_masked_row_gets_zeros_not_nan():
    scores = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], dtype="float32")
    mask = np.array([[True, False, True], [False, False, False]])
    weights = ops.convert_to_numpy(masked_softmax(scores, mask))
    assert not np.isnan(weights).any()
    np.testing.assert_array_equal(weights[1], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(weights[0].sum(), 1.0, rtol=1e-6)


def test_fully_masked_row_has_finite_gradient():
    import tensorflow as tf

    scores = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
    mask = np.array([[True, True], [False, False]])
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(masked_softmax(scores, mask) * tf.constant([[1.0, 2.0], [3.0, 4.0]]))
    gradient = tape.gradient(total, scores).numpy()
    assert np.isfinite(gradient).all()
    np.testing.assert_array_equal(gradient[1], [0.0, 0.0])


def test_large_scores_do_not_overflow():
    scores = np.array([[1000.0, 999.0, -1000.0]], dtype="float32")
    weights = ops.convert_to_numpy(masked_softmax(scores, np.array([[True, True, True]])))
    np.testing.assert_allclose(weights, numpy_softmax(scores.astype("float64")), rtol=1e-6)


def test_mask_broadcasts_over_queries(rng):
    scores = rng.normal(size=(2, 3, 4))
    key_mask = np.array([[True, True, False, False], [True, True, True, False]])
    weights = ops.convert_to_numpy(masked_softmax(scores, key_mask[:, None, :]))
    np.testing.assert_array_equal(weights[0, :, 2:], 0.0)
    np.testing.assert_array_equal(weights[1, :, 3], 0.0)


def test_other_axis(rng):
    scores = rng.normal(size=(3, 4))
    np.testing.assert_allclose(ops.convert_to_numpy(masked_softmax(scores, axis=0)), numpy_softmax(scores, 0))


def test_works_on_symbolic_inputs_in_a_functional_model():
    scores_input = keras.Input(shape=(3, 4))
    mask_input = keras.Input(shape=(3, 4), dtype="bool")
    model = keras.Model([scores_input, mask_input], masked_softmax(scores_input, mask_input))
    mask = np.ones((1, 3, 4), bool)
    mask[0, :, -1] = False
    weights = model.predict([np.zeros((1, 3, 4)), mask], verbose=0)
    np.testing.assert_allclose(weights[0, 0], [1 / 3, 1 / 3, 1 / 3, 0.0], rtol=1e-6)


def test_mask_of_wrong_length_raises():
    with pytest.raises(ValueError, match=r"argument mask.*scores.shape=\(2, 3\).*mask.shape=\(4,\)"):
        masked_softmax(np.ones((2, 3)), np.ones(4, bool))


def test_mask_that_would_enlarge_scores_raises():
    with pytest.raises(ValueError, match=r"argument mask"):
        masked_softmax(np.ones((2, 3)), np.ones((5, 2, 3), bool))


def test_float_mask_is_a_type_error():
    with pytest.raises(TypeError, match="argument mask"):
        masked_softmax(np.ones((2, 3)), np.ones((2, 3)) * 0.5)


def test_padding_mask_marks_the_first_lengths_positions():
    mask = ops.convert_to_numpy(padding_mask([1, 3, 0], maxlen=3))
    np.testing.assert_array_equal(mask, [[1, 0, 0], [1, 1, 1], [0, 0, 0]])
    assert mask.dtype == bool


def test_padding_mask_rejects_lengths_beyond_maxlen():
    with pytest.raises(ValueError, match=r"argument lengths.*maxlen=3.*\[1, 4\]"):
        padding_mask([1, 4], maxlen=3)


def test_causal_mask_is_lower_triangular():
    np.testing.assert_array_equal(
        ops.convert_to_numpy(causal_mask(3)), [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    )
    assert tuple(causal_mask(2, 4).shape) == (2, 4)
    with pytest.raises(ValueError, match="argument num_keys"):
        causal_mask(2, -1)
