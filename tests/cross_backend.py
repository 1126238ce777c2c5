"""One side of tests/test_backends.py's comparisons, run in a process of its own per backend.

Keras picks its backend once, when it is first imported, so TensorFlow and JAX cannot be compared in one
process. Run as ``KERAS_BACKEND=<backend> python tests/cross_backend.py <command> <directory>``:

- ``save``: for every entry of the contract test's registry (tests/test_contract.py), the entry's inputs
  (drawn from a fixed NumPy seed) and its outputs on this backend; for a layer, also a functional model
  around it saved as ``<name>.keras``, whose outputs those are. Prints, as JSON, the entries that need
  TensorFlow (they raise a RuntimeError that says so), which are left out.
- ``compare <other directory>``: loads each ``.keras`` file the other backend saved and runs it on its saved
  inputs, runs each function on its saved inputs, and prints, as JSON, the largest difference from the
  other backend's outputs relative to their size, per entry, and the entries left out as needing TensorFlow.
"""

import json
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent))

import keras
import test_contract as contract


def entries():
    """The registry's names whose outputs are the same draw on every backend: a layer that samples
    (``deterministic=False``) draws from the backend's own generator."""
    return [name for name, entry in contract.REGISTRY.items() if entry.deterministic]


def outputs_of(entry, obj, inputs):
    return [np.asarray(x) for x in contract.numpy_all(entry.family.call(obj, inputs, scores=True))]


def model_of(entry, inputs):
    symbolic = [keras.Input(x.shape[1:], dtype=str(x.dtype)) for x in inputs]
    return keras.Model(symbolic, entry.family.call(entry.build(), symbolic, scores=True))


def needs_tensorflow(error):
    """Whether ``error`` is a feature saying that it needs TensorFlow (the package's RuntimeError)."""
    return isinstance(error, RuntimeError) and "needs KERAS_BACKEND=tensorflow" in str(error)


def save(directory):
    tensorflow_only = []
    for name in entries():
        entry = contract.REGISTRY[name]
        keras.utils.set_random_seed(0)
        inputs = entry.family.draw(np.random.default_rng(0), contract.B)
        try:
            if entry.family.layer:
                model = model_of(entry, inputs)
                model.save(directory / f"{name}.keras")
                outputs = [np.asarray(x) for x in contract.numpy_all(model(inputs))]
            else:
                outputs = outputs_of(entry, contract.built(entry), inputs)
        except RuntimeError as error:
            if not needs_tensorflow(error):
                raise
            tensorflow_only.append(name)
            continue
        np.savez(directory / f"{name}.npz", *inputs, *outputs, num_inputs=len(inputs))
    print(json.dumps({"tensorflow_only": tensorflow_only}))


def compare(other):
    differences, tensorflow_only = {}, []
    for name in entries():
        entry = contract.REGISTRY[name]
        if not (other / f"{name}.npz").exists():  # TensorFlow only, and saved on another backend
            continue
        saved = np.load(other / f"{name}.npz")
        num_inputs = int(saved["num_inputs"])
        arrays = [saved[f"arr_{i}"] for i in range(len(saved.files) - 1)]
        inputs, expected = arrays[:num_inputs], arrays[num_inputs:]
        try:
            if entry.family.layer:
                loaded = keras.models.load_model(other / f"{name}.keras", safe_mode=True)
                actual = [np.asarray(x) for x in contract.numpy_all(loaded(inputs))]
            else:
                keras.utils.set_random_seed(0)
                actual = outputs_of(entry, contract.built(entry), inputs)
        except RuntimeError as error:
            if not needs_tensorflow(error):
                raise
            tensorflow_only.append(name)
            continue
        differences[name] = max(
            float(np.max(np.abs(got - want), initial=0.0) / max(1.0, float(np.max(np.abs(want), initial=0.0))))
            for got, want in zip(actual, expected, strict=True)
        )
    print(
        json.dumps({"backend": keras.backend.backend(), "differences": differences, "tensorflow_only": tensorflow_only})
    )


if __name__ == "__main__":
    command, directory = sys.argv[1], pathlib.Path(sys.argv[2])
    if command == "save":
        save(directory)
    else:
        compare(pathlib.Path(sys.argv[3]))
