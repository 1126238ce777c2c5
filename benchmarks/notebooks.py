"""Notebook benchmark: run each notebook from a clean kernel, measure wall time and peak kernel memory.

    python benchmarks/notebooks.py notebooks/01_soft_addressing.ipynb [...]

Prints a Markdown table (notebook, wall seconds, peak kernel memory in MB) and writes it to
build/bench/notebooks.md. Exits 1 when a notebook fails or goes over the budget: 90 s and 1.5 GB on a
2-core machine, the limits that keep the series usable on Binder (1 CPU, 2 GB). The notebooks are not
modified.

Wall time runs from the kernel's start to the end of its last cell, so it includes importing
TensorFlow. Peak memory is the kernel process's high-water mark of resident memory (VmHWM, read from
/proc before the kernel shuts down; Linux only), plus that of any process it started.
"""

import argparse
import pathlib
import sys
import time

import nbformat
import psutil
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

BUDGET_SECONDS = 90.0
BUDGET_MB = 1536.0


def peak_resident_mb(pid):
    """High-water mark of resident memory of a process and its children, in MB."""
    total_kb = 0
    processes = [psutil.Process(pid)]
    processes += processes[0].children(recursive=True)
    for process in processes:
        status = pathlib.Path(f"/proc/{process.pid}/status").read_text()
        total_kb += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    return total_kb / 1024


def run_notebook(path, timeout):
    notebook = nbformat.read(path, as_version=4)
    kernel_manager = KernelManager(kernel_name="python3")
    client = NotebookClient(
        notebook, km=kernel_manager, timeout=timeout, resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
        seconds = time.perf_counter() - start
        peak_mb = peak_resident_mb(kernel_manager.provisioner.process.pid)
    return seconds, peak_mb


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=pathlib.Path)
    parser.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds")
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path("build/bench/notebooks.md"))
    args = parser.parse_args(argv)

    rows = [
        f"| notebook | wall s (budget {BUDGET_SECONDS:.0f}) | peak kernel MB (budget {BUDGET_MB:.0f}) "
        "| within budget |",
        "|---|---:|---:|---|",
    ]
    failures = []
    for path in args.notebooks:
        try:
            seconds, peak_mb = run_notebook(path, args.timeout)
        except Exception as error:
            failures.append(f"{path.name}: {type(error).__name__}: {str(error).splitlines()[0][:200]}")
            rows.append(f"| {path.name} | failed | failed | no |")
            print(rows[-1], flush=True)
            continue
        within = seconds <= BUDGET_SECONDS and peak_mb <= BUDGET_MB
        if not within:
            failures.append(f"{path.name}: {seconds:.1f} s, {peak_mb:.0f} MB is over budget")
        rows.append(f"| {path.name} | {seconds:.1f} | {peak_mb:.0f} | {'yes' if within else 'NO'} |")
        print(rows[-1], flush=True)

    table = "\n".join(rows)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(f"Measured with {psutil.cpu_count()} CPUs.\n\n{table}\n")
    print(f"\n{table}\n\n(written to {args.output})")
    for failure in failures:
        print("FAIL:", failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
