"""Attention mechanisms from scratch, as used in the deep-learning-attention notebooks.

Importing this package first sets quiet, deterministic TensorFlow defaults, so a notebook that starts
with ``import attention_utils as au`` shows no TensorFlow log lines and gives the same numbers on every
run. A variable the user has already set is left alone.

The core of the three calculation steps is re-exported here::

    scores  = au.scores.scaled_dot(query, key)      # step 1: score every key against every query
    weights = au.masked_softmax(scores, mask)       # step 2: align: normalise the scores to weights
    context = weights @ value                       # step 3: the weighted sum of the values
    context, weights = au.attend(query, value, key, mask=mask)   # all three at once
"""

import os

# These must be set before TensorFlow is first imported: TF reads them once, at load time.
# TF_CPP_MIN_LOG_LEVEL=3 silences the C++ start-up lines (oneDNN notices, CPU feature guards) that
# would otherwise land in every notebook's stderr; TF_ENABLE_ONEDNN_OPTS=0 turns off oneDNN's
# reordered floating-point arithmetic, whose results can differ from run to run in the last bits.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from attention_utils import data, decoding, efficient, layers, models, plots, positional, scores, timing  # noqa: E402
from attention_utils.alignment import causal_mask, masked_softmax, padding_mask, sparsemax  # noqa: E402
from attention_utils.attention import attend  # noqa: E402
from attention_utils.reproducibility import seed_everything  # noqa: E402

__all__ = [
    "attend",
    "causal_mask",
    "data",
    "decoding",
    "efficient",
    "layers",
    "masked_softmax",
    "models",
    "padding_mask",
    "plots",
    "positional",
    "scores",
    "seed_everything",
    "sparsemax",
    "timing",
]
__version__ = "0.1.0"
