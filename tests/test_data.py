import numpy as np
import pytest
from helpers import error_for_integer_argument

from attention_utils.data import regression_points, regression_target


def test_same_seed_same_points_other_seed_other_points():
    first, again, other = regression_points(seed=3), regression_points(seed=3), regression_points(seed=4)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first.y_train, other.y_train)


def test_shapes_order_and_range():
    points = regression_points(num_train=20, num_test=10)
    assert points.x_train.shape == points.y_train.shape == (20,)
    assert points.x_test.shape == points.y_test.shape == (10,)
    assert np.all(np.diff(points.x_train) >= 0)
    assert points.x_train.min() >= 0 and points.x_train.max() < 5
    assert points.x_train.dtype == np.float32


def test_test_targets_are_noise_free_and_training_noise_has_the_given_spread():
    points = regression_points(num_train=5000, noise=0.5)
    np.testing.assert_allclose(points.y_test, regression_target(points.x_test), rtol=1e-6)
    residual = points.y_train - regression_target(points.x_train)
    assert abs(residual.std() - 0.5) < 0.03


@pytest.mark.parametrize(
    "kwargs, argument", [({"num_train": 0}, "num_train"), ({"num_test": 1.5}, "num_test"), ({"noise": -1}, "noise")]
)
def test_bad_arguments_are_named(kwargs, argument):
    with pytest.raises(error_for_integer_argument(kwargs[argument]), match=f"argument {argument}"):
        regression_points(**kwargs)
