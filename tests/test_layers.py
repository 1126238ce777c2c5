"""BahdanauAttention and LuongAttention against NumPy and Keras's own layers: shapes, masks, parity,
saving and loading, and bad input."""

import keras
import numpy as np
import pytest
from helpers import error_for_integer_argument, numpy_of, saved_and_loaded, softmax

from attention_utils.layers import BahdanauAttention, LuongAttention

ATOL = 1e-5


# Layers that accept queries and keys of different sizes, by name, so test ids read well.
ANY_SIZE_LAYERS = {
    "bahdanau": lambda: BahdanauAttention(units=7),
    "luong_general": lambda: LuongAttention("general"),
    "luong_concat": lambda: LuongAttention("concat", units=7),
    # The registry's names for Luong's "general" and "concat".
    "luong_bilinear": lambda: LuongAttention("bilinear"),
    "luong_additive": lambda: LuongAttention("additive", units=7),
}
ALL_LAYERS = {**ANY_SIZE_LAYERS, "luong_dot": lambda: LuongAttention("dot")}


@pytest.fixture
def query_value_key(rng):
    def draw(*shape):
        return rng.normal(size=shape).astype("float32")

    return draw(2, 3, 4), draw(2, 5, 6), draw(2, 5, 8)


@pytest.fixture
def query_value(rng):
    return rng.normal(size=(2, 3, 4)).astype("float32"), rng.normal(size=(2, 5, 4)).astype("float32")


@pytest.fixture
def value_mask():
    # Two sequences of 5 keys, padded after 3 and after 5.
    return np.array([[True, True, True, False, False], [True] * 5])


@pytest.mark.parametrize("make_layer", ANY_SIZE_LAYERS.values(), ids=ANY_SIZE_LAYERS.keys())
def test_shapes_with_query_value_and_key_of_different_sizes(make_layer, query_value_key):
    query, value, key = query_value_key
    context, weights = make_layer()([query, value, key], return_attention_scores=True)
    assert tuple(context.shape) == (2, 3, 6)
    assert tuple(weights.shape) == (2, 3, 5)
    np.testing.assert_allclose(numpy_of(weights).sum(-1), 1.0, atol=ATOL)


@pytest.mark.parametrize("make_layer", ALL_LAYERS.values(), ids=ALL_LAYERS.keys())
def test_symbolic_shapes_in_a_functional_model(make_layer):
    query, value = keras.Input((3, 4)), keras.Input((5, 4))
    context, weights = make_layer()([query, value], return_attention_scores=True)
    assert tuple(context.shape) == (None, 3, 4)
    assert tuple(weights.shape) == (None, 3, 5)


@pytest.mark.parametrize("make_layer", ALL_LAYERS.values(), ids=ALL_LAYERS.keys())
def test_key_defaults_to_value(make_layer, query_value):
    query, value = query_value
    layer = make_layer()
    np.testing.assert_allclose(numpy_of(layer([query, value])), numpy_of(layer([query, value, value])), atol=ATOL)


@pytest.mark.parametrize("make_layer", ALL_LAYERS.values(), ids=ALL_LAYERS.keys())
def test_masked_key_gets_zero_weight(make_layer, query_value, value_mask):
    query, value = query_value
    _, weights = make_layer()([query, value], mask=[None, value_mask], return_attention_scores=True)
    weights = numpy_of(weights)
    assert (weights[0, :, 3:] == 0).all()
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=ATOL)


@pytest.mark.parametrize("make_layer", ALL_LAYERS.values(), ids=ALL_LAYERS.keys())
def test_fully_masked_row_gets_zero_weights_and_zero_output_not_nan(make_layer, query_value):
    query, value = query_value
    nothing_to_attend = np.array([[False] * 5, [True] * 5])
    context, weights = make_layer()([query, value], mask=[None, nothing_to_attend], return_attention_scores=True)
    context, weights = numpy_of(context), numpy_of(weights)
    assert not np.isnan(context).any() and not np.isnan(weights).any()
    assert (weights[0] == 0).all() and (context[0] == 0).all()
    np.testing.assert_allclose(weights[1].sum(-1), 1.0, atol=ATOL)


@pytest.mark.parametrize("make_layer", ALL_LAYERS.values(), ids=ALL_LAYERS.keys())
def test_masked_query_gets_zero_output(make_layer, query_value):
    query, value = query_value
    query_mask = np.array([[True, True, False], [True, True, True]])
    context = numpy_of(make_layer()([query, value], mask=[query_mask, None]))
    assert (context[0, 2] == 0).all()
    assert (np.abs(context[0, :2]) > 0).any()


def test_key_mask_in_third_place_masks_keys_too(query_value, value_mask):
    query, value = query_value
    layer = LuongAttention("dot")
    from_value_mask = layer([query, value], mask=[None, value_mask], return_attention_scores=True)[1]
    from_key_mask = layer([query, value, value], mask=[None, None, value_mask], return_attention_scores=True)[1]
    np.testing.assert_array_equal(numpy_of(from_key_mask), numpy_of(from_value_mask))


def test_mask_from_embedding_is_carried_to_the_layer_and_its_output():
    tokens = keras.Input((5,), dtype="int32")
    embedded = keras.layers.Embedding(10, 4, mask_zero=True)(tokens)
    context, weights = LuongAttention("dot")([embedded, embedded], return_attention_scores=True)
    assert context._keras_mask is not None  # the query mask carried on
    model = keras.Model(tokens, weights)
    weights = numpy_of(model(np.array([[3, 4, 5, 0, 0]])))
    assert (weights[0, :, 3:] == 0).all()  # padded keys
    assert (weights[0, 3:] == 0).all()  # padded queries
    np.testing.assert_allclose(weights[0, :3].sum(-1), 1.0, atol=ATOL)


@pytest.mark.parametrize("masked", [False, True])
def test_luong_dot_equals_keras_attention(query_value, value_mask, masked):
    query, value = query_value
    mask = [None, value_mask] if masked else None
    ours = LuongAttention("dot")([query, value], mask=mask, return_attention_scores=True)
    theirs = keras.layers.Attention(score_mode="dot")([query, value], mask=mask, return_attention_scores=True)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(numpy_of(a), numpy_of(b), atol=ATOL)


@pytest.mark.parametrize("use_scale", [False, True])
def test_bahdanau_with_identity_projections_equals_keras_additive_attention(query_value, use_scale):
    query, value = query_value
    keras_layer = keras.layers.AdditiveAttention(use_scale=use_scale)
    theirs = keras_layer([query, value], return_attention_scores=True)
    layer = BahdanauAttention(units=4)
    layer.build([query.shape, value.shape])
    layer.w_query.assign(np.eye(4))
    layer.w_key.assign(np.eye(4))
    # Keras's learned `scale` vector is Bahdanau's v; without it, v is all ones.
    layer.v.assign(keras_layer.scale.numpy() if use_scale else np.ones(4))
    ours = layer([query, value], return_attention_scores=True)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(numpy_of(a), numpy_of(b), atol=ATOL)


def test_bahdanau_matches_numpy(query_value_key):
    query, value, key = query_value_key
    layer = BahdanauAttention(units=7)
    context, weights = layer([query, value, key], return_attention_scores=True)
    w_query, w_key, v = (w.numpy() for w in (layer.w_query, layer.w_key, layer.v))
    scores = np.empty((2, 3, 5))
    for b in range(2):
        for i in range(3):
            for j in range(5):  # Bahdanau et al. 2014: v_a^T tanh(W_a s + U_a h_j)
                scores[b, i, j] = v @ np.tanh(w_query.T @ query[b, i] + w_key.T @ key[b, j])
    np.testing.assert_allclose(numpy_of(weights), softmax(scores), atol=ATOL)
    np.testing.assert_allclose(numpy_of(context), softmax(scores) @ value, atol=ATOL)


def test_luong_general_matches_numpy(query_value_key):
    query, value, key = query_value_key
    layer = LuongAttention("general")
    context, weights = layer([query, value, key], return_attention_scores=True)
    w = layer.w.numpy()
    assert w.shape == (4, 8)
    scores = np.einsum("bqi,ij,bkj->bqk", query, w, key)  # Luong et al. 2015: h_t^T W_a h_s
    np.testing.assert_allclose(numpy_of(weights), softmax(scores), atol=ATOL)
    np.testing.assert_allclose(numpy_of(context), softmax(scores) @ value, atol=ATOL)


def test_luong_concat_is_v_tanh_of_w_times_the_concatenation(query_value_key):
    query, value, key = query_value_key
    layer = LuongAttention("concat", units=7)
    _, weights = layer([query, value, key], return_attention_scores=True)
    w_a = np.concatenate([layer.w_query.numpy(), layer.w_key.numpy()])  # (4 + 8, units)
    v = layer.v.numpy()
    scores = np.empty((2, 3, 5))
    for b in range(2):
        for i in range(3):
            for j in range(5):  # Luong et al. 2015: v_a^T tanh(W_a [h_t; h_s])
                scores[b, i, j] = v @ np.tanh(w_a.T @ np.concatenate([query[b, i], key[b, j]]))
    np.testing.assert_allclose(numpy_of(weights), softmax(scores), atol=ATOL)


def test_luong_concat_units_default_to_key_size(query_value_key):
    query, value, key = query_value_key
    layer = LuongAttention("concat")
    layer([query, value, key])
    assert tuple(layer.v.shape) == (8,)


# Keras's saver turns variables into arrays with np.array(), which NumPy 2 warns about; not ours to fix.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
@pytest.mark.parametrize("make_layer", ALL_LAYERS.values(), ids=ALL_LAYERS.keys())
def test_model_saves_to_keras_file_and_loads_back_with_identical_outputs(make_layer, tmp_path, rng):
    query, value = keras.Input((3, 4), name="query"), keras.Input((5, 4), name="value")
    context, weights = make_layer()([query, value], return_attention_scores=True)
    model = keras.Model([query, value], [context, weights])
    loaded = saved_and_loaded(model, tmp_path)
    inputs = [rng.normal(size=(2, 3, 4)).astype("float32"), rng.normal(size=(2, 5, 4)).astype("float32")]
    for a, b in zip(model(inputs), loaded(inputs)):
        np.testing.assert_array_equal(numpy_of(a), numpy_of(b))


@pytest.mark.parametrize("make_layer", ALL_LAYERS.values(), ids=ALL_LAYERS.keys())
def test_config_round_trip(make_layer):
    layer = make_layer()
    clone = layer.__class__.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_return_attention_scores_is_a_call_argument_not_a_constructor_argument():
    with pytest.raises(ValueError, match="return_attention_scores"):
        LuongAttention(return_attention_scores=True)


@pytest.mark.parametrize("units", [0, -3, 2.5, True, "8"])
def test_bad_units_names_the_argument(units):
    with pytest.raises(error_for_integer_argument(units), match="argument units"):
        BahdanauAttention(units=units)
    with pytest.raises(error_for_integer_argument(units), match="argument units"):
        LuongAttention("concat", units=units)


# (Before the score registry, "bilinear" was refused here: it is now the registry's name for "general".)
@pytest.mark.parametrize("score_mode", ["cosine", "scaled_dot", "gaussian", "location", None])
def test_unknown_score_mode_names_the_argument(score_mode):
    with pytest.raises(
        (ValueError, TypeError),
        match=r"argument score_mode\. Expected one of \['additive', "
        r"'bilinear', 'concat', 'dot', 'general'\]\. Received",
    ):
        LuongAttention(score_mode)


@pytest.mark.parametrize("paper_name, registry_name", [("general", "bilinear"), ("concat", "additive")])
def test_paper_and_registry_names_are_the_same_score(paper_name, registry_name, query_value_key):
    query, value, key = query_value_key
    outputs, weight_names = [], []
    for score_mode in (paper_name, registry_name):
        keras.utils.set_random_seed(0)
        layer = LuongAttention(score_mode)
        outputs.append([numpy_of(x) for x in layer([query, value, key], return_attention_scores=True)])
        weight_names.append([weight.path.split("/")[-1] for weight in layer.weights])
        assert layer.get_config()["score_mode"] == score_mode  # kept as given
    assert weight_names[0] == weight_names[1]  # so weights saved under either name load under the other
    for a, b in zip(*outputs):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("score_mode", ["general", "concat"])
def test_config_saved_with_the_papers_names_still_loads(score_mode):
    config = {"name": "luong", "trainable": True, "dtype": "float32", "score_mode": score_mode, "units": None}
    layer = LuongAttention.from_config(config)
    assert layer.score_mode == score_mode and layer.get_config()["score_mode"] == score_mode


def test_every_query_value_layer_has_one_call_and_overrides_steps():
    from attention_utils.layers import HardAttention, LocalAttention
    from attention_utils.layers._base import BaseAttention

    for layer_class in (BahdanauAttention, LuongAttention, HardAttention, LocalAttention):
        assert layer_class.call is BaseAttention.call
    assert all("_calculate_scores" in vars(layer_class) for layer_class in (BahdanauAttention, LuongAttention))
    assert "_apply_scores" in vars(HardAttention) and "_calculate_score_mask" not in vars(HardAttention)
    assert {"_calculate_score_mask", "_calculate_scores", "_apply_scores"} <= set(vars(LocalAttention))


@pytest.mark.parametrize("score_mode", ["dot", "general", "bilinear"])
def test_units_without_concat_is_rejected(score_mode):
    with pytest.raises(ValueError, match="argument units"):
        LuongAttention(score_mode, units=8)


@pytest.mark.parametrize("inputs", ["one_tensor", "one_element", "four_elements"])
def test_inputs_must_be_query_value_and_optional_key(inputs, query_value):
    query, value = query_value
    inputs = {"one_tensor": query, "one_element": [query], "four_elements": [query, value, value, value]}[inputs]
    with pytest.raises(ValueError, match=r"argument inputs.*\[query, value\] or \[query, value, key\]"):
        LuongAttention("dot")(inputs)


def test_one_value_per_key(query_value, rng):
    query, value = query_value
    with pytest.raises(ValueError, match=r"key and value.*Received: key.shape=\(2, 6, 4\)"):
        LuongAttention("dot")([query, value, rng.normal(size=(2, 6, 4))])


def test_dot_needs_queries_and_keys_of_the_same_size(query_value_key):
    query, value, key = query_value_key
    with pytest.raises(ValueError, match=r"query and key.*query.shape=\(2, 3, 4\), key.shape=\(2, 5, 8\)"):
        LuongAttention("dot")([query, value, key])


def test_rank_is_checked(rng):
    with pytest.raises(ValueError, match=r"argument query.*rank 3"):
        BahdanauAttention(4)([rng.normal(size=(3, 4)), rng.normal(size=(2, 5, 4))])


def test_mask_must_be_a_list(query_value, value_mask):
    query, value = query_value
    with pytest.raises(ValueError, match=r"argument mask.*\[query_mask, value_mask\]"):
        LuongAttention("dot")([query, value], mask=value_mask)
