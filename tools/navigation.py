"""Keeps the series' navigation in one place: the README index drives everything else.

    python tools/navigation.py          # rewrite navigation lines and notebooks/00_index.ipynb
    python tools/navigation.py --check  # exit 1, saying what differs, if anything would change

From the README's notebook table (number, title, what you learn, run time) and each notebook's own
title and prerequisites, it writes:
- in every notebook, the navigation line at the top and at the bottom (any Markdown line holding an
  "[Index](" link): previous · index · next, with the titles the notebooks give themselves;
- notebooks/00_index.ipynb, the series map.
Only Markdown cells change, so outputs and execution counts stay as committed. tests/test_notebooks.py
runs the check, so a notebook added, renamed or retitled without re-running this fails the tests.
"""

import argparse
import pathlib
import re
import sys

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
INDEX = NOTEBOOK_DIR / "00_index.ipynb"
README_ROW = re.compile(r"^\| (\d\d) \| \[([^\]]+)\]\(notebooks/([^)]+\.ipynb)\) \| (.+?) \| (.+?) \|$", re.M)


def title_of(notebook, path):
    """The notebook's own title, from its first heading "# NN · Title"."""
    for cell in notebook.cells:
        match = re.search(r"^# (\d\d) · (.+)$", cell.source, re.M) if cell.cell_type == "markdown" else None
        if match:
            return f"{match.group(1)} · {match.group(2).strip()}"
    raise ValueError(f"{path.name}: no title heading of the form '# NN · Title'")


def prerequisites_of(notebook):
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        match = re.search(r"\*\*Prerequisites:\*\*(.+?)(?:\n\s*\n|\Z)", cell.source, re.S)
        if match:
            return " ".join(match.group(1).split())
    return ""


def navigation_line(index, paths, titles):
    parts = []
    if index > 0:
        parts.append(f"[← {titles[index - 1]}]({paths[index - 1].name})")
    parts.append("[Index](00_index.ipynb)")
    if index < len(paths) - 1:
        parts.append(f"[{titles[index + 1]} →]({paths[index + 1].name})")
    return " · ".join(parts)


def with_navigation(source, line):
    return "\n".join(line if "[Index](" in old else old for old in source.split("\n"))


def index_notebook(rows, paths, notebooks):
    prerequisites = {path.name: prerequisites_of(notebook) for path, notebook in zip(paths, notebooks)}
    table = ["| # | notebook | what you learn | prerequisites | run time |", "|---|---|---|---|---|"]
    for number, title, filename, learn, run_time in rows:
        table.append(f"| {number} | [{title}]({filename}) | {learn} | {prerequisites.get(filename, '')} | {run_time} |")
    first = paths[0]
    cells = [
        nbformat.v4.new_markdown_cell(
            "# 00 · Index: how attention works, step by step\n\n"
            "A series of notebooks that builds attention mechanisms from scratch with TensorFlow 2.21 and "
            "Keras 3, checks each step against the papers and against Keras's own layers, and runs offline. "
            "Read them in order: each one uses what the ones before it built.\n\n"
            "**How to use the series**\n"
            "- *Read* them on GitHub or nbviewer: the outputs are committed, so every number and plot is "
            "there without running anything.\n"
            "- *Run* them in JupyterLab (`make lab`, or the Binder badge in the README): "
            "Kernel → Restart Kernel and Run All Cells reproduces every output. Each notebook checks its own "
            "claims with `assert`s, so a cell that fails after you change something tells you which claim "
            "broke.\n"
            "- *Reuse* the helper package: `import attention_utils as au` gives the score functions, the "
            "masked softmax, `au.attend`, the layers, the plots and the data generators the notebooks use.\n"
            "- *The original material*, where a notebook mentions it, is the older TensorFlow 2.5 notebook on "
            "attention this series grew out of; where it was wrong, the notebooks say what and why.\n"
            "- Each notebook ends with exercises, then its references, then the worked solutions, so that reading "
            "on from the exercises does not show their answers first.\n\n"
            f"[Start with {title_of(notebooks[0], first)} →]({first.name})"
        ),
        nbformat.v4.new_markdown_cell(
            "## The notebooks\n\nRun times are measured by `make bench` on a 2-core machine, kernel start "
            "included; every notebook stays within 90 s and 1.5 GB of memory.\n\n" + "\n".join(table)
        ),
        nbformat.v4.new_markdown_cell(
            "## Check your set-up\nThis cell checks that the package imports, prints the versions the series "
            "was written for, and checks that Graphviz's `dot` is installed (`keras.utils.plot_model` needs it "
            "in notebook 05). `make lab` and Binder set all of this up."
        ),
        nbformat.v4.new_code_cell(
            "import shutil\n\n"
            "import attention_utils as au  # first: quiet, deterministic TensorFlow defaults\n"
            "import keras\n"
            "import tensorflow as tf\n\n"
            'print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, attention_utils {au.__version__}")\n'
            'assert shutil.which("dot"), "Graphviz\'s dot program is missing: see the README for how to install it"\n'
            'print("Graphviz: found")'
        ),
    ]
    return cells


def render(check):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    # The README's table is the series, in reading order (tests/test_notebooks.py checks that it lists
    # every notebook in notebooks/ and nothing else).
    rows = [row for row in README_ROW.findall(readme) if row[0] != "00"]
    paths = [NOTEBOOK_DIR / filename for _, _, filename, _, _ in rows]
    notebooks = [nbformat.read(path, as_version=4) for path in paths]
    titles = [title_of(notebook, path) for notebook, path in zip(notebooks, paths)]
    problems = []

    for index, (path, notebook) in enumerate(zip(paths, notebooks)):
        line = navigation_line(index, paths, titles)
        changed = False
        for cell in notebook.cells:
            if cell.cell_type == "markdown" and "[Index](" in cell.source:
                new_source = with_navigation(cell.source, line)
                changed |= new_source != cell.source
                cell.source = new_source
        if sum("[Index](" in cell.source for cell in notebook.cells if cell.cell_type == "markdown") < 2:
            problems.append(f"{path.name}: needs a navigation line at the top and at the bottom")
        if changed:
            problems.append(f"{path.name}: navigation line differs from: {line}")
            if not check:
                nbformat.write(notebook, path)

    index_cells = index_notebook(rows, paths, notebooks)
    current = nbformat.read(INDEX, as_version=4) if INDEX.exists() else None
    current_sources = [cell.source for cell in current.cells] if current else None
    if current_sources != [cell.source for cell in index_cells]:
        problems.append(f"{INDEX.name} differs from the README index and the notebooks' prerequisites")
        if not check:
            index = nbformat.v4.new_notebook()
            index.cells = index_cells
            for number, cell in enumerate(index.cells):  # ids that stay put: a re-run changes only what changed
                cell.id = f"index-{number}"
            index.metadata = notebooks[0].metadata
            # Committed notebooks are executed: run the set-up check cell from a clean kernel.
            NotebookClient(index, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK_DIR)}}).execute()
            nbformat.write(index, INDEX)
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if anything would")
    args = parser.parse_args(argv)
    problems = render(check=args.check)
    for problem in problems:
        print(problem)
    if args.check and problems:
        print("Run `python tools/navigation.py` (then `make execute` if 00_index.ipynb changed).")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
