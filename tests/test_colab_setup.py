"""The notebooks' set-up cell, as a learner on Colab meets it: in a Python without the series' package it
installs it, and the notebook then runs to its end; where the package is installed it does nothing.

Offline, in well under a minute: a fresh virtual environment sees the packages already installed in this
one through a .pth file naming this environment's site-packages. Python does not run the .pth files it
finds in a directory named that way, so the editable install's finder for attention_utils stays out: the
package is missing, and everything it needs is there. pip then finds every pinned version installed and
downloads nothing (PIP_NO_INDEX), and builds the package from a copy of the checkout (so that the build
writes nothing into the working tree) with the setuptools it sees (no build isolation).
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig

import nbformat
import pytest
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tools"))
import navigation

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "01_soft_addressing.ipynb"  # short (about 6 s), no file of its own to read


def clean_environment(**settings):
    """This process's environment, less what would point Python or pip elsewhere, plus ``settings``."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV") and not key.startswith("PIP_")
    }
    # No user site-packages: a package installed there would hide a missing one here.
    environment.update(PYTHONNOUSERSITE="1", PIP_DISABLE_PIP_VERSION_CHECK="1", **settings)
    return environment


@pytest.fixture(scope="module")
def fresh_python(tmp_path_factory):
    """A virtual environment without attention_utils that sees this environment's other packages, pip among
    them. (Created without pip of its own: on Python 3.11 that would also bring setuptools 65, too old for
    pyproject.toml, in front of the pinned one.)"""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site_packages = pathlib.Path(subprocess.run([python, "-c", purelib], capture_output=True, text=True).stdout.strip())
    ours = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (site_packages / "dependencies-of-the-series.pth").write_text("".join(f"{path}\n" for path in ours))
    return python, site_packages


def test_the_fresh_python_lacks_the_package_but_has_its_dependencies(fresh_python, tmp_path):
    python, _ = fresh_python
    environment = clean_environment()
    missing = subprocess.run(
        [python, "-c", "import attention_utils"], capture_output=True, text=True, env=environment, cwd=tmp_path
    )
    assert missing.returncode != 0 and "No module named 'attention_utils'" in missing.stderr, missing.stderr
    dependencies = "import ipykernel, keras, pip, setuptools, tensorflow"
    subprocess.run([python, "-c", dependencies], check=True, env=environment, cwd=tmp_path)


@pytest.mark.skipif(
    os.environ.get("ATTENTION_LATEST") == "1",
    reason="the extra pins requirements.txt's versions, and make test-latest installs others: offline, pip finds none",
)
def test_the_setup_cell_installs_the_package_and_the_notebook_runs_to_its_end(fresh_python, tmp_path):
    python, site_packages = fresh_python
    # What the package is built from: the build writes its by-products (build/, *.egg-info) beside them.
    checkout = tmp_path / "checkout"
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "attention_utils", checkout / "attention_utils", ignore=skip)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, checkout / name)
    work = tmp_path / "work"
    work.mkdir()

    # A kernel on the fresh Python, as Colab runs its own: a kernel spec of our own, read from our directory
    # only (a spec named python3 elsewhere would start this environment's Python instead).
    spec = tmp_path / "kernels" / "fresh-python"
    spec.mkdir(parents=True)
    argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "fresh Python", "language": "python"}))
    kernel = AsyncKernelManager(
        kernel_name="fresh-python", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec.parent)])
    )
    environment = clean_environment(
        PATH=f"{python.parent}{os.pathsep}{os.environ['PATH']}",
        ATTENTION_UTILS_SOURCE=str(checkout),
        PIP_NO_INDEX="1",  # offline: every pinned version is already installed
        PIP_NO_BUILD_ISOLATION="0",  # pip's spelling of --no-build-isolation: build with the setuptools in sight
    )
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(notebook, km=kernel, timeout=300, resources={"metadata": {"path": str(work)}})
    try:
        client.execute(env=environment)
    finally:
        nbformat.write(notebook, work / NOTEBOOK.name)  # the copy as it ran, for a look after a failure

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    errors = [output for cell in code for output in cell.outputs if output.output_type == "error"]
    assert not errors, errors
    setup = next(cell for cell in code if cell.id == navigation.SETUP_ID)
    printed = "".join(output.get("text", "") for output in setup.outputs if output.get("name") == "stdout")
    assert printed.strip() == f"Installing attention_utils[notebooks] @ {checkout.as_uri()}", setup.outputs

    # Installed into the fresh environment, as a copy (not an editable install pointing at the checkout).
    assert (site_packages / "attention_utils" / "__init__.py").exists()
    direct_url = json.loads(next(site_packages.glob("attention_utils-*.dist-info/direct_url.json")).read_text())
    assert not direct_url["dir_info"].get("editable", False), direct_url
    where = "import attention_utils; print(attention_utils.__file__)"
    located = subprocess.run([python, "-c", where], capture_output=True, text=True, env=environment, cwd=tmp_path)
    assert located.stdout.strip() == str(site_packages / "attention_utils" / "__init__.py"), located.stderr

    # Every cell ran, the asserts among them, to the last, which printed what the committed notebook shows.
    assert all(cell.execution_count is not None for cell in code)
    committed_last = [cell for cell in nbformat.read(NOTEBOOK, as_version=4).cells if cell.cell_type == "code"][-1]
    assert code[-1].outputs[0]["text"] == committed_last.outputs[0]["text"]


def test_the_setup_cell_does_nothing_where_the_package_is_installed(tmp_path):
    # This environment has the package: the cell must neither print nor call pip, which would fail here
    # on a source that does not exist, with no index to fall back on.
    environment = clean_environment(ATTENTION_UTILS_SOURCE=str(tmp_path / "no-such-checkout"), PIP_NO_INDEX="1")
    result = subprocess.run(
        [sys.executable, "-c", navigation.SETUP_SOURCE], capture_output=True, text=True, env=environment, cwd=tmp_path
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
