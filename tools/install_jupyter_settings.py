"""Installs the series' JupyterLab and Jupyter server settings into this Python's environment.

    python tools/install_jupyter_settings.py [--prefix PREFIX]   # PREFIX defaults to sys.prefix

Binder stops a session above 2 GB, and a kernel that has run a notebook keeps 0.6-1 GB while idle. Two
settings keep a learner who reads the series notebook after notebook under that limit:
- jupyter/overrides.json: closing a notebook's tab shuts its kernel down (JupyterLab's `kernelShutdown`;
  by default the kernel runs on with no tab showing it). No dialog asks: JupyterLab asks only to save a
  notebook with unsaved changes, as it always does.
- jupyter/jupyter_server_config.json: a kernel idle for 20 minutes is shut down, checked every minute, even
  with its tab open (`cull_connected`): a tab left open behind others holds its memory too. Idle means
  running nothing; re-running a notebook takes at most 90 s.

They go where JupyterLab and the server read them in this environment:
    {prefix}/share/jupyter/lab/settings/overrides.d/deep-learning-attention.json
    {prefix}/etc/jupyter/jupyter_server_config.json
JupyterLab merges every file in overrides.d (the singleton overrides.json beside it is left to the user).
The server reads its settings from jupyter_server_config.json itself: jupyter_server_config.d/ is read for
enabling server extensions only. So that file is merged into, not replaced: what else it sets stays.
postBuild runs this on Binder, after environment.yml is installed; `make setup` runs it for .venv.
"""

import argparse
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Each file of the repository's jupyter/ folder, and where it goes under the environment's prefix.
DESTINATIONS = {
    "overrides.json": "share/jupyter/lab/settings/overrides.d/deep-learning-attention.json",
    "jupyter_server_config.json": "etc/jupyter/jupyter_server_config.json",
}


def installed_paths(prefix):
    """{file in jupyter/: where it is installed under ``prefix``}."""
    return {ROOT / "jupyter" / source: pathlib.Path(prefix) / target for source, target in DESTINATIONS.items()}


def install(prefix):
    for source, target in installed_paths(prefix).items():
        settings = json.loads(target.read_text()) if target.exists() else {}
        # Two levels, as both files have them: a plugin's (or a class's) settings, each replaced by ours.
        for section, values in json.loads(source.read_text()).items():
            settings.setdefault(section, {}).update(values)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(settings, indent=2) + "\n")
        print(f"{source.relative_to(ROOT)} -> {target}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", default=sys.prefix, help="the environment's prefix (default: %(default)s)")
    install(parser.parse_args(argv).prefix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
