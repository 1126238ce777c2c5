"""The cost of one attention computation: time, peak memory and arithmetic rate, each in a fresh process.

Notebook 12 and ``benchmarks/attention.py`` measure with this module, so that a number in the notebook
and a number in the benchmark's report mean the same thing::

    result = measure_in_fresh_process("blockwise", [2048], mode="graph", backward=True)[0]
    result["seconds"], result["peak_mib"], result["percent_of_matmul"]

What is measured
----------------
Self-attention of ``batch`` sequences of ``length`` positions, ``heads`` heads of size ``head_size``,
float32, the query, key and value already projected (the attention step alone, no projections):

- ``"naive"``: ``softmax(q k^T / sqrt(d)) v`` written out in ``keras.ops``, the whole ``(heads, T, T)``
  matrix of scores in memory;
- ``"keras-dpa"``: ``keras.ops.dot_product_attention`` (on TensorFlow, einsum, softmax, einsum);
- ``"keras-mha"``: the attention step of ``keras.layers.MultiHeadAttention`` (``_compute_attention``
  with ``return_attention_scores=True``, the layer's own softmax path; without the flag the layer hands
  over to ``dot_product_attention``, the previous method);
- ``"blockwise"``: ``attention_utils.efficient.blockwise_attend``, exact, tile by tile, with its
  recomputing backward pass;
- ``"blockwise-autodiff"``: the same forward pass with the score passed as a callable
  (``scores.scaled_dot``), which ``blockwise_attend`` differentiates by plain autodiff: the backward
  pass that keeps every tile, to set beside the recomputing one;
- ``"windowed"``: ``windowed_attend`` with ``window`` (not exact attention over all keys);
- ``"linear"``: ``linear_attend``, Katharopoulos et al.'s linear attention (a different attention).

each in one of three ``mode``\\ s: ``"eager"`` (operation by operation), ``"graph"``
(``tf.function(autograph=False)``: traced once, run as a TensorFlow graph) and ``"xla"`` (the same with
``jit_compile=True``, compiled by XLA); on JAX, ``"graph"`` and ``"xla"`` are both ``jax.jit``, which
compiles with XLA; and either the forward pass alone or, with ``backward=True``,
the forward and the backward pass: the gradients of ``sum(context * upstream) ** 2 / 2`` with respect
to the query, key and value, ``upstream`` a fixed random tensor, as one training step needs them. The
loss is squared so that the gradient reaching the context, ``sum(context * upstream) * upstream``,
depends on every position's output, as it does in a network, where the layers above send gradients
back only after the whole forward pass. With the plain sum it would be ``upstream`` itself, known in
advance: in a graph, TensorFlow could then start the backward pass of one query block before the
forward pass of the next, and the peak memory of a tiled loop under autodiff depended on the threads'
schedule (``"blockwise-autodiff"``, ``mode="graph"``, 2 heads, ``T = 4096``, one CPU: from 78 to 160 MiB
over five processes, where the squared loss gives 159 to 166 over six). Measurements made with the plain
sum, before 2026-11-29, are not comparable: naive training then kept three ``T x T`` matrices under
``tf.function`` on two cores, where it keeps four.

How
---
Two fresh processes per measurement, one for memory and one for time, since the allocator settings
that make memory measurable slow the computation down:

- **Memory**: the process runs with glibc's ``MALLOC_MMAP_THRESHOLD_`` fixed at 64 KiB, so that every
  buffer from 64 KiB is mapped on its own and returned to the system as soon as it is freed (by
  default glibc keeps freed buffers of up to 32 MiB resident in its heap, for reuse): the resident
  memory then follows what is allocated. After one warm-up call (it traces and compiles, and allocates
  what the runtime keeps), the baseline is the resident memory (``VmRSS``), with its high-water mark
  reset to it (Linux's ``/proc/self/clear_refs``); then one more call. The peak memory is the
  high-water mark (``VmHWM``) minus the baseline: what the call needed beyond the inputs and the
  warmed-up runtime.
- **Time**: the process runs with the allocator's defaults (mapping and unmapping every buffer slowed
  the compiled block-wise pass by up to 40%). After the warm-up call, timed calls, at least
  ``min_calls`` and then more until they have taken ``seconds`` in all or ``max_calls`` were made, each
  call's result copied to NumPy inside its timing. The time reported is the median, with the fastest
  and slowest call. Last, the same process times a 2048 x 2048 float32 matrix product (median of 5
  calls after one), the machine's reference rate at that moment.

The rate counts the matrix products exact attention needs, ``4 T^2 d`` floating-point operations per
head forwards (two products of ``2 T^2 d``) and ``8 T^2 d`` more backwards (four products), whatever
the method does besides (the block-wise backward pass recomputes the scores, a fifth product it is
not credited for; FlashAttention-2's benchmark counts it, 3.5 times the forward's where this counts 3).
Windowed and linear attention have no rate: they do different arithmetic.

Memory needs Linux's ``/proc``; elsewhere ``peak_mib`` is ``None``. The modes ``"graph"`` and ``"xla"``
and ``backward=True`` need the TensorFlow backend.
"""

import gc
import inspect
import json
import math
import os
import pathlib
import statistics
import subprocess
import sys
import time

import numpy as np

from attention_utils import _validation as check

METHODS = ("naive", "keras-dpa", "keras-mha", "blockwise", "blockwise-autodiff", "windowed", "linear")
EXACT_METHODS = ("naive", "keras-dpa", "keras-mha", "blockwise", "blockwise-autodiff")
MODES = ("eager", "graph", "xla")
MATMUL_SIZE = 2048
FRESH_PROCESS_ENVIRONMENT = {"PYTHONHASHSEED": "0"}
# glibc: allocations from 64 KiB mapped on their own and unmapped when freed (a fixed threshold also turns
# off glibc's raising it as big blocks are freed, after which they would stay in the heap).
MEMORY_PROCESS_ENVIRONMENT = {**FRESH_PROCESS_ENVIRONMENT, "MALLOC_MMAP_THRESHOLD_": "65536"}


def attention_flop(length, *, heads=4, head_size=64, batch=1, backward=False):
    """Floating-point operations of exact self-attention's matrix products: ``4 T^2 d`` per head forwards,
    ``12 T^2 d`` with the backward pass (see the module docstring)."""
    per_head = (12 if backward else 4) * length**2 * head_size
    return batch * heads * per_head


def attention_call(
    method,
    length,
    *,
    mode="eager",
    backward=False,
    heads=4,
    head_size=64,
    batch=1,
    window=128,
    block_size=None,
    query_block_size=None,
):
    """Returns ``(call, inputs)``: the function measured and its arguments, already tensors.

    ``call(*inputs)`` returns the context (forward) or the three gradients (``backward=True``). The
    inputs are random normal with a fixed seed, ``(batch, heads, T, d)``; the Keras methods get the same
    numbers in their own layout, ``(batch, T, heads, d)``, so every exact method computes the same
    result, transposed.
    """
    _check_measurement(method, mode, backward, heads, head_size, batch, window)
    check.check_integer_at_least(length, "length", 1)
    # The tiles of blockwise_attend (block_size and query_block_size) and windowed_attend (block_size):
    # None keeps the function's default.
    tiles = {
        name: size
        for name, size in [("block_size", block_size), ("query_block_size", query_block_size)]
        if size is not None
    }
    for name, size in tiles.items():
        check.check_integer_at_least(size, name, 1)
    import keras
    from keras import ops

    from attention_utils import autodiff
    from attention_utils.efficient import blockwise_attend, linear_attend, windowed_attend

    rng = np.random.default_rng(0)
    shape = (batch, heads, length, head_size)
    if method in ("keras-dpa", "keras-mha"):  # the same numbers, in Keras's layout (batch, T, heads, d)

        def layout(x):
            return ops.convert_to_tensor(np.ascontiguousarray(np.swapaxes(x, 1, 2)))

    else:
        layout = ops.convert_to_tensor
    inputs = [layout(rng.normal(size=shape).astype("float32")) for _ in range(3)]

    if method == "naive":

        def attention(query, key, value):
            scores = ops.matmul(query, ops.swapaxes(key, -1, -2)) / math.sqrt(head_size)
            return ops.matmul(ops.softmax(scores, axis=-1), value)

    elif method == "keras-dpa":
        attention = ops.dot_product_attention
    elif method == "keras-mha":
        layer = keras.layers.MultiHeadAttention(num_heads=heads, key_dim=head_size)
        layer.build((batch, length, heads * head_size), (batch, length, heads * head_size))

        def attention(query, key, value):
            return layer._compute_attention(query, key, value, return_attention_scores=True)[0]

    elif method == "blockwise":

        def attention(query, key, value):
            return blockwise_attend(query, value, key, **tiles)

    elif method == "blockwise-autodiff":
        from attention_utils.scores import scaled_dot

        def attention(query, key, value):
            return blockwise_attend(query, value, key, score=scaled_dot, **tiles)

    elif method == "windowed":

        def attention(query, key, value):
            return windowed_attend(
                query, value, key, window=window, **{k: v for k, v in tiles.items() if k == "block_size"}
            )

    else:

        def attention(query, key, value):
            return linear_attend(query, value, key)

    call = attention
    if backward:
        upstream = layout(rng.normal(size=shape).astype("float32"))

        def loss(query, key, value):
            # Squared: the gradient reaching the context needs the whole forward pass (module docstring).
            return ops.square(ops.sum(attention(query, key, value) * upstream)) / 2

        def call(query, key, value):
            return autodiff.gradients(loss, query, key, value)

    if mode != "eager" and keras.backend.backend() == "jax":
        import jax

        call = jax.jit(call)  # JAX compiles with XLA: "graph" and "xla" are the same there
    elif mode != "eager":
        import tensorflow as tf

        call = tf.function(call, autograph=False, jit_compile=mode == "xla")
    return call, inputs


def measure_attention(
    method,
    length,
    *,
    min_calls=3,
    max_calls=10,
    seconds=3.0,
    matmul_rate=True,
    timed=True,
    memory=True,
    **call_options,
):
    """Measures one attention computation in this process (see the module docstring for how).

    Call it in a process of its own (``measure_in_fresh_process``): in a process that has run other
    computations, the memory they left resident is not the call's, and TensorFlow's warm thread pools
    and caches make the first method measured differ from the next.

    Args:
        method: one of ``METHODS``.
        length: the sequence length ``T``, a positive integer.
        min_calls, max_calls, seconds: timed calls, at least ``min_calls``, then more until they took
            ``seconds`` or ``max_calls`` were made.
        matmul_rate: also time a 2048 x 2048 matrix product, after the attention.
        timed: time the calls.
        memory: measure the peak memory of one call (before the timed calls). Meaningful only in a
            process started with ``MEMORY_PROCESS_ENVIRONMENT``.
        **call_options: ``attention_call``'s keyword arguments, the computation measured: ``mode``
            (``"eager"``, ``"graph"`` or ``"xla"``), ``backward`` (also the backward pass), ``heads``,
            ``head_size``, ``batch``, ``window`` (``"windowed"`` only) and the tiles ``block_size`` and
            ``query_block_size`` (``None``: the functions' defaults).

    Returns:
        A dict: the arguments, ``first_call_seconds`` (the warm-up: tracing and compiling included) and
        ``checksum`` (the mean absolute value of the result, equal across exact methods); with ``memory``,
        ``peak_mib``; with ``timed``, ``seconds`` (median of the timed calls), ``seconds_min``,
        ``seconds_max``, ``calls``, for the exact methods ``gflops`` (``attention_flop`` over the median
        time), and with ``matmul_rate`` also ``matmul_gflops`` and, for exact methods, ``percent_of_matmul``.
    """
    check.check_integer_at_least(min_calls, "min_calls", 1)
    check.check_integer_at_least(max_calls, "max_calls", min_calls)
    check.check_non_negative_number(seconds, "seconds")
    check.check_bool(matmul_rate, "matmul_rate")
    check.check_bool(timed, "timed")
    check.check_bool(memory, "memory")
    from keras import ops

    from attention_utils.timing import call_times

    call, inputs = attention_call(method, length, **call_options)
    options = _call_arguments(method, length, call_options)  # with attention_call's defaults

    def run():
        return [ops.convert_to_numpy(x) for x in _as_tuple(call(*inputs))]

    start = time.perf_counter()
    result = run()
    first_call_seconds = time.perf_counter() - start
    checksum = float(np.mean([np.abs(x).mean() for x in result]))
    del result
    measurement = {
        "method": method,
        "length": length,
        **{name: options[name] for name in ("mode", "backward", "heads", "head_size", "batch")},
        "first_call_seconds": first_call_seconds,
        "checksum": checksum,
    }
    if method == "windowed":
        measurement["window"] = options["window"]
    for name in ("block_size", "query_block_size"):
        if options[name] is not None:
            measurement[name] = options[name]
    if memory:
        gc.collect()
        baseline_kib, peak_measurable = _resident_kib(), _reset_peak_memory()
        run()
        measurement["peak_mib"] = (_peak_kib() - baseline_kib) / 1024 if peak_measurable else None
    if not timed:
        return measurement
    times = call_times(run, min_calls=min_calls, max_calls=max_calls, seconds=seconds)
    measurement.update(
        seconds=statistics.median(times), seconds_min=min(times), seconds_max=max(times), calls=len(times)
    )
    if method in EXACT_METHODS:
        flop = attention_flop(length, **{name: options[name] for name in ("heads", "head_size", "batch", "backward")})
        measurement["gflops"] = flop / 1e9 / measurement["seconds"]
    if matmul_rate:
        a, b = (
            ops.convert_to_tensor(np.random.default_rng(1).normal(size=(MATMUL_SIZE,) * 2).astype("float32"))
            for _ in range(2)
        )
        ops.convert_to_numpy(ops.matmul(a, b))
        matmul_seconds = statistics.median(
            call_times(lambda: ops.convert_to_numpy(ops.matmul(a, b)), min_calls=5, max_calls=5, seconds=0.0)
        )
        measurement["matmul_gflops"] = 2 * MATMUL_SIZE**3 / 1e9 / matmul_seconds
        if "gflops" in measurement:
            measurement["percent_of_matmul"] = 100 * measurement["gflops"] / measurement["matmul_gflops"]
    return measurement


def measure_in_fresh_process(method, lengths, *, timed=True, memory=True, timeout=600, **options):
    """``measure_attention`` at each of ``lengths``: its memory in one new Python process, its time in another.

    Each process imports ``attention_utils`` first (the series' TensorFlow settings) and measures the
    lengths one after another, each from its own warm-up (and baseline); the memory process runs with
    ``MEMORY_PROCESS_ENVIRONMENT``, the timing process with ``FRESH_PROCESS_ENVIRONMENT`` (see the module
    docstring). ``timed=False`` or ``memory=False`` skips a process. A length whose computation fails
    (XLA declining to compile, say) gives a dict with the arguments and ``"error"``, the exception's
    first line.

    Args:
        method: one of ``METHODS``.
        lengths: a list of positive integers.
        timed, memory: measure the time, the peak memory (at least one of them).
        timeout: seconds allowed for each process.
        **options: ``measure_attention``'s keyword arguments.

    Returns:
        A list of ``measure_attention``'s dicts, one per length.
    """
    lengths = list(lengths) if isinstance(lengths, (list, tuple)) else lengths
    if not isinstance(lengths, list) or not lengths:
        raise TypeError(
            f"Invalid value for argument lengths. Expected a non-empty list of positive integers. "
            f"Received: lengths={lengths!r}"
        )
    for length in lengths:
        check.check_integer_at_least(length, "lengths", 1, expected="a list of positive integers")
    # Checked here, before a process starts: unknown names are a TypeError, wrong values name themselves.
    measure_names = {"min_calls", "max_calls", "seconds", "matmul_rate"}
    arguments = _call_arguments(method, lengths[0], {k: v for k, v in options.items() if k not in measure_names})
    _check_measurement(
        *(arguments[name] for name in ("method", "mode", "backward", "heads", "head_size", "batch", "window"))
    )
    check.check_bool(timed, "timed")
    check.check_bool(memory, "memory")
    if not (timed or memory):
        raise ValueError(
            "Invalid value for argument timed. Expected True when memory is False. Received: timed=False, memory=False"
        )
    check.check_positive_finite(timeout, "timeout")
    lengths = [int(length) for length in lengths]
    memory_runs = timed_runs = None
    if memory:
        memory_options = {**options, "timed": False, "matmul_rate": False}
        memory_runs = _run_fresh_process(method, lengths, memory_options, MEMORY_PROCESS_ENVIRONMENT, timeout)
    if timed:
        timed_runs = _run_fresh_process(
            method, lengths, {**options, "memory": False}, FRESH_PROCESS_ENVIRONMENT, timeout
        )
    if memory_runs is None:
        return timed_runs
    if timed_runs is None:
        return memory_runs
    for timed_run, memory_run in zip(timed_runs, memory_runs):
        if "error" in memory_run:
            timed_run.setdefault("error", memory_run["error"])
        timed_run["peak_mib"] = memory_run.get("peak_mib")
    return timed_runs


def _run_fresh_process(method, lengths, options, environment, timeout):
    request = json.dumps({"method": method, "lengths": lengths, "options": options})
    completed = subprocess.run(
        [sys.executable, "-m", "attention_utils.benchmark", request],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **environment},
    )
    if completed.returncode != 0:
        raise RuntimeError(f"Measuring {method} failed in its process:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _measure_request(request):
    method, options = request["method"], request["options"]
    measurements = []
    for length in request["lengths"]:
        try:
            measurements.append(measure_attention(method, length, **options))
        except Exception as error:  # reported in the result: XLA may decline to compile
            message = str(error).strip().splitlines()
            measurements.append(
                {
                    "method": method,
                    "length": length,
                    **options,
                    "error": f"{type(error).__name__}: {message[0] if message else ''}"[:500],
                }
            )
    return measurements


def _call_arguments(method, length, call_options):
    """``attention_call``'s arguments by name, its defaults filled in; ``TypeError`` for an unknown name."""
    bound = inspect.signature(attention_call).bind(method, length, **call_options)
    bound.apply_defaults()
    return bound.arguments


def _check_measurement(method, mode, backward, heads, head_size, batch, window):
    check.check_one_of(method, "method", METHODS)
    check.check_one_of(mode, "mode", MODES)
    check.check_bool(backward, "backward")
    check.check_integer_at_least(heads, "heads", 1)
    check.check_integer_at_least(head_size, "head_size", 1)
    check.check_integer_at_least(batch, "batch", 1)
    check.check_integer_at_least(window, "window", 0)


def _as_tuple(x):
    return x if isinstance(x, (tuple, list)) else (x,)


def _status_kib(field):
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _resident_kib():
    try:
        return _status_kib("VmRSS")
    except (OSError, KeyError):
        return None


def _peak_kib():
    return _status_kib("VmHWM")


def _reset_peak_memory():
    """Sets the high-water mark to the resident memory now; False where that cannot be done."""
    try:
        pathlib.Path("/proc/self/clear_refs").write_text("5")
        return _resident_kib() is not None
    except OSError:
        return False


if __name__ == "__main__":
    import attention_utils  # noqa: F401  (first: the series' quiet TensorFlow settings)

    print(json.dumps(_measure_request(json.loads(sys.argv[1]))))
