"""Committed notebooks show pictures, not widget views that render as nothing (tools/static_outputs.py)."""

import importlib.util
import pathlib

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
spec = importlib.util.spec_from_file_location("static_outputs", ROOT / "tools" / "static_outputs.py")
static_outputs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(static_outputs)

VIEW = {"model_id": "0123", "version_major": 2, "version_minor": 0}


def notebook_with(data):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("explorer", outputs=[nbformat.v4.new_output("display_data", data)])]
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return notebook


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_committed_notebook_holds_no_widget_view_or_state(path):
    changes, problems = static_outputs.strip_widget_views(nbformat.read(path, as_version=4), path.name)
    assert not changes + problems, "run `python tools/static_outputs.py notebooks/*.ipynb`: " + "; ".join(changes)


def test_view_and_state_dropped_and_the_picture_kept():
    notebook = notebook_with({static_outputs.WIDGET_VIEW: VIEW, "image/png": "iVBORw0KGgo=", "text/plain": "Explorer"})
    changes, problems = static_outputs.strip_widget_views(notebook, "x.ipynb")
    assert len(changes) == 2 and problems == []
    assert set(notebook.cells[0].outputs[0].data) == {"image/png", "text/plain"}
    assert "widgets" not in notebook.metadata


def test_a_view_without_a_picture_is_reported():
    notebook = notebook_with({static_outputs.WIDGET_VIEW: VIEW, "text/plain": "HBox(children=())"})
    _, problems = static_outputs.strip_widget_views(notebook, "x.ipynb")
    assert problems == ["x.ipynb: cell 0: a widget view with no static picture beside it"]


def test_check_mode_changes_nothing_and_fails(tmp_path):
    path = tmp_path / "x.ipynb"
    nbformat.write(notebook_with({static_outputs.WIDGET_VIEW: VIEW, "image/png": "iVBORw0KGgo="}), path)
    before = path.read_text()
    assert static_outputs.main(["--check", str(path)]) == 1
    assert path.read_text() == before
    assert static_outputs.main([str(path)]) == 0
    assert static_outputs.main(["--check", str(path)]) == 0


def explorer_cells():
    for path in NOTEBOOKS:
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type == "code" and ("explore_attention(" in cell.source or "explore_scores(" in cell.source):
                yield pytest.param(cell, id=f"{path.name}-cell{index}")


@pytest.mark.parametrize("cell", list(explorer_cells()))
def test_each_explorer_is_committed_as_its_picture(cell):
    # What GitHub, nbviewer and make html show: one picture, and the size-only text beside it.
    shown = [output for output in cell.outputs if output.output_type in ("display_data", "execute_result")]
    assert len(shown) == 1 and set(shown[0].data) == {"image/png", "text/plain"}
    assert shown[0].data["text/plain"].startswith("AttentionExplorer: ")


def test_the_series_uses_the_explorer_where_the_issue_asks():
    # Temperature and masks (03), the heads of MultiHeadAttention (05), alignment per output character (09).
    names = {param.id.split("-cell")[0] for param in explorer_cells()}
    assert {"03_softmax_alignment.ipynb", "05_keras_attention_layers.ipynb", "09_seq2seq_alignment.ipynb"} <= names
