"""attention_utils.benchmark: every method computes exact attention (or its own), the measurement reports what
it says, memory is measured in a fresh process, and bad arguments name themselves."""

import numpy as np
import pytest
from keras import ops

from attention_utils import benchmark
from attention_utils.benchmark import attention_call, attention_flop, measure_attention, measure_in_fresh_process


def outputs(call, inputs):
    result = call(*inputs)
    return [ops.convert_to_numpy(x) for x in (result if isinstance(result, (tuple, list)) else (result,))]


def test_flop_counts_the_matrix_products_of_exact_attention():
    assert attention_flop(8, heads=2, head_size=4) == 2 * 4 * 8**2 * 4  # two products of 2 T^2 d per head
    assert attention_flop(8, heads=2, head_size=4, backward=True) == 3 * attention_flop(8, heads=2, head_size=4)


@pytest.mark.parametrize("backward", [False, True])
@pytest.mark.parametrize("mode", ["eager", "graph"])
def test_every_exact_method_gives_naive_attentions_result_and_gradients(mode, backward):
    expected = outputs(*attention_call("naive", 80, mode="eager", backward=backward, heads=2, head_size=8))
    for method in benchmark.EXACT_METHODS:
        got = outputs(*attention_call(method, 80, mode=mode, backward=backward, heads=2, head_size=8))
        if method in ("keras-dpa", "keras-mha"):  # the same numbers in (batch, T, heads, d)
            got = [np.swapaxes(x, 1, 2) for x in got]
        for a, b in zip(got, expected):
            np.testing.assert_allclose(a, b, atol=1e-5, err_msg=method)


def test_xla_mode_compiles_the_blockwise_gradient():
    expected = outputs(*attention_call("naive", 64, backward=True, heads=1, head_size=8))
    got = outputs(*attention_call("blockwise", 64, mode="xla", backward=True, heads=1, head_size=8))
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_a_measurement_reports_medians_spread_and_rates():
    result = measure_attention("naive", 64, mode="graph", heads=1, head_size=8, min_calls=3, max_calls=5, seconds=0.0)
    assert result["calls"] == 3
    assert result["seconds_min"] <= result["seconds"] <= result["seconds_max"]
    assert result["gflops"] == pytest.approx(attention_flop(64, heads=1, head_size=8) / 1e9 / result["seconds"])
    assert result["percent_of_matmul"] == pytest.approx(100 * result["gflops"] / result["matmul_gflops"])
    inexact = measure_attention("linear", 64, heads=1, head_size=8, min_calls=1, seconds=0.0, matmul_rate=False)
    assert "gflops" not in inexact and "matmul_gflops" not in inexact


def test_memory_is_measured_in_a_fresh_process_and_counts_the_score_matrix():
    small, large = measure_in_fresh_process("naive", [128, 1024], mode="graph", heads=4, timed=False)
    score_matrix_mib = 4 * 1024**2 * 4 / 2**20  # 16 MiB
    assert large["peak_mib"] >= score_matrix_mib  # the whole (4, 1024, 1024) matrix existed at once
    assert small["peak_mib"] < score_matrix_mib / 4
    assert (large["length"], large["mode"], large["heads"]) == (1024, "graph", 4)
    assert "seconds" not in large


def test_time_and_memory_come_from_two_processes_merged_per_length():
    (result,) = measure_in_fresh_process(
        "blockwise", [256], mode="graph", heads=1, min_calls=1, seconds=0.0, block_size=64, query_block_size=128
    )
    assert result["peak_mib"] is not None and result["seconds"] > 0 and result["calls"] == 1
    assert (result["block_size"], result["query_block_size"]) == (64, 128)


@pytest.mark.parametrize(
    "call, error, argument",
    [
        (lambda: attention_call("flash", 8), ValueError, "method"),
        (lambda: attention_call("naive", 8, mode="jit"), ValueError, "mode"),
        (lambda: attention_call("naive", 0), ValueError, "length"),
        (lambda: attention_call("naive", 8, heads=0), ValueError, "heads"),
        (lambda: attention_call("naive", 8, backward="yes"), TypeError, "backward"),
        (lambda: measure_attention("naive", 8, min_calls=0), ValueError, "min_calls"),
        (lambda: measure_attention("naive", 8, seconds=-1.0), ValueError, "seconds"),
        (lambda: measure_in_fresh_process("naive", []), TypeError, "lengths"),
        (lambda: measure_in_fresh_process("naive", [8, 0]), ValueError, "lengths"),
        (lambda: measure_in_fresh_process("naive", 8), TypeError, "lengths"),
        (lambda: measure_in_fresh_process("flash", [8]), ValueError, "method"),
        (lambda: measure_in_fresh_process("naive", [8], timeout=0), ValueError, "timeout"),
        (lambda: measure_in_fresh_process("naive", [8], timed=False, memory=False), ValueError, "timed"),
        (lambda: attention_call("blockwise", 8, block_size=0), ValueError, "block_size"),
    ],
)
def test_bad_arguments_name_themselves(call, error, argument):
    with pytest.raises(error, match=f"argument {argument}"):
        call()


def test_an_unknown_option_is_a_type_error_before_any_process_starts():
    with pytest.raises(TypeError, match="tile_size"):
        measure_in_fresh_process("naive", [8], tile_size=64)
