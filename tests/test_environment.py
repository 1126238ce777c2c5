"""The set-up files agree with each other, JupyterLab gets the repository's settings, and Graphviz really
renders plot_model diagrams."""

import json
import os
import pathlib
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import keras
import pytest
import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tools"))
import install_jupyter_settings

ROOT = pathlib.Path(__file__).resolve().parents[1]


def requirement_lines():
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def requirement_name(line):
    return re.split(r"[=<>!~;\[ ]", line, maxsplit=1)[0].lower().replace("_", "-")


def test_every_requirement_is_pinned_exactly():
    for line in requirement_lines():
        assert re.match(r"^[A-Za-z0-9_.\-]+==[0-9][^ ;]*(\s*;.+)?$", line), f"not an exact pin: {line}"


def test_tensorflow_is_2_21_with_the_cpu_wheel_where_it_exists():
    tensorflow = [line for line in requirement_lines() if requirement_name(line).startswith("tensorflow")]
    assert sorted(requirement_name(line) for line in tensorflow) == ["tensorflow", "tensorflow-cpu"]
    assert all("==2.21." in line for line in tensorflow)
    cpu_line = next(line for line in tensorflow if requirement_name(line) == "tensorflow-cpu")
    assert 'platform_machine == "x86_64"' in cpu_line and 'sys_platform == "linux"' in cpu_line


def test_environment_yml_installs_requirements_txt_and_adds_only_python_and_graphviz():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [item for item in environment["dependencies"] if isinstance(item, str)]
    pip = next(item["pip"] for item in environment["dependencies"] if isinstance(item, dict))
    assert "python=3.11" in conda
    assert "graphviz" in conda
    assert set(conda) <= {"python=3.11", "graphviz", "pip"}, f"conda packages beyond the three: {conda}"
    # The versions come from requirements.txt: the pip section only points at it.
    assert pip == ["-r requirements.txt", "-e ."]
    assert "conda-forge" in environment["channels"]


def test_the_notebooks_extra_pins_the_stack_exactly_as_requirements_txt_does():
    # The notebooks' set-up cell installs attention_utils[notebooks] where the package is missing (Colab):
    # the same versions as .venv and Binder, markers included, so the two lists cannot drift apart.
    block = re.search(r"^notebooks = \[\n(.*?)^\]", (ROOT / "pyproject.toml").read_text(), re.M | re.S).group(1)
    extra = [line.strip().rstrip(",")[1:-1] for line in block.splitlines()]  # '...', or "...",
    pins = {requirement_name(line): " ".join(line.split()) for line in requirement_lines()}
    for requirement in extra:
        pinned = pins.get(requirement_name(requirement))
        assert " ".join(requirement.split()) == pinned, f"extra: {requirement!r}, requirements.txt: {pinned!r}"
    # The extra is the stack the notebooks import, requirements.txt's first block: no more, no less.
    stack = next(block for block in (ROOT / "requirements.txt").read_text().split("\n\n") if "tensorflow" in block)
    stack_names = [requirement_name(line) for line in stack.splitlines() if line and not line.startswith("#")]
    assert [requirement_name(requirement) for requirement in extra] == stack_names


def extra(name):
    block = re.search(rf"^{name} = \[\n(.*?)^\]", (ROOT / "pyproject.toml").read_text(), re.M | re.S).group(1)
    return [line.strip().rstrip(",")[1:-1] for line in block.splitlines() if not line.strip().startswith("#")]


def test_the_colab_extra_is_the_notebooks_extra_with_the_full_tensorflow_wheel():
    # Colab has the tensorflow distribution: the same version of it, no tensorflow-cpu beside it.
    notebooks, colab = extra("notebooks"), extra("colab")
    tensorflow = [line for line in notebooks if requirement_name(line).startswith("tensorflow")]
    version = {line.split("==")[1].split(";")[0].strip() for line in tensorflow}
    assert len(version) == 1
    assert colab == [f"tensorflow=={version.pop()}"] + [line for line in notebooks if line not in tensorflow]


def test_package_dependencies_are_all_pinned_in_requirements():
    pyproject = (ROOT / "pyproject.toml").read_text()
    dependencies = re.search(r"^dependencies = \[(.*?)\]", pyproject, re.M | re.S).group(1)
    pinned = {requirement_name(line) for line in requirement_lines()}
    for dependency in re.findall(r'"([^"]+)"', dependencies):
        assert requirement_name(dependency) in pinned, f"{dependency} is not pinned in requirements.txt"


@pytest.mark.skipif(
    os.environ.get("ATTENTION_LATEST") == "1",
    reason="make test-latest runs the newest releases on purpose: the pins hold for .venv only",
)
def test_installed_versions_match_the_pins():
    from importlib.metadata import PackageNotFoundError, version

    for line in requirement_lines():
        name, pinned = requirement_name(line), line.split("==")[1].split(";")[0].strip()
        try:
            installed = version(name)
        except PackageNotFoundError:
            continue  # the other half of a platform-dependent pair
        assert installed == pinned, f"{name}: installed {installed}, pinned {pinned}: run make test to re-install"


def test_binder_builds_the_root_environment_yml_with_python_3_11():
    # repo2docker --no-build writes the Dockerfile it would build, without Docker: Binder must take the
    # conda route through environment.yml (Python 3.11, Graphviz), not requirements.txt alone.
    repo2docker = pathlib.Path(sys.executable).with_name("repo2docker")
    result = subprocess.run(
        [str(repo2docker), "--no-build", "--debug", "--user-id", "1000", "--user-name", "jovyan", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    log = result.stdout + result.stderr
    assert "Building conda environment for python=3.11" in log
    assert 'env update -p ${NB_PYTHON_PREFIX} --file "environment.yml"' in log
    # The repository is copied in before the environment is built, so `-r requirements.txt` and `-e .`
    # in environment.yml resolve.
    assert log.index("COPY --chown=1000:1000 src/ ${REPO_DIR}/") < log.index('--file "environment.yml"')
    # Then postBuild installs the JupyterLab and server settings into that environment (its `python` is
    # the environment's), as `make setup` does for .venv.
    assert log.index('--file "environment.yml"') < log.index("RUN ./postBuild")
    assert "ENV PATH=${NB_PYTHON_PREFIX}/bin:" in log
    assert "python tools/install_jupyter_settings.py" in (ROOT / "postBuild").read_text()


def test_this_environment_holds_the_repository_jupyter_settings():
    for source, target in install_jupyter_settings.installed_paths(sys.prefix).items():
        assert target.exists(), f"{target} is missing: run make setup, or python tools/install_jupyter_settings.py"
        installed = json.loads(target.read_text())
        for section, values in json.loads(source.read_text()).items():
            assert {key: installed.get(section, {}).get(key) for key in values} == values, (
                f"{target} differs from {source.relative_to(ROOT)}: run python tools/install_jupyter_settings.py"
            )


def test_the_server_reads_the_idle_kernel_settings():
    # Only jupyter_server_config.json itself is read for settings: a file in jupyter_server_config.d/ only
    # enables extensions, and would be ignored here without a word.
    jupyter = pathlib.Path(sys.executable).with_name("jupyter")
    result = subprocess.run(
        [str(jupyter), "server", "--show-config"], capture_output=True, text=True, timeout=120, check=True
    )
    settings = json.loads((ROOT / "jupyter" / "jupyter_server_config.json").read_text())["MappingKernelManager"]
    for key, value in settings.items():
        assert re.search(rf"^\s+\.{key} = {value!r}$", result.stdout, re.M), f"{key} is not {value!r}:\n{result.stdout}"


def test_jupyterlab_shuts_a_notebook_kernel_down_when_its_tab_closes(tmp_path):
    # The settings JupyterLab serves its front end: the overrides replace the schema's defaults.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = secrets.token_hex(16)
    command = [
        *(str(pathlib.Path(sys.executable).with_name("jupyter")), "lab", "--no-browser", "--allow-root"),
        *("--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", f"--IdentityProvider.token={token}"),
        *(f"--ServerApp.root_dir={tmp_path}", f"--LabApp.user_settings_dir={tmp_path / 'user-settings'}"),
    ]
    url = f"http://127.0.0.1:{port}/lab/api/settings/@jupyterlab/notebook-extension:tracker?token={token}"
    with open(tmp_path / "jupyterlab.log", "w") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(url, timeout=5) as response:
                        tracker = json.load(response)
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        pytest.fail(f"JupyterLab did not answer:\n{(tmp_path / 'jupyterlab.log').read_text()}")
                    time.sleep(0.5)
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert tracker["schema"]["properties"]["kernelShutdown"]["default"] is True


def test_readme_binder_badge_opens_jupyterlab_on_the_index():
    readme = (ROOT / "README.md").read_text()
    badge = re.search(r"\[!\[Binder\]\([^)]+\)\]\((https://mybinder.org/v2/gh/[^)]+)\)", readme)
    assert badge, "the README has no Binder badge"
    assert badge.group(1).endswith("?urlpath=lab/tree/notebooks/00_index.ipynb")


def test_graphviz_dot_runs():
    dot = shutil.which("dot")
    assert dot, "Graphviz's `dot` is not on PATH: run `make test` (it installs it) or see the README"
    subprocess.run([dot, "-V"], check=True, capture_output=True)


def test_plot_model_really_renders(tmp_path):
    # In a notebook, plot_model may print a message and return None when Graphviz is missing; the
    # file on disk is the proof that it drew.
    inputs = keras.Input(shape=(3, 4))
    outputs = keras.layers.Attention()([inputs, inputs])
    target = tmp_path / "model.png"
    keras.utils.plot_model(keras.Model(inputs, outputs), to_file=str(target), show_shapes=True)
    assert target.exists() and target.stat().st_size > 1000
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def run_python(script, **environment):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")}
    env.update(environment)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)


def test_importing_the_package_sets_quiet_deterministic_defaults_and_tensorflow_logs_nothing():
    script = (
        "import os, attention_utils, tensorflow as tf; "
        "print(os.environ['TF_CPP_MIN_LOG_LEVEL'], os.environ['TF_ENABLE_ONEDNN_OPTS'], "
        "float(tf.reduce_sum(tf.ones((2, 2)))))"
    )
    result = run_python(script)
    assert result.stdout.split() == ["3", "0", "4.0"]
    assert "I0000" not in result.stderr and "cpu_feature_guard" not in result.stderr, result.stderr


def test_a_value_the_user_set_is_kept():
    script = "import os, attention_utils; print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    assert run_python(script, TF_CPP_MIN_LOG_LEVEL="1").stdout.strip() == "1"
