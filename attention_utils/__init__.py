"""Attention mechanisms from scratch, as used in the deep-learning-attention notebooks.

Importing this package first sets quiet, deterministic TensorFlow defaults, so a notebook that starts
with ``import attention_utils as au`` shows no TensorFlow log lines and gives the same numbers on every
run. A variable the user has already set is left alone.

The core of the three calculation steps is re-exported here::

    scores  = au.scores.scaled_dot(query, key)      # step 1: score every key against every query
    weights = au.masked_softmax(scores, mask)       # step 2: align: normalise the scores to weights
    context = weights @ value                       # step 3: the weighted sum of the values
    context, weights = au.attend(query, value, key, mask=mask)   # all three at once

Also at the top level: ``au.seed_everything(seed)``, and ``au.grad_cam(model, images, feature_layer)``,
the class activation maps that notebook 08 sets beside CBAM's spatial maps (the function; its module is
``attention_utils.grad_cam``).

Backends
--------
The package is written in ``keras.ops`` and runs on Keras's TensorFlow and JAX backends, with the same
results (``KERAS_BACKEND=jax`` before the first import; ``pip install -e ".[jax]"``). Three features need
TensorFlow and say so: ``grad_cam``, ``models.count_multiply_adds`` and ``decoding.traced``.
``au.autodiff.gradients`` and ``au.autodiff.jacobian`` differentiate on either backend.

Scores by name
--------------
``au.scores.REGISTRY`` is the one list of score names: ``dot``, ``scaled_dot`` and ``cosine`` (no
parameters), ``bilinear``, ``additive``, ``projected`` and ``gaussian`` (with parameters), and Luong et
al.'s names as aliases, ``"general"`` for ``bilinear`` and ``"concat"`` for ``additive``. The functions
(``attend``, ``efficient.blockwise_attend``, ``efficient.windowed_attend``) take the parameter-free ones
by name and any score as a callable; the Luong layers take ``score_mode`` in either vocabulary.

Masks
-----
The one mask rule of the package, which every docstring refers to:

- A mask is boolean, ``True`` meaning "attend to this position" and ``False`` "ignore it", as in Keras.
  Integer 0/1 masks are read as booleans; a floating mask is a ``TypeError``, since it could be an
  additive mask (``0`` keep, ``-1e9`` drop) or a "1 means masked" one.
- Functions (``masked_softmax``, ``sparsemax``, ``attend``, ``efficient.blockwise_attend``,
  ``efficient.windowed_attend``) take ``mask`` broadcastable to the scores, ``(..., Tq, Tk)``: one entry
  per (query, key) pair. To mask padded keys, pass ``key_mask[..., None, :]`` (``padding_mask`` builds
  ``key_mask``); ``causal_mask`` builds a ``(Tq, Tk)`` one.
- The one exception: ``efficient.linear_attend`` takes ``key_mask``, broadcastable to ``(..., Tk)``, one
  entry per key, since a per-pair mask cannot be factorised; its name says so.
- Layers take ``mask=[query_mask, value_mask]``, of shapes ``(batch_size, Tq)`` and
  ``(batch_size, Tv)``, as Keras's attention layers do (a third entry, a key mask, is ANDed with the
  value mask); masks made by ``Embedding(mask_zero=True)`` are passed on automatically. The same rule
  holds for every mask a layer takes (``mask``, ``attention_mask``, ``annotations_mask``): a floating
  one is a ``TypeError`` naming the entry, such as ``value_mask``.
- A masked key gets weight exactly 0. A masked query, or a query with no key left to attend to, gets
  all-zero weights, never NaN, in the functions and in the layers' weights over positions. In the
  functions and the ``BaseAttention`` layers (``BahdanauAttention``, ``LuongAttention``,
  ``LocalAttention``, ``HardAttention``) its output is then zero too; a layer that computes more after
  the attention need not keep it zero (``TransformerEncoderBlock`` returns ``LayerNorm(x + ...)``).
- In Keras 3.15, ``keras.layers.Attention`` and ``AdditiveAttention`` instead give such a row uniform
  weights (masked scores have ``1e9`` subtracted); ``MultiHeadAttention`` gives it zero weights when
  called with ``return_attention_scores=True`` (its explicit masked softmax) and, without, averages
  the values uniformly (the fused ``dot_product_attention``).
"""

import os

# These must be set before TensorFlow is first imported: TF reads them once, at load time.
# TF_CPP_MIN_LOG_LEVEL=3 silences the C++ start-up lines (oneDNN notices, CPU feature guards) that
# would otherwise land in every notebook's stderr; TF_ENABLE_ONEDNN_OPTS=0 turns off oneDNN's
# reordered floating-point arithmetic, whose results can differ from run to run in the last bits.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from attention_utils import (
    autodiff,
    data,
    decoding,
    efficient,
    layers,
    models,
    plots,
    positional,
    scores,
    timing,
    training,
)
from attention_utils.alignment import causal_mask, masked_softmax, padding_mask, sparsemax
from attention_utils.attention import attend
from attention_utils.grad_cam import grad_cam
from attention_utils.reproducibility import seed_everything

__all__ = [
    "attend",
    "autodiff",
    "causal_mask",
    "data",
    "decoding",
    "efficient",
    "grad_cam",
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
    "training",
]
__version__ = "0.1.0"
