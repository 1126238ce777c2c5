"""best_time: the fastest of several calls, after an untimed warm-up, and the result. median_times: the
median of each of several functions, timed in turns."""

import itertools

import numpy as np
import pytest

from attention_utils import timing
from attention_utils.timing import best_time, median_times


def fake_clock(monkeypatch, durations):
    """Makes time.perf_counter return start and end readings so the timed calls last `durations`."""
    readings = itertools.accumulate(d for duration in durations for d in (0.0, duration))
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(readings))


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


def test_median_times_takes_turns_and_returns_each_functions_median(monkeypatch):
    order = []
    functions = [lambda: order.append("a") or np.zeros(1), lambda: order.append("b") or np.zeros(1)]
    # in turns a b a b a b: a's calls last 1, 5, 2 and b's 10, 30 (a busy moment), 20
    fake_clock(monkeypatch, [1.0, 10.0, 5.0, 30.0, 2.0, 20.0])
    assert median_times(functions, repeats=3) == pytest.approx([2.0, 20.0])
    assert order == ["a", "b"] + ["a", "b"] * 3  # one untimed call each, then rounds of one call each


def test_median_times_of_an_even_number_of_rounds_is_the_mean_of_the_middle_two(monkeypatch):
    fake_clock(monkeypatch, [4.0, 1.0, 3.0, 2.0])
    assert median_times([lambda: np.zeros(1)], repeats=4) == pytest.approx([2.5])


def test_median_times_of_real_calls_are_non_negative_and_one_per_function():
    seconds = median_times([lambda: np.zeros(3), lambda: np.ones((2, 2)) @ np.ones((2, 2))], repeats=3)
    assert len(seconds) == 2 and all(s >= 0 for s in seconds)
    assert median_times([]) == []


@pytest.mark.parametrize(
    "functions, repeats, error, argument",
    [
        ([lambda: np.zeros(1), 3], 3, TypeError, "functions"),
        ([lambda: np.zeros(1)], 0, ValueError, "repeats"),
        ([lambda: np.zeros(1)], 2.0, TypeError, "repeats"),
    ],
)
def test_median_times_bad_arguments_name_themselves(functions, repeats, error, argument):
    with pytest.raises(error, match=f"argument {argument}"):
        median_times(functions, repeats=repeats)


def test_call_times_makes_at_least_min_calls_then_more_until_the_time_is_spent(monkeypatch):
    calls = []
    fake_clock(monkeypatch, [1.0] * 20)
    times = timing.call_times(lambda: calls.append(1), min_calls=2, max_calls=10, seconds=4.5)
    assert times == [1.0] * 5 and len(calls) == 5  # 4 s after four calls is not yet 4.5 s


def test_call_times_stops_at_max_calls(monkeypatch):
    fake_clock(monkeypatch, [0.1] * 20)
    assert len(timing.call_times(lambda: None, min_calls=1, max_calls=4, seconds=100.0)) == 4


@pytest.mark.parametrize(
    "kwargs, error, argument",
    [
        ({"min_calls": 0}, ValueError, "min_calls"),
        ({"min_calls": 3, "max_calls": 2}, ValueError, "max_calls"),
        ({"seconds": -1.0}, ValueError, "seconds"),
    ],
)
def test_call_times_bad_arguments_name_themselves(kwargs, error, argument):
    with pytest.raises(error, match=f"argument {argument}"):
        timing.call_times(lambda: None, **kwargs)
