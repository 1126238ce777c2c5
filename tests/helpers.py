"""Helpers shared by the unit tests: NumPy references and the .keras round trip.

A module rather than conftest.py: the repository root has a conftest.py of its own (nbval's hooks), so
`from conftest import ...` would be ambiguous. Test modules import these with `from helpers import ...`.
"""

import keras
import numpy as np
from keras import ops


def numpy_of(x):
    """Any tensor (or array) as a NumPy array."""
    return ops.convert_to_numpy(x)


def softmax(scores, mask=None):
    """Softmax over the last axis in NumPy, the reference for every attention weight.

    Masked keys (mask False) get weight 0, and a row with every key masked gets all zeros, as
    `attention_utils.masked_softmax` promises. Without a mask it is the textbook formula.
    """
    scores = np.asarray(scores)
    mask = np.broadcast_to(True if mask is None else mask, scores.shape)
    row_max = np.max(np.where(mask, scores, -np.inf), axis=-1, keepdims=True)
    exponentials = np.where(mask, np.exp(scores - np.where(np.isfinite(row_max), row_max, 0)), 0.0)
    total = exponentials.sum(-1, keepdims=True)
    return exponentials / np.where(total > 0, total, 1.0)


def saved_and_loaded(model, tmp_path, name="model.keras"):
    """The model saved to a .keras file and loaded back with safe mode on (no Python code unpickled).

    Keras's saver turns variables into arrays with np.array(), which NumPy 2 warns about (not ours to
    fix): tests that call this carry `@pytest.mark.filterwarnings("ignore:__array__ implementation")`.
    """
    path = tmp_path / name
    model.save(path)
    return keras.models.load_model(path, safe_mode=True)
