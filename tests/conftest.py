import numpy as np
import pytest

import attention_utils  # noqa: F401  (sets quiet TF defaults before any test imports TensorFlow)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
