"""pytest hooks for nbval: what a re-executed notebook is held to."""


def pytest_collectstart(collector):
    # stderr carries warnings whose wording changes with library versions (and, despite
    # attention_utils' quiet defaults, the odd TensorFlow line); a notebook is judged by what it
    # prints on purpose, and by its asserts.
    if getattr(collector, "path", None) is not None and collector.path.suffix == ".ipynb":
        collector.skip_compare += ("stderr",)
