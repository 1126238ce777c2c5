"""masked_softmax (with temperature), sparsemax and the masks against NumPy references, including the fully
masked row and bad input."""

import keras
import numpy as np
import pytest
from keras import ops

from attention_utils import autodiff, masked_softmax
from attention_utils.alignment import causal_mask, padding_mask, sparsemax


def numpy_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def numpy_simplex_projection(z):
    """Sparsemax of a 1-D ``z`` found another way than the paper's sort: bisection on the threshold.

    The projection of ``z`` onto the simplex is ``max(z - tau, 0)`` with ``tau`` the root of the
    decreasing function ``sum(max(z - tau, 0)) - 1``, which lies in ``[max(z) - 1, max(z)]``.
    """
    low, high = z.max() - 1.0, z.max()
    for _ in range(200):
        tau = (low + high) / 2
        low, high = (tau, high) if np.maximum(z - tau, 0).sum() > 1 else (low, tau)
    return np.maximum(z - (low + high) / 2, 0)


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
    scores = np.array([[1.0, 2.0], [3.0, 4.0]], "float32")
    mask = np.array([[True, True], [False, False]])
    (gradient,) = autodiff.gradients(
        lambda s: ops.sum(masked_softmax(s, mask) * np.array([[1.0, 2.0], [3.0, 4.0]])), scores
    )
    gradient = ops.convert_to_numpy(gradient)
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
    np.testing.assert_array_equal(ops.convert_to_numpy(causal_mask(3)), [[1, 0, 0], [1, 1, 0], [1, 1, 1]])
    assert tuple(causal_mask(2, 4).shape) == (2, 4)
    with pytest.raises(ValueError, match="argument num_keys"):
        causal_mask(2, -1)


# Temperature


def test_temperature_divides_the_scores(rng):
    scores = rng.normal(size=(2, 3, 5))
    for temperature in (0.1, 0.5, 2.0, 10):
        weights = masked_softmax(scores, temperature=temperature)
        np.testing.assert_allclose(ops.convert_to_numpy(weights), numpy_softmax(scores / temperature), rtol=1e-6)


def test_temperature_with_a_mask(rng):
    scores = rng.normal(size=(3, 4))
    mask = np.array([[True, True, False, True], [True, False, False, False], [False] * 4])
    weights = ops.convert_to_numpy(masked_softmax(scores, mask, temperature=0.3))
    expected = numpy_softmax(np.where(mask[:2], scores[:2] / 0.3, -np.inf))
    np.testing.assert_allclose(weights[:2], expected, atol=1e-12)
    np.testing.assert_array_equal(weights[2], 0.0)


def test_low_temperature_gives_the_argmax_one_hot(rng):
    scores = rng.normal(size=(4, 6)).astype("float32")
    weights = ops.convert_to_numpy(masked_softmax(scores, temperature=1e-4))
    np.testing.assert_array_equal(weights, np.eye(6)[scores.argmax(-1)])


def test_high_temperature_gives_uniform_weights(rng):
    scores = rng.normal(size=(4, 6))
    weights = ops.convert_to_numpy(masked_softmax(scores, temperature=1e6))
    np.testing.assert_allclose(weights, 1 / 6, rtol=1e-5)


def test_positional_signature_still_works(rng):
    scores = rng.normal(size=(3, 4))
    mask = rng.random((3, 4)) > 0.2
    mask[:, 0] = True
    np.testing.assert_allclose(
        ops.convert_to_numpy(masked_softmax(scores, mask, 0)),
        ops.convert_to_numpy(masked_softmax(scores, mask=mask, axis=0, temperature=1.0)),
    )
    with pytest.raises(TypeError):
        masked_softmax(scores, mask, -1, 2.0)  # temperature is keyword-only: no silent mix-up with axis


@pytest.mark.parametrize("temperature", [0, -1.0, float("inf"), float("nan")])
def test_temperature_must_be_positive_and_finite(temperature):
    with pytest.raises(ValueError, match=r"argument temperature.*Received: temperature="):
        masked_softmax(np.ones((2, 3)), temperature=temperature)


@pytest.mark.parametrize("temperature", ["2", True, None, [1.0]])
def test_temperature_must_be_a_number(temperature):
    with pytest.raises(TypeError, match="argument temperature"):
        masked_softmax(np.ones((2, 3)), temperature=temperature)


# Sparsemax (Martins and Astudillo 2016)


def test_sparsemax_matches_the_simplex_projection_by_bisection(rng):
    scores = 2.0 * rng.normal(size=(4, 3, 6))
    weights = ops.convert_to_numpy(sparsemax(scores))
    expected = np.apply_along_axis(numpy_simplex_projection, -1, scores)
    np.testing.assert_allclose(weights, expected, atol=1e-9)


def test_sparsemax_hand_checked_example():
    # Sorted 0.3 >= 0.25 >= 0.1 >= -1: the condition 1 + k z_(k) > z_(1) + ... + z_(k) holds for k = 1, 2, 3
    # and fails for k = 4 (-3 > -0.35 is false), so tau = (0.65 - 1) / 3.
    weights = ops.convert_to_numpy(sparsemax(np.array([0.3, 0.1, -1.0, 0.25])))
    tau = (0.3 + 0.25 + 0.1 - 1) / 3
    np.testing.assert_allclose(weights, [0.3 - tau, 0.1 - tau, 0.0, 0.25 - tau])
    assert weights[2] == 0.0


def test_sparsemax_of_two_scores_is_the_hard_sigmoid():
    # Martins and Astudillo 2016, section 2: sparsemax([t, 0])_1 = 0, (t + 1) / 2 or 1 as t < -1, |t| <= 1, t > 1.
    t = np.linspace(-3, 3, 61)
    weights = ops.convert_to_numpy(sparsemax(np.stack([t, np.zeros_like(t)], axis=-1)))
    np.testing.assert_allclose(weights[:, 0], np.clip((t + 1) / 2, 0, 1), atol=1e-12)


def test_sparsemax_is_a_distribution_with_exact_zeros(rng):
    scores = 3.0 * rng.normal(size=(50, 8)).astype("float32")
    weights = ops.convert_to_numpy(sparsemax(scores))
    assert weights.dtype == np.float32
    assert (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
    assert (weights == 0.0).sum(-1).min() >= 1  # scores this spread always leave some key out
    # The support is the keys scoring above the threshold: the largest scores, never a gap among them.
    for row_scores, row_weights in zip(scores, weights):
        assert row_scores[row_weights > 0].min() > row_scores[row_weights == 0].max()


def test_sparsemax_of_well_separated_scores_is_the_argmax_one_hot(rng):
    scores = rng.normal(size=(5, 4))
    winners = rng.integers(0, 4, size=5)
    scores[np.arange(5), winners] = scores.max(-1) + 1.5  # ahead of every other score by more than 1
    np.testing.assert_array_equal(ops.convert_to_numpy(sparsemax(scores)), np.eye(4)[winners])


def test_sparsemax_ignores_a_shift_and_does_not_overflow(rng):
    scores = rng.normal(size=(3, 5)).astype("float32")
    np.testing.assert_allclose(
        ops.convert_to_numpy(sparsemax(scores + 1e4)), ops.convert_to_numpy(sparsemax(scores)), atol=2e-3
    )
    np.testing.assert_allclose(ops.convert_to_numpy(sparsemax(scores * 0 + 3e38)), 1 / 5, rtol=1e-6)


def test_sparsemax_masked_positions_get_zero_weight(rng):
    scores = rng.normal(size=(6, 5))
    mask = rng.random((6, 5)) > 0.4
    mask[:, 0] = True
    weights = ops.convert_to_numpy(sparsemax(scores, mask))
    assert np.all(weights[~mask] == 0.0)
    for row_scores, row_mask, row_weights in zip(scores, mask, weights):
        np.testing.assert_allclose(row_weights[row_mask], numpy_simplex_projection(row_scores[row_mask]), atol=1e-9)


def test_sparsemax_fully_masked_row_gets_zeros_and_finite_gradient():
    scores = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], "float32")
    mask = np.array([[True, False, True], [False, False, False]])
    np.testing.assert_array_equal(ops.convert_to_numpy(sparsemax(scores, mask)), [[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    (gradient,) = autodiff.gradients(
        lambda s: ops.sum(sparsemax(s, mask) * np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])), scores
    )
    gradient = ops.convert_to_numpy(gradient)
    assert np.isfinite(gradient).all()
    np.testing.assert_array_equal(gradient[1], 0.0)


def test_sparsemax_jacobian_matches_the_paper(rng):
    # Martins and Astudillo 2016, section 2.5 (the Jacobian of sparsemax): J = diag(s) - s s^T / |S|,
    # s the indicator of the support.
    scores = rng.normal(size=6)
    jacobian = ops.convert_to_numpy(autodiff.jacobian(sparsemax, scores))
    support = (ops.convert_to_numpy(sparsemax(scores)) > 0).astype(float)
    np.testing.assert_allclose(jacobian, np.diag(support) - np.outer(support, support) / support.sum(), atol=1e-12)


def test_sparsemax_other_axis(rng):
    scores = rng.normal(size=(4, 3))
    np.testing.assert_allclose(
        ops.convert_to_numpy(sparsemax(scores, axis=0)), ops.convert_to_numpy(sparsemax(scores.T)).T
    )


def test_sparsemax_mask_broadcasts_over_queries(rng):
    scores = rng.normal(size=(2, 3, 4))
    key_mask = np.array([[True, True, False, False], [True, True, True, False]])
    weights = ops.convert_to_numpy(sparsemax(scores, key_mask[:, None, :]))
    np.testing.assert_array_equal(weights[0, :, 2:], 0.0)
    np.testing.assert_array_equal(weights[1, :, 3], 0.0)
    np.testing.assert_allclose(weights.sum(-1), 1.0)


def test_sparsemax_works_on_symbolic_inputs_in_a_functional_model():
    scores_input = keras.Input(shape=(3, 4))
    mask_input = keras.Input(shape=(3, 4), dtype="bool")
    model = keras.Model([scores_input, mask_input], sparsemax(scores_input, mask_input))
    mask = np.ones((1, 3, 4), bool)
    mask[0, :, 0] = False
    weights = model.predict([np.tile([[[5.0, 0.2, 0.1, -3.0]]], (1, 3, 1)), mask], verbose=0)
    np.testing.assert_allclose(weights[0, 0], [0.0, 0.55, 0.45, 0.0], rtol=1e-6)


def test_sparsemax_bad_input():
    with pytest.raises(ValueError, match=r"argument mask.*scores.shape=\(2, 3\).*mask.shape=\(4,\)"):
        sparsemax(np.ones((2, 3)), np.ones(4, bool))
    with pytest.raises(TypeError, match="argument mask"):
        sparsemax(np.ones((2, 3)), np.ones((2, 3)) * 0.5)
    with pytest.raises(TypeError, match="argument scores"):
        sparsemax(np.array(["a", "b"]))
