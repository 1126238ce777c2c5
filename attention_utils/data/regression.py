"""1-D regression points for Nadaraya-Watson pooling (notebook 01)."""

from typing import NamedTuple

import numpy as np

from attention_utils import _validation as check


class RegressionPoints(NamedTuple):
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def regression_target(x):
    """The function behind ``regression_points``: ``f(x) = 2 sin(x) + x^0.8``."""
    return 2 * np.sin(x) + np.asarray(x) ** 0.8


def regression_points(num_train=50, num_test=50, noise=0.5, seed=0):
    """Noisy 1-D regression data for Nadaraya-Watson kernel regression (attention pooling).

    Training inputs are drawn uniformly from ``[0, 5)`` and sorted, targets are
    ``regression_target(x) + N(0, noise^2)``; test inputs are an even grid over ``[0, 5)`` with
    noise-free targets, so a prediction can be compared with the truth. Float32 throughout.

    Args:
        num_train: number of noisy training points (the keys and values).
        num_test: number of test points (the queries).
        noise: standard deviation of the Gaussian noise added to the training targets, a finite number >= 0.
        seed: a non-negative integer, the seed of the NumPy generator; the same seed gives the same points.

    Returns:
        A ``RegressionPoints`` of four 1-D arrays.
    """
    check.check_integer_at_least(num_train, "num_train", 1)
    check.check_integer_at_least(num_test, "num_test", 1)
    check.check_non_negative_number(noise, "noise")
    check.check_seed(seed)
    rng = np.random.default_rng(seed)
    x_train = np.sort(rng.uniform(0, 5, num_train))
    y_train = regression_target(x_train) + rng.normal(0, noise, num_train)
    x_test = np.arange(num_test) * (5 / num_test)
    y_test = regression_target(x_test)
    return RegressionPoints(*(a.astype("float32") for a in (x_train, y_train, x_test, y_test)))
