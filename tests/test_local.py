"""LocalAttention against a NumPy reference of Luong et al. (2015), eqs. 7, 9 and 10: windows, the
Gaussian, masks, the global limit, saving and bad input."""

import keras
import numpy as np
import pytest
from helpers import error_for_integer_argument, numpy_of, saved_and_loaded, weight_gradients
from keras import ops

from attention_utils.layers import LuongAttention
from attention_utils.layers.local import LocalAttention

ATOL = 1e-5
MODES = ("monotonic", "predictive")


def numpy_local_attention(query, value, w, window, centres, gaussian):
    """Luong's local attention for one sequence, by loops: general score, softmax over the window."""
    num_keys = len(value)
    weights = np.zeros((len(query), num_keys))
    for t, centre in enumerate(centres):
        anchor = int(np.round(centre))
        positions = [s for s in range(anchor - window, anchor + window + 1) if 0 <= s < num_keys]
        scores = np.array([query[t] @ w @ value[s] for s in positions])  # h_t^T W_a h_s
        align = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()  # eq. 7, over the window
        for s, a in zip(positions, align):
            sigma = window / 2
            weights[t, s] = a * np.exp(-((s - centre) ** 2) / (2 * sigma**2)) if gaussian else a  # eq. 10
    return weights, weights @ value


@pytest.fixture
def query_value(rng):
    return rng.normal(size=(2, 4, 3)).astype("float32"), rng.normal(size=(2, 9, 3)).astype("float32")


def test_monotonic_matches_numpy(query_value):
    query, value = query_value
    layer = LocalAttention(2, "monotonic")
    context, weights = layer([query, value], return_attention_scores=True)
    for b in range(2):
        expected_weights, expected_context = numpy_local_attention(
            query[b], value[b], layer.w.numpy(), 2, centres=range(4), gaussian=False
        )
        np.testing.assert_allclose(numpy_of(weights)[b], expected_weights, atol=ATOL)
        np.testing.assert_allclose(numpy_of(context)[b], expected_context, atol=ATOL)


def test_predictive_matches_numpy(query_value):
    query, value = query_value
    layer = LocalAttention(2, "predictive", position_units=5)
    context, weights = layer([query, value], return_attention_scores=True)
    w_p, v_p = layer.w_position.numpy(), layer.v_position.numpy()
    assert w_p.shape == (3, 5) and v_p.shape == (5,)
    for b in range(2):
        # Luong et al. 2015, eq. 9, positions counted from 0: p_t = (S - 1) sigmoid(v_p^T tanh(W_p h_t)).
        centres = (9 - 1) / (1 + np.exp(-(np.tanh(query[b] @ w_p) @ v_p)))
        expected_weights, expected_context = numpy_local_attention(
            query[b], value[b], layer.w.numpy(), 2, centres=centres, gaussian=True
        )
        np.testing.assert_allclose(numpy_of(weights)[b], expected_weights, atol=ATOL)
        np.testing.assert_allclose(numpy_of(context)[b], expected_context, atol=ATOL)


def test_predictive_gaussian_has_sigma_half_the_window():
    # Equal scores make the softmax uniform over the window, so the weights are the Gaussian over 2D + 1.
    query, value = np.zeros((1, 1, 2), "float32"), np.zeros((1, 11, 2), "float32")
    layer = LocalAttention(4, "predictive", score_mode="dot")
    layer.build([query.shape, value.shape])
    layer.v_position.assign(np.zeros_like(layer.v_position.numpy()))  # sigmoid(0) = 1/2: p_t = (11 - 1) / 2 = 5
    _, weights = layer([query, value], return_attention_scores=True)
    distance = np.arange(11) - 5.0
    expected = np.exp(-(distance**2) / (2 * 2.0**2)) / 9 * (np.abs(distance) <= 4)  # sigma = D / 2 = 2
    np.testing.assert_allclose(numpy_of(weights)[0, 0], expected, atol=1e-6)


def test_at_most_2d_plus_1_keys_get_weight(rng):
    query = rng.normal(size=(3, 12, 4)).astype("float32")
    value = rng.normal(size=(3, 20, 4)).astype("float32")
    for mode in MODES:
        _, weights = LocalAttention(3, mode)([query, value], return_attention_scores=True)
        assert ((numpy_of(weights) > 0).sum(-1) <= 7).all()


def test_monotonic_window_covering_everything_is_global_attention(query_value):
    query, value = query_value
    local = LocalAttention(window=9, mode="monotonic")
    local_context, local_weights = local([query, value], return_attention_scores=True)
    luong = LuongAttention("general")
    luong.build([query.shape, value.shape])
    luong.w.assign(local.w)
    context, weights = luong([query, value], return_attention_scores=True)
    np.testing.assert_allclose(numpy_of(local_weights), numpy_of(weights), atol=ATOL)
    np.testing.assert_allclose(numpy_of(local_context), numpy_of(context), atol=ATOL)


@pytest.mark.parametrize("score_mode", ["dot", "general", "concat", "bilinear", "additive"])
def test_every_score_mode_and_a_separate_key(score_mode, rng):
    query = rng.normal(size=(2, 4, 3)).astype("float32")
    value, key = rng.normal(size=(2, 6, 5)).astype("float32"), rng.normal(size=(2, 6, 3)).astype("float32")
    context, weights = LocalAttention(1, score_mode=score_mode)([query, value, key], return_attention_scores=True)
    assert tuple(context.shape) == (2, 4, 5) and tuple(weights.shape) == (2, 4, 6)
    np.testing.assert_allclose(numpy_of(weights).sum(-1), 1.0, atol=ATOL)


@pytest.mark.parametrize("mode", MODES)
def test_symbolic_shapes_in_a_functional_model(mode):
    query, value = keras.Input((4, 3)), keras.Input((9, 5))
    context, weights = LocalAttention(2, mode)([query, value], return_attention_scores=True)
    assert tuple(context.shape) == (None, 4, 5) and tuple(weights.shape) == (None, 4, 9)


@pytest.mark.parametrize("mode", MODES)
def test_masked_keys_get_zero_weight_and_masked_query_zero_output(mode, query_value):
    query, value = query_value
    value_mask = np.array([[True] * 5 + [False] * 4, [True] * 9])
    query_mask = np.array([[True, True, True, False], [True] * 4])
    context, weights = LocalAttention(2, mode)(
        [query, value], mask=[query_mask, value_mask], return_attention_scores=True
    )
    context, weights = numpy_of(context), numpy_of(weights)
    assert (weights[0, :, 5:] == 0).all()
    assert (weights[0, 3] == 0).all() and (context[0, 3] == 0).all()
    assert not np.isnan(context).any()


def test_predictive_positions_stay_inside_each_sequence(rng):
    # S is each sequence's own length: with 4 real keys, no query looks past position 3 + D.
    query = rng.normal(size=(2, 6, 3)).astype("float32") * 5
    value = rng.normal(size=(2, 10, 3)).astype("float32")
    value_mask = np.array([[True] * 4 + [False] * 6, [True] * 10])
    layer = LocalAttention(1, "predictive")
    _, weights = layer([query, value], mask=[None, value_mask], return_attention_scores=True)
    assert (numpy_of(weights)[0, :, 4:] == 0).all()
    assert (numpy_of(weights)[0].sum(-1) > 0).all()


def test_window_beyond_the_keys_gives_zero_weights_not_nan(rng):
    query = rng.normal(size=(1, 8, 3)).astype("float32")  # queries 6 and 7 are more than D past 3 keys
    value = rng.normal(size=(1, 3, 3)).astype("float32")
    context, weights = LocalAttention(2, "monotonic")([query, value], return_attention_scores=True)
    context, weights = numpy_of(context), numpy_of(weights)
    assert not np.isnan(weights).any() and (weights[0, 5:] == 0).all() and (context[0, 5:] == 0).all()


def test_predicted_position_is_learned_through_the_gaussian(query_value):
    query, value = query_value
    layer = LocalAttention(2, "predictive")
    layer([query, value])
    gradients = weight_gradients(lambda: ops.sum(layer([query, value]) ** 2), [layer.w_position, layer.v_position])
    assert all(np.abs(numpy_of(g)).sum() > 0 for g in gradients)


# Keras's saver turns variables into arrays with np.array(), which NumPy 2 warns about; not ours to fix.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
@pytest.mark.parametrize("mode", MODES)
def test_model_saves_to_keras_file_and_loads_back_with_identical_outputs(mode, tmp_path, query_value):
    inputs = [keras.Input((4, 3)), keras.Input((9, 3))]
    model = keras.Model(inputs, LocalAttention(2, mode, name="local")(inputs, return_attention_scores=True))
    loaded = saved_and_loaded(model, tmp_path)
    for a, b in zip(model(list(query_value)), loaded(list(query_value))):
        np.testing.assert_array_equal(numpy_of(a), numpy_of(b))


def test_config_round_trip():
    layer = LocalAttention(3, "predictive", score_mode="concat", units=4, position_units=6)
    clone = LocalAttention.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert (clone.window, clone.mode, clone.position_units) == (3, "predictive", 6)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"window": -1}, "window"),
        ({"window": 1.5}, "window"),
        ({"window": True}, "window"),
        ({"window": 0, "mode": "predictive"}, "window"),
        ({"window": 2, "mode": "gaussian"}, "mode"),
        ({"window": 2, "position_units": 4}, "position_units"),
        ({"window": 2, "mode": "predictive", "position_units": 0}, "position_units"),
        ({"window": 2, "score_mode": "scaled"}, "score_mode"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, argument):
    # A window that is not an integer (1.5, True) is a TypeError, like every other wrong type.
    error = error_for_integer_argument(kwargs["window"]) if argument == "window" else ValueError
    with pytest.raises(error, match=f"argument {argument}"):
        LocalAttention(**kwargs)


def test_a_numpy_integer_window_is_an_integer(query_value):
    layer = LocalAttention(np.int64(1))
    assert layer.window == 1 and type(layer.window) is int
    query, value = query_value
    reference = LocalAttention(1)
    reference([query, value])
    layer([query, value])
    layer.set_weights(reference.get_weights())
    np.testing.assert_array_equal(numpy_of(layer([query, value])), numpy_of(reference([query, value])))


def test_bad_inputs_name_the_argument(query_value):
    query, value = query_value
    with pytest.raises(ValueError, match="argument inputs"):
        LocalAttention(1)(query)
    with pytest.raises(ValueError, match="argument query"):
        LocalAttention(1)([query[0], value])


@pytest.mark.parametrize("mode", MODES)
def test_the_score_mask_is_the_window_and_call_is_the_base_layers(mode, query_value):
    from attention_utils.layers._base import BaseAttention
    from attention_utils.layers.local import Window

    assert LocalAttention.call is BaseAttention.call and "call" not in vars(LocalAttention)
    query, value = query_value
    layer = LocalAttention(1, mode)
    layer.build([query.shape, value.shape])
    window = layer._calculate_score_mask(ops.convert_to_tensor(query), ops.convert_to_tensor(value), None, None)
    assert isinstance(window, Window)
    assert tuple(window.positions.shape) == tuple(window.mask.shape) == (2, 4, 3)
    if mode == "monotonic":  # p_t = t: the window of query t is t - 1 .. t + 1, clipped to [0, Tv)
        np.testing.assert_array_equal(numpy_of(window.positions)[0], np.arange(4)[:, None] + [-1, 0, 1])
        assert not numpy_of(window.mask)[0, 0, 0] and numpy_of(window.mask)[0, 1:].all()
    scores = layer._calculate_scores(query, value, window)
    assert tuple(scores.shape) == (2, 4, 3)  # each query against its own window only
    assert len(layer._apply_scores(scores, value, window)) == 1  # no spread weights unless asked for
