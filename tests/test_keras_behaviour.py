"""What Keras 3.15 does that the notebooks teach as version-specific: the canary for a Keras upgrade.

Notebook 05 shows these behaviours and asserts them (section 10: `MultiHeadAttention`'s two code paths;
section 12: three quirks), and notebook 03 shows `Attention`'s fully masked row (section 4: float32 and
float16 rounding) and the bug of `keras.ops.sparsemax` (section 6). They hold for the pinned Keras;
`make test-latest` runs this file on the newest Keras. A failure here is not a bug in attention_utils: it
says that Keras changed, and which notebook section to rewrite.
"""

from unittest import mock

import keras
import keras.src.ops
import numpy as np
import pytest
from helpers import numpy_of

TOKEN_IDS = np.array([[5, 8, 2, 0, 0], [7, 1, 3, 9, 4]])  # 0 is padding: lengths 3 and 5
PADDED = TOKEN_IDS == 0  # (batch, T): these queries have no key to attend to
D = 4


def no_longer(what, where):
    """The failure message: Keras changed, and the notebook section that says otherwise must follow."""
    return f"Keras {keras.__version__} no longer {what}: fixed upstream? update {where}"


def embedded_tokens():
    """A fresh embedding of TOKEN_IDS with its padding mask: `MultiHeadAttention` takes the mask off the
    tensor it reads, so every call needs its own tensor."""
    embedding = keras.layers.Embedding(
        10, D, mask_zero=True, embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0, seed=0)
    )
    return embedding(TOKEN_IDS)


# Values of another size than the keys, as a canary for a mix-up of the two, where the backend allows it:
# on JAX, Keras 3.15's dot-product-attention path needs them equal (see the test below).
VALUE_DIM = 5 if keras.backend.backend() == "tensorflow" else 3


def multi_head_attention(**kwargs):
    # Random biases, as after training, so that an output equal to b^O is told apart from zero.
    return keras.layers.MultiHeadAttention(
        num_heads=2,
        key_dim=3,
        value_dim=VALUE_DIM,
        bias_initializer=keras.initializers.RandomNormal(stddev=0.5, seed=1),
        **kwargs,
    )


def self_attend(layer, **call_arguments):
    embedded = embedded_tokens()
    return layer(embedded, embedded, **call_arguments)


def uniform_average_output(layer, values):
    """What a query with uniform weights over every key outputs, from the layer's weights in NumPy:
    Concat_h(mean_j(x_j W_h^V + b_h^V)) W^O + b^O, one row per sequence."""
    projected = np.einsum("btd,dhv->bthv", values, layer.value_dense.kernel.numpy()) + layer.value_dense.bias.numpy()
    return np.einsum("bhv,hvo->bo", projected.mean(axis=1), layer.output_dense.kernel.numpy()) + (
        layer.output_dense.bias.numpy()
    )


# MultiHeadAttention's two code paths (notebook 05, section 10)


def test_mha_fully_masked_query_gets_zero_weights_and_outputs_the_bias_on_the_softmax_path():
    # return_attention_scores=True: scores, keras.layers.Softmax (which zeroes masked weights), values.
    layer = multi_head_attention()
    output, weights = map(numpy_of, self_attend(layer, return_attention_scores=True))
    where = "notebook 05 section 10 (two code paths)"
    assert (weights[0][:, PADDED[0]] == 0).all(), no_longer("gives a fully masked query zero weights", where)
    np.testing.assert_array_equal(
        output[PADDED],
        np.broadcast_to(layer.output_dense.bias.numpy(), output[PADDED].shape),
        err_msg=no_longer("outputs b^O alone for a fully masked query when asked for its weights", where),
    )


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="a limit of Keras's JAX backend")
def test_mha_on_jax_needs_values_of_the_keys_size_on_the_dot_product_attention_path():
    # Keras hands the heads to jax.nn.dot_product_attention, which requires one head size for keys and
    # values; its fallback reshapes to the key size and fails too. The softmax path takes any value_dim.
    sequence = np.random.default_rng(0).normal(size=(2, 5, D)).astype("float32")
    layer = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=5)
    assert tuple(layer(sequence, sequence, return_attention_scores=True)[0].shape) == (2, 5, D)
    with pytest.raises(TypeError, match="cannot reshape"):
        layer(sequence, sequence)


def test_mha_fully_masked_query_averages_every_value_on_the_dot_product_attention_path():
    # No weights asked for, no dropout: ops.dot_product_attention, which fills masked scores with one
    # large negative number, so a fully masked row is uniform over every key, the padded ones included.
    layer = multi_head_attention()
    output = numpy_of(self_attend(layer))
    values = numpy_of(embedded_tokens())
    expected = uniform_average_output(layer, values)[np.nonzero(PADDED)[0]]
    np.testing.assert_allclose(
        output[PADDED],
        expected,
        atol=1e-5,
        err_msg=no_longer(
            "gives a fully masked query uniform weights when not asked for its weights",
            "notebook 05 section 10 (two code paths)",
        ),
    )


def test_mha_both_code_paths_agree_on_queries_with_something_to_attend_to():
    layer = multi_head_attention()
    without_weights = numpy_of(self_attend(layer))
    with_weights, _ = map(numpy_of, self_attend(layer, return_attention_scores=True))
    np.testing.assert_allclose(without_weights[~PADDED], with_weights[~PADDED], atol=1e-5)


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_mha_with_dropout_takes_the_softmax_path_in_training_and_in_inference(training):
    # Keras 3.15 chooses the path from the constructor's dropout alone, not from the training flag.
    layer = multi_head_attention(dropout=0.5, seed=0)
    output = numpy_of(self_attend(layer, training=training))
    np.testing.assert_array_equal(
        output[PADDED],
        np.broadcast_to(layer.output_dense.bias.numpy(), output[PADDED].shape),
        err_msg=no_longer(
            f"takes the softmax path with dropout > 0 and training={training}",
            "notebook 05 section 10 (`dropout > 0` switches to the softmax path)",
        ),
    )


def test_mha_with_more_than_one_position_axis_takes_the_softmax_path():
    # The third condition in _compute_attention: a projected query that is not 4-dimensional (inputs with two
    # position axes, here an image's height and width) never goes to ops.dot_product_attention, so a fully
    # masked query outputs b^O even when no weights are asked for.
    image = np.random.default_rng(0).normal(size=(1, 2, 3, D)).astype("float32")  # (batch, H, W, channels)
    mask = np.ones((1, 2, 3, 2, 3), bool)  # (batch, query H, query W, key H, key W)
    mask[0, 0, 0] = False  # the query at (0, 0) may attend to no key
    layer = multi_head_attention(attention_axes=(1, 2))
    output = numpy_of(layer(image, image, attention_mask=mask))
    np.testing.assert_array_equal(
        output[0, 0, 0],
        layer.output_dense.bias.numpy(),
        err_msg=no_longer("takes the softmax path for attention over two axes", "notebook 05 section 10"),
    )


def test_mha_with_only_a_causal_mask_builds_no_mask_and_passes_is_causal():
    # MultiHeadAttention looks ops.dot_product_attention up in keras.src.ops at call time: spy on it there.
    sequence = np.random.default_rng(0).normal(size=(2, 5, D)).astype("float32")
    layer = multi_head_attention()
    with mock.patch.object(keras.src.ops, "dot_product_attention", wraps=keras.src.ops.dot_product_attention) as spy:
        layer(sequence, sequence, use_causal_mask=True)
    assert spy.call_count == 1, no_longer("calls ops.dot_product_attention once", "notebook 05 section 10")
    assert spy.call_args.kwargs["is_causal"] and spy.call_args.kwargs["mask"] is None, no_longer(
        "passes is_causal=True and no mask when the causal mask is the only one", "notebook 05 section 10"
    )


# Keras 3.15 quirks (notebook 05, sections 10 and 12)


def test_mha_symbolic_weights_have_the_query_length_twice():
    layer = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3)
    _, weights = layer(keras.Input((3, D)), keras.Input((5, D)), return_attention_scores=True)
    assert tuple(weights.shape) == (None, 2, 3, 3), no_longer(
        f"gives the symbolic weights the shape (Tq, Tq) (now {tuple(weights.shape)} for Tq=3, Tv=5)",
        "notebook 05 section 12.1",
    )


def test_mha_takes_the_mask_off_the_tensor_it_reads():
    embedded = embedded_tokens()
    assert getattr(embedded, "_keras_mask", None) is not None  # where Keras 3.15 keeps a tensor's mask
    multi_head_attention()(embedded, embedded)
    assert getattr(embedded, "_keras_mask", None) is None, no_longer(
        "takes the mask off the tensor it reads", "notebook 05 sections 10 and 12.2"
    )


def attention_weights_next_to_mha(attention_first_in_outputs):
    """Notebook 05's model: Attention and MultiHeadAttention read the same embedded tensor. Returns
    Attention's weights, with its output listed before or after MultiHeadAttention's."""
    tokens = keras.Input((5,), dtype="int32")
    embedded = keras.layers.Embedding(10, D, mask_zero=True)(tokens)
    _, dot_weights = keras.layers.Attention()([embedded, embedded], return_attention_scores=True)
    _, mha_weights = keras.layers.MultiHeadAttention(2, 2)(embedded, embedded, return_attention_scores=True)
    outputs = [dot_weights, mha_weights] if attention_first_in_outputs else [mha_weights, dot_weights]
    results = [numpy_of(result) for result in keras.Model(tokens, outputs)(TOKEN_IDS)]
    return results[0] if attention_first_in_outputs else results[1]


def test_mha_takes_the_mask_off_an_input_it_shares_with_another_layer():
    # Which of the two layers runs first is the functional model's choice, so both orders of the outputs are
    # tried: in one of them MultiHeadAttention runs first, and Attention finds no mask and attends to padding.
    padding_weight = [attention_weights_next_to_mha(first)[0][:, PADDED[0]] for first in (True, False)]
    assert any((weight > 0).all() for weight in padding_weight), no_longer(
        "takes the mask off an input shared with another layer", "notebook 05 section 12.2"
    )


def test_the_order_of_the_model_outputs_decides_which_layer_loses_the_mask():
    # Notebook 05 section 12.2 says which order: with outputs [Attention's, MultiHeadAttention's],
    # MultiHeadAttention runs first; swapped, Attention keeps its mask.
    where = "notebook 05 section 12.2 (which order of the outputs loses the mask)"
    assert (attention_weights_next_to_mha(True)[0][:, PADDED[0]] > 0).all(), no_longer(
        "runs MultiHeadAttention first when Attention's output is listed first", where
    )
    assert (attention_weights_next_to_mha(False)[0][:, PADDED[0]] == 0).all(), no_longer(
        "runs Attention first when MultiHeadAttention's output is listed first", where
    )


def test_mha_overwrites_an_explicit_query_mask(rng):
    query, value = rng.normal(size=(2, 3, D)).astype("float32"), rng.normal(size=(2, 5, D)).astype("float32")
    query_mask = np.array([[True, True, False], [True, True, True]])
    layer = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3)
    np.testing.assert_array_equal(
        numpy_of(layer(query, value, query_mask=query_mask)),
        numpy_of(layer(query, value)),
        err_msg=no_longer("ignores an explicit query_mask argument", "notebook 05 section 12.3"),
    )


# Attention's large negative bias (notebook 03 section 4, notebook 05 section 11)


def fully_masked_row_weights(row_scores, dtype="float32"):
    """keras.layers.Attention's weights for one query whose keys are all masked. The query is 1 and the keys
    are one-dimensional, so the dot-product scores are the keys themselves."""
    keys = np.array(row_scores, dtype).reshape(1, -1, 1)
    _, weights = keras.layers.Attention(dtype=dtype)(
        [np.ones((1, 1, 1), dtype), keys], mask=[None, np.zeros((1, keys.shape[1]), bool)], return_attention_scores=True
    )
    return numpy_of(weights)[0, 0]


def test_attention_gives_a_fully_masked_row_of_small_scores_uniform_weights(rng):
    """Uniform only because the scores are small. Keras subtracts 1e9 from every masked score, and shift
    invariance alone would give the unmasked softmax; but consecutive float32 numbers near 1e9 are 64 apart,
    so s - 1e9 rounds to exactly -1e9 whenever |s| <= 32, and every score of the row becomes the same."""
    query, value = rng.normal(size=(2, 3, D)).astype("float32"), rng.normal(size=(2, 5, D)).astype("float32")
    assert np.abs(query @ np.swapaxes(value, 1, 2)).max() <= 32
    nothing_to_attend = np.array([[False] * 5, [True] * 5])
    _, weights = keras.layers.Attention()([query, value], mask=[None, nothing_to_attend], return_attention_scores=True)
    np.testing.assert_allclose(
        numpy_of(weights)[0],
        1 / 5,
        atol=1e-6,
        err_msg=no_longer(
            "gives a fully masked row of small scores uniform weights in keras.layers.Attention",
            "notebook 03 section 4 and notebook 05 section 11",
        ),
    )


def test_attention_gives_a_fully_masked_row_of_scores_far_apart_their_unmasked_weights():
    # 100 - 1e9 and -100 - 1e9 round to -1e9 + 128 and -1e9 - 128 in float32: the order survives, and the
    # row gets the one-hot weights of the unmasked softmax, not uniform ones.
    np.testing.assert_allclose(
        fully_masked_row_weights([100.0, 0.0, -100.0]),
        [1.0, 0.0, 0.0],
        atol=1e-6,
        err_msg=no_longer(
            "subtracts 1e9 in float32 from a fully masked row (scores 100 apart)", "notebook 03 section 4"
        ),
    )


def test_attention_in_float16_gives_a_fully_masked_row_nan_once_every_score_is_at_most_minus_16():
    # Keras subtracts 65504 in float16, where numbers near 65504 are 32 apart: s - 65504 rounds to -65504 for
    # |s| < 16 (a uniform row) and past the largest float16 to -inf for s <= -16 (a NaN row).
    where = "notebook 03 section 4 (float16)"
    np.testing.assert_allclose(
        fully_masked_row_weights([3.0, 0.0, -3.0], "float16"),
        1 / 3,
        rtol=1e-3,
        err_msg=no_longer("gives a float16 fully masked row of small scores uniform weights", where),
    )
    assert np.isnan(fully_masked_row_weights([-25.0, -20.0, -30.0], "float16")).all(), no_longer(
        "gives a float16 fully masked row of scores <= -16 NaN weights", where
    )


# keras.ops.sparsemax (notebook 03 section 6)


def test_keras_sparsemax_is_wrong_when_more_than_one_key_is_in_the_support():
    # keras-team/keras#23425, fixed by pull request #23469 after 3.15.1: the threshold adds up every
    # cumulative sum in the support instead of taking the last one.
    scores = np.array([2.0, 1.8, 0.1, -1.5, 2.5], "float32")  # notebook 03's scores: a support of three keys
    assert (numpy_of(keras.ops.sparsemax(scores)) == 0).all(), no_longer(
        "gives every key weight 0 when three keys are in the sparsemax support (#23425 fixed?)",
        "notebook 03 section 6 (keras.ops.sparsemax)",
    )


# Attention dropout: which weights the layers return (notebook 04 section 8)


def test_mha_returns_its_weights_before_dropout_and_attention_after():
    # MultiHeadAttention drops the weights it multiplies the values with but returns the undropped ones
    # (rows sum to 1 in training too); keras.layers.Attention returns the dropped ones.
    where = "notebook 04 section 8 (attention dropout)"
    inputs = np.random.default_rng(0).normal(size=(4, 6, 8)).astype("float32")
    mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, dropout=0.5, seed=0)
    _, mha_weights = mha(inputs, inputs, return_attention_scores=True, training=True)
    np.testing.assert_allclose(
        numpy_of(mha_weights).sum(axis=-1),
        1.0,
        rtol=1e-5,
        err_msg=no_longer("returns MultiHeadAttention's weights before dropout", where),
    )
    attention = keras.layers.Attention(dropout=0.5, seed=0)
    _, attention_weights = attention([inputs, inputs], return_attention_scores=True, training=True)
    row_sums = numpy_of(attention_weights).sum(axis=-1)
    assert not np.allclose(row_sums, 1.0, rtol=1e-3), no_longer("returns Attention's weights after dropout", where)
