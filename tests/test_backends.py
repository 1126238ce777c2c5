"""attention_utils on TensorFlow and JAX: the same results from the same inputs and weights, and .keras files
that load on the other backend.

Keras picks its backend once per process, so each side runs in a child process (tests/cross_backend.py):
every entry of the contract test's registry, each layer in a functional model saved to a .keras file,
saved on one backend, then loaded and run on the other, both ways, with outputs equal to 1e-5 (relative to
their largest entry). Then seed_everything: on each backend, two runs from the same seed give the same
weights and the same training. Skipped where JAX is not installed (`pip install -e ".[jax]"`; `make
test-backends` installs it). About 2 minutes: four processes each start TensorFlow or JAX and build every
layer of the package.
"""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("jax", reason="the JAX backend is an extra: pip install -e '.[jax]'")

SCRIPT = pathlib.Path(__file__).parent / "cross_backend.py"
BACKENDS = ("tensorflow", "jax")
TOLERANCE = 1e-5


def run_on(backend, *arguments, script=None, hash_seed="0"):
    """Runs ``tests/cross_backend.py arguments`` (or ``script``, Python source) under ``backend``; its last
    line of output."""
    # JAX computes in float64 only when told to, for the float64 policies of the registry's layers.
    environment = {**os.environ, "KERAS_BACKEND": backend, "JAX_ENABLE_X64": "1", "PYTHONHASHSEED": hash_seed}
    command = [sys.executable, str(SCRIPT), *arguments] if script is None else [sys.executable, "-c", script]
    result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


# The features that need TensorFlow and say so (their own tests check the error): left out on JAX.
TENSORFLOW_ONLY = {"tensorflow": [], "jax": ["grad_cam"]}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Per backend, the directory of its saved models, inputs and outputs."""
    directories = {}
    for backend in BACKENDS:
        directories[backend] = tmp_path_factory.mktemp(backend)
        report = json.loads(run_on(backend, "save", str(directories[backend])))
        assert report["tensorflow_only"] == TENSORFLOW_ONLY[backend]
    return directories


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize(("saved_on", "loaded_on"), [("tensorflow", "jax"), ("jax", "tensorflow")])
def test_every_layer_and_function_gives_the_same_results_on_the_other_backend(saved, saved_on, loaded_on):
    report = json.loads(run_on(loaded_on, "compare", str(saved[loaded_on]), str(saved[saved_on])))
    assert report["backend"] == loaded_on
    assert report["tensorflow_only"] == TENSORFLOW_ONLY[loaded_on]
    differences = report["differences"]
    assert len(differences) > 40  # every deterministic entry of the registry: layers, functions, scores
    assert {name: d for name, d in differences.items() if not d <= TOLERANCE} == {}


SEED_SCRIPT = textwrap.dedent(
    """
    import json
    import attention_utils as au
    import keras
    import numpy as np

    def run():
        au.seed_everything(3)
        sequence = keras.Input((6, 4))
        context = au.layers.LuongAttention()([sequence, sequence])  # self-attention
        hidden = keras.layers.GlobalAveragePooling1D()(keras.layers.Dropout(0.5)(context))
        model = keras.Model(sequence, keras.layers.Dense(1)(hidden))
        model.compile(optimizer="adam", loss="mse")
        x = np.random.normal(size=(32, 6, 4)).astype("float32")
        y = np.random.normal(size=(32, 1)).astype("float32")
        history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)  # shuffled, with dropout
        return history.history["loss"], float(np.sum(model.predict(x, verbose=0)))

    print(json.dumps(run()))
    """
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_seed_everything_reproduces_training_on_each_backend(backend):
    # Two processes, as two clean kernels: nothing left over from a first run can make the second agree.
    first, second = (json.loads(run_on(backend, script=SEED_SCRIPT, hash_seed=seed)) for seed in ("1", "2"))
    assert first == second
    assert np.isfinite(first[1])
