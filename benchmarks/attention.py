"""Attention benchmark: time, peak memory and arithmetic rate of exact attention as sequences grow.

    python benchmarks/attention.py                      # lengths 128 .. 8192, every method
    python benchmarks/attention.py --lengths 512 2048 --methods naive ours-graph

For each sequence length T and each method, self-attention of one sequence with 8 heads of size 64
(query, key and value already projected, shape ``(1, 8, T, 64)`` or ``(1, T, 8, 64)``, float32):

- ``naive``: attention written out with ``keras.ops``: ``softmax(q k^T / sqrt(d)) v``, the whole
  ``(8, T, T)`` matrix of scores in memory;
- ``keras-dpa``: ``keras.ops.dot_product_attention`` (on TensorFlow: einsum, softmax, einsum);
- ``keras-mha``: ``keras.layers.MultiHeadAttention._compute_attention``, the attention step of the
  layer without its input and output projections, called with ``return_attention_scores=True``. Without
  that flag the layer hands over to ``keras.ops.dot_product_attention`` (the previous row); with it,
  the layer runs its own path (scale the queries, einsum, ``Softmax`` layer, einsum) and also returns the
  weights, which it computes either way;
- ``ours-eager``: ``attention_utils.efficient.blockwise_attend`` called eagerly: exact attention tile by
  tile with an online softmax;
- ``ours-graph``: the same function traced once by ``tf.function(autograph=False)`` (its loops are plain
  Python over fixed positions); the trace is part of the warm-up call, which is not timed.

and two attentions that are not exact softmax attention over all keys (timed, with their error):

- ``windowed``: ``windowed_attend`` with ``window=128``, in ``tf.function(autograph=False)``;
- ``linear``: ``linear_attend`` (Katharopoulos et al. 2020), non-causal, eagerly.

Every (method, T) runs in a fresh Python process, so one measurement cannot inherit another's memory.
The process builds its inputs, resets its resident-memory high-water mark (Linux: ``/proc/self/
clear_refs``), makes one warm-up call, then times at least two calls
(more, up to ten, while they take less than 3 s in all); peak memory is the high-water mark
(VmHWM) minus the resident memory just before the warm-up, so it is what the call needs beyond its
inputs. Time is the best of the repeats (wall clock; CPU time is reported too, since on a shared
machine the wall clock also counts waiting for a core). GFLOP/s counts the two matrix products of
exact attention, ``4 T^2 d`` per head (2 per multiply-add), for every exact method alike, and is
compared with this machine's rate on a 2048 x 2048 float32 matrix product, measured in this run
(best of a measurement before and one after). The TensorFlow settings are the series' own: ``import
attention_utils`` first (oneDNN off, so Eigen kernels), default thread pools.

Writes ``build/bench/attention.md`` (the tables) and ``build/bench/attention.png`` (time, memory and
rate against T), and prints the tables. Methods are compared only within one run.
"""

import argparse
import gc
import json
import math
import os
import pathlib
import platform
import resource
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
HEADS, HEAD_SIZE = 8, 64
WINDOW = 128
EXACT_METHODS = ["naive", "keras-dpa", "keras-mha", "ours-eager", "ours-graph"]
OTHER_METHODS = ["windowed", "linear"]
LABELS = {
    "naive": "naive, written out",
    "keras-dpa": "keras.ops.dot_product_attention",
    "keras-mha": "MultiHeadAttention._compute_attention",
    "ours-eager": "ours: blockwise_attend, eager",
    "ours-graph": "ours: blockwise_attend, tf.function",
    "windowed": f"windowed_attend, window {WINDOW}, tf.function",
    "linear": "linear_attend, eager",
}
ERROR_MAX_LENGTH = 2048  # the error of the non-exact methods needs the exact result: only up to here


# ----------------------------------------------------------------------------------------------------
# Child process: one measurement.


def read_status_kb(field):
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak_memory():
    """Resets VmHWM to the current resident memory; False where the kernel does not allow it."""
    try:
        pathlib.Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# Timed calls after the warm-up: at least MIN_REPEATS, then more while the calls so far took less than
# REPEAT_SECONDS, up to MAX_REPEATS. A fixed count by length (one call at 8192) let a single slow call,
# a moment when something else had the core, stand for the method: the best of several does not.
MIN_REPEATS, MAX_REPEATS, REPEAT_SECONDS = 2, 10, 3.0


def build_method(method, length):
    """Returns ``(call, inputs)``: the function to time and its arguments, already tensors."""
    import attention_utils  # noqa: F401, I001  (first: the series' TensorFlow settings)
    import keras
    import numpy as np
    import tensorflow as tf
    from keras import ops

    from attention_utils.efficient import blockwise_attend, linear_attend, windowed_attend

    rng = np.random.default_rng(0)
    query, key, value = (rng.normal(size=(1, HEADS, length, HEAD_SIZE)).astype("float32") for _ in range(3))
    heads_first = [ops.convert_to_tensor(x) for x in (query, key, value)]
    heads_second = [ops.convert_to_tensor(np.swapaxes(x, 1, 2)) for x in (query, key, value)]

    def naive(query, key, value):
        scores = ops.matmul(query, ops.swapaxes(key, -1, -2)) / math.sqrt(HEAD_SIZE)
        return ops.matmul(ops.softmax(scores, axis=-1), value)

    if method == "matmul":
        a, b = (ops.convert_to_tensor(rng.normal(size=(2048, 2048)).astype("float32")) for _ in range(2))
        return ops.matmul, (a, b)
    if method == "naive":
        return naive, heads_first
    if method == "keras-dpa":
        return ops.dot_product_attention, heads_second
    if method == "keras-mha":
        layer = keras.layers.MultiHeadAttention(num_heads=HEADS, key_dim=HEAD_SIZE)
        layer.build((1, length, HEADS * HEAD_SIZE), (1, length, HEADS * HEAD_SIZE))

        def mha_attention_step(query, key, value):
            context, _ = layer._compute_attention(query, key, value, return_attention_scores=True)
            return context

        return mha_attention_step, heads_second
    if method == "ours-eager":
        return lambda query, key, value: blockwise_attend(query, value, key), heads_first
    if method == "ours-graph":
        return tf.function(lambda query, key, value: blockwise_attend(query, value, key), autograph=False), heads_first
    if method == "windowed":
        return tf.function(
            lambda query, key, value: windowed_attend(query, value, key, window=WINDOW), autograph=False
        ), heads_first
    if method == "linear":
        return lambda query, key, value: linear_attend(query, value, key), heads_first
    raise ValueError(f"Invalid value for argument method. Received: method={method!r}")


def measure(method, length):
    call, inputs = build_method(method, length)
    import numpy as np
    from keras import ops

    gc.collect()
    baseline_kb = read_status_kb("VmRSS")
    peak_was_reset = reset_peak_memory()
    start, start_cpu = time.perf_counter(), cpu_seconds()
    output = ops.convert_to_numpy(call(*inputs))
    first_call = time.perf_counter() - start
    best_wall = best_cpu = float("inf")
    repeats, timed = 0, 0.0
    while repeats < MIN_REPEATS or (repeats < MAX_REPEATS and timed < REPEAT_SECONDS):
        del output
        start, start_cpu = time.perf_counter(), cpu_seconds()
        output = ops.convert_to_numpy(call(*inputs))
        wall = time.perf_counter() - start
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu_seconds() - start_cpu)
        repeats, timed = repeats + 1, timed + wall
    peak_mb = (read_status_kb("VmHWM") - baseline_kb) / 1024
    if method != "matmul" and output.shape[1] != HEADS:
        output = np.swapaxes(output, 1, 2)  # (1, T, heads, d) -> (1, heads, T, d), to compare
    result = {
        "method": method,
        "length": length,
        "seconds": best_wall,
        "cpu_seconds": best_cpu,
        "first_call_seconds": first_call,
        "peak_mb": peak_mb,
        "peak_was_reset": peak_was_reset,
        "repeats": repeats,
        "checksum": float(np.abs(output).mean()),
    }
    if method in OTHER_METHODS and length <= ERROR_MAX_LENGTH:
        exact = ops.convert_to_numpy(build_method("ours-graph", length)[0](*inputs))
        result["relative_error"] = float(np.linalg.norm(output - exact) / np.linalg.norm(exact))
    return result


# ----------------------------------------------------------------------------------------------------
# Parent process: run the children, make the tables and the plot.


def run_child(method, length, timeout):
    command = [sys.executable, __file__, "--child", method, str(length)]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "0"}
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{method} at T={length} failed:\n{completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def attention_gflop(length):
    return 4 * HEADS * length**2 * HEAD_SIZE / 1e9


def markdown_tables(results, matmul_gflops, lengths):
    def table(methods, last_columns, last_cells):
        """One row per (length, method) measured: the common columns, then ``last_cells(length, r)``."""
        rows = [
            f"| {length} | {LABELS[method]} | {1e3 * r['seconds']:.1f} | {1e3 * r['cpu_seconds']:.1f} "
            f"| {r['first_call_seconds']:.2f} | {r['peak_mb']:.1f} | {last_cells(length, r)} |"
            for length in lengths
            for method in methods
            if (r := results.get((method, length))) is not None
        ]
        header = (
            f"| T | method | ms | CPU ms | first call s | peak MB | {' | '.join(last_columns)} |\n"
            f"|---:|---|---:|---:|---:|---:|{'---:|' * len(last_columns)}"
        )
        return header + "\n" + "\n".join(rows), rows

    def rates(length, r):
        gflops = attention_gflop(length) / r["seconds"]
        return f"{gflops:.1f} | {100 * gflops / matmul_gflops:.0f}%"

    def error(length, r):
        return f"{r['relative_error']:.3f}" if "relative_error" in r else "not measured"

    exact_table, _ = table(EXACT_METHODS, ["GFLOP/s", "% of matmul"], rates)
    other_table, other_rows = table(OTHER_METHODS, ["relative error vs exact"], error)
    return exact_table, other_table if other_rows else ""


def targets(results, matmul_gflops, lengths):
    """The issue's targets, each as (description, measured, reached)."""
    lines = []
    longest = max(lengths)
    naive, ours = results.get(("naive", longest)), results.get(("ours-eager", longest))
    if naive and ours:
        ratio = ours["peak_mb"] / naive["peak_mb"]
        lines.append(
            (
                f"blockwise_attend (eager) peak memory <= 1/8 of naive at T={longest}",
                f"{ours['peak_mb']:.0f} MB vs {naive['peak_mb']:.0f} MB = 1/{1 / ratio:.1f}",
                ratio <= 1 / 8,
            )
        )
        slowdown = ours["seconds"] / naive["seconds"]
        lines.append(
            (f"blockwise_attend (eager) no slower than 1.2x naive at T={longest}", f"{slowdown:.2f}x", slowdown <= 1.2)
        )
    graph = results.get(("ours-graph", longest))
    if naive and graph:
        ratio = graph["peak_mb"] / naive["peak_mb"]
        lines.append(
            (
                f"blockwise_attend (tf.function) peak memory <= 1/8 of naive at T={longest}",
                f"{graph['peak_mb']:.0f} MB vs {naive['peak_mb']:.0f} MB = 1/{1 / ratio:.1f}",
                ratio <= 1 / 8,
            )
        )
        slowdown = graph["seconds"] / naive["seconds"]
        lines.append(
            (
                f"blockwise_attend (tf.function) no slower than 1.2x naive at T={longest}",
                f"{slowdown:.2f}x",
                slowdown <= 1.2,
            )
        )
    long_lengths = [length for length in lengths if length >= 2048]
    shares = {}
    for length in long_lengths:
        fastest = min(
            (results[(m, length)]["seconds"] for m in ("ours-eager", "ours-graph") if (m, length) in results),
            default=None,
        )
        if fastest is not None:
            shares[length] = attention_gflop(length) / fastest / matmul_gflops
    if shares:
        measured = ", ".join(f"T={length}: {100 * share:.0f}%" for length, share in shares.items())
        lines.append(
            ("our fastest exact path >= 40% of the matmul rate at T >= 2048", measured, min(shares.values()) >= 0.4)
        )
    return lines


def plot(results, matmul_gflops, lengths, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(17, 4.2))
    for method in EXACT_METHODS + OTHER_METHODS:
        points = [(length, results[(method, length)]) for length in lengths if (method, length) in results]
        if not points:
            continue
        xs = [length for length, _ in points]
        style = "--" if method in OTHER_METHODS else "-"
        axes[0].plot(xs, [1e3 * r["seconds"] for _, r in points], style, marker="o", label=LABELS[method])
        axes[1].plot(xs, [max(r["peak_mb"], 0.1) for _, r in points], style, marker="o", label=LABELS[method])
        if method in EXACT_METHODS:
            axes[2].plot(
                xs,
                [attention_gflop(x) / r["seconds"] for x, (_, r) in zip(xs, points)],
                style,
                marker="o",
                label=LABELS[method],
            )
    axes[2].axhline(matmul_gflops, color="k", linestyle=":", label="2048 x 2048 matmul")
    axes[2].axhline(0.4 * matmul_gflops, color="grey", linestyle=":", label="40% of matmul")
    titles = ["Time per call", "Peak memory beyond the inputs", "Arithmetic rate of exact attention"]
    ylabels = ["milliseconds (best of repeats)", "MB (VmHWM minus resident before)", "GFLOP/s"]
    for ax, title, ylabel in zip(axes, titles, ylabels):
        ax.set(xscale="log", xlabel="sequence length T", ylabel=ylabel, title=title)
        ax.set_xticks(lengths, [str(length) for length in lengths], rotation=45)
    axes[0].set_yscale("log")
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=7)
    axes[2].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle(f"Self-attention, {HEADS} heads of size {HEAD_SIZE}, batch 1, float32")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 256, 512, 1024, 2048, 4096, 8192])
    parser.add_argument(
        "--methods", nargs="+", default=EXACT_METHODS + OTHER_METHODS, choices=EXACT_METHODS + OTHER_METHODS
    )
    parser.add_argument("--output-dir", type=pathlib.Path, default=ROOT / "build" / "bench")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per measurement")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "LENGTH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]))))
        return 0

    started = time.perf_counter()
    load_before = os.getloadavg()
    matmul_runs = [run_child("matmul", 2048, args.timeout)]
    results = {}
    for length in sorted(args.lengths):
        for method in args.methods:
            results[(method, length)] = r = run_child(method, length, args.timeout)
            print(f"T={length:>5} {LABELS[method]:<42} {1e3 * r['seconds']:9.1f} ms {r['peak_mb']:8.1f} MB", flush=True)
    matmul_runs.append(run_child("matmul", 2048, args.timeout))
    matmul_rates = [2 * 2048**3 / 1e9 / r["seconds"] for r in matmul_runs]
    matmul_gflops = max(matmul_rates)
    load_after = os.getloadavg()

    # Every method computes the same exact attention from the same inputs: a wrong one shows here.
    for length in args.lengths:
        checksums = {m: results[(m, length)]["checksum"] for m in EXACT_METHODS if (m, length) in results}
        if checksums and max(checksums.values()) - min(checksums.values()) > 1e-4 * max(checksums.values()):
            raise RuntimeError(f"the exact methods disagree at T={length}: {checksums}")

    import attention_utils  # noqa: F401, I001  (first: its quiet TensorFlow settings, no log lines here)
    import tensorflow as tf  # only for its version, after the measurements

    exact_table, other_table = markdown_tables(results, matmul_gflops, sorted(args.lengths))
    target_lines = targets(results, matmul_gflops, sorted(args.lengths))
    context = (
        f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), TensorFlow {tf.__version__}. "
        f"Matrix product 2048 x 2048 float32: {matmul_gflops:.1f} GFLOP/s (best of "
        f"{' and '.join(f'{rate:.1f}' for rate in matmul_rates)}). "
        f"Load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in load_before)}; "
        f"after: {', '.join(f'{x:.2f}' for x in load_after)}. "
        f"Total run time {time.perf_counter() - started:.0f} s."
    )
    target_table = "| target | measured | reached |\n|---|---|---|\n" + "\n".join(
        f"| {what} | {measured} | {'yes' if reached else 'no'} |" for what, measured, reached in target_lines
    )
    report = (
        f"# Attention benchmark\n\n{context}\n\n## Exact attention\n\n{exact_table}\n\n"
        + (f"## Windowed and linear attention\n\n{other_table}\n\n" if other_table else "")
        + f"## Targets\n\n{target_table}\n"
    )
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "attention.md").write_text(report)
    plot(results, matmul_gflops, sorted(args.lengths), args.output_dir / "attention.png")
    print("\n" + report)
    print(f"(written to {args.output_dir / 'attention.md'} and {args.output_dir / 'attention.png'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
