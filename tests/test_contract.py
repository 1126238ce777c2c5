"""The contract every attention function and layer of attention_utils keeps, checked over one registry.

REGISTRY, below, lists every public attention function and every public Keras layer of the package: what
it covers (`target`), how to build it, the family of inputs it takes (how they are drawn, passed, padded
and masked), the shapes it returns, and which properties of the contract it claims. Each property is one
test, parametrized over the entries that claim it:

| property           | test                                                      |
|--------------------|-----------------------------------------------------------|
| `shapes`           | test_outputs_and_weights_have_the_documented_shapes        |
| `parity`           | test_equals_attend_where_the_implementation_is_exact       |
| `padding`          | test_padded_keys_that_are_masked_out_change_nothing        |
| `causal`           | test_a_causal_output_ignores_the_future                    |
| `embedding_masks`  | test_masks_from_an_embedding_in_a_functional_model_are_honoured |
| `round_trip`       | test_keras_file_round_trip_in_safe_mode                    |
| `dtypes`           | test_dtype_policies                                        |
| `empty_batch`      | test_an_empty_batch_gives_an_empty_result                  |
| `float_masks`      | test_a_floating_mask_is_a_type_error                       |

test_every_public_layer_and_attention_function_is_registered fails when a layer exported by
`attention_utils.layers`, a public function of `attention_utils.efficient`, a score function of
`attention_utils.scores.REGISTRY` or an alignment function (a function of `attention_utils.alignment`
taking `scores`) has no entry: add one. Other public functions that take a batch join too, with the
properties that apply to them (`grad_cam`: shapes and the empty batch).
Shapes are tiny (batch 2, at most 6 positions) so that the whole module runs in seconds. A property that
fails for an entry because of a real bug is listed in the entry's `xfails`, with the bug described: the
test is then marked xfail(strict=True), so fixing the bug makes it fail until the xfail is removed.
"""

import dataclasses
import inspect
from collections.abc import Callable

import keras
import numpy as np
import pytest
from helpers import numpy_of, saved_and_loaded, tensorflow_only
from keras import ops

import attention_utils
from attention_utils import alignment, attend, efficient, grad_cam, layers, masked_softmax, scores, sparsemax
from attention_utils.efficient import blockwise_attend, linear_attend, windowed_attend

B = 2  # batch size
TQ, TK = 3, 4  # queries and keys (positions of a sequence)
D, DV = 4, 6  # features of queries and keys, and of values
PAD = 2  # padded positions appended by the padding and Embedding-mask tests
T = 5  # positions of the causality test
VOCAB = 10  # token ids of the Embedding-mask tests; 0 is padding
ATOL = 1e-5
CAUSAL_ATOL = 1e-6


# ---- The registry ----

FUNCTION_PROPERTIES = ("shapes", "padding", "empty_batch", "float_masks")
LAYER_PROPERTIES = ("shapes", "round_trip", "dtypes", "empty_batch")
MASKED_LAYER_PROPERTIES = (*LAYER_PROPERTIES, "padding", "embedding_masks", "float_masks")


@dataclasses.dataclass(frozen=True)
class Entry:
    target: object  # the public function or layer class this entry covers
    inputs: str  # its input family, a key of FAMILIES: how inputs are drawn, passed, padded and masked
    build: Callable  # layers: build(**base_layer_kwargs) -> layer; functions: build() -> f (see AttentionFunction)
    shapes: Callable  # shapes(batch_size) -> the shapes of the outputs, then of the weights
    properties: tuple
    parity: str = None  # the exact reference, a key of PARITY_REFERENCES
    deterministic: bool = True  # False for a layer that samples: its draws differ from dtype to dtype
    xfails: dict = dataclasses.field(default_factory=dict)  # property -> the bug that makes it fail
    tensorflow_only: bool = False  # needs TensorFlow (says so on other backends): skipped there

    @property
    def family(self):
        return FAMILIES[self.inputs]


def key_mask_pairs(key_mask):
    """A key mask ``(B, Tk)`` as the per-pair mask ``(B, 1, Tk)`` the quadratic functions take."""
    return None if key_mask is None else key_mask[:, None, :]


REGISTRY = {
    # attend: the quadratic reference itself; returns (context, weights).
    "attend": Entry(
        attend,
        "function",
        lambda: lambda q, v, k, key_mask=None: attend(q, v, k, mask=key_mask_pairs(key_mask)),
        shapes=lambda b: [(b, TQ, DV), (b, TQ, TK)],
        properties=FUNCTION_PROPERTIES,
    ),
    # blockwise_attend: exact attention by online softmax; blocks of 2, so several tiles and the key loop run.
    "blockwise_attend": Entry(
        blockwise_attend,
        "function",
        lambda: (
            lambda q, v, k, key_mask=None: blockwise_attend(
                q, v, k, mask=key_mask_pairs(key_mask), block_size=2, query_block_size=2
            )
        ),
        shapes=lambda b: [(b, TQ, DV)],
        properties=(*FUNCTION_PROPERTIES, "parity"),
        parity="attend",
    ),
    # blockwise_attend, causal: attend with the causal mask.
    "blockwise_attend-causal": Entry(
        blockwise_attend,
        "function",
        lambda: (
            lambda q, v, k, key_mask=None: blockwise_attend(
                q, v, k, mask=key_mask_pairs(key_mask), causal=True, block_size=2, query_block_size=2
            )
        ),
        shapes=lambda b: [(b, TQ, DV)],
        properties=(*FUNCTION_PROPERTIES, "parity", "causal"),
        parity="attend, causal",
    ),
    # windowed_attend with a window covering every key (padding included): exactly attend.
    "windowed_attend-wide": Entry(
        windowed_attend,
        "function",
        lambda: (
            lambda q, v, k, key_mask=None: windowed_attend(
                q, v, k, mask=key_mask_pairs(key_mask), window=TK + PAD, block_size=2
            )
        ),
        shapes=lambda b: [(b, TQ, DV)],
        properties=(*FUNCTION_PROPERTIES, "parity"),
        parity="attend",
    ),
    # windowed_attend, causal, window 1: attend with the band 0 <= i - j <= 1.
    "windowed_attend-causal": Entry(
        windowed_attend,
        "function",
        lambda: (
            lambda q, v, k, key_mask=None: windowed_attend(
                q, v, k, mask=key_mask_pairs(key_mask), window=1, causal=True, block_size=2
            )
        ),
        shapes=lambda b: [(b, TQ, DV)],
        properties=(*FUNCTION_PROPERTIES, "parity", "causal"),
        parity="attend, causal band of 1",
    ),
    # linear_attend: a different attention (elu + 1 kernel), so no parity; padding through key_mask.
    "linear_attend": Entry(
        linear_attend,
        "function",
        lambda: lambda q, v, k, key_mask=None: linear_attend(q, v, k, key_mask=key_mask),
        shapes=lambda b: [(b, TQ, DV)],
        properties=FUNCTION_PROPERTIES,
    ),
    # linear_attend, causal: running sums carried from block to block of 2.
    "linear_attend-causal": Entry(
        linear_attend,
        "function",
        lambda: lambda q, v, k, key_mask=None: linear_attend(q, v, k, key_mask=key_mask, causal=True, block_size=2),
        shapes=lambda b: [(b, TQ, DV)],
        properties=(*FUNCTION_PROPERTIES, "causal"),
    ),
    # The score functions (step 1), each through the three steps written out: weights = masked_softmax(
    # score(q, k), mask), context = weights @ value. Returns the context, then the scores.
    # dot, scaled_dot and cosine are what attend computes by those names.
    "scores.dot": Entry(
        scores.dot,
        "score",
        lambda: scores.dot,
        shapes=lambda b: [(b, TQ, DV), (b, TQ, TK)],
        properties=(*FUNCTION_PROPERTIES, "parity"),
        parity="attend, dot score",
    ),
    "scores.scaled_dot": Entry(
        scores.scaled_dot,
        "score",
        lambda: scores.scaled_dot,
        shapes=lambda b: [(b, TQ, DV), (b, TQ, TK)],
        properties=(*FUNCTION_PROPERTIES, "parity"),
        parity="attend",
    ),
    "scores.cosine": Entry(
        scores.cosine,
        "score",
        lambda: scores.cosine,
        shapes=lambda b: [(b, TQ, DV), (b, TQ, TK)],
        properties=(*FUNCTION_PROPERTIES, "parity"),
        parity="attend, cosine score",
    ),
    # The scores with parameters, fixed here; attend takes them only as callables, so no parity by name.
    "scores.bilinear": Entry(
        scores.bilinear,
        "score",
        lambda: lambda q, k: scores.bilinear(q, k, SCORE_WEIGHTS["bilinear"]),
        shapes=lambda b: [(b, TQ, DV), (b, TQ, TK)],
        properties=FUNCTION_PROPERTIES,
    ),
    "scores.additive": Entry(
        scores.additive,
        "score",
        lambda: lambda q, k: scores.additive(q, k, *SCORE_WEIGHTS["additive"]),
        shapes=lambda b: [(b, TQ, DV), (b, TQ, TK)],
        properties=FUNCTION_PROPERTIES,
    ),
    "scores.projected": Entry(
        scores.projected,
        "score",
        lambda: lambda q, k: scores.projected(q, k, *SCORE_WEIGHTS["projected"]),
        shapes=lambda b: [(b, TQ, DV), (b, TQ, TK)],
        properties=FUNCTION_PROPERTIES,
    ),
    "scores.gaussian": Entry(
        scores.gaussian,
        "score",
        lambda: lambda q, k: scores.gaussian(q, k, width=1.5),
        shapes=lambda b: [(b, TQ, DV), (b, TQ, TK)],
        properties=FUNCTION_PROPERTIES,
    ),
    # The alignment functions (step 2): scores (B, Tq, Tk) to weights, masked over the keys.
    "masked_softmax": Entry(
        masked_softmax,
        "alignment",
        lambda: masked_softmax,
        shapes=lambda b: [(b, TQ, TK)],
        properties=FUNCTION_PROPERTIES,
    ),
    "masked_softmax-temperature": Entry(
        masked_softmax,
        "alignment",
        lambda: lambda s, mask=None: masked_softmax(s, mask, temperature=0.5),
        shapes=lambda b: [(b, TQ, TK)],
        properties=FUNCTION_PROPERTIES,
    ),
    "sparsemax": Entry(
        sparsemax,
        "alignment",
        lambda: sparsemax,
        shapes=lambda b: [(b, TQ, TK)],
        properties=FUNCTION_PROPERTIES,
    ),
    # BahdanauAttention: attend with the additive score v^T tanh(W_q q + W_k k) of its weights.
    "BahdanauAttention": Entry(
        layers.BahdanauAttention,
        "query_value",
        lambda **kw: layers.BahdanauAttention(5, **kw),
        shapes=lambda b: [(b, TQ, DV), (b, TQ, TK)],
        properties=(*MASKED_LAYER_PROPERTIES, "parity"),
        parity="attend, additive score",
    ),
    # LuongAttention dot: attend with the dot score.
    "LuongAttention-dot": Entry(
        layers.LuongAttention,
        "query_value",
        lambda **kw: layers.LuongAttention("dot", **kw),
        shapes=lambda b: [(b, TQ, DV), (b, TQ, TK)],
        properties=(*MASKED_LAYER_PROPERTIES, "parity"),
        parity="attend, dot score",
    ),
    # LuongAttention general: attend with the bilinear score h_t^T W_a h_s.
    "LuongAttention-general": Entry(
        layers.LuongAttention,
        "query_value",
        lambda **kw: layers.LuongAttention("general", **kw),
        shapes=lambda b: [(b, TQ, DV), (b, TQ, TK)],
        properties=(*MASKED_LAYER_PROPERTIES, "parity"),
        parity="attend, bilinear score",
    ),
    # LuongAttention concat: attend with the additive score.
    "LuongAttention-concat": Entry(
        layers.LuongAttention,
        "query_value",
        lambda **kw: layers.LuongAttention("concat", units=5, **kw),
        shapes=lambda b: [(b, TQ, DV), (b, TQ, TK)],
        properties=(*MASKED_LAYER_PROPERTIES, "parity"),
        parity="attend, additive score",
    ),
    # LocalAttention local-m with a window wider than the keys: global attention, attend with the dot score.
    "LocalAttention-m-wide": Entry(
        layers.LocalAttention,
        "query_value",
        lambda **kw: layers.LocalAttention(TK + PAD, score_mode="dot", **kw),
        shapes=lambda b: [(b, TQ, DV), (b, TQ, TK)],
        properties=(*MASKED_LAYER_PROPERTIES, "parity"),
        parity="attend, dot score",
    ),
    # LocalAttention local-m, window 1: the three keys around p_t = t.
    "LocalAttention-m": Entry(
        layers.LocalAttention,
        "query_value",
        lambda **kw: layers.LocalAttention(1, **kw),
        shapes=lambda b: [(b, TQ, DV), (b, TQ, TK)],
        properties=MASKED_LAYER_PROPERTIES,
    ),
    # LocalAttention local-p: p_t predicted from the query and the unmasked length S, then a Gaussian.
    "LocalAttention-p": Entry(
        layers.LocalAttention,
        "query_value",
        lambda **kw: layers.LocalAttention(1, mode="predictive", **kw),
        shapes=lambda b: [(b, TQ, DV), (b, TQ, TK)],
        properties=MASKED_LAYER_PROPERTIES,
    ),
    # HardAttention by argmax: the value attend weighs most. Returns context, selection, probabilities.
    "HardAttention-argmax": Entry(
        layers.HardAttention,
        "query_value",
        lambda **kw: layers.HardAttention("argmax", score_mode="dot", **kw),
        shapes=lambda b: [(b, TQ, DV), (b, TQ, TK), (b, TQ, TK)],
        properties=(*MASKED_LAYER_PROPERTIES, "parity"),
        parity="argmax of attend's weights",
    ),
    # HardAttention by sampling, seeded: random, so only what holds for any draw.
    "HardAttention-sample": Entry(
        layers.HardAttention,
        "query_value",
        lambda **kw: layers.HardAttention("sample", seed=0, **kw),
        shapes=lambda b: [(b, TQ, DV), (b, TQ, TK), (b, TQ, TK)],
        properties=(*LAYER_PROPERTIES, "float_masks"),
        deterministic=False,
    ),
    # HardAttention straight-through, seeded: the sample forward, the Gumbel-softmax's gradient backward.
    "HardAttention-straight_through": Entry(
        layers.HardAttention,
        "query_value",
        lambda **kw: layers.HardAttention("straight_through", temperature=0.5, seed=0, **kw),
        shapes=lambda b: [(b, TQ, DV), (b, TQ, TK), (b, TQ, TK)],
        properties=(*LAYER_PROPERTIES, "float_masks"),
        deterministic=False,
    ),
    # ParallelCoAttention: two sequences attend to each other; q_hat, v_hat, a_q, a_v.
    "ParallelCoAttention": Entry(
        layers.ParallelCoAttention,
        "co_attention",
        lambda **kw: layers.ParallelCoAttention(4, **kw),
        shapes=lambda b: [(b, D), (b, DV), (b, TQ), (b, TK)],
        properties=MASKED_LAYER_PROPERTIES,
    ),
    # AttentionPooling: one sequence pooled with a learned context vector u_w.
    "AttentionPooling": Entry(
        layers.AttentionPooling,
        "sequence",
        lambda **kw: layers.AttentionPooling(4, **kw),
        shapes=lambda b: [(b, DV), (b, TK)],
        properties=MASKED_LAYER_PROPERTIES,
    ),
    # StructuredSelfAttention: two hops over one sequence, a matrix embedding (its penalty through add_loss).
    "StructuredSelfAttention": Entry(
        layers.StructuredSelfAttention,
        "sequence",
        lambda **kw: layers.StructuredSelfAttention(4, 2, **kw),
        shapes=lambda b: [(b, 2, DV), (b, 2, TK)],
        properties=MASKED_LAYER_PROPERTIES,
    ),
    # DynamicMetaEmbedding: attention over two embeddings of each token.
    "DynamicMetaEmbedding": Entry(
        layers.DynamicMetaEmbedding,
        "embeddings",
        lambda **kw: layers.DynamicMetaEmbedding(4, **kw),
        shapes=lambda b: [(b, TK, 4), (b, TK, 2)],
        properties=MASKED_LAYER_PROPERTIES,
    ),
    # TransformerEncoderBlock: self-attention and feed-forward, two heads, no dropout.
    "TransformerEncoderBlock": Entry(
        layers.TransformerEncoderBlock,
        "self_attention",
        lambda **kw: layers.TransformerEncoderBlock(2, 8, dropout=0.0, **kw),
        shapes=lambda b: [(b, TK, D), (b, 2, TK, TK)],
        properties=MASKED_LAYER_PROPERTIES,
    ),
    # TransformerEncoderBlock called with use_causal_mask=True: the decoder's masked self-attention.
    "TransformerEncoderBlock-causal": Entry(
        layers.TransformerEncoderBlock,
        "causal_self_attention",
        lambda **kw: layers.TransformerEncoderBlock(2, 8, dropout=0.0, **kw),
        shapes=lambda b: [(b, TK, D), (b, 2, TK, TK)],
        properties=("shapes", "padding", "causal", "float_masks"),
    ),
    # CausalSelfAttention: causal by construction, so the plain self-attention family (it takes no
    # use_causal_mask) and the causal property; key_dim 3 with d_model 4, unequal sizes. No parity entry:
    # PARITY_REFERENCES compare with attend, which has no projections; test_causal_attention.py holds it to
    # MultiHeadAttention and GroupQueryAttention with use_causal_mask=True, dot_product_attention and NumPy.
    "CausalSelfAttention": Entry(
        layers.CausalSelfAttention,
        "self_attention",
        lambda **kw: layers.CausalSelfAttention(2, 3, **kw),
        shapes=lambda b: [(b, TK, D), (b, 2, TK, TK)],
        properties=(*MASKED_LAYER_PROPERTIES, "causal"),
    ),
    # CausalSelfAttention, grouped-query (4 query heads share 2 key/value heads) with rotary positions.
    "CausalSelfAttention-grouped_query-rotary": Entry(
        layers.CausalSelfAttention,
        "self_attention",
        lambda **kw: layers.CausalSelfAttention(4, 2, num_key_value_heads=2, rotary=True, **kw),
        shapes=lambda b: [(b, TK, D), (b, 4, TK, TK)],
        properties=(*MASKED_LAYER_PROPERTIES, "causal"),
    ),
    # CausalSelfAttention, grouped-query with ALiBi's linear biases (Press et al. 2022) instead of RoPE.
    "CausalSelfAttention-grouped_query-alibi": Entry(
        layers.CausalSelfAttention,
        "self_attention",
        lambda **kw: layers.CausalSelfAttention(4, 2, num_key_value_heads=2, alibi=True, **kw),
        shapes=lambda b: [(b, TK, D), (b, 4, TK, TK)],
        properties=(*MASKED_LAYER_PROPERTIES, "causal"),
    ),
    # TransformerDecoderBlock, decoder-only (no encoder outputs): causal self-attention and feed-forward.
    "TransformerDecoderBlock": Entry(
        layers.TransformerDecoderBlock,
        "self_attention",
        lambda **kw: layers.TransformerDecoderBlock(2, 8, dropout=0.0, **kw),
        shapes=lambda b: [(b, TK, D), (b, 2, TK, TK)],
        properties=(*MASKED_LAYER_PROPERTIES, "causal"),
    ),
    # PositionalEmbedding with mask_zero: token embeddings plus positions; it makes the mask itself.
    "PositionalEmbedding": Entry(
        layers.PositionalEmbedding,
        "tokens",
        lambda **kw: layers.PositionalEmbedding(VOCAB, 8, D, mask_zero=True, **kw),
        shapes=lambda b: [(b, TK, D)],
        properties=(*LAYER_PROPERTIES, "padding", "embedding_masks"),  # it takes no mask, it makes one
    ),
    # BahdanauDecoder: a GRU that attends with its previous state; causal in its inputs y_{i-1}.
    "BahdanauDecoder": Entry(
        layers.BahdanauDecoder,
        "decoder",
        lambda **kw: layers.BahdanauDecoder(4, **kw),
        shapes=lambda b: [(b, TQ, 4), (b, TQ, DV), (b, TQ, TK)],
        properties=(*MASKED_LAYER_PROPERTIES, "causal"),
    ),
    # CBAM: channel, then spatial attention on a feature map; both maps of weights returned.
    "CBAM": Entry(
        layers.CBAM,
        "feature_map",
        lambda **kw: layers.CBAM(2, 3, **kw),
        shapes=lambda b: [(b, 4, 4, 4), (b, 1, 1, 4), (b, 4, 4, 1)],
        properties=LAYER_PROPERTIES,
    ),
    # ChannelAttention: CBAM's channel module.
    "ChannelAttention": Entry(
        layers.ChannelAttention,
        "feature_map",
        lambda **kw: layers.ChannelAttention(2, **kw),
        shapes=lambda b: [(b, 4, 4, 4), (b, 1, 1, 4)],
        properties=LAYER_PROPERTIES,
    ),
    # SpatialAttention: CBAM's spatial module (a 3x3 convolution here).
    "SpatialAttention": Entry(
        layers.SpatialAttention,
        "feature_map",
        lambda **kw: layers.SpatialAttention(3, **kw),
        shapes=lambda b: [(b, 4, 4, 4), (b, 4, 4, 1)],
        properties=LAYER_PROPERTIES,
    ),
    # SqueezeExcitation: channel weights from the average alone.
    "SqueezeExcitation": Entry(
        layers.SqueezeExcitation,
        "feature_map",
        lambda **kw: layers.SqueezeExcitation(2, **kw),
        shapes=lambda b: [(b, 4, 4, 4), (b, 1, 1, 4)],
        properties=LAYER_PROPERTIES,
    ),
    # grad_cam: not an attention, but the map notebook 08 sets beside CBAM's; a small CNN's (3, 3) maps.
    "grad_cam": Entry(
        grad_cam,
        "class_activation",
        lambda: lambda images: grad_cam(small_classifier(), images, "features"),
        shapes=lambda b: [(b, 3, 3)],
        properties=("shapes", "empty_batch"),
        tensorflow_only=True,  # it takes gradients with TensorFlow; test_grad_cam checks the error elsewhere
    ),
}


_weights_rng = np.random.default_rng(7)
SCORE_WEIGHTS = {  # fixed parameters of the scores that have some
    "bilinear": _weights_rng.normal(size=(D, D)).astype("float32"),
    "additive": [_weights_rng.normal(size=shape).astype("float32") for shape in ((D, 5), (D, 5), (5,))],
    "projected": [_weights_rng.normal(size=(D, 3)).astype("float32") for _ in range(2)],
}


# ---- Helpers ----


def draw(rng, *shape):
    return rng.normal(size=shape).astype("float32")


def as_list(outputs):
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def numpy_all(outputs):
    return [numpy_of(x) for x in as_list(outputs)]


def appended(rng, x, n=PAD):
    """``x`` with ``n`` random positions appended on axis 1 (random ids for token ids)."""
    if x.dtype.kind == "i":
        extra = rng.integers(1, VOCAB, size=(x.shape[0], n)).astype(x.dtype)
    else:
        extra = draw(rng, x.shape[0], n, *x.shape[2:])
    return np.concatenate([x, extra], axis=1)


def real_positions(like, length, n=PAD):
    """A ``(batch, length + n)`` mask, the batch of ``like``: True at the first ``length`` positions, False
    at the ``n`` appended."""
    batch = like.shape[0]
    return np.concatenate([np.ones((batch, length), bool), np.zeros((batch, n), bool)], axis=1)


def changed_after(rng, x, t):
    """``x`` with every position after ``t`` (axis 1) redrawn."""
    x = x.copy()
    x[:, t + 1 :] = draw(rng, x.shape[0], x.shape[1] - t - 1, *x.shape[2:])
    return x


def token_ids(rng, length):
    """``(B, length)`` token ids; the first sequence ends with ``PAD`` padding zeros, the second has none."""
    ids = rng.integers(1, VOCAB, size=(B, length)).astype("int32")
    ids[0, -PAD:] = 0
    return ids


def embedded(dim):
    """A symbolic token input of any length and its ``Embedding(mask_zero=True)``, which carries a Keras mask."""
    tokens = keras.Input((None,), dtype="int32")
    return tokens, keras.layers.Embedding(VOCAB, dim, mask_zero=True)(tokens)


# ---- Families: how a kind of input is drawn, passed to the layer (or function), padded and masked ----


class Family:
    """The inputs of a kind of layer. ``call`` returns a list: the outputs, then (``scores=True``) the
    weights. Subclasses write only what applies to them."""

    layer = True  # False for a function: built without arguments, not saved, no dtype policy
    num_outputs = 1  # how many of `call`'s results come before the weights
    weights_over_positions = True  # whether the last axis of every weight is a padded input's positions
    weights_over_queries = False  # whether axis -2 of every weight is the (padded) queries' positions

    def draw(self, rng, batch):
        raise NotImplementedError

    def call(self, obj, inputs, mask=None, scores=False):
        raise NotImplementedError

    def pad(self, rng, inputs):
        """``(inputs with PAD positions appended, the mask that leaves them out)``."""
        raise NotImplementedError

    def causal_draw(self, rng, batch):
        return self.draw(rng, batch)

    def change_after(self, rng, inputs, t):
        return [changed_after(rng, x, t) for x in inputs]

    def token_model(self, layer, rng):
        """``(model, inputs)``: a functional model whose sequences come from ``Embedding(mask_zero=True)``,
        returning ``call``'s outputs and weights, and token ids for it (see ``token_ids``)."""
        raise NotImplementedError


def _mask_kwargs(mask):
    return {} if mask is None else {"mask": mask}


class AttentionFunction(Family):
    """``f(query (B, Tq, d), value (B, Tk, d_value), key (B, Tk, d), key_mask=(B, Tk))``, a context."""

    layer = False

    def draw(self, rng, batch, num_queries=TQ, num_keys=TK):
        return [draw(rng, batch, num_queries, D), draw(rng, batch, num_keys, DV), draw(rng, batch, num_keys, D)]

    def call(self, obj, inputs, mask=None, scores=False):
        outputs = as_list(obj(*inputs, key_mask=mask))
        return outputs if scores else outputs[:1]

    def pad(self, rng, inputs):
        query, value, key = inputs
        return [query, appended(rng, value), appended(rng, key)], real_positions(query, TK)

    def causal_draw(self, rng, batch):
        return self.draw(rng, batch, T, T)


class ScoreFunction(AttentionFunction):
    """``score(query (B, Tq, d), key (B, Tk, d))``, the scores ``(B, Tq, Tk)``, taken through the other two
    steps as the package's docstring writes them: ``weights = masked_softmax(scores, key_mask[:, None, :])``,
    ``context = weights @ value``. ``call`` returns the context, then (``scores=True``) the scores."""

    def call(self, obj, inputs, mask=None, scores=False):
        query, value, key = inputs
        score_values = obj(query, key)
        weights = masked_softmax(score_values, key_mask_pairs(mask))
        context = ops.matmul(weights, ops.convert_to_tensor(value))
        return [context, score_values] if scores else [context]


class AlignmentFunction(Family):
    """``f(scores (B, Tq, Tk), mask=(B, 1, Tk))``: the weights ``(B, Tq, Tk)``. Padding appends keys (the
    last axis), masked out."""

    layer = False

    def draw(self, rng, batch):
        return [draw(rng, batch, TQ, TK)]

    def call(self, obj, inputs, mask=None, scores=False):
        return [obj(inputs[0], **_mask_kwargs(key_mask_pairs(mask)))]

    def pad(self, rng, inputs):
        (score_values,) = inputs
        extra = draw(rng, *score_values.shape[:-1], PAD)
        return [np.concatenate([score_values, extra], axis=-1)], real_positions(score_values, TK)


class QueryValue(Family):
    """``layer([query, value, key], mask=[query_mask, value_mask])``: context ``(B, Tq, d_value)``,
    weights ``(B, Tq, Tk)``."""

    weights_over_queries = True

    def draw(self, rng, batch):
        return [draw(rng, batch, TQ, D), draw(rng, batch, TK, DV), draw(rng, batch, TK, D)]

    def call(self, obj, inputs, mask=None, scores=False):
        return as_list(obj(inputs, return_attention_scores=scores, **_mask_kwargs(mask)))

    def pad(self, rng, inputs):
        query, value, key = inputs
        padded = [appended(rng, query), appended(rng, value), appended(rng, key)]
        return padded, [real_positions(query, TQ), real_positions(query, TK)]

    def token_model(self, layer, rng):
        (queries, query), (values, value) = embedded(D), embedded(D)  # the key is the value
        model = keras.Model([queries, values], self.call(layer, [query, value], scores=True))
        return model, [token_ids(rng, TQ + PAD), token_ids(rng, TK + PAD)]


class CoAttention(QueryValue):
    """``layer([Q (B, T, d_q), V (B, N, d_v)], mask=[q_mask, v_mask])``: ``q_hat (B, d_q)``,
    ``v_hat (B, d_v)``, weights ``a_q (B, T)`` and ``a_v (B, N)``."""

    num_outputs = 2
    weights_over_queries = False

    def draw(self, rng, batch):
        return [draw(rng, batch, TQ, D), draw(rng, batch, TK, DV)]

    def pad(self, rng, inputs):
        question, image = inputs
        masks = [real_positions(question, TQ), real_positions(image, TK)]
        return [appended(rng, question), appended(rng, image)], masks

    def token_model(self, layer, rng):
        (questions, question), (images, image) = embedded(D), embedded(DV)
        model = keras.Model([questions, images], self.call(layer, [question, image], scores=True))
        return model, [token_ids(rng, TQ + PAD), token_ids(rng, TK + PAD)]


class Sequence(Family):
    """``layer(x (B, T, features), mask=(B, T))``: pooling, or (``self_attention``) self-attention with
    weights ``(B, heads, T, T)`` and, if ``causal``, ``use_causal_mask=True``. (A layer that is causal by
    construction, such as ``CausalSelfAttention``, takes no such argument: it uses the family without
    ``causal`` and claims the ``causal`` property all the same.)"""

    def __init__(self, features, self_attention=False, causal=False):
        self.features, self.causal = features, causal
        self.weights_over_queries = self_attention

    def draw(self, rng, batch, length=TK):
        return [draw(rng, batch, length, self.features)]

    def call(self, obj, inputs, mask=None, scores=False):
        causal = {"use_causal_mask": True} if self.causal else {}
        return as_list(obj(inputs[0], return_attention_scores=scores, **causal, **_mask_kwargs(mask)))

    def pad(self, rng, inputs):
        return [appended(rng, inputs[0])], real_positions(inputs[0], TK)

    def causal_draw(self, rng, batch):
        return self.draw(rng, batch, T)

    def token_model(self, layer, rng):
        tokens, sequence = embedded(self.features)
        return keras.Model([tokens], self.call(layer, [sequence], scores=True)), [token_ids(rng, TK + PAD)]


class Embeddings(Family):
    """``layer([w_1 (B, T, 5), w_2 (B, T, 6)], mask=[mask_1, mask_2])``: several embeddings of each
    token; the weights ``(B, T, 2)`` are over the embeddings, not over positions."""

    weights_over_positions = False

    def draw(self, rng, batch):
        return [draw(rng, batch, TK, 5), draw(rng, batch, TK, 6)]

    def call(self, obj, inputs, mask=None, scores=False):
        return as_list(obj(inputs, return_attention_scores=scores, **_mask_kwargs(mask)))

    def pad(self, rng, inputs):
        return [appended(rng, x) for x in inputs], [real_positions(inputs[0], TK)] * 2

    def token_model(self, layer, rng):
        tokens = keras.Input((None,), dtype="int32")
        embeddings = [keras.layers.Embedding(VOCAB, dim, mask_zero=True)(tokens) for dim in (5, 6)]
        return keras.Model([tokens], self.call(layer, embeddings, scores=True)), [token_ids(rng, TK + PAD)]


class Tokens(Family):
    """``layer(token_ids (B, T))`` with ``mask_zero=True``: the layer makes the mask from the zeros."""

    def draw(self, rng, batch):
        return [rng.integers(1, VOCAB, size=(batch, TK)).astype("int32")]

    def call(self, obj, inputs, mask=None, scores=False):
        return [obj(inputs[0])]  # no weights, and the mask comes from the padding ids themselves

    def pad(self, rng, inputs):
        return [np.concatenate([inputs[0], np.zeros((len(inputs[0]), PAD), "int32")], axis=1)], None

    def token_model(self, layer, rng):
        # The layer is itself the embedding: a Keras attention after it must see its mask.
        tokens = keras.Input((None,), dtype="int32")
        sequence = layer(tokens)
        _, probe_weights = keras.layers.Attention()([sequence, sequence], return_attention_scores=True)
        return keras.Model([tokens], [sequence, probe_weights]), [token_ids(rng, TK + PAD)]


class FeatureMap(Family):
    """``layer(x (B, height, width, channels))``: the refined map, of the input's shape, and the maps
    of weights multiplied in."""

    def draw(self, rng, batch):
        return [draw(rng, batch, 4, 4, 4)]

    def call(self, obj, inputs, mask=None, scores=False):
        return as_list(obj(inputs[0], return_attention_scores=scores))


def small_classifier():
    """A CNN for ``(6, 6, 1)`` images: a strided convolution to a ``(3, 3, 4)`` map named "features",
    global average pooling and the scores of 3 classes."""
    images = keras.Input((6, 6, 1))
    features = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="features")(images)
    return keras.Model(images, keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(features)))


class ClassActivation(Family):
    """``f(images (B, 6, 6, 1))``: a classifier's class activation maps ``(B, 3, 3)``; no weights, no mask."""

    layer = False

    def draw(self, rng, batch):
        return [draw(rng, batch, 6, 6, 1)]

    def call(self, obj, inputs, mask=None, scores=False):
        return [obj(inputs[0])]


class Decoder(Family):
    """``layer(inputs (B, Ty, 5), annotations (B, Tx, d_v), initial_state (B, 4), annotations_mask=(B, Tx))``:
    states ``(B, Ty, 4)``, contexts ``(B, Ty, d_v)``, weights ``(B, Ty, Tx)``."""

    num_outputs = 2

    def draw(self, rng, batch, steps=TQ):
        return [draw(rng, batch, steps, 5), draw(rng, batch, TK, DV), draw(rng, batch, 4)]

    def call(self, obj, inputs, mask=None, scores=False):
        masks = {} if mask is None else {"annotations_mask": mask}
        return as_list(obj(*inputs, return_attention_scores=scores, **masks))

    def pad(self, rng, inputs):
        targets, annotations, state = inputs
        return [targets, appended(rng, annotations), state], real_positions(targets, TK)

    def causal_draw(self, rng, batch):
        return self.draw(rng, batch, T)

    def change_after(self, rng, inputs, t):  # the previous targets y_{i-1}; the annotations are all seen
        targets, annotations, state = inputs
        return [changed_after(rng, targets, t), annotations, state]

    def token_model(self, layer, rng):
        targets, state = keras.Input((TQ, 5)), keras.Input((4,))
        tokens, annotations = embedded(DV)
        model = keras.Model([targets, tokens, state], self.call(layer, [targets, annotations, state], scores=True))
        return model, [draw(rng, B, TQ, 5), token_ids(rng, TK + PAD), draw(rng, B, 4)]


FAMILIES = {
    "function": AttentionFunction(),
    "score": ScoreFunction(),
    "alignment": AlignmentFunction(),
    "query_value": QueryValue(),
    "co_attention": CoAttention(),
    "sequence": Sequence(DV),
    "self_attention": Sequence(D, self_attention=True),
    "causal_self_attention": Sequence(D, self_attention=True, causal=True),
    "embeddings": Embeddings(),
    "tokens": Tokens(),
    "feature_map": FeatureMap(),
    "decoder": Decoder(),
    "class_activation": ClassActivation(),
}


# ---- References for parity: attend, with the score and mask each implementation stands for ----


def score_mask(mask, num_queries, num_keys, causal=False, window=None):
    """A mask ``(B, Tq, Tk)`` for ``attend``: from a key mask (functions) or ``[query_mask, value_mask]``
    (layers), and the causal band or window."""
    allowed = np.ones((1, num_queries, num_keys), bool)
    if isinstance(mask, list):
        allowed = allowed & mask[0][:, :, None] & mask[1][:, None, :]
    elif mask is not None:
        allowed = allowed & mask[:, None, :]
    offset = np.arange(num_queries)[:, None] - np.arange(num_keys)[None, :]  # i - j
    if causal:
        allowed = allowed & (offset >= 0)
    if window is not None:
        allowed = allowed & (np.abs(offset) <= window)
    return allowed


def attend_reference(score="scaled_dot", causal=False, window=None):
    """``reference(obj, inputs, mask)``: ``attend``'s context. ``score`` may be a function of the built
    layer returning a score callable (for scores with learned weights)."""

    def reference(obj, inputs, mask):
        query, value, key = inputs
        mask = score_mask(mask, query.shape[1], key.shape[1], causal, window)
        return numpy_of(attend(query, value, key, score=score(obj) if callable(score) else score, mask=mask)[0])

    return reference


def bilinear_score(layer):  # Luong's general score, h_t^T W_a h_s
    return lambda query, key: ops.einsum("bqi,ij,bkj->bqk", query, layer.w, key)


def additive_score(layer):  # Bahdanau's (and Luong's concat) score, v^T tanh(W_q q + W_k k)
    def score(query, key):
        hidden = ops.tanh(ops.matmul(query, layer.w_query)[:, :, None] + ops.matmul(key, layer.w_key)[:, None])
        return ops.einsum("bqku,u->bqk", hidden, layer.v)

    return score


def argmax_reference(obj, inputs, mask):
    """Hard attention by argmax: the value with the largest of ``attend``'s weights (none if all masked)."""
    query, value, key = inputs
    weights = numpy_of(attend(query, value, key, score="dot", mask=score_mask(mask, TQ, TK))[1])
    selection = np.eye(TK)[weights.argmax(-1)] * (weights > 0).any(-1, keepdims=True)
    return selection @ value


PARITY_REFERENCES = {
    "attend": attend_reference(),
    "attend, causal": attend_reference(causal=True),
    "attend, causal band of 1": attend_reference(causal=True, window=1),
    "attend, dot score": attend_reference("dot"),
    "attend, cosine score": attend_reference("cosine"),
    "attend, bilinear score": attend_reference(bilinear_score),
    "attend, additive score": attend_reference(additive_score),
    "argmax of attend's weights": argmax_reference,
}


# ---- Test plumbing ----


def entries_with(prop, layers_only=False):
    """The registry entries claiming ``prop``, as pytest parameters (xfail where the entry says so)."""
    params = []
    for name, entry in REGISTRY.items():
        if prop not in entry.properties or (layers_only and not entry.family.layer):
            continue
        marks = [pytest.mark.xfail(strict=True, reason=entry.xfails[prop])] if prop in entry.xfails else []
        if entry.tensorflow_only:
            marks.append(tensorflow_only)
        params.append(pytest.param(name, id=name, marks=marks))
    return params


def built(entry, **kwargs):
    return entry.build(**kwargs) if entry.family.layer else entry.build()


def shapes_of(outputs):
    return [tuple(x.shape) for x in outputs]


def cut_to(x, shape):
    """The leading corner of ``x`` of ``shape``: an output with padded positions cut back to the real ones."""
    return x[tuple(slice(0, n) for n in shape)]


# ---- 0. completeness ----


def test_every_public_layer_and_attention_function_is_registered():
    registered = {entry.target for entry in REGISTRY.values()}
    public_layers = {
        getattr(layers, name)
        for name in layers.__all__
        if isinstance(getattr(layers, name), type) and issubclass(getattr(layers, name), keras.layers.Layer)
    }
    functions = {attention_utils.attend, efficient.blockwise_attend, efficient.windowed_attend, efficient.linear_attend}
    functions |= {
        f
        for name, f in vars(efficient).items()
        if inspect.isfunction(f) and f.__module__ == efficient.__name__ and not name.startswith("_")
    }
    functions |= {score.function for score in scores.REGISTRY.values()}  # step 1 (not helpers like get)
    functions |= {  # step 2: the functions of alignment that turn scores into weights (not the mask builders)
        f
        for name, f in vars(alignment).items()
        if inspect.isfunction(f)
        and f.__module__ == alignment.__name__
        and not name.startswith("_")
        and next(iter(inspect.signature(f).parameters)) == "scores"
    }
    missing = sorted(x.__name__ for x in (public_layers | functions) - registered)
    assert not missing, (
        f"Not in the contract registry: {missing}. Add an entry for each to REGISTRY in tests/test_contract.py "
        "(how to build it, its input family, its shapes, the properties that apply)."
    )
    for name, entry in REGISTRY.items():
        if isinstance(entry.target, type):
            assert isinstance(entry.build(), entry.target), name
        assert entry.family.layer == isinstance(entry.target, type), name


# ---- 1. shapes ----


@pytest.mark.parametrize("name", entries_with("shapes"))
def test_outputs_and_weights_have_the_documented_shapes(name, rng):
    entry = REGISTRY[name]
    obj = built(entry)
    inputs = entry.family.draw(rng, B)
    assert shapes_of(entry.family.call(obj, inputs, scores=True)) == entry.shapes(B)
    if entry.family.layer:  # and symbolically, in a functional model of unknown batch size
        symbolic = [keras.Input(x.shape[1:], dtype=str(x.dtype)) for x in inputs]
        assert shapes_of(entry.family.call(obj, symbolic, scores=True)) == entry.shapes(None)


# ---- 2. parity with attend ----


@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
@pytest.mark.parametrize("name", entries_with("parity"))
def test_equals_attend_where_the_implementation_is_exact(name, masked, rng):
    entry = REGISTRY[name]
    obj = built(entry)
    inputs = entry.family.draw(rng, B)
    mask = None
    if masked:  # the first sequence's last key is padding; for layers, its last query too
        keys = np.array([[True] * (TK - 1) + [False], [True] * TK])
        queries = np.array([[True] * (TQ - 1) + [False], [True] * TQ])
        mask = [queries, keys] if entry.family.layer else keys
    context = numpy_of(entry.family.call(obj, inputs, mask)[0])
    np.testing.assert_allclose(context, PARITY_REFERENCES[entry.parity](obj, inputs, mask), atol=ATOL)


# ---- 3. padding invariance ----


@pytest.mark.parametrize("name", entries_with("padding"))
def test_padded_keys_that_are_masked_out_change_nothing(name, rng):
    entry = REGISTRY[name]
    obj = built(entry)
    inputs = entry.family.draw(rng, B)
    expected = numpy_all(entry.family.call(obj, inputs, scores=True))
    padded, mask = entry.family.pad(rng, inputs)
    outputs = numpy_all(entry.family.call(obj, padded, mask, scores=True))
    assert len(outputs) == len(expected)
    for output, reference in zip(outputs, expected):  # outputs and weights at the real positions
        np.testing.assert_allclose(cut_to(output, reference.shape), reference, atol=ATOL)


# ---- 4. causality ----


@pytest.mark.parametrize("name", entries_with("causal"))
def test_a_causal_output_ignores_the_future(name, rng):
    entry = REGISTRY[name]
    obj = built(entry)
    inputs = entry.family.causal_draw(rng, B)
    expected = numpy_all(entry.family.call(obj, inputs))
    for t in range(T - 1):
        outputs = numpy_all(entry.family.call(obj, entry.family.change_after(rng, inputs, t)))
        for output, reference in zip(outputs, expected):
            np.testing.assert_allclose(
                output[:, : t + 1], reference[:, : t + 1], atol=CAUSAL_ATOL, err_msg=f"position <= {t} changed"
            )


# ---- 5. masks from Embedding(mask_zero=True) ----


@pytest.mark.parametrize("name", entries_with("embedding_masks"))
def test_masks_from_an_embedding_in_a_functional_model_are_honoured(name, rng):
    entry = REGISTRY[name]
    family = entry.family
    model, inputs = family.token_model(entry.build(), rng)
    results = numpy_all(model(inputs))
    outputs, weights = results[: family.num_outputs], results[family.num_outputs :]
    if family.weights_over_positions:  # the first sequence's padded keys get zero weight
        assert weights
        for w in weights:
            np.testing.assert_array_equal(w[0, ..., -PAD:], 0.0)
    if family.weights_over_queries:  # and its padded queries attend to nothing
        for w in weights:
            np.testing.assert_array_equal(w[0, ..., -PAD:, :], 0.0)
    for row in range(B):  # outputs at the real positions equal those of the sequence without padding
        alone = [
            x[row : row + 1, : x.shape[1] - PAD] if x.dtype.kind == "i" and row == 0 else x[row : row + 1]
            for x in inputs
        ]
        for output, reference in zip(outputs, numpy_all(model(alone))[: family.num_outputs]):
            np.testing.assert_allclose(cut_to(output[row : row + 1], reference.shape), reference, atol=ATOL)


# ---- 6. .keras round trip ----


# Keras's saver turns variables into arrays with np.array(), which NumPy 2 warns about; not ours to fix.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
@pytest.mark.parametrize("name", entries_with("round_trip", layers_only=True))
def test_keras_file_round_trip_in_safe_mode(name, rng, tmp_path):
    entry = REGISTRY[name]
    inputs = entry.family.draw(rng, B)
    symbolic = [keras.Input(x.shape[1:], dtype=str(x.dtype)) for x in inputs]
    model = keras.Model(symbolic, entry.family.call(entry.build(), symbolic, scores=True))
    loaded = saved_and_loaded(model, tmp_path)
    for ours, theirs in zip(numpy_all(model(inputs)), numpy_all(loaded(inputs)), strict=True):
        np.testing.assert_array_equal(theirs, ours)


# ---- 7. dtype policies ----

COMPUTE_DTYPE = {"float64": "float64", "float16": "float16", "bfloat16": "bfloat16", "mixed_float16": "float16"}
TOLERANCE = {"float64": 1e-5, "float16": 2e-2, "mixed_float16": 2e-2, "bfloat16": 1e-1}  # against float32


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # get_weights, as above
@pytest.mark.parametrize("policy", list(COMPUTE_DTYPE))
@pytest.mark.parametrize("name", entries_with("dtypes", layers_only=True))
def test_dtype_policies(name, policy, rng):
    entry = REGISTRY[name]
    inputs, mask = entry.family.draw(rng, B), None
    if "padding" in entry.properties:  # with padding masked out: masking must not overflow in 16 bits
        inputs, mask = entry.family.pad(rng, inputs)
    single = entry.build(dtype="float32")
    expected = numpy_all(entry.family.call(single, inputs, mask, scores=True))
    layer = entry.build(dtype=policy)
    entry.family.call(layer, inputs, mask)  # builds it
    layer.set_weights(single.get_weights())
    outputs = entry.family.call(layer, inputs, mask, scores=True)
    for output, reference in zip(outputs, expected, strict=True):
        assert keras.backend.standardize_dtype(output.dtype) == COMPUTE_DTYPE[policy]
        output = numpy_of(output).astype("float64")
        assert np.isfinite(output).all()
        if entry.deterministic:  # a sampling layer draws other samples in another dtype
            np.testing.assert_allclose(output, reference, rtol=TOLERANCE[policy], atol=TOLERANCE[policy])


# ---- 8. an empty batch ----


@pytest.mark.parametrize("name", entries_with("empty_batch"))
def test_an_empty_batch_gives_an_empty_result(name, rng):
    entry = REGISTRY[name]
    obj, inputs = built(entry), entry.family.draw(rng, 0)
    assert shapes_of(entry.family.call(obj, inputs, scores=True)) == entry.shapes(0)
    if "padding" in entry.properties:  # and with masks, of no rows
        padded, mask = entry.family.pad(rng, inputs)
        expected = [(0, *shape[1:]) for shape in shapes_of(entry.family.call(obj, padded, mask, scores=True))]
        assert shapes_of(entry.family.call(obj, padded, mask, scores=True)) == expected


# ---- 9. a floating mask is refused ----


def floating(mask):
    """A boolean mask as the additive mask a user might pass instead: 0 to keep, -1e9 to drop."""
    return np.where(mask, 0.0, -1e9)


@pytest.mark.parametrize("name", entries_with("float_masks"))
def test_a_floating_mask_is_a_type_error(name, rng):
    # The package's mask rule: a floating mask is a TypeError naming the mask, never cast to bool (which
    # would attend to exactly the keys an additive mask drops).
    entry = REGISTRY[name]
    obj = built(entry)
    padded, mask = entry.family.pad(rng, entry.family.draw(rng, B))
    float_mask = [floating(m) for m in mask] if isinstance(mask, list) else floating(mask)
    with pytest.raises(TypeError, match=r"argument \w*mask\w*\b.*Expected a boolean"):
        entry.family.call(obj, padded, float_mask, scores=True)
