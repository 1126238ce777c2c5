"""Notebook hygiene: every committed notebook is a clean Restart & Run All, indexed and linked.

nbval re-executes the notebooks; these checks read them as committed, so a notebook saved half-run,
saved with an error, or missing from the README index fails here with a message that says so.
"""

import pathlib
import re
import sys

import nbformat
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tools"))
import navigation

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
README = (ROOT / "README.md").read_text(encoding="utf-8")
TF_LOG_MARKERS = ("I0000", "cpu_feature_guard", "absl::", "oneDNN custom operations")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def read(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    return notebook


def code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source.strip()]


def is_setup_cell(cell):
    return cell.get("id") == navigation.SETUP_ID


def expects_error(cell):
    tags = cell.metadata.get("tags", [])
    return "raises-exception" in tags or "nbval-raises-exception" in tags or "NBVAL_RAISES_EXCEPTION" in cell.source


def slug(heading):
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found in notebooks/"


def test_numbers_run_from_00_without_gaps():
    numbers = [int(path.name[:2]) for path in NOTEBOOKS]
    assert numbers == list(range(len(numbers))), f"notebook numbers: {numbers}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_executed_in_order_from_a_clean_kernel(path):
    # The set-up cell, inserted by tools/navigation.py into notebooks executed before it existed, may be
    # unexecuted (it prints nothing where the package is installed); once run, it counts like any cell.
    cells = [cell for cell in code_cells(read(path)) if not (is_setup_cell(cell) and cell.execution_count is None)]
    counts = [cell.execution_count for cell in cells]
    assert None not in counts, f"{path.name}: {counts.count(None)} code cell(s) never executed"
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name}: execution counts {counts} are not 1..{len(counts)}: run `make execute`"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_error_outputs_and_no_tensorflow_log_lines(path):
    for index, cell in enumerate(code_cells(read(path))):
        for output in cell.outputs:
            if output.output_type == "error":
                assert expects_error(cell), (
                    f"{path.name}, code cell {index}: error output {output.ename} in a cell not tagged raises-exception"
                )
            if output.output_type == "stream" and output.name == "stderr":
                assert not any(marker in output.text for marker in TF_LOG_MARKERS), (
                    f"{path.name}, code cell {index}: TensorFlow log lines in stderr"
                )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_uses_the_python3_kernel(path):
    assert read(path).metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_listed_in_the_readme_index(path):
    row = re.search(rf"^\| {path.name[:2]} \| \[[^\]]+\]\(notebooks/{re.escape(path.name)}\) \|", README, re.M)
    assert row, f"{path.name} is missing from the README's notebook table"


def test_readme_index_lists_no_missing_notebook():
    for target in re.findall(r"\]\((notebooks/[^)]+\.ipynb)\)", README):
        assert (ROOT / target).exists(), f"README links to {target}, which does not exist"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_links_between_notebooks_resolve(path):
    readme_anchors = {slug(h) for h in re.findall(r"^#+ (.+)$", README, re.M)}
    for cell in read(path).cells:
        if cell.cell_type != "markdown":
            continue
        for target in LINK.findall(cell.source):
            if re.match(r"[a-z]+:", target):
                continue  # an external link
            file_part, _, anchor = target.partition("#")
            assert (path.parent / file_part).exists(), f"{path.name} links to missing {target}"
            if file_part.endswith("README.md") and anchor:
                assert anchor in readme_anchors, f"{path.name} links to missing README anchor #{anchor}"


def test_navigation_lines_and_the_index_notebook_agree_with_the_readme():
    problems = navigation.render(check=True)
    assert not problems, "\n".join(problems + ["run `python tools/navigation.py`"])


# The repository the badges open: the one the README's Binder badge builds.
REPOSITORY = re.search(r"\(https://mybinder\.org/v2/gh/([\w.-]+/[\w.-]+)/HEAD\?", README).group(1)
COLAB_BADGE = re.compile(
    r"\[!\[Open in Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]\((https://[^)\s]+)\)"
)
BINDER_BADGE = re.compile(r"\[!\[Launch on Binder\]\(https://mybinder\.org/badge_logo\.svg\)\]\((https://[^)\s]+)\)")


def assert_badges_open(line, name, where):
    colab, binder = COLAB_BADGE.findall(line), BINDER_BADGE.findall(line)
    assert colab == [f"https://colab.research.google.com/github/{REPOSITORY}/blob/main/notebooks/{name}"], (
        f"{where}: Colab badge {colab} does not open notebooks/{name}"
    )
    assert binder == [f"https://mybinder.org/v2/gh/{REPOSITORY}/HEAD?urlpath=lab/tree/notebooks/{name}"], (
        f"{where}: Binder badge {binder} does not open notebooks/{name}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_navigation_lines_carry_colab_and_binder_badges_for_their_own_notebook(path):
    lines = [line for cell in read(path).cells if cell.cell_type == "markdown" for line in cell.source.split("\n")]
    # The index has no previous/next line: its badges stand under its title.
    navigation_lines = [line for line in lines if "[Index](" in line or line.startswith("[![Open in Colab]")]
    assert len(navigation_lines) >= (1 if path.name.startswith("00_") else 2), f"{path.name}: navigation lines missing"
    for line in navigation_lines:
        assert_badges_open(line, path.name, path.name)


def test_readme_rows_open_their_own_notebook_on_colab_and_binder():
    rows = list(re.finditer(r"^\| \d\d \| \[[^\]]+\]\(notebooks/([^)]+\.ipynb)\) \|.*$", README, re.M))
    assert len(rows) == len(NOTEBOOKS)
    for row in rows:
        assert_badges_open(row.group(0), row.group(1), f"README row of {row.group(1)}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_setup_cell_comes_right_before_the_first_code_cell_and_shows_nothing(path):
    cells = read(path).cells
    setup = [index for index, cell in enumerate(cells) if is_setup_cell(cell)]
    assert len(setup) == 1, f"{path.name}: needs one set-up cell (id {navigation.SETUP_ID!r}): run tools/navigation.py"
    first_code = next(index for index, cell in enumerate(cells) if cell.cell_type == "code")
    assert setup[0] == first_code, f"{path.name}: the set-up cell is not the first code cell"
    assert cells[setup[0]].source == navigation.SETUP_SOURCE and cells[setup[0]].outputs == []


@pytest.mark.parametrize("path", NOTEBOOKS[1:], ids=lambda p: p.name)
def test_starts_with_setup_that_seeds(path):
    first_code = [cell for cell in code_cells(read(path)) if not is_setup_cell(cell)][0].source
    assert first_code.lstrip().startswith("import attention_utils as au"), (
        f"{path.name}: the first code cell must import attention_utils first (quiet, deterministic TF)"
    )
    assert "au.seed_everything(" in first_code, f"{path.name}: the setup cell must seed"


TRAINS = re.compile(r"\.fit\(|apply_gradients\(")
SEED_LINE = re.compile(r"^SEED = \d+\b", re.MULTILINE)
SEEDING_CALL = re.compile(r"(?:seed_everything|set_random_seed)\(([^)]*)\)")
# SEED itself, or SEED plus a run index (one seed per run of a repeated experiment, each moving with SEED).
FROM_SEED = re.compile(r"^SEED(?:\s*\+\s*\w+)?$")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_notebook_that_trains_seeds_everything_from_one_seed(path):
    # make seeds re-runs the notebook with SEED changed: a training cell seeded with a literal would
    # train the same model at every "seed", and the sweep would measure nothing.
    sources = [cell.source for cell in code_cells(read(path))]
    if not any(TRAINS.search(source) for source in sources):
        return
    assert sum(len(SEED_LINE.findall(source)) for source in sources) == 1, (
        f"{path.name} trains: its setup cell needs one line `SEED = <integer>`"
    )
    literal = [call for source in sources for call in SEEDING_CALL.findall(source) if not FROM_SEED.match(call.strip())]
    assert not literal, f"{path.name} trains: seed from SEED, not {literal}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_notebook_that_trains_does_not_compare_its_training_log(path):
    # A training log differs in its last digits from one CPU to another: its cell must be ignored by nbval
    # (and the claim carried by an assert with a margin).
    for cell in code_cells(read(path)):
        if TRAINS.search(cell.source) and re.search(r"\bprint\(", cell.source):
            assert "nbval-ignore-output" in cell.metadata.get("tags", []), (
                f"{path.name}: a cell that trains and prints is compared by nbval:\n{cell.source[:300]}"
            )


@pytest.mark.parametrize("path", [path for path in NOTEBOOKS if path.name[:2] != "00"], ids=lambda p: p.name)
def test_solutions_come_last_after_the_references(path):
    # On GitHub and nbviewer no cell is collapsed: a solution right after its exercise is read before the
    # learner has tried. Exercises, then references, then the solutions under their own heading.
    cells = read(path).cells
    headings = [index for index, cell in enumerate(cells) if cell.cell_type == "markdown"]
    exercises = [i for i in headings if "## Exercises" in cells[i].source]
    references = [i for i in headings if cells[i].source.startswith("## References")]
    solutions = [i for i in headings if cells[i].source.startswith("## Solutions")]
    assert len(exercises) == len(references) == len(solutions) == 1, (
        f"{path.name}: needs one '## Exercises', one '## References' and one '## Solutions' section"
    )
    assert exercises[0] < references[0] < solutions[0], f"{path.name}: order must be exercises, references, solutions"
    tagged = [i for i, cell in enumerate(cells) if "solution" in cell.metadata.get("tags", [])]
    assert tagged and min(tagged) > solutions[0], f"{path.name}: a solution cell comes before '## Solutions'"
    after = cells[solutions[0] + 1 :]
    assert all(cell.cell_type == "markdown" or "solution" in cell.metadata.get("tags", []) for cell in after), (
        f"{path.name}: every code cell under '## Solutions' is tagged 'solution'"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_notebook_is_announced_as_coming(path):
    # "Next: 06 (coming)" outlived the notebook it announced: link the next notebook, or say nothing.
    for cell in read(path).cells:
        if cell.cell_type == "markdown":
            assert not re.search(r"\(coming\)|coming soon", cell.source, re.I), f"{path.name}: {cell.source[:200]}"
