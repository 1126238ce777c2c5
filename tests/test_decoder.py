"""BahdanauDecoder against the paper's equations in NumPy; greedy_decode against step-by-step decoding."""

import keras
import numpy as np
import pytest
from helpers import error_for_integer_argument, saved_and_loaded
from keras import ops

from attention_utils.decoding import greedy_decode
from attention_utils.layers import BahdanauDecoder

BATCH, TY, TX, INPUT_DIM, ANNOTATION_DIM, UNITS = 3, 4, 6, 5, 7, 8


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


@pytest.fixture
def decoder_inputs(rng):
    inputs = rng.normal(size=(BATCH, TY, INPUT_DIM)).astype("float32")
    annotations = rng.normal(size=(BATCH, TX, ANNOTATION_DIM)).astype("float32")
    initial_state = rng.normal(size=(BATCH, UNITS)).astype("float32")
    mask = np.ones((BATCH, TX), dtype=bool)
    mask[0, 4:] = False  # the first sequence has two padded positions
    return inputs, annotations, initial_state, mask


def numpy_decoder(decoder, inputs, annotations, initial_state, mask):
    """Bahdanau et al. 2014, section 3.1 and appendix A, written out with the layer's weights."""
    w_query, w_key, v = (
        ops.convert_to_numpy(w) for w in (decoder.attention.w_query, decoder.attention.w_key, decoder.attention.v)
    )
    kernel, recurrent_kernel, bias = (ops.convert_to_numpy(w) for w in decoder.cell.weights)
    z_kernel, r_kernel, h_kernel = np.split(kernel, 3, axis=-1)
    z_recurrent, r_recurrent, h_recurrent = np.split(recurrent_kernel, 3, axis=-1)
    z_bias, r_bias, h_bias = np.split(bias, 3)
    state, states, contexts, weights = initial_state, [], [], []
    for step in range(inputs.shape[1]):
        scores = np.tanh((state @ w_query)[:, None, :] + annotations @ w_key) @ v  # e_ij
        scores = np.where(mask, scores, -np.inf)
        alpha = np.exp(scores - scores.max(axis=-1, keepdims=True))
        alpha /= alpha.sum(axis=-1, keepdims=True)  # alpha_ij
        context = np.einsum("bj,bjd->bd", alpha, annotations)  # c_i
        x = np.concatenate([inputs[:, step], context], axis=-1)  # [E y_{i-1}; c_i]
        update = sigmoid(x @ z_kernel + state @ z_recurrent + z_bias)
        reset = sigmoid(x @ r_kernel + state @ r_recurrent + r_bias)
        candidate = np.tanh(x @ h_kernel + (reset * state) @ h_recurrent + h_bias)  # reset before U
        state = update * state + (1 - update) * candidate  # Keras's z is the paper's 1 - z
        states.append(state)
        contexts.append(context)
        weights.append(alpha)
    return np.stack(states, 1), np.stack(contexts, 1), np.stack(weights, 1)


def test_states_contexts_and_weights_follow_the_equations(decoder_inputs):
    inputs, annotations, initial_state, mask = decoder_inputs
    decoder = BahdanauDecoder(UNITS, attention_units=6)
    outputs = decoder(inputs, annotations, initial_state, annotations_mask=mask, return_attention_scores=True)
    expected = numpy_decoder(decoder, inputs, annotations, initial_state, mask)
    for output, reference in zip(outputs, expected):
        np.testing.assert_allclose(ops.convert_to_numpy(output), reference, atol=1e-5)


def test_keys_projected_once_give_what_the_attention_layer_gives_at_every_step(decoder_inputs):
    # The decoder projects U_a h_j once per sequence (appendix A.1.2); calling its BahdanauAttention at
    # each step, which projects the keys again every time, must give the same states, contexts, weights.
    inputs, annotations, initial_state, mask = decoder_inputs
    decoder = BahdanauDecoder(UNITS, attention_units=6)
    outputs = decoder(inputs, annotations, initial_state, annotations_mask=mask, return_attention_scores=True)
    state, expected = initial_state, ([], [], [])
    for step in range(TY):
        context, weights = decoder.attention(
            [ops.expand_dims(state, 1), annotations], mask=[None, mask], return_attention_scores=True
        )
        context = ops.squeeze(context, 1)
        state, _ = decoder.cell(ops.concatenate([inputs[:, step], context], axis=-1), [state])
        for collected, value in zip(expected, (state, context, ops.squeeze(weights, 1))):
            collected.append(ops.convert_to_numpy(value))
    for output, reference in zip(outputs, expected):
        np.testing.assert_allclose(ops.convert_to_numpy(output), np.stack(reference, axis=1), atol=1e-6)


def test_shapes_and_weights_sum_to_one_with_zero_on_padding(decoder_inputs):
    inputs, annotations, initial_state, mask = decoder_inputs
    states, contexts, weights = (
        ops.convert_to_numpy(x)
        for x in BahdanauDecoder(UNITS)(
            inputs, annotations, initial_state, annotations_mask=mask, return_attention_scores=True
        )
    )
    assert states.shape == (BATCH, TY, UNITS)
    assert contexts.shape == (BATCH, TY, ANNOTATION_DIM)
    assert weights.shape == (BATCH, TY, TX)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-5)
    assert np.all(weights[0, :, 4:] == 0)


def test_without_attention_scores_returns_states_and_contexts(decoder_inputs):
    inputs, annotations, initial_state, _ = decoder_inputs
    outputs = BahdanauDecoder(UNITS)(inputs, annotations, initial_state)
    assert len(outputs) == 2


def test_attention_units_default_to_units():
    decoder = BahdanauDecoder(UNITS)
    assert decoder.attention.units == UNITS


def functional_model(padded_source=True):
    """A small encoder-decoder whose annotations carry a mask from Embedding(mask_zero=True)."""
    source = keras.Input((TX,), dtype="int32")
    previous = keras.Input((TY,), dtype="int32")
    annotations = keras.layers.Bidirectional(keras.layers.GRU(4, return_sequences=True))(
        keras.layers.Embedding(10, 5, mask_zero=padded_source)(source)
    )
    initial_state = keras.layers.Dense(UNITS, activation="tanh")(keras.layers.GlobalAveragePooling1D()(annotations))
    embedded = keras.layers.Embedding(6, 5)(previous)
    states, contexts, weights = BahdanauDecoder(UNITS, name="decoder")(
        embedded, annotations, initial_state, return_attention_scores=True
    )
    logits = keras.layers.Dense(6)(keras.layers.Concatenate()([states, contexts]))
    return keras.Model([source, previous], [logits, weights])


@pytest.fixture
def model_inputs(rng):
    source = rng.integers(1, 10, size=(BATCH, TX)).astype("int32")
    source[1, 3:] = 0  # padding
    previous = rng.integers(0, 6, size=(BATCH, TY)).astype("int32")
    return source, previous


def test_mask_from_embedding_reaches_the_attention(model_inputs):
    _, weights = functional_model()(list(model_inputs))
    weights = ops.convert_to_numpy(weights)
    assert np.all(weights[1, :, 3:] == 0) and np.all(weights[1, :, :3] > 0)


def test_model_saves_to_keras_file_and_loads_back_with_identical_outputs(tmp_path, model_inputs):
    model = functional_model()
    loaded = saved_and_loaded(model, tmp_path)
    assert isinstance(loaded.get_layer("decoder"), BahdanauDecoder)
    for output, reloaded in zip(model(list(model_inputs)), loaded(list(model_inputs))):
        np.testing.assert_array_equal(ops.convert_to_numpy(output), ops.convert_to_numpy(reloaded))


def test_config_round_trip():
    decoder = BahdanauDecoder(UNITS, attention_units=5, name="decoder")
    config = decoder.get_config()
    assert config["units"] == UNITS and config["attention_units"] == 5
    assert BahdanauDecoder.from_config(config).get_config() == config


@pytest.mark.parametrize(
    "kwargs, argument",
    [({"units": 0}, "units"), ({"units": 2.5}, "units"), ({"units": 4, "attention_units": True}, "attention_units")],
)
def test_bad_sizes_name_the_argument(kwargs, argument):
    with pytest.raises(error_for_integer_argument(kwargs[argument]), match=f"argument {argument}"):
        BahdanauDecoder(**kwargs)


def test_initial_state_must_have_units_features(decoder_inputs):
    inputs, annotations, initial_state, _ = decoder_inputs
    with pytest.raises(ValueError, match="argument initial_state"):
        BahdanauDecoder(UNITS + 1)(inputs, annotations, initial_state)


def test_ranks_are_checked(decoder_inputs):
    inputs, annotations, initial_state, _ = decoder_inputs
    with pytest.raises(ValueError, match="argument annotations"):
        BahdanauDecoder(UNITS)(inputs, annotations[0], initial_state)
    with pytest.raises(ValueError, match="argument inputs"):
        BahdanauDecoder(UNITS)(inputs[:, 0], annotations, initial_state)


def test_unknown_number_of_steps_is_rejected():
    inputs = keras.Input((None, INPUT_DIM))
    annotations, initial_state = keras.Input((TX, ANNOTATION_DIM)), keras.Input((UNITS,))
    with pytest.raises(ValueError, match="argument inputs"):
        BahdanauDecoder(UNITS)(inputs, annotations, initial_state)


@pytest.fixture
def causal_model():
    """A GRU decoder over previous tokens of any length, started from an encoding of the source."""
    keras.utils.set_random_seed(0)
    source = keras.Input((TX,), dtype="int32")
    previous = keras.Input((None,), dtype="int32")
    initial_state = keras.layers.Dense(UNITS)(keras.layers.Flatten()(keras.layers.Embedding(10, 3)(source)))
    states = keras.layers.GRU(UNITS, return_sequences=True)(
        keras.layers.Embedding(6, 4)(previous), initial_state=initial_state
    )
    return keras.Model([source, previous], keras.layers.Dense(6)(states))


def test_greedy_decode_equals_decoding_one_step_at_a_time(causal_model, rng):
    source = rng.integers(0, 10, size=(5, TX)).astype("int32")
    prefix = np.full((5, 1), 1, dtype="int32")
    for _ in range(TY):  # reference: run on the prefix only and append the last step's argmax
        logits = ops.convert_to_numpy(causal_model([source, prefix]))
        prefix = np.concatenate([prefix, logits[:, -1].argmax(axis=-1)[:, None].astype("int32")], axis=1)
    decoded = greedy_decode(causal_model, source, TY, start_id=1)
    assert decoded.shape == (5, TY) and decoded.dtype == np.int32
    np.testing.assert_array_equal(decoded, prefix[:, 1:])


@pytest.mark.parametrize("target_length", [0, 2.0, True])
def test_greedy_decode_rejects_a_bad_length(causal_model, target_length):
    with pytest.raises(error_for_integer_argument(target_length), match="argument target_length"):
        greedy_decode(causal_model, np.zeros((2, TX), dtype="int32"), target_length)


def test_greedy_decode_checks_the_logits_shape(rng):
    source = keras.Input((TX,))
    previous = keras.Input((TY,))
    flat = keras.Model([source, previous], keras.layers.Dense(6)(source))  # (batch, 6): no steps
    with pytest.raises(ValueError, match="argument model"):
        greedy_decode(flat, rng.normal(size=(2, TX)), TY)
