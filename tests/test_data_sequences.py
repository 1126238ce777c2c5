"""digit_sequences: the reversal and sorting tasks of the Transformer notebook."""

import numpy as np
import pytest
from helpers import error_for_integer_argument

from attention_utils.data import digit_sequences


def test_shapes_dtype_and_digits():
    data = digit_sequences(num_sequences=50, length=7)
    assert data.inputs.shape == data.targets.shape == (50, 7)
    assert data.inputs.dtype == data.targets.dtype == np.int32
    assert data.inputs.min() >= 0 and data.inputs.max() <= 9
    assert len(np.unique(data.inputs)) == 10


def test_reverse_targets_are_the_inputs_backwards():
    data = digit_sequences(num_sequences=20, length=6, task="reverse")
    for sequence, target in zip(data.inputs, data.targets):
        assert target.tolist() == sequence.tolist()[::-1]


def test_sort_targets_are_the_inputs_sorted():
    data = digit_sequences(num_sequences=20, length=6, task="sort")
    for sequence, target in zip(data.inputs, data.targets):
        assert target.tolist() == sorted(sequence.tolist())


def test_same_seed_same_sequences_other_seed_other_sequences():
    first, again, other = digit_sequences(seed=3), digit_sequences(seed=3), digit_sequences(seed=4)
    np.testing.assert_array_equal(first.inputs, again.inputs)
    np.testing.assert_array_equal(first.targets, again.targets)
    assert not np.array_equal(first.inputs, other.inputs)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"num_sequences": 0}, "num_sequences"),
        ({"length": 1}, "length"),
        ({"length": 4.0}, "length"),
        ({"task": "shuffle"}, "task"),
    ],
)
def test_bad_arguments_are_named(kwargs, argument):
    error = ValueError if argument == "task" else error_for_integer_argument(kwargs[argument])
    with pytest.raises(error, match=f"argument {argument}"):
        digit_sequences(**kwargs)
