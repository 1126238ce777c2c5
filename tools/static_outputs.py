"""Committed notebooks keep the attention explorer's static picture, not its widget view.

    python tools/static_outputs.py NOTEBOOK...          # rewrite in place (make execute runs it)
    python tools/static_outputs.py --check NOTEBOOK...  # exit 1, naming each output, if any would change

A widget lives only while its kernel runs. Saved as a widget view
(`application/vnd.jupyter.widget-view+json`), it renders as nothing on GitHub, nbviewer and in
`make html`, and as "Error displaying widget: model not found" in JupyterLab before the notebook runs:
every renderer prefers the view to the picture beside it. The explorer's output carries a PNG of its
first view as well (`attention_utils.explorer.AttentionExplorer._repr_mimebundle_`), so dropping the
view leaves that picture, which every renderer shows. The saved widget state (notebook metadata
`widgets`) goes too: nothing reads it once the views are gone.

nbval skips widget views and images when it compares, so a fresh run still matches the committed text.
An output that is a widget view with no picture beside it is an error: it would show nothing.
"""

import argparse
import pathlib
import sys

import nbformat

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def strip_widget_views(notebook, name):
    """Drops widget views and widget state from ``notebook`` in place.

    Returns ``(changes, problems)``: one line for each output or metadata entry changed, and one for each
    widget view that had no image beside it (it would render as nothing).
    """
    changes, problems = [], []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW not in data:
                continue
            del data[WIDGET_VIEW]
            changes.append(f"{name}: cell {index}: widget view dropped")
            if "image/png" not in data:
                problems.append(f"{name}: cell {index}: a widget view with no static picture beside it")
    if "widgets" in notebook.metadata:
        del notebook.metadata["widgets"]
        changes.append(f"{name}: saved widget state dropped")
    return changes, problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=pathlib.Path)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if anything would change")
    args = parser.parse_args(argv)
    failed = False
    for path in args.notebooks:
        notebook = nbformat.read(path, as_version=4)
        changes, problems = strip_widget_views(notebook, path.name)
        for line in problems:
            print(line)
        failed |= bool(problems)
        if args.check:
            for line in changes:
                print(line)
            failed |= bool(changes)
        elif changes:
            nbformat.write(notebook, path)
    if args.check and failed:
        print("Run `python tools/static_outputs.py notebooks/*.ipynb` (make execute does).")
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())
