"""Human-written dates and their ISO form, and the character vocabulary that encodes them (notebook 09)."""

import datetime
import string
from typing import NamedTuple

import numpy as np

from attention_utils import _validation as check


class CharVocabulary:
    """A character-level vocabulary: an integer id per character, ``0`` for padding, ``1`` for start.

    ``encode`` turns texts into a padded int32 array, ``decode`` turns ids back into texts. A seq2seq
    decoder reads its own previous output, so with ``start=True`` ``encode`` writes the start token
    first and shifts the text one place right: the teacher-forced decoder input for the targets
    ``encode(texts, length)``.

    Args:
        characters: the characters of the vocabulary, each once; they get the ids ``2, 3, ...``.
    """

    PAD, START = 0, 1

    def __init__(self, characters):
        characters = check.check_characters(characters, "characters")
        self.characters = tuple(characters)
        self.tokens = ("<pad>", "<start>", *self.characters)
        self._ids = {character: index for index, character in enumerate(self.tokens) if index > self.START}

    def __len__(self):
        return len(self.tokens)

    def encode(self, texts, length, start=False):
        """Returns the ids of ``texts`` (a string or a sequence of strings), shape ``(num_texts, length)``.

        Each text fills its row from the left and padding (id 0) fills the rest. With ``start=True`` a
        row is the start token (id 1) followed by the text without its last ``len(text) - length + 1``
        characters: the text shifted right by one place.
        """
        check.check_integer_at_least(length, "length", 1)
        texts = self._as_texts(texts)
        ids = np.full((len(texts), length), self.PAD, dtype="int32")
        for row, text in enumerate(texts):
            unknown = sorted(set(text) - set(self._ids))
            if unknown:
                raise ValueError(
                    "Invalid value for argument texts. Expected characters of the vocabulary. "
                    f"Received: texts[{row}]={text!r}, with {unknown} not in the vocabulary"
                )
            if len(text) > length:
                raise ValueError(
                    f"Invalid value for argument length. Expected at least the length of the longest text, "
                    f"{len(text)}. Received: length={length}"
                )
            text_ids = [self._ids[character] for character in text]
            if start:
                text_ids = [self.START, *text_ids][:length]
            ids[row, : len(text_ids)] = text_ids
        return ids

    @staticmethod
    def _as_texts(texts):
        """``texts`` as a list of strings; ``TypeError`` for anything else (no silent ``str()`` of numbers)."""
        if isinstance(texts, str):
            return [texts]
        expected = "Invalid value for argument texts. Expected a string or a sequence of strings."
        try:
            texts = list(texts)
        except TypeError:
            raise TypeError(f"{expected} Received: texts={texts!r} of type {type(texts).__name__}") from None
        for row, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"{expected} Received: texts[{row}]={text!r} of type {type(text).__name__}")
        return [str(text) for text in texts]  # NumPy's str_ to str

    def decode(self, ids):
        """Returns the text spelled by each row of ``ids``, skipping padding and the start token.

        ``ids`` of shape ``(num_texts, length)`` give a list of strings, ``(length,)`` one string.
        """
        # An empty list is float to NumPy; it still spells empty texts.
        ids = check.check_integer_array(ids, "ids", (1, 2), "(num_texts, length) or (length,)")
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(
                f"Invalid value for argument ids. Expected ids from 0 to {len(self) - 1}. "
                f"Received: ids from {ids.min()} to {ids.max()}"
            )
        texts = ["".join(self.tokens[i] for i in row if i > self.START) for row in np.atleast_2d(ids).tolist()]
        return texts[0] if ids.ndim == 1 else texts


MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Human-readable date formats: {D}/{M} without a leading zero, {DD}/{MM} with; {YY} is the year's last two
# digits (00-49 mean 20YY, 50-99 mean 19YY); {Month}/{Mon} the month's name in full or in three letters,
# {mon}/{MON} in lower and upper case; {Weekday}/{Wkd} the day of the week.
DATE_FORMATS = (
    "{D} {Mon} {YYYY}",  # 26 Nov 2026
    "{Weekday}, {Month} {D}, {YYYY}",  # Thursday, November 26, 2026
    "{MM}/{DD}/{YY}",  # 11/26/26
    "{YYYY}.{MM}.{DD}",  # 2026.11.26
    "{Month} {D}, {YYYY}",  # November 26, 2026
    "{DD}.{MM}.{YYYY}",  # 26.11.2026
    "{D} {Month} {YYYY}",  # 26 November 2026
    "{Wkd} {D} {Mon} {YYYY}",  # Thu 26 Nov 2026
    "{M}/{D}/{YYYY}",  # 11/26/2026
    "{D} {mon} {YY}",  # 26 nov 26
    "{DD} {MON} {YYYY}",  # 26 NOV 2026
    "{YYYY}-{MM}-{DD}",  # 2026-11-26, already ISO
)
DATE_FIELDS = ("year", "month", "day")
FIRST_DATE, LAST_DATE = "1950-01-01", "2049-12-31"
ISO_LENGTH = 10


def _date_field_texts(date):
    month, weekday = MONTH_NAMES[date.month - 1], WEEKDAY_NAMES[date.weekday()]
    return {
        "YYYY": ("year", f"{date.year:04d}"),
        "YY": ("year", f"{date.year % 100:02d}"),
        "MM": ("month", f"{date.month:02d}"),
        "M": ("month", str(date.month)),
        "Month": ("month", month),
        "Mon": ("month", month[:3]),
        "mon": ("month", month[:3].lower()),
        "MON": ("month", month[:3].upper()),
        "DD": ("day", f"{date.day:02d}"),
        "D": ("day", str(date.day)),
        "Weekday": (None, weekday),
        "Wkd": (None, weekday[:3]),
    }


def format_date(date, date_format):
    """Writes ``date`` (a ``datetime.date``) in ``date_format``, for example one of ``DATE_FORMATS``.

    A format is text with placeholders among ``{YYYY}``, ``{YY}``, ``{MM}``, ``{M}``, ``{Month}``,
    ``{Mon}``, ``{mon}``, ``{MON}``, ``{DD}``, ``{D}``, ``{Weekday}`` and ``{Wkd}``, written bare: a format
    spec or a conversion (``{DD:>5}``, ``{Month!r}``) raises ``ValueError``.

    Returns:
        The text, and an int32 array ``(3, 2)``: the ``[start, stop)`` character span of the year, the
        month and the day (``DATE_FIELDS``) in the text; ``(0, 0)`` for a field the format leaves out.
    """
    if not isinstance(date, datetime.date):
        raise TypeError(f"Invalid value for argument date. Expected a datetime.date. Received: date={date!r}")
    if not isinstance(date_format, str):
        raise TypeError(
            "Invalid value for argument date_format. Expected a string. "
            f"Received: date_format={date_format!r} of type {type(date_format).__name__}"
        )
    fields = _date_field_texts(date)
    try:
        parts = list(string.Formatter().parse(date_format))
    except ValueError as error:  # an unmatched brace
        raise ValueError(
            f"Invalid value for argument date_format. Expected a format string ({error}). "
            f"Received: date_format={date_format!r}"
        ) from None
    text, spans = "", np.zeros((len(DATE_FIELDS), 2), dtype="int32")
    for literal, name, format_spec, conversion in parts:
        text += literal
        if name is None:
            continue
        if name not in fields:
            raise ValueError(
                f"Invalid value for argument date_format. Expected placeholders among {sorted(fields)}. "
                f"Received: date_format={date_format!r}"
            )
        if format_spec or conversion:
            # A spec such as {DD:>5} would pad the text and blur the field's span: not supported.
            conversion = f"!{conversion}" if conversion else ""
            format_spec = f":{format_spec}" if format_spec else ""
            placeholder = "{" + name + conversion + format_spec + "}"
            raise ValueError(
                "Invalid value for argument date_format. Expected bare placeholders such as {DD}, without a "
                f"format spec or conversion. Received: date_format={date_format!r}, with placeholder {placeholder}"
            )
        field, value = fields[name]
        if field is not None:
            spans[DATE_FIELDS.index(field)] = (len(text), len(text) + len(value))
        text += value
    return text, spans


class Dates(NamedTuple):
    human: np.ndarray
    iso: np.ndarray
    fields: np.ndarray
    formats: np.ndarray


class DateSplit(NamedTuple):
    train: Dates
    validation: Dates


DATE_SOURCE_VOCABULARY = CharVocabulary(
    sorted(
        set(
            "0123456789 ,./-"
            + "".join(MONTH_NAMES + WEEKDAY_NAMES)
            + "".join(month[:3].lower() + month[:3].upper() for month in MONTH_NAMES)
        )
    )
)
"""The characters of every human-readable date format."""
DATE_TARGET_VOCABULARY = CharVocabulary("0123456789-")
"""The characters of an ISO date, ``YYYY-MM-DD``."""
DATE_SOURCE_LENGTH = len("Wednesday, September 30, 2026")
"""The length of the longest human-readable date, in characters."""


def dates(num_train=4000, num_validation=1000, seed=0):
    """Human-readable dates in many formats, paired with the same dates in ISO 8601 (``YYYY-MM-DD``).

    Dates are drawn without replacement from ``FIRST_DATE`` to ``LAST_DATE``, so no date appears twice;
    each is written in one of ``DATE_FORMATS`` drawn uniformly. The first ``num_validation`` dates form
    the validation set, the next ``num_train`` the training set: the two never share a date, and for a
    given seed the validation set does not depend on ``num_train``. Character level: encode with
    ``DATE_SOURCE_VOCABULARY`` and ``DATE_TARGET_VOCABULARY``.

    Args:
        num_train: the number of training pairs, a positive integer.
        num_validation: the number of validation pairs, a positive integer.
        seed: a non-negative integer, the seed of the NumPy generator; the same seed gives the same pairs.

    Returns:
        ``DateSplit(train, validation)``, each a ``Dates`` of ``human`` and ``iso``, object arrays
        ``(n,)`` of Python strings; ``fields`` ``(n, 3, 2)`` int32, the ``[start, stop)`` span of the
        year, the month and the day in each human-readable text; and ``formats`` ``(n,)`` int32, indices
        into ``DATE_FORMATS``.
    """
    first, last = datetime.date.fromisoformat(FIRST_DATE), datetime.date.fromisoformat(LAST_DATE)
    num_days = (last - first).days + 1
    check.check_integer_at_least(num_train, "num_train", 1)
    check.check_integer_at_least(num_validation, "num_validation", 1)
    if num_train + num_validation > num_days:
        raise ValueError(
            f"Invalid values for arguments num_train and num_validation. Expected at most {num_days} dates "
            f"in all. Received: num_train={num_train}, num_validation={num_validation}"
        )
    check.check_seed(seed)
    rng = np.random.default_rng(seed)
    offsets = rng.permutation(num_days)[: num_validation + num_train]
    formats = rng.integers(len(DATE_FORMATS), size=len(offsets)).astype("int32")
    human, iso, fields = [], [], []
    for offset, date_format in zip(offsets.tolist(), formats.tolist()):
        date = first + datetime.timedelta(days=offset)
        text, spans = format_date(date, DATE_FORMATS[date_format])
        human.append(text)
        iso.append(date.isoformat())
        fields.append(spans)
    pairs = Dates(np.array(human, dtype=object), np.array(iso, dtype=object), np.stack(fields), formats)
    validation = Dates(*(array[:num_validation] for array in pairs))
    train = Dates(*(array[num_validation:] for array in pairs))
    return DateSplit(train, validation)
