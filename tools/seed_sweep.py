"""Re-runs notebooks that train under several seeds: do their claims hold at every one?

A notebook that trains sets one constant in its setup cell, ``SEED = 42``, and every training cell seeds
from it. This script executes the notebook from a clean kernel once per seed, with that one line changed,
and reports for each seed whether every assert held (each failing cell and its error otherwise) and
what each cell tagged ``nbval-ignore-output`` printed: the trained numbers, side by side, so the spread
the notebook quotes can be read off and its asserts' margins checked. A cell that nbval compares but
whose output changes with the seed is flagged: it prints something that training decides.

    python tools/seed_sweep.py notebooks/09_seq2seq_alignment.ipynb --seeds 0 1 2 42
    make seeds   # every notebook that trains, seeds 0, 1, 2 and the committed one

The report goes to build/seeds/<notebook>.md (and is printed). Exit status 1 if any assert failed at any
seed, 2 if a notebook has no ``SEED = <integer>`` line.
"""

import argparse
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
SEED_LINE = re.compile(r"^SEED = (\d+)\b", re.MULTILINE)
IGNORED = "nbval-ignore-output"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def committed_seed(notebook):
    """The seed the committed outputs were made with; ValueError if the notebook has no SEED line."""
    found = [
        int(match.group(1))
        for cell in notebook.cells
        if cell.cell_type == "code"
        for match in SEED_LINE.finditer(cell.source)
    ]
    if len(found) != 1:
        raise ValueError(f"expected one line 'SEED = <integer>' in the code cells, found {len(found)}")
    return found[0]


def with_seed(notebook, seed):
    """A copy of the notebook, outputs cleared, with SEED set to `seed`."""
    copy = nbformat.from_dict(notebook)
    for cell in copy.cells:
        if cell.cell_type == "code":
            cell.source = SEED_LINE.sub(f"SEED = {seed}", cell.source)
            cell.outputs = []
    return copy


def has_error(cell):
    return any(output.get("output_type") == "error" for output in cell.get("outputs", []))


def text_of(cell):
    return "".join(
        output.get("text", "")
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream" and output.get("name") == "stdout"
    ).rstrip()


def run(path, seed):
    """Executes the whole notebook at `seed`: (the executed notebook, the failed cells, seconds).

    Every cell runs even after an error, so one seed reports every assert that fails, not only the first
    (later failures may follow from an earlier one)."""
    notebook = with_seed(nbformat.read(path, as_version=4), seed)
    client = NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    failures = [
        f"cell {index}: {output.ename}: {ANSI.sub('', output.evalue)[:200]}"
        for index, cell in enumerate(notebook.cells)
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    return notebook, failures, time.perf_counter() - start


def report(path, results):
    """Markdown: every code cell whose output differs between seeds or that nbval ignores, its output at
    each seed; then the verdicts. A compared cell that differs between seeds would fail nbval on some
    machine too: it is flagged."""
    lines = [f"# {path.name}: seeds {', '.join(str(seed) for seed in results)}", ""]
    notebooks = [notebook for notebook, _, _ in results.values()]
    flagged = []
    for index, cell in enumerate(notebooks[0].cells):
        if cell.cell_type != "code":
            continue
        texts = [text_of(notebook.cells[index]) for notebook in notebooks]
        ran = [text for notebook, text in zip(notebooks, texts) if not has_error(notebook.cells[index])]
        ignored = IGNORED in cell.metadata.get("tags", [])
        if not ignored and len(set(ran)) <= 1:
            continue
        status = "nbval-ignore-output" if ignored else "COMPARED, yet differs between seeds: from training?"
        if not ignored:
            flagged.append(index)
        lines += [f"## cell {index} ({status})", "```", cell.source.splitlines()[0][:100], "```", ""]
        for seed, text in zip(results, texts):
            lines += [f"seed {seed}:", "```", text or "(nothing printed)", "```"]
        lines.append("")
    lines += ["## asserts", ""]
    for seed, (_, failures, seconds) in results.items():
        lines.append(f"- seed {seed} ({seconds:.0f} s): " + ("; ".join(failures) if failures else "all held"))
    if flagged:
        # Deterministic given the seed (say, an untrained layer's random weights) is fine; from training
        # is not: another CPU rounds differently.
        lines.append(f"- compared cells whose output differs between seeds: {flagged}")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        default=[0, 1, 2],
        help="seeds to run (the committed seed is added); default 0 1 2",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "seeds")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    failed = False
    for path in args.notebooks:
        path = path.resolve()
        try:
            seeds = list(dict.fromkeys([*args.seeds, committed_seed(nbformat.read(path, as_version=4))]))
        except ValueError as error:
            print(f"{path.name}: {error}", file=sys.stderr)
            sys.exit(2)
        results = {}
        for seed in seeds:
            results[seed] = run(path, seed)
            print(
                f"{path.name} seed {seed}: {'; '.join(results[seed][1]) or 'all asserts held'} "
                f"({results[seed][2]:.0f} s)",
                flush=True,
            )
        text = report(path, results)
        (args.out / f"{path.stem}.md").write_text(text)
        print(text)
        failed |= any(failures for _, failures, _ in results.values())
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
