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


@pytest.mark.parametrize("seed", [-1, 1.5, "42", True])
def test_bad_seed_is_a_type_error(seed):
    with pytest.raises(TypeError, match="argument seed"):
        au.seed_everything(seed)
