"""ParallelCoAttention against a NumPy reference of Lu et al. (2016), section 3.3: the affinity matrix,
attention in both directions, masks, saving and bad input; and the shared_symbol_pairs generator."""

import keras
import numpy as np
import pytest
from helpers import error_for_integer_argument, numpy_of, saved_and_loaded, softmax

from attention_utils.data import shared_symbol_pairs
from attention_utils.layers.coattention import ParallelCoAttention

ATOL = 1e-5


def numpy_coattention(layer, question, image):
    """Lu et al. (2016), section 3.3, in the paper's layout: features in columns, Q is d x T, V is d x N."""
    w_b, w_q, w_v, w_hq, w_hv = (w.numpy() for w in (layer.w_b, layer.w_q, layer.w_v, layer.w_hq, layer.w_hv))
    outputs = []
    for q_rows, v_rows in zip(question, image):
        Q, V = q_rows.T, v_rows.T
        C = np.tanh(Q.T @ w_b @ V)  # (T, N)
        H_v = np.tanh(w_v.T @ V + (w_q.T @ Q) @ C)  # (k, N)
        H_q = np.tanh(w_q.T @ Q + (w_v.T @ V) @ C.T)  # (k, T)
        a_v, a_q = softmax(w_hv @ H_v), softmax(w_hq @ H_q)
        outputs.append((Q @ a_q, V @ a_v, a_q, a_v, C))
    return [np.stack(x) for x in zip(*outputs)]


@pytest.fixture
def question_image(rng):
    return rng.normal(size=(2, 4, 3)).astype("float32"), rng.normal(size=(2, 6, 5)).astype("float32")


def test_affinity_matrix_matches_numpy(question_image):
    question, image = question_image
    layer = ParallelCoAttention(7)
    layer([question, image])
    affinity = numpy_of(layer.affinity(question, image))
    assert affinity.shape == (2, 4, 6)
    np.testing.assert_allclose(affinity, numpy_coattention(layer, question, image)[4], atol=ATOL)


def test_outputs_and_weights_in_both_directions_match_numpy(question_image):
    question, image = question_image
    layer = ParallelCoAttention(7)
    outputs = layer([question, image], return_attention_scores=True)
    expected = numpy_coattention(layer, question, image)[:4]
    for name, a, b in zip(("q_hat", "v_hat", "a_q", "a_v"), outputs, expected):
        np.testing.assert_allclose(numpy_of(a), b, atol=ATOL, err_msg=name)
    assert [tuple(x.shape) for x in outputs] == [(2, 3), (2, 5), (2, 4), (2, 6)]


def test_symbolic_shapes_in_a_functional_model():
    outputs = ParallelCoAttention(8)([keras.Input((4, 3)), keras.Input((6, 5))], return_attention_scores=True)
    assert [tuple(x.shape) for x in outputs] == [(None, 3), (None, 5), (None, 4), (None, 6)]


def test_padding_gets_zero_weight_and_does_not_change_the_result(question_image, rng):
    question, image = question_image
    question_mask = np.array([[True, True, True, False], [True] * 4])
    image_mask = np.array([[True] * 6, [True] * 4 + [False] * 2])
    layer = ParallelCoAttention(7)
    outputs = [
        numpy_of(x) for x in layer([question, image], mask=[question_mask, image_mask], return_attention_scores=True)
    ]
    assert outputs[2][0, 3] == 0 and (outputs[3][1, 4:] == 0).all()
    np.testing.assert_allclose(outputs[2].sum(-1), 1.0, atol=ATOL)
    # Other content in the padded positions changes nothing.
    question[0, 3], image[1, 4:] = rng.normal(size=3) * 10, rng.normal(size=(2, 5)) * 10
    again = layer([question, image], mask=[question_mask, image_mask], return_attention_scores=True)
    for a, b in zip(outputs, again):
        np.testing.assert_allclose(a, numpy_of(b), atol=ATOL)
    # And the unpadded sequences, cut to their length, give the same numbers.
    short = layer([question[:1, :3], image[:1]], return_attention_scores=True)
    for a, b in zip(outputs, short):
        b = numpy_of(b)
        np.testing.assert_allclose(a[:1, : b.shape[1]], b, atol=ATOL)


def test_fully_masked_sequence_gets_zero_weights_and_zero_vector_not_nan(question_image):
    question, image = question_image
    outputs = ParallelCoAttention(7)(
        [question, image], mask=[np.array([[False] * 4, [True] * 4]), None], return_attention_scores=True
    )
    q_hat, _, a_q, _ = (numpy_of(x) for x in outputs)
    assert not np.isnan(q_hat).any() and (a_q[0] == 0).all() and (q_hat[0] == 0).all()


def test_masks_from_embedding_are_carried_to_the_layer():
    words, regions = keras.Input((4,), dtype="int32"), keras.Input((5,), dtype="int32")
    embed = keras.layers.Embedding(10, 3, mask_zero=True)
    outputs = ParallelCoAttention(6)([embed(words), embed(regions)], return_attention_scores=True)
    model = keras.Model([words, regions], outputs[2:])
    a_q, a_v = (numpy_of(x) for x in model([np.array([[3, 4, 0, 0]]), np.array([[5, 6, 7, 0, 0]])]))
    assert (a_q[0, 2:] == 0).all() and (a_v[0, 3:] == 0).all()


# Keras's saver turns variables into arrays with np.array(), which NumPy 2 warns about; not ours to fix.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_model_saves_to_keras_file_and_loads_back_with_identical_outputs(tmp_path, question_image):
    inputs = [keras.Input((4, 3)), keras.Input((6, 5))]
    model = keras.Model(inputs, ParallelCoAttention(7)(inputs, return_attention_scores=True))
    loaded = saved_and_loaded(model, tmp_path)
    for a, b in zip(model(list(question_image)), loaded(list(question_image))):
        np.testing.assert_array_equal(numpy_of(a), numpy_of(b))


def test_config_round_trip():
    layer = ParallelCoAttention(9, name="co")
    clone = ParallelCoAttention.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config() and clone.units == 9


@pytest.mark.parametrize("units", [0, -2, 3.5, True, "8"])
def test_bad_units_names_the_argument(units):
    with pytest.raises(error_for_integer_argument(units), match="argument units"):
        ParallelCoAttention(units)


def test_bad_inputs_name_the_argument(question_image):
    question, image = question_image
    layer = ParallelCoAttention(4)
    with pytest.raises(ValueError, match=r"argument inputs.*\[Q, V\]"):
        layer(question)
    with pytest.raises(ValueError, match=r"argument inputs.*\[Q, V\]"):
        layer([question, image, image])
    with pytest.raises(ValueError, match="argument Q.*rank 3"):
        layer([question[0], image])
    with pytest.raises(
        ValueError,
        match=r"argument mask\. ParallelCoAttention expects a list \[q_mask, v_mask\] "
        r"of boolean tensors \(True means attend\)\. Received: mask=a tensor",
    ):
        layer([question, image], mask=np.ones((2, 4), bool))
    with pytest.raises(
        ValueError,
        match=r"argument inputs\. ParallelCoAttention expects a list \[Q, V\] of two "
        r"sequences\. Received: inputs=a tensor of shape \(2, 4, 5\)",
    ):
        layer.build((2, 4, 5))
    layer([question, image])
    with pytest.raises(ValueError, match=r"Q and w_b.*Received: Q.shape=\(2, 4, 5\)"):
        layer([image[:, :4], image])


def test_shared_symbol_pairs_share_exactly_the_label():
    data = shared_symbol_pairs(num_pairs=300, first_length=4, second_length=5, num_symbols=9, seed=2)
    rows = np.arange(300)
    assert data.first.shape == (300, 4) and data.second.shape == (300, 5) and data.labels.dtype == np.int32
    np.testing.assert_array_equal(data.first[rows, data.first_positions], data.labels)
    np.testing.assert_array_equal(data.second[rows, data.second_positions], data.labels)
    for first, second, label in zip(data.first.tolist(), data.second.tolist(), data.labels.tolist()):
        assert set(first) & set(second) == {label}
        assert len(set(first)) == 4 and len(set(second)) == 5


def test_shared_symbol_pairs_is_deterministic_and_positions_vary():
    first, again = shared_symbol_pairs(seed=5), shared_symbol_pairs(seed=5)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert len(np.unique(first.first_positions)) == 5 and len(np.unique(first.second_positions)) == 6


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"num_pairs": 0}, "num_pairs"),
        ({"first_length": 0}, "first_length"),
        ({"second_length": 2.0}, "second_length"),
        ({"first_length": 5, "second_length": 6, "num_symbols": 9}, "num_symbols"),
    ],
)
def test_shared_symbol_pairs_bad_arguments(kwargs, argument):
    with pytest.raises(error_for_integer_argument(kwargs[argument]), match=f"argument {argument}"):
        shared_symbol_pairs(**kwargs)
