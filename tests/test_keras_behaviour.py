"""What Keras 3.15 does that the notebooks teach as version-specific: the canary for a Keras upgrade.

Notebook 05 shows these behaviours and asserts them (section 10: `MultiHeadAttention`'s two code paths;
section 12: three quirks that look like bugs), and notebook 03 relies on `Attention`'s fully masked row.
They hold for the pinned Keras; `make test-latest` runs this file on the newest Keras. A failure here is
not a bug in attention_utils: it says that Keras changed, and which notebook section to rewrite.
"""

import keras
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


def multi_head_attention(**kwargs):
    # Random biases, as after training, so that an output equal to b^O is told apart from zero.
    return keras.layers.MultiHeadAttention(
        num_heads=2,
        key_dim=3,
        value_dim=5,
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


# Keras 3.15 quirks (notebook 05, section 12)


def test_mha_symbolic_weights_have_the_query_length_twice():
    layer = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3)
    _, weights = layer(keras.Input((3, D)), keras.Input((5, D)), return_attention_scores=True)
    assert tuple(weights.shape) == (None, 2, 3, 3), no_longer(
        f"gives the symbolic weights the shape (Tq, Tq) (now {tuple(weights.shape)} for Tq=3, Tv=5)",
        "notebook 05 section 12.1",
    )


def test_mha_takes_the_mask_off_an_input_it_shares_with_another_layer():
    # Notebook 05's model: Attention and MultiHeadAttention read the same embedded tensor, and
    # MultiHeadAttention runs first, so Attention finds no mask and attends to the padding.
    tokens = keras.Input((5,), dtype="int32")
    embedded = keras.layers.Embedding(10, D, mask_zero=True)(tokens)
    _, dot_weights = keras.layers.Attention()([embedded, embedded], return_attention_scores=True)
    _, mha_weights = keras.layers.MultiHeadAttention(2, 2)(embedded, embedded, return_attention_scores=True)
    dot_weights_in_both, _ = map(numpy_of, keras.Model(tokens, [dot_weights, mha_weights])(TOKEN_IDS))
    assert (dot_weights_in_both[0][:, PADDED[0]] > 0).all(), no_longer(
        "takes the mask off an input shared with another layer", "notebook 05 section 12.2"
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


def test_attention_gives_a_fully_masked_row_uniform_weights(rng):
    query, value = rng.normal(size=(2, 3, D)).astype("float32"), rng.normal(size=(2, 5, D)).astype("float32")
    nothing_to_attend = np.array([[False] * 5, [True] * 5])
    _, weights = keras.layers.Attention()([query, value], mask=[None, nothing_to_attend], return_attention_scores=True)
    np.testing.assert_allclose(
        numpy_of(weights)[0],
        1 / 5,
        atol=1e-6,
        err_msg=no_longer(
            "gives a fully masked row uniform weights in keras.layers.Attention",
            "notebook 03 section 4 and notebook 05 section 11",
        ),
    )
