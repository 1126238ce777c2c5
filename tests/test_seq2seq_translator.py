"""seq2seq_translator: notebook 09's encoder-decoder as a builder, for notebook 10 and for instructors."""

import numpy as np
import pytest
from helpers import saved_and_loaded

from attention_utils.models import SEQ2SEQ_DECODERS, seq2seq_translator

SOURCE_VOCABULARY, TARGET_VOCABULARY, TX, TY = 12, 7, 9, 5


def ids(rng, vocabulary, shape, low=1):
    return rng.integers(low, vocabulary, shape).astype("int32")


@pytest.mark.parametrize("decoder, parameters", [("none", 42_925), ("bahdanau", 69_421), ("luong", 51_117)])
def test_the_dates_sizes_give_notebook_09s_parameter_counts(decoder, parameters):
    # 58 source and 13 target tokens, Tx = 29, Ty = 10: the counts notebook 09 prints for its models.
    model, _ = seq2seq_translator(decoder, 58, 13, 29, 10)
    assert model.count_params() == parameters


@pytest.mark.parametrize("decoder", SEQ2SEQ_DECODERS)
def test_shapes_and_weights_sum_to_one_with_zero_on_padding(decoder, rng):
    model, aligner = seq2seq_translator(decoder, SOURCE_VOCABULARY, TARGET_VOCABULARY, TX, TY)
    source = ids(rng, SOURCE_VOCABULARY, (3, TX))
    source[0, 6:] = 0  # the first source has three padded positions
    previous = ids(rng, TARGET_VOCABULARY, (3, TY))
    assert model([source, previous]).shape == (3, TY, TARGET_VOCABULARY)
    assert (aligner is None) == (decoder == "none")
    if aligner is not None:
        weights = np.asarray(aligner([source, previous]))
        assert weights.shape == (3, TY, TX)
        np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-5)
        assert np.all(weights[0, :, 6:] == 0)


@pytest.mark.parametrize("decoder", SEQ2SEQ_DECODERS)
def test_output_i_reads_no_later_target(decoder, rng):
    # Teacher forcing is sound only if step i sees y_0 .. y_{i-1}: change the inputs from step 3 on
    # and the logits of steps 0 to 2 stay as they were.
    model, _ = seq2seq_translator(decoder, SOURCE_VOCABULARY, TARGET_VOCABULARY, TX, TY)
    source, previous = ids(rng, SOURCE_VOCABULARY, (2, TX)), ids(rng, TARGET_VOCABULARY, (2, TY))
    changed = previous.copy()
    changed[:, 3:] = (changed[:, 3:] + 1) % TARGET_VOCABULARY
    before, after = np.asarray(model([source, previous])), np.asarray(model([source, changed]))
    np.testing.assert_array_equal(before[:, :3], after[:, :3])
    assert not np.allclose(before[:, 3:], after[:, 3:])


def test_bahdanau_translator_saves_and_loads_with_identical_outputs(tmp_path, rng):
    model, _ = seq2seq_translator("bahdanau", SOURCE_VOCABULARY, TARGET_VOCABULARY, TX, TY)
    source, previous = ids(rng, SOURCE_VOCABULARY, (2, TX)), ids(rng, TARGET_VOCABULARY, (2, TY))
    restored = saved_and_loaded(model, tmp_path)
    np.testing.assert_array_equal(np.asarray(restored([source, previous])), np.asarray(model([source, previous])))


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        (
            {"decoder": "transformer"},
            ValueError,
            r"argument decoder.*'bahdanau', 'luong', 'none'.*decoder='transformer'",
        ),
        ({"decoder": None}, ValueError, r"argument decoder.*None"),
        ({"source_length": 0}, ValueError, r"argument source_length.*0"),
        ({"target_vocabulary_size": 1}, ValueError, r"argument target_vocabulary_size.*1"),
        ({"decoder_units": "64"}, TypeError, r"argument decoder_units.*'64'"),
    ],
)
def test_bad_arguments_name_the_argument(arguments, error, message):
    defaults = {
        "decoder": "luong",
        "source_vocabulary_size": SOURCE_VOCABULARY,
        "target_vocabulary_size": TARGET_VOCABULARY,
        "source_length": TX,
        "target_length": TY,
    }
    with pytest.raises(error, match=message):
        seq2seq_translator(**{**defaults, **arguments})
