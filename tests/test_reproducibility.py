import keras
import numpy as np
import pytest

import attention_utils as au


def test_same_seed_same_initial_weights():
    au.seed_everything(7)
    first = keras.layers.Dense(4)
    first.build((None, 3))
    au.seed_everything(7)
    second = keras.layers.Dense(4)
    second.build((None, 3))
    np.testing.assert_array_equal(first.kernel.numpy(), second.kernel.numpy())


def test_seeds_numpy_and_returns_the_seed():
    assert au.seed_everything(11) == 11
    first = np.random.rand(3)
    au.seed_everything(11)
    np.testing.assert_array_equal(first, np.random.rand(3))


@pytest.mark.parametrize("seed", [1.5, "42", True, None])
def test_a_seed_that_is_not_an_integer_is_a_type_error(seed):
    with pytest.raises(TypeError, match="argument seed"):
        au.seed_everything(seed)


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_a_seed_out_of_range_is_a_value_error(seed):
    # The same rule as the data generators: a wrong type is a TypeError, a wrong value a ValueError.
    with pytest.raises(ValueError, match="argument seed"):
        au.seed_everything(seed)
