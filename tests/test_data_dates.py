"""dates, format_date and CharVocabulary: the date translation task of the seq2seq notebook."""

import datetime

import numpy as np
import pytest
from helpers import error_for_integer_argument

from attention_utils.data import (
    DATE_FIELDS,
    DATE_FORMATS,
    DATE_SOURCE_LENGTH,
    DATE_SOURCE_VOCABULARY,
    DATE_TARGET_VOCABULARY,
    FIRST_DATE,
    ISO_LENGTH,
    LAST_DATE,
    MONTH_NAMES,
    CharVocabulary,
    dates,
    format_date,
)


@pytest.fixture(scope="module")
def split():
    return dates(num_train=600, num_validation=200, seed=1)


def read_field(field, text, iso_date):
    """The number a field's text stands for; a two-digit year is read with the pivot 50-99 -> 19YY."""
    if field == "year":
        year = int(text)
        if len(text) == 2:
            year += 1900 if year >= 50 else 2000
        return year
    if field == "month" and not text.isdigit():
        return [name[: len(text)].lower() for name in MONTH_NAMES].index(text.lower()) + 1
    return int(text)


def test_the_issue_examples_are_among_the_formats():
    date = datetime.date(2026, 11, 26)
    texts = {format_date(date, date_format)[0] for date_format in DATE_FORMATS}
    assert {"26 Nov 2026", "Thursday, November 26, 2026", "11/26/26", "2026.11.26"} <= texts


def test_fields_locate_the_year_month_and_day(split):
    for pairs in split:
        for human, iso, fields in zip(pairs.human, pairs.iso, pairs.fields):
            date = datetime.date.fromisoformat(iso)
            for field, (start, stop) in zip(DATE_FIELDS, fields):
                assert read_field(field, human[start:stop], date) == getattr(date, field), (human, iso, field)


def test_the_weekday_is_the_dates(split):
    weekday_format = DATE_FORMATS.index("{Weekday}, {Month} {D}, {YYYY}")
    rows = np.flatnonzero(split.train.formats == weekday_format)
    assert rows.size
    for row in rows:
        date = datetime.date.fromisoformat(split.train.iso[row])
        assert split.train.human[row].startswith(date.strftime("%A"))


def test_iso_targets_are_dates_in_range_and_ten_characters(split):
    for pairs in split:
        assert all(len(iso) == ISO_LENGTH for iso in pairs.iso)
        assert min(pairs.iso) >= FIRST_DATE and max(pairs.iso) <= LAST_DATE
        assert all(datetime.date.fromisoformat(iso).isoformat() == iso for iso in pairs.iso)


def test_two_digit_years_cover_both_centuries_with_the_pivot():
    for iso, expected in (("1950-01-01", "50"), ("1999-12-31", "99"), ("2000-01-01", "00"), ("2049-12-31", "49")):
        text, fields = format_date(datetime.date.fromisoformat(iso), "{MM}/{DD}/{YY}")
        assert text[fields[0, 0] : fields[0, 1]] == expected


def test_shapes_dtypes_and_every_format_used(split):
    train, validation = split
    assert len(train.human) == len(train.iso) == len(train.formats) == 600
    assert len(validation.human) == 200
    assert train.fields.shape == (600, 3, 2) and train.fields.dtype == np.int32
    assert train.formats.dtype == np.int32
    assert set(train.formats.tolist()) == set(range(len(DATE_FORMATS)))
    assert all(type(text) is str for text in train.human)


def test_source_length_is_the_longest_date_in_any_format():
    # A year has every month with every weekday on one- and two-digit days; every year has four digits.
    days = [datetime.date(2026, 1, 1) + datetime.timedelta(days=offset) for offset in range(365)]
    longest = max(len(format_date(day, date_format)[0]) for day in days for date_format in DATE_FORMATS)
    assert longest == DATE_SOURCE_LENGTH


def test_every_character_is_in_the_vocabularies(split):
    for pairs in split:
        DATE_SOURCE_VOCABULARY.encode(pairs.human, DATE_SOURCE_LENGTH)
        DATE_TARGET_VOCABULARY.encode(pairs.iso, ISO_LENGTH)


def test_train_and_validation_share_no_date_and_validation_ignores_num_train():
    small, large = dates(num_train=100, num_validation=50, seed=3), dates(num_train=900, num_validation=50, seed=3)
    assert not set(large.train.iso) & set(large.validation.iso)
    assert len(set(large.train.iso)) == 900  # no date twice
    np.testing.assert_array_equal(small.validation.human, large.validation.human)


def test_same_seed_same_pairs_other_seed_other_pairs():
    first, again, other = (dates(num_train=50, num_validation=10, seed=seed) for seed in (5, 5, 6))
    np.testing.assert_array_equal(first.train.human, again.train.human)
    np.testing.assert_array_equal(first.train.fields, again.train.fields)
    assert list(first.train.iso) != list(other.train.iso)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"num_train": 0}, "num_train"),
        ({"num_train": True}, "num_train"),
        ({"num_validation": 2.0}, "num_validation"),
        ({"num_train": 40000}, "num_train and num_validation"),
    ],
)
def test_bad_arguments_are_named(kwargs, argument):
    error = error_for_integer_argument(kwargs.get(argument, 0))  # (the last case: two arguments together)
    with pytest.raises(error, match=f"argument[s]? {argument}"):
        dates(**kwargs)


def test_format_date_rejects_unknown_placeholders_and_non_dates():
    with pytest.raises(ValueError, match="argument date_format"):
        format_date(datetime.date(2026, 11, 26), "{day}.{MM}")
    with pytest.raises(TypeError, match="argument date"):
        format_date("2026-11-26", DATE_FORMATS[0])


def test_a_field_left_out_has_an_empty_span():
    text, fields = format_date(datetime.date(2026, 11, 26), "{Month} {YYYY}")
    assert text == "November 2026" and fields[2].tolist() == [0, 0]


def test_encode_pads_and_decode_inverts():
    vocabulary = CharVocabulary("abc")
    ids = vocabulary.encode(["ab", "cab", ""], length=4)
    np.testing.assert_array_equal(ids, [[2, 3, 0, 0], [4, 2, 3, 0], [0, 0, 0, 0]])
    assert ids.dtype == np.int32 and len(vocabulary) == 5
    assert vocabulary.decode(ids) == ["ab", "cab", ""]
    assert vocabulary.decode(ids[1]) == "cab"


def test_encode_with_start_is_the_teacher_forcing_input():
    vocabulary = DATE_TARGET_VOCABULARY
    targets = vocabulary.encode(["2026-11-26"], ISO_LENGTH)
    previous = vocabulary.encode(["2026-11-26"], ISO_LENGTH, start=True)
    assert previous[0, 0] == CharVocabulary.START
    np.testing.assert_array_equal(previous[:, 1:], targets[:, :-1])
    assert vocabulary.decode(previous) == ["2026-11-2"]  # the start token is not a character


@pytest.mark.parametrize("characters", ["", "aa", ["a", "bc"]])
def test_bad_characters_are_rejected(characters):
    with pytest.raises(ValueError, match="argument characters"):
        CharVocabulary(characters)


def test_encode_names_unknown_characters_and_short_lengths():
    vocabulary = CharVocabulary("abc")
    with pytest.raises(ValueError, match=r"argument texts.*\['z'\]"):
        vocabulary.encode(["abz"], length=5)
    with pytest.raises(ValueError, match="argument length"):
        vocabulary.encode(["abc"], length=2)
    with pytest.raises(ValueError, match="argument length"):
        vocabulary.encode(["abc"], length=0)


def test_decode_rejects_ids_outside_the_vocabulary():
    with pytest.raises(ValueError, match="argument ids"):
        CharVocabulary("abc").decode([[2, 7]])
    with pytest.raises(ValueError, match="argument ids"):
        CharVocabulary("abc").decode(np.zeros((1, 2, 3), dtype=int))
