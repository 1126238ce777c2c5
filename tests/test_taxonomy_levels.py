"""AttentionPooling (Yang et al. 2016), DynamicMetaEmbedding (Kiela et al. 2018), StructuredSelfAttention and
frobenius_penalty (Lin et al. 2017), and the key-sentence documents: against NumPy formulas, masks, saving
and loading, and bad input."""

import keras
import numpy as np
import pytest
from helpers import error_for_integer_argument, numpy_of, saved_and_loaded, softmax

from attention_utils.data import DOCUMENT_VOCABULARY, key_sentence_documents
from attention_utils.layers.hierarchical import AttentionPooling
from attention_utils.layers.meta_embeddings import DynamicMetaEmbedding
from attention_utils.layers.structured import StructuredSelfAttention, frobenius_penalty

ATOL = 1e-5


def draw(rng, *shape):
    return rng.normal(size=shape).astype("float32")


# Keras's saver turns variables into arrays with np.array(), which NumPy 2 warns about; not ours to fix.
save_warning = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


# AttentionPooling ------------------------------------------------------------------------------------


def test_pooling_matches_numpy(rng):
    annotations = draw(rng, 2, 6, 4)
    layer = AttentionPooling(units=5)
    pooled, weights = layer(annotations, return_attention_scores=True)
    kernel, bias, context = (v.numpy() for v in (layer.kernel, layer.bias, layer.context_vector))
    scores = np.empty((2, 6))
    for b in range(2):
        for t in range(6):  # Yang et al. 2016: u_t = tanh(W h_t + b), score u_t^T u_w
            scores[b, t] = np.tanh(annotations[b, t] @ kernel + bias) @ context
    expected_weights = softmax(scores)
    np.testing.assert_allclose(numpy_of(weights), expected_weights, atol=ATOL)
    np.testing.assert_allclose(numpy_of(pooled), np.einsum("bt,btd->bd", expected_weights, annotations), atol=ATOL)


def test_pooling_shapes_at_two_levels(rng):
    layer = AttentionPooling(units=3)
    pooled, weights = layer(draw(rng, 2, 4, 6, 5), return_attention_scores=True)
    assert tuple(pooled.shape) == (2, 4, 5) and tuple(weights.shape) == (2, 4, 6)
    np.testing.assert_allclose(numpy_of(weights).sum(-1), 1.0, atol=ATOL)
    pooled, weights = layer(pooled, return_attention_scores=True)  # the next level: sentences into a document
    assert tuple(pooled.shape) == (2, 5) and tuple(weights.shape) == (2, 4)


def test_pooling_over_sentences_equals_time_distributed(rng):
    layer = AttentionPooling(units=3)
    documents = draw(rng, 2, 4, 6, 5)
    np.testing.assert_allclose(
        numpy_of(layer(documents)), numpy_of(keras.layers.TimeDistributed(layer)(documents)), atol=ATOL
    )


def test_pooling_symbolic_shapes():
    annotations = keras.Input((4, 6, 5))
    pooled, weights = AttentionPooling(units=3)(annotations, return_attention_scores=True)
    assert tuple(pooled.shape) == (None, 4, 5) and tuple(weights.shape) == (None, 4, 6)


def test_padded_words_get_zero_weight_and_a_fully_padded_sentence_gives_zeros_not_nan(rng):
    annotations = draw(rng, 2, 3, 5, 4)
    mask = np.ones((2, 3, 5), dtype=bool)
    mask[0, 0, 3:] = False  # a sentence of 3 words
    mask[1, 2] = False  # a padding sentence
    layer = AttentionPooling(units=6)
    pooled, weights = layer(annotations, mask=mask, return_attention_scores=True)
    pooled, weights = numpy_of(pooled), numpy_of(weights)
    assert (weights[~mask] == 0).all()
    assert not np.isnan(pooled).any() and (pooled[1, 2] == 0).all()
    np.testing.assert_allclose(weights[mask.any(-1)].sum(-1), 1.0, atol=ATOL)
    # Masking equals dropping the padded words.
    np.testing.assert_allclose(pooled[0, 0], numpy_of(layer(annotations[:1, :1, :3]))[0, 0], atol=ATOL)


def test_pooling_carries_a_sentence_mask_from_embedding_masks_to_the_next_level():
    tokens = keras.Input((3, 4), dtype="int32")
    embedded = keras.layers.Embedding(10, 5, mask_zero=True)(tokens)  # mask (batch, sentences, words)
    sentences, word_weights = AttentionPooling(units=3)(embedded, return_attention_scores=True)
    assert tuple(sentences._keras_mask.shape) == (None, 3)
    _, sentence_weights = AttentionPooling(units=3)(sentences, return_attention_scores=True)
    model = keras.Model(tokens, [word_weights, sentence_weights])
    document = np.array([[[1, 2, 0, 0], [3, 4, 5, 6], [0, 0, 0, 0]]])
    word_weights, sentence_weights = (numpy_of(x) for x in model(document))
    assert (word_weights[document == 0] == 0).all()
    assert sentence_weights[0, 2] == 0 and sentence_weights[0, :2].min() > 0
    np.testing.assert_allclose(sentence_weights.sum(-1), 1.0, atol=ATOL)


def test_pooling_of_a_rank_3_input_carries_no_mask():
    tokens = keras.Input((4,), dtype="int32")
    pooled = AttentionPooling(units=3)(keras.layers.Embedding(10, 5, mask_zero=True)(tokens))
    assert getattr(pooled, "_keras_mask", None) is None


@pytest.mark.parametrize("units", [0, -1, 2.5, True, "4"])
def test_pooling_bad_units_names_the_argument(units):
    with pytest.raises(error_for_integer_argument(units), match="argument units"):
        AttentionPooling(units=units)


def test_pooling_needs_rank_3(rng):
    with pytest.raises(ValueError, match=r"argument inputs.*at least 3.*Received: inputs.shape=\(6, 4\)"):
        AttentionPooling(units=3)(draw(rng, 6, 4))


def test_pooling_mask_must_have_one_entry_per_position(rng):
    with pytest.raises(ValueError, match=r"argument mask.*Received: mask.shape=\(2, 5\)"):
        AttentionPooling(units=3)(draw(rng, 2, 6, 4), mask=np.ones((2, 5), dtype=bool))


# DynamicMetaEmbedding --------------------------------------------------------------------------------


def test_meta_embedding_matches_numpy(rng):
    first, second, third = draw(rng, 2, 5, 3), draw(rng, 2, 5, 7), draw(rng, 2, 5, 4)
    layer = DynamicMetaEmbedding(units=6)
    meta, weights = layer([first, second, third], return_attention_scores=True)
    projected = np.stack(  # Kiela et al. 2018: w'_ij = P_i w_ij + b_i
        [
            x @ p.numpy() + b.numpy()
            for x, p, b in zip((first, second, third), layer.projections, layer.projection_biases)
        ],
        axis=-2,
    )
    expected_weights = softmax(projected @ layer.attention_vector.numpy())  # softmax_i(a^T w'_ij)
    np.testing.assert_allclose(numpy_of(weights), expected_weights, atol=ATOL)
    np.testing.assert_allclose(numpy_of(meta), (expected_weights[..., None] * projected).sum(-2), atol=ATOL)


def test_meta_embedding_shapes_and_weights_over_the_embeddings(rng):
    meta, weights = DynamicMetaEmbedding(units=6)(
        [draw(rng, 2, 5, 3), draw(rng, 2, 5, 7)], return_attention_scores=True
    )
    assert tuple(meta.shape) == (2, 5, 6) and tuple(weights.shape) == (2, 5, 2)
    np.testing.assert_allclose(numpy_of(weights).sum(-1), 1.0, atol=ATOL)
    inputs = [keras.Input((None, 3)), keras.Input((None, 7))]
    meta, weights = DynamicMetaEmbedding(units=6)(inputs, return_attention_scores=True)
    assert tuple(meta.shape) == (None, None, 6) and tuple(weights.shape) == (None, None, 2)


def test_identical_embeddings_with_identical_projections_get_equal_weights(rng):
    embedding = draw(rng, 1, 4, 3)
    layer = DynamicMetaEmbedding(units=5)
    layer([embedding, embedding])
    layer.projections[1].assign(layer.projections[0].numpy())
    _, weights = layer([embedding, embedding], return_attention_scores=True)
    np.testing.assert_allclose(numpy_of(weights), 0.5, atol=ATOL)


def test_meta_embedding_carries_the_token_mask():
    tokens = keras.Input((4,), dtype="int32")
    first = keras.layers.Embedding(10, 3, mask_zero=True)(tokens)
    second = keras.layers.Embedding(10, 5, mask_zero=True)(tokens)
    meta = DynamicMetaEmbedding(units=6)([first, second])
    assert tuple(meta._keras_mask.shape) == (None, 4)
    pooled = keras.layers.GlobalAveragePooling1D()(meta)  # uses the mask: padding left out of the mean
    model = keras.Model(tokens, [meta, pooled])
    meta, pooled = (numpy_of(x) for x in model(np.array([[4, 7, 0, 0]])))
    np.testing.assert_allclose(pooled[0], meta[0, :2].mean(0), atol=ATOL)


@pytest.mark.parametrize("units", [0, -1, 2.5, True, "4"])
def test_meta_embedding_bad_units_names_the_argument(units):
    with pytest.raises(error_for_integer_argument(units), match="argument units"):
        DynamicMetaEmbedding(units=units)


@pytest.mark.parametrize("inputs", ["one_tensor", "one_element"])
def test_meta_embedding_needs_a_list_of_at_least_two(inputs, rng):
    embedding = draw(rng, 2, 5, 3)
    inputs = {"one_tensor": embedding, "one_element": [embedding]}[inputs]
    with pytest.raises(ValueError, match=r"argument inputs.*at least two embeddings"):
        DynamicMetaEmbedding(units=4)(inputs)


def test_meta_embeddings_must_cover_the_same_tokens(rng):
    with pytest.raises(ValueError, match=r"inputs\[0\] and inputs\[1\].*same T tokens"):
        DynamicMetaEmbedding(units=4)([draw(rng, 2, 5, 3), draw(rng, 2, 6, 3)])


def test_meta_embedding_rank_is_checked(rng):
    with pytest.raises(ValueError, match=r"argument inputs\[1\].*rank 3"):
        DynamicMetaEmbedding(units=4)([draw(rng, 2, 5, 3), draw(rng, 5, 3)])


def test_meta_embedding_number_of_inputs_is_fixed_once_built(rng):
    layer = DynamicMetaEmbedding(units=4)
    layer([draw(rng, 2, 5, 3), draw(rng, 2, 5, 3)])
    with pytest.raises(ValueError, match=r"built for 2 embeddings. Received: 3"):
        layer([draw(rng, 2, 5, 3)] * 3)


# StructuredSelfAttention and frobenius_penalty -------------------------------------------------------


def numpy_penalty(attention):
    gram = attention @ np.swapaxes(attention, -1, -2)
    return ((gram - np.eye(attention.shape[-2])) ** 2).sum(axis=(-2, -1)).mean()


def test_structured_matches_numpy(rng):
    hidden = draw(rng, 2, 7, 4)
    layer = StructuredSelfAttention(units=5, num_hops=3)
    embedding, attention = layer(hidden, return_attention_scores=True)
    w_s1, w_s2 = layer.w_s1.numpy().T, layer.w_s2.numpy().T  # (d_a, d) and (r, d_a), as in the paper
    expected = np.stack([softmax(w_s2 @ np.tanh(w_s1 @ h.T)) for h in hidden])  # Lin et al. 2017
    np.testing.assert_allclose(numpy_of(attention), expected, atol=ATOL)
    np.testing.assert_allclose(numpy_of(embedding), expected @ hidden, atol=ATOL)  # M = A H
    assert tuple(embedding.shape) == (2, 3, 4) and tuple(attention.shape) == (2, 3, 7)


def test_structured_symbolic_shapes_and_no_output_mask():
    tokens = keras.Input((7,), dtype="int32")
    hidden = keras.layers.Embedding(10, 4, mask_zero=True)(tokens)
    embedding, attention = StructuredSelfAttention(units=5, num_hops=3)(hidden, return_attention_scores=True)
    assert tuple(embedding.shape) == (None, 3, 4) and tuple(attention.shape) == (None, 3, 7)
    assert getattr(embedding, "_keras_mask", None) is None


def test_masked_positions_get_zero_weight_in_every_hop(rng):
    mask = np.array([[True] * 4 + [False] * 3, [True] * 7])
    _, attention = StructuredSelfAttention(units=5, num_hops=3)(
        draw(rng, 2, 7, 4), mask=mask, return_attention_scores=True
    )
    attention = numpy_of(attention)
    assert (attention[0, :, 4:] == 0).all()
    np.testing.assert_allclose(attention.sum(-1), 1.0, atol=ATOL)


def test_embedding_mask_reaches_the_layer():
    tokens = keras.Input((5,), dtype="int32")
    hidden = keras.layers.Embedding(10, 4, mask_zero=True)(tokens)
    _, attention = StructuredSelfAttention(units=5, num_hops=2)(hidden, return_attention_scores=True)
    attention = numpy_of(keras.Model(tokens, attention)(np.array([[3, 1, 4, 0, 0]])))
    assert (attention[0, :, 3:] == 0).all()


def test_penalty_matches_numpy(rng):
    attention = softmax(rng.normal(size=(3, 4, 6)))
    np.testing.assert_allclose(float(frobenius_penalty(attention)), numpy_penalty(attention), rtol=1e-5)
    np.testing.assert_allclose(float(frobenius_penalty(attention[0])), numpy_penalty(attention[0]), rtol=1e-5)


def test_penalty_is_zero_for_one_hot_hops_on_different_positions_and_large_for_collapsed_ones():
    assert float(frobenius_penalty(np.eye(3, 6))) == 0.0
    collapsed = np.zeros((3, 6))
    collapsed[:, 1] = 1
    assert float(frobenius_penalty(collapsed)) == 6.0  # r(r - 1) off-diagonal ones


def test_layer_adds_the_penalty_times_its_coefficient_as_a_loss(rng):
    layer = StructuredSelfAttention(units=5, num_hops=3, penalty_coefficient=0.3)
    _, attention = layer(draw(rng, 2, 7, 4), return_attention_scores=True)
    assert len(layer.losses) == 1
    np.testing.assert_allclose(float(layer.losses[0]), 0.3 * numpy_penalty(numpy_of(attention)), rtol=1e-5)
    no_penalty = StructuredSelfAttention(units=5, num_hops=3, penalty_coefficient=0)
    no_penalty(draw(rng, 2, 7, 4))
    assert no_penalty.losses == []


def test_the_penalty_is_part_of_the_training_loss(rng):
    hidden = keras.Input((7, 4))
    embedding, attention = StructuredSelfAttention(units=5, num_hops=3, penalty_coefficient=2.0)(
        hidden, return_attention_scores=True
    )
    output = keras.layers.Flatten()(embedding)
    model = keras.Model(hidden, output)
    model.compile(loss="mse")
    x, y = draw(rng, 4, 7, 4), draw(rng, 4, 12)
    outputs, weights = (numpy_of(v) for v in keras.Model(hidden, [output, attention])(x))
    expected = np.mean((outputs - y) ** 2) + 2.0 * numpy_penalty(weights)
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=4, verbose=0), expected, rtol=1e-4)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("units", {"units": 0}),
        ("units", {"units": 2.5}),
        ("num_hops", {"num_hops": 0}),
        ("num_hops", {"num_hops": True}),
        ("penalty_coefficient", {"penalty_coefficient": -1.0}),
        ("penalty_coefficient", {"penalty_coefficient": float("nan")}),
        ("penalty_coefficient", {"penalty_coefficient": "1"}),
    ],
)
def test_structured_bad_arguments_name_the_argument(name, kwargs):
    arguments = {"units": 5, "num_hops": 3, **kwargs}
    if name in ("units", "num_hops"):
        error = error_for_integer_argument(kwargs[name])
    else:
        error = TypeError if isinstance(kwargs[name], str) else ValueError
    with pytest.raises(error, match=f"argument {name}"):
        StructuredSelfAttention(**arguments)


def test_structured_accepts_a_numpy_penalty_coefficient(rng):
    layer = StructuredSelfAttention(units=5, num_hops=3, penalty_coefficient=np.float32(0.5))
    assert layer.penalty_coefficient == 0.5 and type(layer.penalty_coefficient) is float


def test_structured_needs_rank_3(rng):
    with pytest.raises(ValueError, match=r"argument inputs.*rank 3"):
        StructuredSelfAttention(units=5, num_hops=3)(draw(rng, 7, 4))


def test_structured_mask_must_have_one_entry_per_position(rng):
    with pytest.raises(ValueError, match=r"mask and inputs.*Received: mask.shape=\(2, 6\)"):
        StructuredSelfAttention(units=5, num_hops=3)(draw(rng, 2, 7, 4), mask=np.ones((2, 6), dtype=bool))


def test_penalty_bad_input_names_the_argument():
    with pytest.raises(ValueError, match=r"argument attention.*at least 2"):
        frobenius_penalty(np.ones(4))
    with pytest.raises(TypeError, match="argument attention"):
        frobenius_penalty([["a", "b"]])


# Configuration and saving, all three layers ----------------------------------------------------------

LAYERS = {
    "pooling": lambda: AttentionPooling(units=3),
    "meta_embedding": lambda: DynamicMetaEmbedding(units=3),
    "structured": lambda: StructuredSelfAttention(units=3, num_hops=2, penalty_coefficient=0.5),
}


@pytest.mark.parametrize("make_layer", LAYERS.values(), ids=LAYERS.keys())
def test_config_round_trip(make_layer):
    layer = make_layer()
    clone = layer.__class__.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def model_with(name):
    tokens = keras.Input((3, 4), dtype="int32") if name == "pooling" else keras.Input((4,), dtype="int32")
    embedded = keras.layers.Embedding(10, 5, mask_zero=True)(tokens)
    if name == "meta_embedding":
        second = keras.layers.Embedding(10, 2, mask_zero=True)(tokens)
        outputs = DynamicMetaEmbedding(units=3)([embedded, second], return_attention_scores=True)
    else:
        outputs = LAYERS[name]()(embedded, return_attention_scores=True)
    return keras.Model(tokens, list(outputs)), (
        np.array([[[1, 2, 0, 0], [3, 0, 0, 0], [0, 0, 0, 0]]]) if name == "pooling" else np.array([[1, 2, 3, 0]])
    )


@save_warning
@pytest.mark.parametrize("name", LAYERS.keys())
def test_model_saves_to_keras_file_and_loads_back_with_identical_outputs(name, tmp_path):
    model, tokens = model_with(name)
    loaded = saved_and_loaded(model, tmp_path)
    for a, b in zip(model(tokens), loaded(tokens)):
        np.testing.assert_array_equal(numpy_of(a), numpy_of(b))


def test_return_attention_scores_is_a_call_argument_not_a_constructor_argument():
    with pytest.raises(ValueError, match="return_attention_scores"):
        AttentionPooling(units=3, return_attention_scores=True)


# key_sentence_documents ------------------------------------------------------------------------------

CUE = DOCUMENT_VOCABULARY.index("verdict")
POSITIVE = [DOCUMENT_VOCABULARY.index(word) for word in ("good", "great")]
NEGATIVE = [DOCUMENT_VOCABULARY.index(word) for word in ("bad", "awful")]


def test_documents_shapes_and_dtypes():
    data = key_sentence_documents(num_documents=30, max_sentences=5, max_words=7)
    assert data.tokens.shape == (30, 5, 7) and data.labels.shape == data.key_sentences.shape == (30,)
    assert data.tokens.dtype == data.labels.dtype == data.key_sentences.dtype == np.int32
    assert data.tokens.min() >= 0 and data.tokens.max() < len(DOCUMENT_VOCABULARY)


def test_label_is_the_sentiment_of_the_one_sentence_with_the_cue():
    data = key_sentence_documents(num_documents=200, seed=3)
    for document, label, key in zip(data.tokens, data.labels, data.key_sentences):
        real = document[(document != 0).any(-1)]
        assert [CUE in sentence for sentence in real] == [index == key for index in range(len(real))]
        for sentence in real:
            assert np.isin(sentence, POSITIVE + NEGATIVE).sum() == 1  # one sentiment word per sentence
            assert 3 <= (sentence != 0).sum() and (sentence[(sentence != 0).sum() :] == 0).all()
        assert label == np.isin(document[key], POSITIVE).any()


def test_padding_sentences_come_last_and_there_are_at_least_two_real_ones():
    data = key_sentence_documents(num_documents=200, seed=4)
    real = (data.tokens != 0).any(-1)
    counts = real.sum(-1)
    assert counts.min() >= 2 and counts.max() == 6
    assert (real == (np.arange(6) < counts[:, None])).all()


def test_other_sentences_say_nothing_about_the_label():
    data = key_sentence_documents(num_documents=2000, seed=5)
    positive = np.isin(data.tokens, POSITIVE).any(-1)
    others = (data.tokens != 0).any(-1)
    others[np.arange(2000), data.key_sentences] = False
    agreement = (positive[others] == np.repeat(data.labels, others.sum(-1))).mean()
    assert abs(agreement - 0.5) < 0.03
    assert abs(data.labels.mean() - 0.5) < 0.05


def test_documents_same_seed_same_documents():
    first, again, other = (key_sentence_documents(50, seed=seed) for seed in (7, 7, 8))
    np.testing.assert_array_equal(first.tokens, again.tokens)
    assert not np.array_equal(first.tokens, other.tokens)


@pytest.mark.parametrize(
    "name, value",
    [("num_documents", 0), ("max_sentences", 1), ("max_words", 2), ("num_documents", 2.5), ("max_words", True)],
)
def test_documents_bad_arguments_name_the_argument(name, value):
    with pytest.raises(error_for_integer_argument(value), match=f"argument {name}"):
        key_sentence_documents(**{name: value})
