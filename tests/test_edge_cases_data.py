"""Edge cases of the data generators, the character vocabulary, format_date, seed_everything and
show_heatmaps: bad input raises a named error, nothing comes back silently wrong."""

import datetime
import math
import re
from fractions import Fraction

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

import attention_utils as au
from attention_utils import data
from attention_utils.plots import show_heatmaps

# Every generator with the smallest sensible request, so the tests stay fast; each takes a seed.
GENERATORS = {
    "regression_points": lambda **kw: data.regression_points(num_train=5, num_test=5, **kw),
    "cluttered_shapes": lambda **kw: data.cluttered_shapes(num_images=3, **kw),
    "cued_shapes": lambda **kw: data.cued_shapes(num_images=3, **kw),
    "digit_sequences": lambda **kw: data.digit_sequences(num_sequences=3, **kw),
    "digit_copies": lambda **kw: data.digit_copies(num_sequences=3, **kw),
    "associative_recall": lambda **kw: data.associative_recall(num_sequences=3, **kw),
    "shared_symbol_pairs": lambda **kw: data.shared_symbol_pairs(num_pairs=3, **kw),
    "key_sentence_documents": lambda **kw: data.key_sentence_documents(num_documents=3, **kw),
    "dates": lambda **kw: data.dates(num_train=3, num_validation=2, **kw),
}
NOISY_GENERATORS = {name: GENERATORS[name] for name in ("regression_points", "cluttered_shapes", "cued_shapes")}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def assert_same(first, second):
    for a, b in zip(first, second, strict=True):
        if isinstance(a, tuple):
            assert_same(a, b)
        else:
            np.testing.assert_array_equal(a, b)


# 1. Noise must be a finite non-negative number.


@pytest.mark.parametrize("generator", NOISY_GENERATORS.values(), ids=NOISY_GENERATORS.keys())
@pytest.mark.parametrize("noise", [math.nan, np.float32("nan"), math.inf, -math.inf, -0.5])
def test_noise_that_is_not_finite_and_non_negative_is_a_value_error(generator, noise):
    with pytest.raises(ValueError, match=r"argument noise\. Expected a finite non-negative number\. Received: noise="):
        generator(noise=noise)


@pytest.mark.parametrize("generator", NOISY_GENERATORS.values(), ids=NOISY_GENERATORS.keys())
@pytest.mark.parametrize("noise", ["0.1", None, True, [0.1], 1j])
def test_noise_that_is_not_a_number_is_a_type_error(generator, noise):
    with pytest.raises(TypeError, match=r"argument noise.*Received: noise=.* of type"):
        generator(noise=noise)


@pytest.mark.parametrize("generator", NOISY_GENERATORS.values(), ids=NOISY_GENERATORS.keys())
def test_noise_of_any_real_number_type_gives_the_same_data(generator):
    expected = generator(noise=0.5, seed=1)
    for noise in (np.float64(0.5), Fraction(1, 2)):
        assert_same(generator(noise=noise, seed=1), expected)
    assert_same(generator(noise=0, seed=1), generator(noise=0.0, seed=1))
    assert all(np.isfinite(array).all() for array in generator(noise=0.5) if array.dtype.kind == "f")


# 2. Texts must be strings.


@pytest.mark.parametrize(
    "texts, offending",
    [
        ([12, 345], r"texts\[0\]=12 of type int"),
        (["12", 345], r"texts\[1\]=345 of type int"),
        ([b"12"], r"texts\[0\]=b'12' of type bytes"),
        ([None], r"texts\[0\]=None of type NoneType"),
    ],
)
def test_encode_rejects_texts_that_are_not_strings(texts, offending):
    vocabulary = data.CharVocabulary("0123456789")
    with pytest.raises(
        TypeError,
        match=rf"argument texts\. Expected a string or a sequence of strings\. "
        rf"Received: {offending}",
    ):
        vocabulary.encode(texts, 3)


def test_encode_rejects_a_text_argument_that_is_not_a_sequence():
    with pytest.raises(TypeError, match=r"argument texts.*Received: texts=12 of type int"):
        data.CharVocabulary("0123456789").encode(12, 3)


def test_encode_still_takes_strings_numpy_strings_and_object_arrays():
    vocabulary = data.CharVocabulary("0123456789")
    expected = np.array([[3, 4, 0], [5, 6, 7]], dtype="int32")
    for texts in (["12", "345"], np.array(["12", "345"]), np.array(["12", "345"], dtype=object), ("12", "345")):
        np.testing.assert_array_equal(vocabulary.encode(texts, 3), expected)
    np.testing.assert_array_equal(vocabulary.encode("12", 3), expected[:1])


# 3. Placeholders are bare: a format spec or a conversion is rejected, not ignored.


@pytest.mark.parametrize(
    "date_format, placeholder",
    [("{DD:>5}", "{DD:>5}"), ("{YYYY}-{MM:02}", "{MM:02}"), ("{Month!r}", "{Month!r}"), ("{Mon!s:<4}", "{Mon!s:<4}")],
)
def test_format_date_rejects_a_format_spec_or_conversion(date_format, placeholder):
    with pytest.raises(
        ValueError,
        match=r"argument date_format.*format spec or conversion.*with placeholder "
        + placeholder.replace("{", r"\{").replace("}", r"\}"),
    ):
        data.format_date(datetime.date(2026, 1, 2), date_format)


@pytest.mark.parametrize("date_format", ["{DD", "DD}", "{DD!}"])
def test_format_date_names_the_argument_of_a_malformed_format(date_format):
    with pytest.raises(ValueError, match=r"argument date_format.*Received: date_format="):
        data.format_date(datetime.date(2026, 1, 2), date_format)


def test_format_date_rejects_a_format_that_is_not_a_string():
    with pytest.raises(TypeError, match=r"argument date_format.*Received: date_format=None of type NoneType"):
        data.format_date(datetime.date(2026, 1, 2), None)


def test_format_date_keeps_literal_braces_and_an_empty_format():
    text, spans = data.format_date(datetime.date(2026, 1, 2), "{{{DD}}}")
    assert text == "{02}"
    np.testing.assert_array_equal(spans, [[0, 0], [0, 0], [1, 3]])
    text, spans = data.format_date(datetime.date(2026, 1, 2), "")
    assert text == "" and not spans.any()


# 4. Every generator's seed is a non-negative integer.


@pytest.mark.parametrize("generator", GENERATORS.values(), ids=GENERATORS.keys())
@pytest.mark.parametrize("seed", [-1, np.int64(-3)])
def test_negative_seed_is_a_value_error_naming_seed(generator, seed):
    with pytest.raises(ValueError, match=r"argument seed\. Expected a non-negative integer\. Received: seed="):
        generator(seed=seed)


@pytest.mark.parametrize("generator", GENERATORS.values(), ids=GENERATORS.keys())
@pytest.mark.parametrize("seed", [True, 1.0, "1", None, [1]])
def test_seed_that_is_not_an_integer_is_a_type_error_naming_seed(generator, seed):
    with pytest.raises(TypeError, match=r"argument seed\. Expected a non-negative integer\. Received: seed=.* of type"):
        generator(seed=seed)


@pytest.mark.parametrize("generator", GENERATORS.values(), ids=GENERATORS.keys())
def test_numpy_integer_seed_gives_the_same_data_as_the_python_integer(generator):
    for numpy_seed in (np.int64(5), np.uint32(5), np.int8(5)):
        assert_same(generator(seed=numpy_seed), generator(seed=5))
    assert_same(generator(seed=2**40), generator(seed=2**40))  # large seeds are fine for a Generator


# 5. seed_everything takes NumPy integers.


def test_seed_everything_takes_numpy_integers_like_python_integers():
    assert au.seed_everything(3) == 3
    expected = np.random.rand(3)  # noqa: NPY002 (the legacy global generator is what seed_everything seeds)
    for seed in (np.int64(3), np.uint8(3), np.int32(3)):
        returned = au.seed_everything(seed)
        assert returned == 3 and type(returned) is int
        np.testing.assert_array_equal(np.random.rand(3), expected)  # noqa: NPY002


def test_seed_everything_names_a_seed_too_large_for_numpy():
    assert au.seed_everything(2**32 - 1) == 2**32 - 1
    with pytest.raises(ValueError, match=r"argument seed\. Expected an integer from 0 to 2\*\*32 - 1.*seed=4294967296"):
        au.seed_everything(2**32)


@pytest.mark.parametrize("seed", [np.float64(3.0), np.bool_(True)])
def test_seed_everything_rejects_bad_numpy_seeds(seed):
    with pytest.raises(TypeError, match="argument seed"):
        au.seed_everything(seed)


def test_seed_everything_rejects_a_negative_numpy_seed_as_a_value():
    with pytest.raises(ValueError, match="argument seed"):
        au.seed_everything(np.int64(-1))


# 6. The colour range of show_heatmaps ignores NaN and infinities.


def colour_range(figure):
    return figure.axes[0].get_images()[0].get_clim()


def test_heatmap_colour_range_ignores_nan_and_infinities():
    matrix = np.array([[0.2, 0.5], [np.nan, 0.9]])
    np.testing.assert_allclose(colour_range(show_heatmaps(matrix)), (0.2, 0.9))
    matrix = np.array([[[0.2, np.inf], [0.4, 0.9]], [[-np.inf, 0.3], [0.5, np.nan]]])
    np.testing.assert_allclose(colour_range(show_heatmaps(matrix)), (0.2, 0.9))


def test_heatmap_colour_range_is_unchanged_for_finite_values():
    matrix = np.random.default_rng(0).random((2, 3, 4))
    assert colour_range(show_heatmaps(matrix)) == (matrix.min(), matrix.max())


@pytest.mark.parametrize(
    "matrix", [np.full((2, 3), np.nan), np.array([[np.inf, -np.inf], [np.nan, np.inf]]), np.zeros((0, 3))]
)
def test_heatmap_without_a_finite_value_is_a_value_error(matrix):
    figures = plt.get_fignums()
    with pytest.raises(
        ValueError,
        match=r"argument matrices\. Expected at least one finite value\. "
        + re.escape(f"Received: matrices.shape={matrix.shape}"),
    ):
        show_heatmaps(matrix)
    assert plt.get_fignums() == figures  # no figure left open by the failed call


def test_heatmap_of_strings_is_a_type_error():
    with pytest.raises(TypeError, match=r"argument matrices.*dtype <U1"):
        show_heatmaps(np.array([["a", "b"], ["c", "d"]]))


# 7. Empty requests: a generator asked for 0 examples raises a ValueError naming the count (every generator
# does, and the existing tests of test_data*.py rely on it); the vocabulary encodes and decodes empty batches.


@pytest.mark.parametrize(
    "generator, argument",
    [
        (data.regression_points, "num_train"),
        (data.regression_points, "num_test"),
        (data.cluttered_shapes, "num_images"),
        (data.cued_shapes, "num_images"),
        (data.digit_sequences, "num_sequences"),
        (data.digit_copies, "num_sequences"),
        (data.associative_recall, "num_sequences"),
        (data.shared_symbol_pairs, "num_pairs"),
        (data.key_sentence_documents, "num_documents"),
        (data.dates, "num_train"),
        (data.dates, "num_validation"),
    ],
)
@pytest.mark.parametrize("zero", [0, np.int64(0)])
def test_zero_examples_is_a_value_error_naming_the_count(generator, argument, zero):
    with pytest.raises(
        ValueError,
        match=rf"argument {argument}\. Expected a positive integer\. "
        rf"Received: {argument}=",
    ):
        generator(**{argument: zero})


def test_vocabulary_encodes_and_decodes_empty_batches():
    vocabulary = data.CharVocabulary("0123456789")
    for texts in ([], (), np.array([], dtype=str)):
        ids = vocabulary.encode(texts, 4)
        assert ids.shape == (0, 4) and ids.dtype == np.int32
        assert vocabulary.decode(ids) == []
    assert vocabulary.decode([]) == ""  # an empty list is float64 to NumPy, still no ids
    assert vocabulary.decode([[], []]) == ["", ""]
    assert vocabulary.decode(np.zeros((0,), dtype="int32")) == ""
    np.testing.assert_array_equal(vocabulary.encode("", 2), [[0, 0]])


# ---- Arguments of the wrong type are TypeErrors, wrong values ValueErrors ----


@pytest.mark.parametrize(
    "characters, error", [([1, 2], TypeError), (["a", None], TypeError), ("", ValueError), (["ab"], ValueError)]
)
def test_char_vocabulary_characters_errors(characters, error):
    with pytest.raises(error, match=r"argument characters\. Expected distinct single characters"):
        data.CharVocabulary(characters)


@pytest.mark.parametrize(
    "ids, error",
    [([[2.0, 3.0]], TypeError), ([True], TypeError), ([["a"]], TypeError), (np.zeros((1, 1, 1), int), ValueError)],
)
def test_char_vocabulary_decode_errors(ids, error):
    with pytest.raises(error, match=r"argument ids\. Expected integers of shape \(num_texts, length\) or \(length,\)"):
        data.CharVocabulary("abc").decode(ids)


@pytest.mark.parametrize("image_size, error", [(16.0, TypeError), (True, TypeError), (20, ValueError), (8, ValueError)])
def test_cluttered_shapes_image_size_errors(image_size, error):
    with pytest.raises(error, match=r"argument image_size\. Expected a multiple of 8 of at least 16"):
        data.cluttered_shapes(2, image_size=image_size)


def test_cluttered_shapes_accepts_a_numpy_image_size():
    np.testing.assert_array_equal(
        data.cluttered_shapes(2, image_size=np.int64(16)).images, data.cluttered_shapes(2, image_size=16).images
    )


@pytest.mark.parametrize("num_distractors", [np.int64(2), (np.int8(2), np.uint16(2)), [2, 2]])
def test_cued_shapes_takes_numpy_integers_and_a_list_for_num_distractors(num_distractors):
    np.testing.assert_array_equal(
        data.cued_shapes(4, num_distractors=num_distractors, seed=1).images,
        data.cued_shapes(4, num_distractors=2, seed=1).images,
    )


@pytest.mark.parametrize("num_distractors", [None, (1,), np.array([0, 3])])
def test_cued_shapes_names_a_num_distractors_it_cannot_read(num_distractors):
    with pytest.raises((TypeError, ValueError), match=r"argument num_distractors\. Expected an integer from 0 to 3"):
        data.cued_shapes(2, num_distractors=num_distractors)


def test_digit_sequences_names_an_unknown_task():
    with pytest.raises(ValueError, match=r"argument task\. Expected one of \['reverse', 'sort'\]"):
        data.digit_sequences(4, 3, task="shuffle")


def test_digit_copies_names_an_unknown_task():
    with pytest.raises(
        ValueError, match=r"argument task\. Expected one of \['copy', 'reverse'\]\. Received: task='sort'"
    ):
        data.digit_copies(4, task="sort")


@pytest.mark.parametrize("max_length, min_length", [(4, 5), (np.int64(1), 2)])
def test_digit_copies_names_a_max_length_below_min_length(max_length, min_length):
    with pytest.raises(
        ValueError,
        match=rf"argument max_length\. Expected at least min_length\. Received: max_length={max_length}, "
        rf"min_length={min_length}",
    ):
        data.digit_copies(4, min_length=min_length, max_length=max_length)


@pytest.mark.parametrize("budget, error", [(False, TypeError), (True, TypeError), ("1", TypeError), (-1.0, ValueError)])
def test_best_time_budget_errors(budget, error):
    with pytest.raises(error, match="argument budget"):
        au.timing.best_time(lambda: np.zeros(1), budget=budget)


@pytest.mark.parametrize("start_id, error", [("a", TypeError), (1.0, TypeError), (-1, ValueError)])
def test_greedy_decode_start_id_errors(start_id, error):
    with pytest.raises(error, match="argument start_id"):
        au.decoding.greedy_decode(None, np.zeros((1, 2)), 2, start_id=start_id)


@pytest.mark.parametrize("seed, error", [(1.0, TypeError), (True, TypeError), (-1, ValueError), (2**32, ValueError)])
def test_seed_everything_seed_errors(seed, error):
    with pytest.raises(error, match=r"argument seed\. Expected an integer from 0 to 2\*\*32 - 1"):
        au.seed_everything(seed)
