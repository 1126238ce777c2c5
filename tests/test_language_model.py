"""TransformerLanguageModel and generation with and without a key-value cache: shapes, causality and the
cache for every kind of positions, the embeddings of the papers, parameter counts, training under
tf.function, saving and loading, greedy generation, the cache's size, the traced model (the tokens of the
eager one, one trace for every length), and bad input."""

import keras
import numpy as np
import pytest
from helpers import numpy_of, other_than_tensorflow, saved_and_loaded, tensorflow_only

from attention_utils.decoding import cache_bytes_per_token, generate, traced
from attention_utils.layers import TransformerDecoderBlock
from attention_utils.models import TransformerLanguageModel
from attention_utils.positional import sinusoidal_positional_encoding

ATOL = 1e-5
VOCABULARY, MAX_LENGTH = 11, 12
D_MODEL, HEADS, FF_DIM, LAYERS = 16, 4, 24, 2  # key_dim 4; no two sizes equal
B, T = 2, 7
POSITIONS = ["sinusoidal", "learned", "rotary", "alibi", "none"]


def language_model(positions="sinusoidal", **kwargs):
    sizes = {"d_model": D_MODEL, "num_heads": HEADS, "ff_dim": FF_DIM, "num_layers": LAYERS}
    return TransformerLanguageModel(VOCABULARY, MAX_LENGTH, positions=positions, **sizes, **kwargs)


@pytest.fixture
def tokens(rng):
    return rng.integers(0, VOCABULARY, size=(B, T)).astype("int32")


@pytest.fixture(scope="module")
def trained_model():
    """A model trained for one epoch by fit (a traced tf.function) on random next-token data."""
    keras.utils.set_random_seed(0)
    model = language_model("learned", num_key_value_heads=2, norm_first=True, dropout=0.1)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    sequences = np.random.default_rng(1).integers(0, VOCABULARY, size=(32, T + 1))
    model.build((None, T))
    initial = [w.numpy() for w in model.trainable_weights]
    history = model.fit(sequences[:, :-1], sequences[:, 1:], batch_size=8, epochs=1, verbose=0)
    return model, initial, history


class RecordingModel:
    """The generation protocol around a model, keeping the last logits and cache it returned."""

    def __init__(self, model):
        self.model, self.max_positions = model, model.max_positions

    def empty_cache(self, batch_size):
        return self.model.empty_cache(batch_size)

    def __call__(self, tokens, cache=None, training=None):
        results = self.model(tokens, cache=cache, training=training)
        self.logits, self.cache = (results, None) if cache is None else results
        return results


def parameter_count(positions="sinusoidal", num_key_value_heads=HEADS, norm_first=False):
    """The weights of the model counted from its definition."""
    key_dim = D_MODEL // HEADS
    projections = (
        (D_MODEL + 1) * HEADS * key_dim  # queries, with their biases
        + 2 * (D_MODEL + 1) * num_key_value_heads * key_dim  # keys and values
        + (HEADS * key_dim + 1) * D_MODEL  # the output projection
    )
    feed_forward = (D_MODEL + 1) * FF_DIM + (FF_DIM + 1) * D_MODEL
    block = projections + 2 * 2 * D_MODEL + feed_forward  # two layer norms, gain and bias
    embeddings = VOCABULARY * D_MODEL + (MAX_LENGTH * D_MODEL if positions == "learned" else 0)
    final_norm = 2 * D_MODEL if norm_first else 0
    return embeddings + LAYERS * block + final_norm + (D_MODEL + 1) * VOCABULARY


def decoded_with_the_cache(model, tokens, prompt_length):
    """The logits of ``tokens`` computed as a decoder does: the prompt at once, then token by token."""
    logits, cache = model(tokens[:, :prompt_length], cache=model.empty_cache(len(tokens)))
    steps = [numpy_of(logits)]
    for t in range(prompt_length, tokens.shape[1]):
        logits, cache = model(tokens[:, t : t + 1], cache=cache)
        steps.append(numpy_of(logits))
    return np.concatenate(steps, axis=1), cache


# ---- The model ----


def test_logits_have_a_row_per_token_and_the_cache_a_row_per_position(tokens):
    model = language_model(num_key_value_heads=2)
    assert tuple(model(tokens).shape) == (B, T, VOCABULARY)
    logits, cache = model(tokens[:, :3], cache=model.empty_cache(B))
    assert tuple(logits.shape) == (B, 3, VOCABULARY)
    logits, cache = model(tokens[:, 3:], cache=cache)
    assert tuple(logits.shape) == (B, T - 3, VOCABULARY)
    assert len(cache) == LAYERS
    assert all(tuple(x.shape) == (B, T, 2, D_MODEL // HEADS) for pair in cache for x in pair)


def test_empty_cache_builds_the_model_and_holds_no_positions():
    model = language_model(num_key_value_heads=1)
    cache = model.empty_cache(3)
    assert model.built and len(cache) == LAYERS
    assert all(tuple(x.shape) == (3, 0, 1, D_MODEL // HEADS) for pair in cache for x in pair)


@pytest.mark.parametrize("positions", POSITIONS)
def test_later_tokens_do_not_change_earlier_logits(tokens, rng, positions):
    model = language_model(positions)
    expected = numpy_of(model(tokens))
    for t in range(T - 1):
        changed = tokens.copy()
        changed[:, t + 1 :] = (changed[:, t + 1 :] + rng.integers(1, VOCABULARY, size=(B, T - t - 1))) % VOCABULARY
        logits = numpy_of(model(changed))
        np.testing.assert_allclose(logits[:, : t + 1], expected[:, : t + 1], atol=1e-6)
        assert not np.allclose(logits[:, t + 1 :], expected[:, t + 1 :])  # the future itself did change


@pytest.mark.parametrize(
    ("positions", "num_key_value_heads", "norm_first"),
    [
        ("sinusoidal", None, False),
        ("learned", None, True),
        ("rotary", None, False),
        ("alibi", None, True),
        ("none", None, False),
        ("rotary", 1, True),
        ("alibi", 2, False),
        ("learned", 2, False),
    ],
)
@pytest.mark.parametrize("prompt_length", [1, 4], ids=["token_by_token", "prompt_then_tokens"])
def test_decoding_with_the_cache_equals_the_full_call(
    tokens, positions, num_key_value_heads, norm_first, prompt_length
):
    model = language_model(positions, num_key_value_heads=num_key_value_heads, norm_first=norm_first)
    expected = numpy_of(model(tokens))
    logits, cache = decoded_with_the_cache(model, tokens, prompt_length)
    np.testing.assert_allclose(logits, expected, atol=ATOL)
    assert tuple(cache[0][0].shape) == (B, T, model.num_key_value_heads, D_MODEL // HEADS)


@pytest.mark.parametrize("positions", POSITIONS)
def test_logits_are_the_blocks_applied_to_the_embeddings_the_papers_give(tokens, rng, positions):
    # Token embeddings times sqrt(d_model), plus the sinusoidal encodings (Vaswani et al. 2017, 3.4-3.5,
    # as PositionalEmbedding adds them), a learned table's rows, or nothing; the decoder blocks, a final
    # layer norm with pre-LN, the logits. Recomputed from the model's layers, positions 3 .. 3 + T - 1.
    model = language_model(positions, norm_first=positions == "alibi")
    _, prefix_cache = model(tokens[:, :3], cache=model.empty_cache(B))
    logits, _ = model(tokens, cache=prefix_cache)
    x = numpy_of(model.token_embedding(tokens)) * np.sqrt(D_MODEL)
    if positions == "sinusoidal":
        x = x + sinusoidal_positional_encoding(MAX_LENGTH, D_MODEL)[3 : 3 + T]
    if positions == "learned":
        x = x + model.position_embedding.embeddings.numpy()[3 : 3 + T]
    x = x.astype("float32")
    for block, block_cache in zip(model.blocks, prefix_cache, strict=True):
        attention = block.self_attention
        assert (attention.rotary, attention.alibi) == (positions == "rotary", positions == "alibi")
        x, _ = block(x, cache=block_cache)
    if model.final_norm is not None:
        x = model.final_norm(x)
    np.testing.assert_allclose(numpy_of(logits), numpy_of(model.logits(x)), atol=ATOL)


def test_learned_positions_are_trainable_weights_and_sinusoidal_ones_are_not(tokens):
    learned, sinusoidal = language_model("learned"), language_model("sinusoidal")
    learned(tokens), sinusoidal(tokens)
    tables = [w for w in learned.trainable_weights if tuple(w.shape) == (MAX_LENGTH, D_MODEL)]
    assert [w.path.split("/", 1)[1] for w in tables] == ["position_embedding/embeddings"]
    assert not any(tuple(w.shape) == (MAX_LENGTH, D_MODEL) for w in sinusoidal.weights)
    assert sinusoidal.non_trainable_weights == []
    assert learned.count_params() - sinusoidal.count_params() == MAX_LENGTH * D_MODEL


@pytest.mark.parametrize("num_key_value_heads", [None, 4, 2, 1])
def test_parameter_count_follows_the_number_of_key_value_heads(num_key_value_heads):
    model = language_model(num_key_value_heads=num_key_value_heads)
    model.build((None, T))
    expected = parameter_count(num_key_value_heads=num_key_value_heads or HEADS)
    assert model.count_params() == expected
    if num_key_value_heads is not None and num_key_value_heads < HEADS:  # two projections of g heads, not h
        fewer = 2 * (D_MODEL + 1) * (HEADS - num_key_value_heads) * (D_MODEL // HEADS) * LAYERS
        assert parameter_count() - expected == fewer


@pytest.mark.parametrize("positions", ["learned", "alibi"])
def test_summary_and_count_params_work_after_build(positions):
    model = language_model(positions, norm_first=True)
    model.build((None, T))
    lines = []
    model.summary(print_fn=lambda line, **_: lines.append(line))
    summary = "\n".join(lines)
    assert "decoder_1" in summary and "final_norm" in summary
    assert model.count_params() == parameter_count(positions, norm_first=True)
    assert f"{model.count_params():,}" in summary


def test_fit_trains_for_an_epoch_in_a_traced_function(trained_model):
    model, initial, history = trained_model
    assert not model.run_eagerly
    assert np.isfinite(history.history["loss"]).all()
    changed = [not np.allclose(before, after.numpy()) for before, after in zip(initial, model.trainable_weights)]
    assert all(changed)


# Keras's saver turns variables into arrays with np.array(), which NumPy 2 warns about; not ours to fix.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
@pytest.mark.parametrize("positions", ["learned", "alibi"])
def test_saves_to_keras_and_loads_back_with_safe_mode(tmp_path, tokens, positions):
    model = language_model(positions, num_key_value_heads=2, norm_first=True)
    expected = numpy_of(model(tokens))
    loaded = saved_and_loaded(model, tmp_path)
    assert isinstance(loaded, TransformerLanguageModel)
    assert loaded.get_config() == model.get_config()
    assert all(isinstance(block, TransformerDecoderBlock) for block in loaded.blocks)
    np.testing.assert_array_equal(numpy_of(loaded(tokens)), expected)
    logits, _ = decoded_with_the_cache(loaded, tokens, 3)
    np.testing.assert_allclose(logits, expected, atol=ATOL)


def test_get_config_holds_every_constructor_argument():
    model = language_model("rotary", num_key_value_heads=2, dropout=0.1, norm_first=True)
    config = model.get_config()
    assert {key: config[key] for key in ("vocabulary_size", "max_length", "d_model", "num_heads")} == {
        "vocabulary_size": VOCABULARY,
        "max_length": MAX_LENGTH,
        "d_model": D_MODEL,
        "num_heads": HEADS,
    }
    assert (config["ff_dim"], config["num_layers"], config["num_key_value_heads"]) == (FF_DIM, LAYERS, 2)
    assert (config["positions"], config["dropout"], config["norm_first"]) == ("rotary", 0.1, True)
    assert TransformerLanguageModel.from_config(config).get_config() == config


# ---- Positions beyond the table ----


@pytest.mark.parametrize("positions", ["sinusoidal", "learned"])
def test_positions_beyond_the_table_are_a_value_error_naming_tokens(rng, positions):
    model = language_model(positions)
    too_long = rng.integers(0, VOCABULARY, size=(1, MAX_LENGTH + 1))
    model(too_long[:, :MAX_LENGTH])  # every row of the table
    with pytest.raises(ValueError, match=rf"argument tokens\b.*max_length={MAX_LENGTH}.*tokens.shape=\(1, 13\)"):
        model(too_long)
    _, cache = model(too_long[:, :10], cache=model.empty_cache(1))
    with pytest.raises(ValueError, match=r"argument tokens\b.*tokens.shape=\(1, 3\) after a cache of 10 positions"):
        model(too_long[:, 10:], cache=cache)


@pytest.mark.parametrize("positions", ["rotary", "alibi", "none"])
def test_positions_without_a_table_have_no_limit(rng, positions):
    model = language_model(positions)
    assert model.max_positions is None
    tokens = rng.integers(0, VOCABULARY, size=(1, 2 * MAX_LENGTH))
    assert tuple(model(tokens).shape) == (1, 2 * MAX_LENGTH, VOCABULARY)
    assert generate(model, tokens[:, :2], 2 * MAX_LENGTH).shape == (1, 2 + 2 * MAX_LENGTH)


# ---- generate ----


@pytest.mark.parametrize("positions", ["sinusoidal", "rotary"])
def test_generating_with_and_without_the_cache_gives_the_same_tokens(tokens, positions):
    model = language_model(positions, num_key_value_heads=2)
    with_cache, without_cache = RecordingModel(model), RecordingModel(model)
    ids = generate(with_cache, tokens[:, :2], MAX_LENGTH - 1)
    np.testing.assert_array_equal(generate(without_cache, tokens[:, :2], MAX_LENGTH - 1, use_cache=False), ids)
    assert ids.dtype == np.int32 and ids.shape == (B, MAX_LENGTH + 1)
    np.testing.assert_array_equal(ids[:, :2], tokens[:, :2])
    np.testing.assert_allclose(numpy_of(with_cache.logits[:, -1]), numpy_of(without_cache.logits[:, -1]), atol=1e-4)
    assert tuple(with_cache.logits.shape) == (B, 1, VOCABULARY) and with_cache.cache[0][0].shape[1] == MAX_LENGTH


def test_a_trained_model_generates_the_same_tokens_with_and_without_the_cache(trained_model, tokens):
    model, _, _ = trained_model
    with_cache, without_cache = RecordingModel(model), RecordingModel(model)
    ids = generate(with_cache, tokens[:, :3], 8)
    np.testing.assert_array_equal(generate(without_cache, tokens[:, :3], 8, use_cache=False), ids)
    np.testing.assert_allclose(numpy_of(with_cache.logits[:, -1]), numpy_of(without_cache.logits[:, -1]), atol=1e-4)
    # The generated tokens are the model's own greedy choices: the most likely next token at each position.
    np.testing.assert_array_equal(numpy_of(model(ids[:, :-1]))[:, 2:].argmax(-1), ids[:, 3:])


def test_step_seconds_has_one_positive_time_per_generated_token(tokens):
    model = language_model()
    for use_cache in (True, False):
        ids, step_seconds = generate(model, tokens[:, :2], 4, use_cache=use_cache, return_step_seconds=True)
        assert ids.shape == (B, 6) and step_seconds.shape == (4,) and (step_seconds > 0).all()


@pytest.mark.parametrize("num_key_value_heads", [1, 2, 4, 8])
def test_cache_bytes_per_token_equals_the_measured_growth_of_the_cache(rng, num_key_value_heads):
    sizes = {"d_model": 32, "num_heads": 8, "ff_dim": FF_DIM, "num_layers": 3}  # key_dim 4
    model = TransformerLanguageModel(VOCABULARY, MAX_LENGTH, num_key_value_heads=num_key_value_heads, **sizes)
    recording = RecordingModel(model)
    generate(recording, rng.integers(0, VOCABULARY, size=(1, 3)), 6)
    num_positions = recording.cache[0][0].shape[1]  # the prompt and every generated token but the last
    measured = sum(numpy_of(x).nbytes for pair in recording.cache for x in pair) / num_positions
    assert num_positions == 8 and cache_bytes_per_token(model) == measured
    assert cache_bytes_per_token(model) == 2 * 3 * num_key_value_heads * 4 * 4  # float32: 4 bytes


# ---- Bad input ----


@pytest.mark.parametrize(
    ("kwargs", "argument", "error"),
    [
        ({"vocabulary_size": 0}, "vocabulary_size", ValueError),
        ({"max_length": 2.0}, "max_length", TypeError),
        ({"d_model": 0}, "d_model", ValueError),
        ({"d_model": 18}, "d_model", ValueError),  # not a multiple of 4 heads
        ({"d_model": 12, "num_heads": 4, "positions": "rotary"}, "d_model", ValueError),  # key_dim 3, odd
        ({"d_model": 3, "num_heads": 1}, "d_model", ValueError),  # odd, for sines and cosines
        ({"num_heads": 0}, "num_heads", ValueError),
        ({"ff_dim": -1}, "ff_dim", ValueError),
        ({"num_layers": 0}, "num_layers", ValueError),
        ({"num_key_value_heads": 3}, "num_key_value_heads", ValueError),
        ({"positions": "absolute"}, "positions", ValueError),
        ({"dropout": 1.0}, "dropout", ValueError),
        ({"norm_first": "yes"}, "norm_first", TypeError),
    ],
)
def test_bad_constructor_arguments_are_named(kwargs, argument, error):
    arguments = {"vocabulary_size": VOCABULARY, "max_length": MAX_LENGTH, "d_model": D_MODEL, "num_heads": HEADS}
    with pytest.raises(error, match=rf"argument {argument}\b.*Received: {argument}="):
        TransformerLanguageModel(**{**arguments, **kwargs})


def test_bad_call_arguments_are_named(tokens):
    model = language_model()
    cache = model.empty_cache(B)
    with pytest.raises(TypeError, match=r"argument tokens\b.*integer token ids.*float32"):
        model(tokens.astype("float32"))
    with pytest.raises(ValueError, match=r"argument tokens\b.*rank 2.*Received: tokens.shape=\(2, 7, 1\)"):
        model(tokens[..., None])
    with pytest.raises(TypeError, match=r"argument cache\b.*Received: cache="):
        model(tokens, cache=cache[0][0])
    with pytest.raises(ValueError, match=r"argument cache\b.*num_layers=2.*Received: a cache of 1 entries"):
        model(tokens, cache=cache[:1])
    with pytest.raises(ValueError, match=r"argument batch_size\b.*Received: batch_size=-1"):
        model.empty_cache(-1)


def test_generate_bad_arguments_are_named(tokens):
    model = language_model()
    with pytest.raises(ValueError, match=r"argument prompt\b.*Received: prompt with shape \(7,\)"):
        generate(model, tokens[0], 2)
    with pytest.raises(TypeError, match=r"argument prompt\b.*dtype float32"):
        generate(model, tokens.astype("float32"), 2)
    with pytest.raises(ValueError, match=r"argument prompt\b.*at least one token.*Received: prompt.shape=\(2, 0\)"):
        generate(model, tokens[:, :0], 2)
    with pytest.raises(ValueError, match=r"argument steps\b.*Received: steps=0"):
        generate(model, tokens, 0)
    with pytest.raises(TypeError, match=r"argument steps\b.*Received: steps=2.0"):
        generate(model, tokens, 2.0)
    with pytest.raises(ValueError, match=rf"argument steps\b.*max_positions={MAX_LENGTH}.*Received: steps=7"):
        generate(model, tokens, 7)  # 7 + 7 - 1 positions to read, 12 in the table
    with pytest.raises(TypeError, match=r"argument use_cache\b.*Received: use_cache='no'"):
        generate(model, tokens, 2, use_cache="no")
    functional = keras.Model(inputs := keras.Input((None,), dtype="int32"), keras.layers.Embedding(5, 5)(inputs))
    with pytest.raises(TypeError, match=r"argument model\b.*empty_cache.*Received: model='functional"):
        generate(functional, tokens, 2)
    # Without the cache any causal model will do (an embedding is one, position by position).
    assert generate(functional, tokens % 5, 2, use_cache=False).shape == (B, T + 2)


# ---- traced ----


@tensorflow_only
@pytest.mark.parametrize("positions", ["learned", "rotary"])
def test_a_traced_model_gives_the_logits_and_tokens_of_the_eager_one(trained_model, tokens, positions):
    # The trained model has dropout: equal outputs also say the traced functions run with training=False.
    model = trained_model[0] if positions == "learned" else language_model(positions, num_key_value_heads=2)
    traced_model = traced(model)
    np.testing.assert_allclose(numpy_of(traced_model(tokens)), numpy_of(model(tokens)), atol=ATOL)
    logits, cache = decoded_with_the_cache(traced_model, tokens, 3)
    np.testing.assert_allclose(logits, numpy_of(model(tokens)), atol=ATOL)
    assert len(cache) == LAYERS and tuple(cache[0][0].shape) == (B, T, model.num_key_value_heads, D_MODEL // HEADS)
    for use_cache in (True, False):
        expected = generate(model, tokens[:, :2], MAX_LENGTH - 1, use_cache=use_cache)
        ids = generate(traced_model, tokens[:, :2], MAX_LENGTH - 1, use_cache=use_cache)
        np.testing.assert_array_equal(ids, expected)


@tensorflow_only
def test_a_traced_model_is_traced_once_for_every_batch_size_and_length(rng):
    model = language_model("sinusoidal", num_key_value_heads=1)
    traced_model = traced(model)
    for batch_size, prompt_length, steps in [(1, 1, 4), (3, 4, 6), (2, 2, 3)]:
        prompt = rng.integers(0, VOCABULARY, size=(batch_size, prompt_length))
        for use_cache in (True, False):
            assert generate(traced_model, prompt, steps, use_cache=use_cache).shape == (
                batch_size,
                prompt_length + steps,
            )
    assert traced_model.full.experimental_get_tracing_count() == 1
    assert traced_model.step.experimental_get_tracing_count() == 1
    assert traced_model.max_positions == model.max_positions == MAX_LENGTH


@tensorflow_only
def test_a_traced_model_reads_the_current_weights(tokens):
    model = language_model()
    traced_model = traced(model)
    before = numpy_of(traced_model(tokens))
    model.set_weights([w * 0.5 for w in model.get_weights()])
    after = numpy_of(traced_model(tokens))
    assert not np.allclose(after, before)
    np.testing.assert_allclose(after, numpy_of(model(tokens)), atol=ATOL)
    assert traced_model.full.experimental_get_tracing_count() == 1


@tensorflow_only
def test_a_traced_model_only_decodes(tokens):
    with pytest.raises(ValueError, match=r"argument training\b.*Received: training=True"):
        traced(language_model())(tokens, training=True)


def test_traced_needs_a_language_model():
    functional = keras.Model(inputs := keras.Input((None,), dtype="int32"), keras.layers.Embedding(5, 5)(inputs))
    with pytest.raises(TypeError, match=r"argument model\b.*empty_cache.*Received: model of type Functional"):
        traced(functional)


@other_than_tensorflow
def test_traced_on_another_backend_is_an_error_that_names_the_backend():
    with pytest.raises(RuntimeError, match=r"needs KERAS_BACKEND=tensorflow\. Received: backend="):
        traced(language_model())
