"""best_time: the fastest of several calls, after an untimed warm-up, and the result."""

import numpy as np
import pytest

from attention_utils.timing import best_time


def test_returns_the_fastest_time_and_the_result_after_one_untimed_call():
    calls = []

    def function(x):
        calls.append(x)
        return np.asarray(x) * 2

    seconds, result = best_time(function, 3, repeats=4)
    assert len(calls) == 1 + 4  # the warm-up, then the timed calls
    assert seconds >= 0 and float(result) == 6.0


def test_keeps_calling_while_within_the_budget_up_to_max_repeats():
    calls = []
    best_time(lambda: calls.append(1) or np.zeros(1), repeats=2, budget=10.0, max_repeats=7)
    assert len(calls) == 1 + 7


@pytest.mark.parametrize(
    "kwargs, error, argument",
    [
        ({"repeats": 0}, ValueError, "repeats"),
        ({"repeats": 3, "max_repeats": 2}, ValueError, "max_repeats"),
        ({"budget": -1.0}, ValueError, "budget"),
        ({"budget": "1"}, TypeError, "budget"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, error, argument):
    with pytest.raises(error, match=f"argument {argument}"):
        best_time(lambda: np.zeros(1), **kwargs)


def test_a_function_that_is_not_callable_is_a_type_error():
    with pytest.raises(TypeError, match="argument function"):
        best_time(3)
