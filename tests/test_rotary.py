"""rotary_embedding (Su et al. 2021): the paper's rotation matrix, scores that depend on positions only
through their difference, the two feature layouts, and bad arguments named."""

import numpy as np
import pytest
from helpers import compiled, numpy_of

from attention_utils.positional import rotary_embedding, sinusoidal_positional_encoding

D = 8


def rotation_matrix(position, depth, base=10000.0):
    """R_{Theta, m} of the paper (eq. 15): block diagonal, one 2x2 rotation by m theta_i per feature pair."""
    matrix = np.zeros((depth, depth))
    for pair in range(depth // 2):
        angle = position * base ** (-2 * pair / depth)
        cos, sin = np.cos(angle), np.sin(angle)
        matrix[2 * pair : 2 * pair + 2, 2 * pair : 2 * pair + 2] = [[cos, -sin], [sin, cos]]
    return matrix


def test_equals_the_papers_rotation_matrix_at_every_position(rng):
    x = rng.normal(size=(6, D))
    expected = np.stack([rotation_matrix(m, D) @ x[m] for m in range(6)])
    np.testing.assert_allclose(numpy_of(rotary_embedding(x)), expected, atol=1e-10)


def test_position_zero_is_the_identity_and_norms_are_kept(rng):
    x = rng.normal(size=(3, 2, 7, D)).astype("float32")
    rotated = numpy_of(rotary_embedding(x))
    np.testing.assert_allclose(rotated[..., 0, :], x[..., 0, :], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(rotated, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-5)


@pytest.mark.parametrize("layout", ["interleaved", "half"])
def test_the_score_depends_on_positions_only_through_their_difference(rng, layout):
    query, key = rng.normal(size=(D,)), rng.normal(size=(D,))

    def score(m, n):
        q = numpy_of(rotary_embedding(query[None], positions=[m], layout=layout))[0]
        k = numpy_of(rotary_embedding(key[None], positions=[n], layout=layout))[0]
        return q @ k

    for m, n in [(0, 3), (5, 2), (7, 7)]:
        for shift in [1, 10, 1000]:
            np.testing.assert_allclose(score(m + shift, n + shift), score(m, n), atol=1e-9)
    assert abs(score(0, 3) - score(0, 4)) > 1e-3  # and it does depend on the difference


def test_positions_continue_a_sequence_as_a_key_value_cache_needs(rng):
    x = rng.normal(size=(2, 10, D))
    whole = numpy_of(rotary_embedding(x))
    tail = numpy_of(rotary_embedding(x[:, 7:], positions=np.arange(7, 10)))
    np.testing.assert_allclose(tail, whole[:, 7:], atol=1e-10)


def test_the_half_layout_is_the_interleaved_one_on_permuted_features(rng):
    x = rng.normal(size=(4, 5, D))
    to_half = np.concatenate([np.arange(0, D, 2), np.arange(1, D, 2)])  # pair i -> features (i, i + D/2)
    interleaved = numpy_of(rotary_embedding(x))
    half = numpy_of(rotary_embedding(x[..., to_half], layout="half"))
    np.testing.assert_allclose(half, interleaved[..., to_half], atol=1e-10)


def test_its_frequencies_are_the_sinusoidal_encodings(rng):
    # Rotating the unit vector (0, 1) of each pair by m theta_i gives (-sin, cos): the sinusoidal
    # encoding's (sin, cos) of position m, up to the sign of the sine.
    unit = np.tile([0.0, 1.0], D // 2)[None].repeat(6, axis=0)
    rotated = numpy_of(rotary_embedding(unit))
    encoding = sinusoidal_positional_encoding(6, D, dtype="float64")
    np.testing.assert_allclose(rotated[:, 0::2], -encoding[:, 0::2], atol=1e-10)
    np.testing.assert_allclose(rotated[:, 1::2], encoding[:, 1::2], atol=1e-10)


def test_float32_inside_a_compiled_function_and_an_empty_batch(rng):
    x = rng.normal(size=(2, 5, D)).astype("float32")
    traced = compiled(lambda x: rotary_embedding(x))
    np.testing.assert_allclose(numpy_of(traced(x)), numpy_of(rotary_embedding(x)), atol=1e-6)
    assert numpy_of(traced(x)).dtype == np.float32
    assert numpy_of(rotary_embedding(np.zeros((0, 5, D), "float32"))).shape == (0, 5, D)


@pytest.mark.parametrize(
    "kwargs, error, argument",
    [
        ({"x": np.zeros((4, 5))}, ValueError, "x"),  # an odd number of features
        ({"x": np.zeros((4,))}, ValueError, "x"),
        ({"x": "abc"}, TypeError, "x"),
        ({"x": np.zeros((4, 6)), "base": 0.0}, ValueError, "base"),
        ({"x": np.zeros((4, 6)), "layout": "neox"}, ValueError, "layout"),
        ({"x": np.zeros((4, 6)), "positions": np.arange(3)}, ValueError, "positions"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, error, argument):
    with pytest.raises(error, match=f"argument {argument}"):
        rotary_embedding(**kwargs)
