"""Timing computations the way the notebooks' cost measurements do: the fastest of several calls after a
warm-up (``best_time``), the medians of several functions timed in turns (``median_times``), or the
times of repeated calls, as many as fit in a time (``call_times``, which ``attention_utils.benchmark``
uses)."""

import statistics
import time

from keras import ops

from attention_utils import _validation as check


def best_time(function, *args, repeats=3, budget=0.0, max_repeats=20):
    """The fastest wall-clock time of several calls of ``function(*args)``, and the result.

    One call first, untimed: it traces, builds and warms caches. Then ``function`` runs at least
    ``repeats`` times, and more while the timed calls add up to less than ``budget`` seconds (at most
    ``max_repeats``). The minimum is the least disturbed run: on a shared machine, others can only slow a
    call down. Each call's result is converted to NumPy inside the timing, so the time includes waiting
    for the computation, not only launching it.

    Args:
        function: any callable returning a tensor or an array.
        *args: its arguments.
        repeats: the least number of timed calls, a positive integer.
        budget: keep calling while the timed calls total less than this many seconds (0: just
            ``repeats`` calls).
        max_repeats: the most timed calls, at least ``repeats``.

    Returns:
        ``(seconds, result)``: the fastest call's time and the last result, as a NumPy array.
    """
    if not callable(function):
        raise TypeError(f"Invalid value for argument function. Expected a callable. Received: function={function!r}")
    check.check_integer_at_least(repeats, "repeats", 1)
    check.check_integer_at_least(max_repeats, "max_repeats", repeats)
    check.check_non_negative_number(budget, "budget")
    ops.convert_to_numpy(function(*args))  # the warm-up
    results = []

    def call():
        results[:] = [ops.convert_to_numpy(function(*args))]  # wait for the result, not just for the call

    times = call_times(call, min_calls=repeats, max_calls=max_repeats, seconds=budget)
    return min(times), results[0]


def call_times(function, *, min_calls=3, max_calls=10, seconds=3.0):
    """The wall-clock times of repeated calls of ``function()``, no warm-up.

    At least ``min_calls`` calls, then more until the calls so far have taken ``seconds`` in all or
    ``max_calls`` were made. ``function`` should wait for its result (convert it to NumPy), or the time
    is that of launching the computation only.

    Returns:
        A list of seconds, one per call, in order.
    """
    if not callable(function):
        raise TypeError(f"Invalid value for argument function. Expected a callable. Received: function={function!r}")
    check.check_integer_at_least(min_calls, "min_calls", 1)
    check.check_integer_at_least(max_calls, "max_calls", min_calls)
    check.check_non_negative_number(seconds, "seconds")
    times = []
    while len(times) < min_calls or (sum(times) < seconds and len(times) < max_calls):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def median_times(functions, repeats=7):
    """The median wall-clock time of each of several functions, timed in turns.

    Each function is called once, untimed; then the functions run in turns, ``repeats`` rounds of one call
    each, and each call's result is converted to NumPy inside its timing. Taking turns spreads a burst of
    load from another process over all the functions instead of one: the ratios between their times,
    measured in the same run, hold on a busy machine better than their absolute values.

    Args:
        functions: a list of callables taking no arguments, each returning a tensor or an array.
        repeats: the number of rounds, a positive integer (odd, to take a call's own time).

    Returns:
        A list of seconds, the median time of each function, in the order given.
    """
    functions = list(functions)
    for function in functions:
        if not callable(function):
            raise TypeError(
                f"Invalid value for argument functions. Expected a list of callables. Received an element: {function!r}"
            )
    check.check_integer_at_least(repeats, "repeats", 1)
    for function in functions:
        ops.convert_to_numpy(function())
    times = [[] for _ in functions]
    for _ in range(repeats):
        for function, function_times in zip(functions, times):
            start = time.perf_counter()
            ops.convert_to_numpy(function())
            function_times.append(time.perf_counter() - start)
    return [statistics.median(function_times) for function_times in times]
