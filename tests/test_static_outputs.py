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
