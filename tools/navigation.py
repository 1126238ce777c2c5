"""Keeps the series' navigation in one place: the README index drives everything else.

    python tools/navigation.py          # rewrite navigation lines and notebooks/00_index.ipynb
    python tools/navigation.py --check  # exit 1, saying what differs, if anything would change

From the README's notebook table (number, title, what you learn, run time) and each notebook's own
title and prerequisites, it writes:
- in every notebook, the navigation line at the top and at the bottom (any Markdown line holding an
  "[Index](" link): previous · index · next, with the titles the notebooks give themselves, then the
  notebook's "Open in Colab" and "Launch on Binder" badges;
- in every notebook, the set-up cell right before the first code cell (id "setup", no outputs): where
  the series' package is missing (Colab) it installs it, elsewhere it does nothing (SETUP_SOURCE);
- the README table's "open" column: the same badges, for each notebook;
- notebooks/00_index.ipynb, the series map.
In the numbered notebooks only Markdown cells and the set-up cell change, so every other output and
execution count stays as committed. tests/test_notebooks.py runs the check, so a notebook added, renamed
or retitled without re-running this fails the tests.
"""

import argparse
import json
import pathlib
import re
import sys

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
INDEX = NOTEBOOK_DIR / "00_index.ipynb"
# A row of the README's notebook table: number, title, file, what you learn, run time, then the "open"
# column (the badges), which this script writes: a row without it is read too, and gets it.
README_ROW = re.compile(
    r"^\| (\d\d) \| \[([^\]]+)\]\(notebooks/([^)]+\.ipynb)\) \| (.+?) \| ([^|]+?) \|(?: [^|\n]*\|)?$", re.M
)
README_HEADER = re.compile(r"^\| # \| notebook \| what you learn \| run time \|.*\n\|[-|]+\|$", re.M)
README_HEADER_TEXT = "| # | notebook | what you learn | run time | open |\n|---|---|---|---|---|"

REPOSITORY = "deep-learning-attention/deep-learning-attention"  # on GitHub; default branch main
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
BINDER_BADGE = "https://mybinder.org/badge_logo.svg"

# The set-up cell, inserted right before every notebook's first code cell. Where the package is installed
# (make lab, Binder, nbval, CI) it does nothing and prints nothing, so nbval has nothing to compare. On
# Colab, or any Python without it, it installs the package with the `notebooks` extra: the versions of
# requirements.txt (pyproject.toml); on Colab with the `colab` extra, the same but for the full tensorflow wheel,
# which Colab already has (tensorflow-cpu would install beside it, in the same directory).
# ATTENTION_UTILS_SOURCE installs from elsewhere: a local checkout (as tests/test_colab_setup.py does,
# offline) or any other pip URL. pip may replace a package the kernel has
# already imported (Colab imports some at start): then only a restart loads the installed versions.
# Written as `ruff format` leaves it once REPOSITORY is filled in (ruff checks the notebooks' cells too).
SETUP_ID = "setup"
SETUP_SOURCE = f"""\
# Set-up: run this cell first. On Colab, or in any Python without this series' package, it installs the package
# and the versions the notebooks were tested with (a few minutes), and may ask you to restart once. Under
# `make lab` and on Binder the package is already there, and this cell does nothing.
import importlib.util
import os
import pathlib
import subprocess
import sys

on_colab = "google.colab" in sys.modules
if importlib.util.find_spec("attention_utils") is None:
    source = os.environ.get(
        "ATTENTION_UTILS_SOURCE", "git+https://github.com/{REPOSITORY}"
    )
    if os.path.isdir(source):  # a local checkout of the repository
        source = pathlib.Path(source).resolve().as_uri()
    loaded = [name for name in ("numpy", "matplotlib", "keras", "tensorflow", "ipywidgets") if name in sys.modules]
    # Colab has TensorFlow's full wheel: its extra upgrades that rather than add tensorflow-cpu beside it.
    requirement = f"attention_utils[{{'colab' if on_colab else 'notebooks'}}] @ {{source}}"
    print(f"Installing {{requirement}}")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", requirement], check=True)
    importlib.invalidate_caches()
    if loaded:  # pip may have replaced them under the running kernel: only a restart loads what it installed
        raise RuntimeError(f"Installed: restart (Colab: Runtime > Restart session), then run all. Loaded: {{loaded}}")
if on_colab:  # Colab draws ipywidgets 8, the attention explorers, with its custom widget manager
    from google.colab import output

    output.enable_custom_widget_manager()"""


def badges(name):
    """The "Open in Colab" and "Launch on Binder" badges of notebooks/<name>, each opening that notebook."""
    colab = f"https://colab.research.google.com/github/{REPOSITORY}/blob/main/notebooks/{name}"
    binder = f"https://mybinder.org/v2/gh/{REPOSITORY}/HEAD?urlpath=lab/tree/notebooks/{name}"
    return f"[![Open in Colab]({COLAB_BADGE})]({colab}) [![Launch on Binder]({BINDER_BADGE})]({binder})"


def idle_kernel_minutes():
    """After how long the server shuts an idle kernel down (jupyter/jupyter_server_config.json)."""
    config = json.loads((ROOT / "jupyter" / "jupyter_server_config.json").read_text(encoding="utf-8"))
    return config["MappingKernelManager"]["cull_idle_timeout"] // 60


def readme_row(number, title, filename, learn, run_time):
    return f"| {number} | [{title}](notebooks/{filename}) | {learn} | {run_time} | {badges(filename)} |"


def with_readme_badges(readme):
    readme = README_HEADER.sub(README_HEADER_TEXT, readme)
    return README_ROW.sub(lambda match: readme_row(*match.groups()), readme)


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
    return " · ".join([*parts, badges(paths[index].name)])


def with_navigation(source, line):
    return "\n".join(line if "[Index](" in old else old for old in source.split("\n"))


def setup_cell():
    cell = nbformat.v4.new_code_cell(SETUP_SOURCE)
    cell.id = SETUP_ID
    return cell


def with_setup_cell(notebook):
    """Puts the set-up cell, with today's SETUP_SOURCE and no outputs, right before the first other code
    cell. An existing one keeps its execution count and metadata (a re-run numbers it like any cell)."""
    existing = [cell for cell in notebook.cells if cell.get("id") == SETUP_ID]
    cells = [cell for cell in notebook.cells if cell.get("id") != SETUP_ID]
    cell = existing[0] if existing else setup_cell()
    cell.source, cell.outputs = SETUP_SOURCE, []
    first_code = next(index for index, other in enumerate(cells) if other.cell_type == "code")
    notebook.cells = [*cells[:first_code], cell, *cells[first_code:]]


def index_notebook(rows, paths, notebooks):
    prerequisites = {path.name: prerequisites_of(notebook) for path, notebook in zip(paths, notebooks)}
    table = ["| # | notebook | what you learn | prerequisites | run time | open |", "|---|---|---|---|---|---|"]
    for number, title, filename, learn, run_time in rows:
        table.append(
            f"| {number} | [{title}]({filename}) | {learn} | {prerequisites.get(filename, '')} | {run_time} "
            f"| {badges(filename)} |"
        )
    first = paths[0]
    cells = [
        nbformat.v4.new_markdown_cell(
            "# 00 · Index: how attention works, step by step\n\n"
            f"{badges(INDEX.name)}\n\n"
            "A series of notebooks that builds attention mechanisms from scratch with TensorFlow 2.21 and "
            "Keras 3, checks each step against the papers and against Keras's own layers, and runs offline. "
            "Read them in order: each one uses what the ones before it built.\n\n"
            "**How to use the series**\n"
            "- *Read* them on GitHub or nbviewer: the outputs are committed, so every number and plot is "
            "there without running anything.\n"
            "- *Run* them in JupyterLab (`make lab`, or a notebook's Binder badge): "
            "Kernel → Restart Kernel and Run All Cells reproduces every output. Each notebook checks its own "
            "claims with `assert`s, so a cell that fails after you change something tells you which claim "
            "broke.\n"
            "- *On Colab* (a notebook's \"Open in Colab\" badge), the notebook's first code cell installs this "
            "series' package and the versions the notebooks were tested with (a few minutes; pip may warn about "
            "Colab's other packages, which the notebooks do not use); elsewhere that cell does nothing. If it asks "
            "for a restart: Runtime → Restart session, then run all cells again. Each Colab notebook is a "
            "session of its own, so each installs the package once: open the next notebook with its own Colab "
            "badge (the ← and → links work in JupyterLab and on Binder).\n"
            "- *On Binder, memory is the limit*: a kernel that has run a notebook keeps 0.6-1 GB, and Binder "
            "stops a kernel that takes the server above 2 GB. So closing a notebook's tab in JupyterLab shuts its "
            "kernel down (closing the browser's tab does not), and a kernel left idle for "
            f'{idle_kernel_minutes()} minutes is shut down even with its tab open. You will then see "No Kernel" '
            "or a `NameError` on the next cell, and the explorers stop answering: Kernel → Restart Kernel and Run "
            "All Cells brings everything back (no notebook takes more than 90 s). `make lab` sets JupyterLab up "
            "the same way.\n"
            "- *Explore* where a picture is not enough: notebooks 03 (temperature and masks), 05 (the heads of "
            "`MultiHeadAttention`) and 09 (a decoder's alignment, one output character at a time) have an "
            "**attention explorer**: click a query, a head or a decoder, drag the temperature, untick the mask, "
            "and the picture is redrawn. It runs in JupyterLab, on Binder and on Colab; on GitHub and nbviewer "
            "you see a picture of the view its cell selects. `au.plots.explore_attention` and "
            "`au.plots.explore_scores` make one for your own weights.\n"
            "- *Reuse* the helper package: `import attention_utils as au` gives the score functions, the "
            "masked softmax, `au.attend`, the layers, the plots and the data generators the notebooks use.\n"
            "- *On JAX*: the package, and notebooks 01-05, also run on Keras's JAX backend "
            '(`pip install -e ".[jax]"`, then `KERAS_BACKEND=jax` before the first import); the saved outputs '
            "are TensorFlow's. [What runs where](https://github.com/deep-learning-attention/deep-learning-attention#tensorflow-jax-pytorch-what-runs-where).\n"
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
            "## Check your set-up\nThe first cell installs the package where it is missing (on Colab) and does "
            "nothing elsewhere. The second checks that the package imports, prints the versions the series "
            "was written for, and checks that Graphviz's `dot` is installed (`keras.utils.plot_model` needs it "
            "in notebook 05). `make lab` and Binder set all of this up."
        ),
        setup_cell(),
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
    readme_path = ROOT / "README.md"
    readme = readme_path.read_text(encoding="utf-8")
    problems = []
    if with_readme_badges(readme) != readme:
        problems.append("README.md: the notebook table's open column (Colab and Binder badges) differs")
        readme = with_readme_badges(readme)
        if not check:
            readme_path.write_text(readme, encoding="utf-8")
    # The README's table is the series, in reading order (tests/test_notebooks.py checks that it lists
    # every notebook in notebooks/ and nothing else).
    rows = [row for row in README_ROW.findall(readme) if row[0] != "00"]
    paths = [NOTEBOOK_DIR / filename for _, _, filename, _, _ in rows]
    notebooks = [nbformat.read(path, as_version=4) for path in paths]
    titles = [title_of(notebook, path) for notebook, path in zip(notebooks, paths)]

    for index, (path, notebook) in enumerate(zip(paths, notebooks)):
        line = navigation_line(index, paths, titles)
        before = nbformat.writes(notebook)
        for cell in notebook.cells:
            if cell.cell_type == "markdown" and "[Index](" in cell.source:
                cell.source = with_navigation(cell.source, line)
        navigated = nbformat.writes(notebook)
        with_setup_cell(notebook)
        if sum("[Index](" in cell.source for cell in notebook.cells if cell.cell_type == "markdown") < 2:
            problems.append(f"{path.name}: needs a navigation line at the top and at the bottom")
        if navigated != before:
            problems.append(f"{path.name}: navigation line differs from: {line}")
        if nbformat.writes(notebook) != navigated:
            problems.append(f"{path.name}: the set-up cell is missing, misplaced or differs from SETUP_SOURCE")
        if nbformat.writes(notebook) != before and not check:
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
                cell.id = SETUP_ID if cell.id == SETUP_ID else f"index-{number}"
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
