"""Attention benchmark: time, peak memory and arithmetic rate of attention as sequences grow, fairly.

    python benchmarks/attention.py                          # every method, mode and pass, T = 512 .. 8192
    python benchmarks/attention.py --lengths 1024 2048 --methods naive blockwise --modes graph xla

Every method (``attention_utils.benchmark.METHODS``: naive, ``keras.ops.dot_product_attention``,
``MultiHeadAttention``'s attention step, ``blockwise_attend``, and the inexact ``windowed_attend`` and
``linear_attend``) runs in every mode (eager, ``tf.function``, ``tf.function(jit_compile=True)``), for
the forward pass and for the forward and backward passes, at every length: each measurement in fresh
processes, as ``attention_utils.benchmark.measure_in_fresh_process`` makes it (its docstring says how:
the memory in one process, from a baseline taken after the warm-up call, with glibc returning freed
buffers at once; the time in another, with the allocator's defaults, calls repeated until 3 s or 10
calls, at least 3, medians with the fastest and slowest, the 2048 x 2048 matrix product timed in the
same process). Self-attention of one sequence, 4 heads of size 64, float32, non-causal.
``--block-size`` and ``--query-block-size`` set ``blockwise_attend``'s tiles (default: its own).

Writes ``build/bench/attention.md`` (tables, then the targets of issue 19), ``attention.json`` (every
measurement) and ``attention.png`` (time and memory against T), and prints the tables. Run it on a
quiet machine: the measurements of one run are compared with each other.
"""

import argparse
import json
import os
import pathlib
import platform
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from attention_utils.benchmark import EXACT_METHODS, METHODS, MODES, measure_in_fresh_process  # noqa: E402

DEFAULT_METHODS = ["naive", "keras-dpa", "keras-mha", "blockwise", "windowed", "linear"]
PASSES = {"forward": False, "forward+backward": True}
LABELS = {
    "naive": "naive (written out)",
    "keras-dpa": "ops.dot_product_attention",
    "keras-mha": "MultiHeadAttention step",
    "blockwise": "blockwise_attend (ours)",
    "blockwise-autodiff": "blockwise_attend, autodiff backward",
    "windowed": "windowed_attend, window 128",
    "linear": "linear_attend",
}
MODE_LABELS = {"eager": "eager", "graph": "tf.function", "xla": "XLA"}
ERROR_MAX_LENGTH = 2048  # relative error of the inexact methods (needs the exact result): up to here


def tiles(args, method):
    """The tile sizes given on the command line, for the block-wise methods."""
    if not method.startswith("blockwise"):
        return {}
    sizes = {"block_size": args.block_size, "query_block_size": args.query_block_size}
    return {name: size for name, size in sizes.items() if size is not None}


def relative_errors(lengths, methods):
    """Relative error of windowed and linear attention against exact attention, on the benchmark's inputs."""
    import attention_utils  # noqa: F401, I001  (first: the series' TensorFlow settings)
    import numpy as np
    from keras import ops

    from attention_utils.benchmark import attention_call

    errors = {}
    for length in lengths:
        if length > ERROR_MAX_LENGTH:
            continue
        exact_call, inputs = attention_call("naive", length, mode="graph")
        exact = ops.convert_to_numpy(exact_call(*inputs))
        for method in methods:
            call, _ = attention_call(method, length, mode="graph")
            output = ops.convert_to_numpy(call(*inputs))
            errors[(method, length)] = float(np.linalg.norm(output - exact) / np.linalg.norm(exact))
    return errors


def cell(result, what):
    if result is None:
        return ""
    if "error" in result:
        return "fails"
    if what == "ms":
        return f"{1e3 * result['seconds']:.1f} ({1e3 * result['seconds_min']:.1f}-{1e3 * result['seconds_max']:.1f})"
    if what == "MiB":
        return "" if result["peak_mib"] is None else f"{result['peak_mib']:.0f}"
    return f"{result['percent_of_matmul']:.0f}%" if "percent_of_matmul" in result else ""


def table(results, lengths, methods, modes, backward):
    columns = [f"{MODE_LABELS[mode]} {what}" for what in ("ms", "MiB", "%") for mode in modes]
    lines = [
        "| T | method | " + " | ".join(columns) + " |",
        "|---:|---|" + "---:|" * len(columns),
    ]
    for length in lengths:
        for method in methods:
            row = [results.get((method, mode, backward, length)) for mode in modes]
            if all(r is None for r in row):
                continue
            cells = [cell(r, what) for what in ("ms", "MiB", "%") for r in row]
            lines.append(f"| {length} | {LABELS[method]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fastest(results, method, modes, backward, length):
    candidates = [results.get((method, mode, backward, length)) for mode in modes]
    candidates = [r for r in candidates if r is not None and "error" not in r]
    return min(candidates, key=lambda r: r["seconds"], default=None)


def targets(results, lengths, modes):
    """Issue 19's targets, each as (target, measured, reached or None when not measured)."""
    rows = []
    for backward, share in ((False, 50), (True, 35)):
        pass_name = "forward+backward" if backward else "forward"
        measured, reached = [], []
        for length in (length for length in lengths if length >= 2048):
            best = fastest(results, "blockwise", modes, backward, length)
            if best is not None:
                measured.append(f"T={length}: {best['percent_of_matmul']:.0f}% ({MODE_LABELS[best['mode']]})")
                reached.append(best["percent_of_matmul"] >= share)
        rows.append(
            (
                f"blockwise_attend {pass_name}, its fastest mode, >= {share}% of the matmul rate from T=2048",
                ", ".join(measured) or "not measured",
                all(reached) if reached else None,
            )
        )
        measured, reached = [], []
        for length in (length for length in lengths if length >= 1024):
            best = fastest(results, "blockwise", modes, backward, length)
            naive = results.get(("naive", "graph", backward, length))
            if best is not None and naive is not None and "error" not in naive:
                ratio = best["seconds"] / naive["seconds"]
                measured.append(f"T={length}: {ratio:.2f}x")
                reached.append(ratio <= 1.0)
        rows.append(
            (
                f"blockwise_attend {pass_name} (fastest mode) no slower than naive under tf.function, from T=1024",
                ", ".join(measured) or "not measured",
                all(reached) if reached else None,
            )
        )
    longest = max(lengths)
    ours = results.get(("blockwise", "graph", True, longest))
    naive = results.get(("naive", "graph", True, longest))
    if ours and naive and "error" not in ours and "error" not in naive:
        ratio = ours["peak_mib"] / naive["peak_mib"]
        rows.append(
            (
                f"blockwise_attend training memory at T={longest} <= 1/8 of naive's (tf.function)",
                f"{ours['peak_mib']:.0f} MiB vs {naive['peak_mib']:.0f} MiB = 1/{1 / ratio:.1f}",
                ratio <= 1 / 8,
            )
        )
    return rows


def plot(results, lengths, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"naive": "tab:red", "keras-dpa": "tab:orange", "blockwise": "tab:blue", "linear": "tab:green"}
    styles = {"eager": ":", "graph": "--", "xla": "-"}
    plt.rcParams.update({"font.size": 11})
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5), sharex=True)
    for column, backward in enumerate((False, True)):
        for method, colour in colours.items():
            for mode, style in styles.items():
                points = [
                    (length, r)
                    for length in lengths
                    if (r := results.get((method, mode, backward, length))) is not None and "error" not in r
                ]
                if not points:
                    continue
                xs = [length for length, _ in points]
                label = f"{LABELS[method]}, {MODE_LABELS[mode]}"
                axes[0, column].plot(
                    xs,
                    [1e3 * r["seconds"] for _, r in points],
                    style,
                    color=colour,
                    marker="o",
                    markersize=4,
                    label=label,
                )
                axes[1, column].plot(
                    xs, [r["peak_mib"] for _, r in points], style, color=colour, marker="o", markersize=4, label=label
                )
        title = "forward and backward" if backward else "forward"
        axes[0, column].set(title=f"Time per call, {title}", ylabel="milliseconds (median)")
        axes[1, column].set(title=f"Peak memory, {title}", ylabel="MiB beyond the inputs")
    for ax in axes.flat:
        ax.set(xscale="log", yscale="log")
        ax.set_xticks(lengths, [str(length) for length in lengths])
        ax.set_xticks([], minor=True)
        ax.grid(True, which="major", alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("sequence length T")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=10, frameon=False)
    fig.suptitle("Self-attention, 4 heads of size 64, one sequence, float32 (colour: method; line: mode)")
    fig.tight_layout(rect=(0, 0.13, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[512, 1024, 2048, 4096, 8192])
    parser.add_argument("--methods", nargs="+", default=DEFAULT_METHODS, choices=METHODS)
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--passes", nargs="+", default=list(PASSES), choices=list(PASSES))
    parser.add_argument("--output-dir", type=pathlib.Path, default=ROOT / "build" / "bench")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per measurement")
    parser.add_argument("--block-size", type=int, help="blockwise_attend's key blocks (default: its own, 512)")
    parser.add_argument("--query-block-size", type=int, help="blockwise_attend's query blocks (default: 1024)")
    args = parser.parse_args(argv)
    lengths = sorted(args.lengths)

    started, load_before = time.perf_counter(), os.getloadavg()
    results = {}
    for length in lengths:
        for backward in (PASSES[name] for name in args.passes):
            for method in args.methods:
                for mode in args.modes:
                    options = dict(mode=mode, backward=backward, timeout=args.timeout, **tiles(args, method))
                    r = measure_in_fresh_process(method, [length], **options)[0]
                    results[(method, mode, backward, length)] = r
                    what = r.get("error") or (
                        f"{1e3 * r['seconds']:9.1f} ms {r['peak_mib']:8.1f} MiB "
                        f"{r.get('percent_of_matmul', float('nan')):4.0f}% of matmul"
                    )
                    print(
                        f"T={length:>5} {'fwd+bwd' if backward else 'fwd':<7} {method:<18} {mode:<5} {what}", flush=True
                    )
    load_after = os.getloadavg()

    # Every exact method computes the same thing from the same inputs: a wrong one shows here (reported,
    # not raised, so that a long run's measurements are still written).
    disagreements = []
    for (method, mode, backward, length), r in results.items():
        reference = results.get(("naive", "graph", backward, length)) or r
        if method in EXACT_METHODS and "error" not in r and "error" not in reference:
            if abs(r["checksum"] - reference["checksum"]) > 1e-4 * reference["checksum"]:
                disagreements.append(
                    f"{method} ({mode}, backward={backward}) disagrees with naive attention at T={length}"
                )

    errors = relative_errors(lengths, [m for m in ("windowed", "linear") if m in args.methods])
    import tensorflow as tf  # only for its version, after the measurements

    matmul = [r["matmul_gflops"] for r in results.values() if "matmul_gflops" in r]
    context = (
        f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), TensorFlow {tf.__version__}. "
        f"The 2048 x 2048 float32 matrix product, timed in each measurement's process: "
        f"{min(matmul):.0f}-{max(matmul):.0f} GFLOP/s. Load average (1, 5, 15 min) before: "
        f"{', '.join(f'{x:.2f}' for x in load_before)}; after: {', '.join(f'{x:.2f}' for x in load_after)}. "
        f"Total run time {time.perf_counter() - started:.0f} s.\n\n"
        "Each cell: median milliseconds (fastest-slowest) of 3-10 calls; peak MiB beyond the inputs after a "
        "warm-up; the exact methods' matrix-product FLOP per second as a share of the matrix product's in the "
        'same process (forward 4 T^2 d per head, backward 8 T^2 d more). "fails": the mode did not run.'
    )
    sections = [f"# Attention benchmark\n\n{context}\n"]
    for name in args.passes:
        sections.append(
            f"## {name.capitalize()}\n\n{table(results, lengths, args.methods, args.modes, PASSES[name])}\n"
        )
    failures = [r for r in results.values() if "error" in r]
    if failures:
        sections.append(
            "## What failed\n\n"
            + "\n".join(
                f"- {r['method']}, {r['mode']}, {'forward+backward' if r['backward'] else 'forward'}, T={r['length']}: "
                f"{r['error']}"
                for r in failures
            )
            + "\n"
        )
    if errors:
        sections.append(
            "## Relative error of the inexact methods against exact attention\n\n| T | method | error |\n"
            "|---:|---|---:|\n"
            + "\n".join(
                f"| {length} | {LABELS[method]} | {error:.3f} |"
                for (method, length), error in sorted(errors.items(), key=lambda x: (x[0][1], x[0][0]))
            )
            + "\n"
        )
    if disagreements:
        sections.append(
            "## Results that disagree with naive attention\n\n" + "\n".join(f"- {d}" for d in disagreements) + "\n"
        )
    target_rows = targets(results, lengths, args.modes)
    sections.append(
        "## Targets (issue 19)\n\n| target | measured | reached |\n|---|---|---|\n"
        + "\n".join(
            f"| {what} | {measured} | {'not measured' if reached is None else 'yes' if reached else 'no'} |"
            for what, measured, reached in target_rows
        )
        + "\n"
    )
    report = "\n".join(sections)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "attention.md").write_text(report)
    (args.output_dir / "attention.json").write_text(json.dumps(list(results.values()), indent=1))
    plot(results, lengths, args.output_dir / "attention.png")
    print("\n" + report)
    print(f"(written to {args.output_dir}/attention.md, .json and .png)")
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
