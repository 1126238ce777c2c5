"""digit_sequences: the reversal and sorting tasks of the Transformer notebook; digit_copies: the copies of
many lengths of the bottleneck notebook."""

import numpy as np
import pytest
from helpers import error_for_integer_argument

from attention_utils.data import DIGIT_COPY_START, DIGIT_COPY_VOCABULARY_SIZE, digit_copies, digit_sequences


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


def digits_of(ids, length):
    """The digits 0-9 written by the first ``length`` ids of a row (digit d is id d + 2)."""
    return [int(i) - 2 for i in ids[:length]]


def test_copies_have_the_documented_shapes_ids_and_padding():
    data = digit_copies(num_sequences=200, min_length=3, max_length=9, seed=1)
    for array in (data.source, data.previous_targets, data.targets):
        assert array.shape == (200, 9) and array.dtype == np.int32
        assert array.min() >= 0 and array.max() < DIGIT_COPY_VOCABULARY_SIZE
    assert data.lengths.shape == (200,) and data.lengths.dtype == np.int32
    assert set(data.lengths.tolist()) == set(range(3, 10))  # both ends included
    for ids in (data.source, data.targets):
        is_real = np.arange(9) < data.lengths[:, None]
        assert (ids[is_real] >= 2).all() and (ids[~is_real] == 0).all()  # digits, then padding
    assert set(np.unique(data.source[data.source > 0]).tolist()) == set(range(2, 12))


def test_copy_targets_are_the_source_and_reverse_targets_its_digits_backwards():
    copies = digit_copies(num_sequences=30, min_length=1, max_length=8, task="copy", seed=2)
    np.testing.assert_array_equal(copies.targets, copies.source)
    reversals = digit_copies(num_sequences=30, min_length=1, max_length=8, task="reverse", seed=2)
    np.testing.assert_array_equal(reversals.source, copies.source)  # the task does not change the draw
    for source, target, length in zip(reversals.source, reversals.targets, reversals.lengths):
        assert digits_of(target, length) == digits_of(source, length)[::-1]
        assert not target[length:].any()


@pytest.mark.parametrize("task", ["copy", "reverse"])
def test_previous_targets_are_the_start_token_then_the_targets_shifted_right(task):
    data = digit_copies(num_sequences=20, min_length=2, max_length=6, task=task)
    assert (data.previous_targets[:, 0] == DIGIT_COPY_START).all()
    np.testing.assert_array_equal(data.previous_targets[:, 1:], data.targets[:, :-1])


def test_equal_lengths_give_no_padding():
    data = digit_copies(num_sequences=10, min_length=4, max_length=4)
    assert (data.lengths == 4).all() and (data.source > 0).all()


def test_same_seed_same_copies_other_seed_other_copies():
    first, again, other = digit_copies(seed=3), digit_copies(seed=3), digit_copies(seed=4)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first.source, other.source)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"num_sequences": 0}, "num_sequences"),
        ({"num_sequences": 2.0}, "num_sequences"),
        ({"min_length": 0}, "min_length"),
        ({"min_length": "5"}, "min_length"),
        ({"max_length": 0}, "max_length"),
        ({"max_length": 40.0}, "max_length"),
        ({"max_length": True}, "max_length"),
    ],
)
def test_bad_copy_arguments_are_named(kwargs, argument):
    with pytest.raises(error_for_integer_argument(kwargs[argument]), match=f"argument {argument}"):
        digit_copies(**kwargs)
