"""transformer_translator: notebook 13's encoder-decoder Transformer, a drop-in for seq2seq_translator."""

import numpy as np
import pytest
from helpers import numpy_of, saved_and_loaded

from attention_utils.decoding import greedy_decode
from attention_utils.models import transformer_translator

SOURCE_VOCABULARY, TARGET_VOCABULARY, TX, TY = 12, 7, 9, 5


def ids(rng, vocabulary, shape, low=1):
    return rng.integers(low, vocabulary, shape).astype("int32")


def test_the_dates_sizes_give_notebook_13s_parameter_count():
    # 58 source and 13 target tokens, Tx = 29, Ty = 10, d_model 64, 4 heads, ff 128, one block a side.
    d, ff = 64, 128
    encoder_block = 4 * (d * d + d) + (d * ff + ff) + (ff * d + d) + 2 * 2 * d
    decoder_block = 2 * 4 * (d * d + d) + (d * ff + ff) + (ff * d + d) + 3 * 2 * d
    expected = 58 * d + 13 * d + encoder_block + decoder_block + (d * 13 + 13)
    model, _ = transformer_translator(58, 13, 29, 10)
    assert model.count_params() == expected == 89_101


def test_shapes_and_cross_attention_weights_sum_to_one_with_zero_on_padding(rng):
    model, aligner = transformer_translator(
        SOURCE_VOCABULARY, TARGET_VOCABULARY, TX, TY, d_model=8, num_heads=2, ff_dim=16
    )
    source = ids(rng, SOURCE_VOCABULARY, (3, TX))
    source[0, 6:] = 0  # the first source has three padded positions
    previous = ids(rng, TARGET_VOCABULARY, (3, TY))
    assert model([source, previous]).shape == (3, TY, TARGET_VOCABULARY)
    weights = numpy_of(aligner([source, previous]))
    assert weights.shape == (3, 2, TY, TX)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-5)
    assert np.all(weights[0, :, :, 6:] == 0)


@pytest.mark.parametrize("num_layers", [1, 2])
def test_padded_source_positions_get_no_weight_in_every_block(num_layers, rng):
    # The aligner reads the last block: with two blocks, the second block must still get the source's
    # padding mask (MultiHeadAttention takes the Keras mask off the tensors it reads).
    model, aligner = transformer_translator(
        SOURCE_VOCABULARY, TARGET_VOCABULARY, TX, TY, d_model=8, num_heads=2, ff_dim=16, num_layers=num_layers
    )
    source, previous = ids(rng, SOURCE_VOCABULARY, (2, TX)), ids(rng, TARGET_VOCABULARY, (2, TY))
    source[:, 6:] = 0
    weights = numpy_of(aligner([source, previous]))
    assert np.all(weights[..., 6:] == 0)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-5)
    changed = source.copy()
    changed[:, 3] = (changed[:, 3] % (SOURCE_VOCABULARY - 1)) + 1  # a real position does matter
    assert not np.allclose(numpy_of(model([source, previous])), numpy_of(model([changed, previous])), atol=1e-4)


def test_output_i_reads_no_later_target(rng):
    model, _ = transformer_translator(SOURCE_VOCABULARY, TARGET_VOCABULARY, TX, TY, d_model=8, num_heads=2, ff_dim=16)
    source, previous = ids(rng, SOURCE_VOCABULARY, (2, TX)), ids(rng, TARGET_VOCABULARY, (2, TY))
    changed = previous.copy()
    changed[:, 3:] = (changed[:, 3:] + 1) % TARGET_VOCABULARY
    before, after = numpy_of(model([source, previous])), numpy_of(model([source, changed]))
    np.testing.assert_allclose(before[:, :3], after[:, :3], atol=1e-6)
    assert not np.allclose(before[:, 3:], after[:, 3:])


def test_greedy_decoding_runs_and_saved_model_decodes_the_same(tmp_path, rng):
    model, _ = transformer_translator(SOURCE_VOCABULARY, TARGET_VOCABULARY, TX, TY, d_model=8, num_heads=2, ff_dim=16)
    source = ids(rng, SOURCE_VOCABULARY, (4, TX))
    restored = saved_and_loaded(model, tmp_path)
    np.testing.assert_array_equal(greedy_decode(restored, source, TY), greedy_decode(model, source, TY))


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        ({"source_length": 0}, ValueError, r"argument source_length.*0"),
        ({"target_vocabulary_size": 1}, ValueError, r"argument target_vocabulary_size.*1"),
        ({"num_layers": 0}, ValueError, r"argument num_layers.*0"),
        ({"num_heads": 3}, ValueError, r"argument num_heads.*3"),
        ({"d_model": "64"}, TypeError, r"argument d_model.*'64'"),
    ],
)
def test_bad_arguments_name_the_argument(arguments, error, message):
    defaults = {
        "source_vocabulary_size": SOURCE_VOCABULARY,
        "target_vocabulary_size": TARGET_VOCABULARY,
        "source_length": TX,
        "target_length": TY,
    }
    with pytest.raises(error, match=message):
        transformer_translator(**{**defaults, **arguments})
