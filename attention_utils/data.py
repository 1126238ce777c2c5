"""Deterministic data generators: nothing is downloaded, the same seed gives the same data."""

import datetime
import math
import numbers
import string
from typing import NamedTuple

import numpy as np

from attention_utils import _validation as check


def _check_seed(seed):
    """Raises unless ``seed`` is a non-negative integer (a NumPy integer too, not a bool).

    ``TypeError`` for a value that is not an integer, ``ValueError`` for a negative one.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(
            "Invalid value for argument seed. Expected a non-negative integer. "
            f"Received: seed={seed!r} of type {type(seed).__name__}"
        )
    if seed < 0:
        raise ValueError(f"Invalid value for argument seed. Expected a non-negative integer. Received: seed={seed!r}")


def _check_non_negative_number(value, name):
    """Raises unless ``value`` is a finite real number ``>= 0`` (a NumPy scalar too, not a bool).

    ``TypeError`` for a value that is not a real number, ``ValueError`` for NaN, an infinity or a negative.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"Invalid value for argument {name}. Expected a finite non-negative number. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    if not math.isfinite(value) or value < 0:
        raise ValueError(
            f"Invalid value for argument {name}. Expected a finite non-negative number. Received: {name}={value!r}"
        )


class RegressionPoints(NamedTuple):
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def regression_target(x):
    """The function behind ``regression_points``: ``f(x) = 2 sin(x) + x^0.8``."""
    return 2 * np.sin(x) + np.asarray(x) ** 0.8


def regression_points(num_train=50, num_test=50, noise=0.5, seed=0):
    """Noisy 1-D regression data for Nadaraya-Watson kernel regression (attention pooling).

    Training inputs are drawn uniformly from ``[0, 5)`` and sorted, targets are
    ``regression_target(x) + N(0, noise^2)``; test inputs are an even grid over ``[0, 5)`` with
    noise-free targets, so a prediction can be compared with the truth. Float32 throughout.

    Args:
        num_train: number of noisy training points (the keys and values).
        num_test: number of test points (the queries).
        noise: standard deviation of the Gaussian noise added to the training targets, a finite number >= 0.
        seed: a non-negative integer, the seed of the NumPy generator; the same seed gives the same points.

    Returns:
        A ``RegressionPoints`` of four 1-D arrays.
    """
    check.check_integer_at_least(num_train, "num_train", 1)
    check.check_integer_at_least(num_test, "num_test", 1)
    _check_non_negative_number(noise, "noise")
    _check_seed(seed)
    rng = np.random.default_rng(seed)
    x_train = np.sort(rng.uniform(0, 5, num_train))
    y_train = regression_target(x_train) + rng.normal(0, noise, num_train)
    x_test = np.arange(num_test) * (5 / num_test)
    y_test = regression_target(x_test)
    return RegressionPoints(*(a.astype("float32") for a in (x_train, y_train, x_test, y_test)))


class ClutteredShapes(NamedTuple):
    images: np.ndarray
    labels: np.ndarray
    target_masks: np.ndarray
    distractor_masks: np.ndarray


# 5x5 glyphs drawn on the canvas. A target's class is its index in SHAPE_NAMES; the distractors are
# pieces of the targets (bars, a diagonal, a corner), so no single stroke gives the class away.
SHAPE_NAMES = ("plus", "cross", "square", "H")
_TARGET_GLYPHS = (
    ["..#..", "..#..", "#####", "..#..", "..#.."],
    ["#...#", ".#.#.", "..#..", ".#.#.", "#...#"],
    ["#####", "#...#", "#...#", "#...#", "#####"],
    ["#...#", "#...#", "#####", "#...#", "#...#"],
)
_DISTRACTOR_GLYPHS = (
    [".....", ".....", "#####", ".....", "....."],
    ["..#..", "..#..", "..#..", "..#..", "..#.."],
    ["#....", ".#...", "..#..", "...#.", "....#"],
    ["#####", "#....", "#....", "#....", "#...."],
)


def _glyph(rows):
    return np.array([[char == "#" for char in row] for row in rows])


def cluttered_shapes(num_images=1000, image_size=32, num_distractors=3, noise=0.1, seed=0):
    """Images of one target shape among distractors on a noisy canvas, labelled by the target's shape.

    The targets are a plus, a cross, a square outline and an H, each 5x5 pixels.

    The canvas is split into a grid of 8x8 cells; the target and ``num_distractors`` distractors
    (pieces of the target shapes: a bar, a diagonal, a corner) go into distinct random cells, each at a
    random offset within its cell and with a random brightness in ``[0.6, 1]``; Gaussian noise is
    added and the result clipped to ``[0, 1]``. To name the class a model must find the target: the
    distractors carry strokes of every class.

    Args:
        num_images: the number of images, a positive integer.
        image_size: the side of the square canvas, a multiple of 8 of at least 16.
        num_distractors: the number of distractors per image, from 0 to ``(image_size // 8) ** 2 - 1``.
        noise: the standard deviation of the Gaussian pixel noise, a finite number ``>= 0``.
        seed: a non-negative integer, the seed of the NumPy generator; the same seed gives the same images.

    Returns:
        A ``ClutteredShapes`` of ``images`` ``(num_images, image_size, image_size, 1)`` float32,
        ``labels`` ``(num_images,)`` int32 indices into ``SHAPE_NAMES``, ``target_masks``
        ``(num_images, image_size, image_size)`` bool, ``True`` on the target's 5x5 box, and
        ``distractor_masks`` of the same shape, ``True`` on the distractors' 5x5 boxes.
    """
    check.check_integer_at_least(num_images, "num_images", 1)
    check.check_integer_at_least(num_distractors, "num_distractors", 0)
    is_integer = isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool)
    if not is_integer or image_size < 16 or image_size % 8:
        raise ValueError(
            "Invalid value for argument image_size. Expected a multiple of 8 of at least 16. "
            f"Received: image_size={image_size!r}"
        )
    cells_per_side = image_size // 8
    if num_distractors > cells_per_side**2 - 1:
        raise ValueError(
            f"Invalid value for argument num_distractors. Expected at most {cells_per_side**2 - 1} for "
            f"image_size={image_size} (one 8x8 cell per shape). Received: num_distractors={num_distractors}"
        )
    _check_non_negative_number(noise, "noise")
    _check_seed(seed)
    targets = [_glyph(rows) for rows in _TARGET_GLYPHS]
    distractors = [_glyph(rows) for rows in _DISTRACTOR_GLYPHS]
    rng = np.random.default_rng(seed)
    images = np.zeros((num_images, image_size, image_size), dtype="float32")
    target_masks = np.zeros((num_images, image_size, image_size), dtype=bool)
    distractor_masks = np.zeros_like(target_masks)
    labels = rng.integers(len(targets), size=num_images).astype("int32")
    for index in range(num_images):
        cells = rng.permutation(cells_per_side**2)[: 1 + num_distractors]  # the target's cell first
        kinds = rng.integers(len(distractors), size=num_distractors)
        glyphs = [targets[labels[index]]] + [distractors[kind] for kind in kinds]
        for shape_index, (cell, glyph) in enumerate(zip(cells, glyphs)):
            top = 8 * (cell // cells_per_side) + rng.integers(4)  # a 5x5 glyph, offset 0..3 in its cell
            left = 8 * (cell % cells_per_side) + rng.integers(4)
            images[index, top : top + 5, left : left + 5] += glyph * rng.uniform(0.6, 1.0)
            masks = target_masks if shape_index == 0 else distractor_masks
            masks[index, top : top + 5, left : left + 5] = True
    images += rng.normal(0, noise, images.shape).astype("float32")
    return ClutteredShapes(np.clip(images, 0, 1)[..., None], labels, target_masks, distractor_masks)


class DigitSequences(NamedTuple):
    inputs: np.ndarray
    targets: np.ndarray


DIGIT_TASKS = ("reverse", "sort")


def digit_sequences(num_sequences=1000, length=8, task="reverse", seed=0):
    """Sequences of random digits 0-9 and their reversal or sorted copy: tasks that need routing.

    To write the digit at output position ``i``, a model must fetch it from another input position:
    for ``"reverse"`` always from position ``length - 1 - i`` (a fixed route, found by position), for
    ``"sort"`` from wherever the ``i``-th smallest digit sits (a route found by content).

    Args:
        num_sequences: the number of sequences, a positive integer.
        length: the length of every sequence, an integer of at least 2.
        task: ``"reverse"`` or ``"sort"``.
        seed: a non-negative integer, the seed of the NumPy generator; the same seed gives the same sequences.

    Returns:
        A ``DigitSequences`` of ``inputs`` and ``targets``, both int32 of shape ``(num_sequences, length)``.
    """
    check.check_integer_at_least(num_sequences, "num_sequences", 1)
    check.check_integer_at_least(length, "length", 2)
    if task not in DIGIT_TASKS:
        raise ValueError(
            f"Invalid value for argument task. Expected one of {list(DIGIT_TASKS)}. Received: task={task!r}"
        )
    _check_seed(seed)
    inputs = np.random.default_rng(seed).integers(10, size=(num_sequences, length)).astype("int32")
    targets = inputs[:, ::-1] if task == "reverse" else np.sort(inputs, axis=1)
    return DigitSequences(inputs, np.ascontiguousarray(targets))


class AssociativeRecall(NamedTuple):
    queries: np.ndarray
    keys: np.ndarray
    values: np.ndarray
    targets: np.ndarray
    positions: np.ndarray


def associative_recall(num_sequences=1000, length=6, num_symbols=8, seed=0):
    """Key-value pairs and a query key: the target is the value stored under that key.

    Each sequence holds ``length`` pairs ``(key, value)`` of symbols ``0..num_symbols - 1``, its keys all
    different; the query is one of its keys, drawn at random. To answer, a model must find the one position
    whose key equals the query and read that position's value: a task for hard attention.

    Args:
        num_sequences: the number of sequences, a positive integer.
        length: the number of pairs per sequence, an integer from 2 to ``num_symbols``.
        num_symbols: the size of the alphabet of keys and values, an integer of at least 2.
        seed: a non-negative integer, the seed of the NumPy generator; the same seed gives the same sequences.

    Returns:
        An ``AssociativeRecall`` of int32 arrays: ``queries`` ``(num_sequences,)``, ``keys`` and ``values``
        ``(num_sequences, length)``, ``targets`` ``(num_sequences,)`` (the value under the query) and
        ``positions`` ``(num_sequences,)`` (where the query's key sits).
    """
    check.check_integer_at_least(num_sequences, "num_sequences", 1)
    check.check_integer_at_least(num_symbols, "num_symbols", 2)
    check.check_integer_at_least(length, "length", 2)
    if length > num_symbols:
        raise ValueError(
            "Invalid value for argument length. Expected at most num_symbols (the keys of a sequence are all "
            f"different). Received: length={length}, num_symbols={num_symbols}"
        )
    _check_seed(seed)
    rng = np.random.default_rng(seed)
    keys = np.argsort(rng.random((num_sequences, num_symbols)), axis=1)[:, :length]  # distinct per row
    values = rng.integers(num_symbols, size=(num_sequences, length))
    positions = rng.integers(length, size=num_sequences)
    rows = np.arange(num_sequences)
    arrays = (keys[rows, positions], keys, values, values[rows, positions], positions)
    return AssociativeRecall(*(a.astype("int32") for a in arrays))


class SharedSymbolPairs(NamedTuple):
    first: np.ndarray
    second: np.ndarray
    labels: np.ndarray
    first_positions: np.ndarray
    second_positions: np.ndarray


def shared_symbol_pairs(num_pairs=1000, first_length=5, second_length=6, num_symbols=16, seed=0):
    """Pairs of symbol sequences that share exactly one symbol; the label is that symbol.

    Within a pair all symbols are different except the shared one, which sits at a random position in
    each sequence. To name it, a model must match the two sequences against each other: a task for
    co-attention, whose weights should land on the shared symbol in both sequences.

    Args:
        num_pairs: the number of pairs, a positive integer.
        first_length, second_length: the lengths of the two sequences, positive integers.
        num_symbols: the size of the alphabet, at least ``first_length + second_length - 1``.
        seed: a non-negative integer, the seed of the NumPy generator; the same seed gives the same pairs.

    Returns:
        A ``SharedSymbolPairs`` of int32 arrays: ``first`` ``(num_pairs, first_length)``, ``second``
        ``(num_pairs, second_length)``, ``labels`` ``(num_pairs,)`` (the shared symbol) and its positions
        ``first_positions`` and ``second_positions``, both ``(num_pairs,)``.
    """
    check.check_integer_at_least(num_pairs, "num_pairs", 1)
    check.check_integer_at_least(first_length, "first_length", 1)
    check.check_integer_at_least(second_length, "second_length", 1)
    check.check_integer_at_least(num_symbols, "num_symbols", 1)
    if num_symbols < first_length + second_length - 1:
        raise ValueError(
            "Invalid value for argument num_symbols. Expected at least first_length + second_length - 1 = "
            f"{first_length + second_length - 1}, so only one symbol is shared. Received: num_symbols={num_symbols}"
        )
    _check_seed(seed)
    rng = np.random.default_rng(seed)
    symbols = np.argsort(rng.random((num_pairs, num_symbols)), axis=1)  # a random permutation per pair
    labels = symbols[:, 0]
    first = symbols[:, :first_length].copy()
    second = np.concatenate([symbols[:, :1], symbols[:, first_length:first_length + second_length - 1]], axis=1)
    rows = np.arange(num_pairs)
    first_positions = rng.integers(first_length, size=num_pairs)
    second_positions = rng.integers(second_length, size=num_pairs)
    # Move the shared symbol from position 0 to its random position, in both sequences.
    first[:, 0], first[rows, first_positions] = first[rows, first_positions], labels
    second[:, 0], second[rows, second_positions] = second[rows, second_positions], labels
    arrays = (first, second, labels, first_positions, second_positions)
    return SharedSymbolPairs(*(a.astype("int32") for a in arrays))


class KeySentenceDocuments(NamedTuple):
    tokens: np.ndarray
    labels: np.ndarray
    key_sentences: np.ndarray


# Token ids of key_sentence_documents: 0 pads, 1 is the cue, 2-3 are positive, 4-5 negative, the rest neutral.
DOCUMENT_VOCABULARY = (
    "<pad>", "verdict", "good", "great", "bad", "awful",
    "the", "a", "film", "plot", "actor", "scene", "story", "music",
    "was", "is", "and", "very", "quite", "long", "this", "ending",
)
_CUE, _POSITIVE, _NEGATIVE, _FIRST_NEUTRAL = 1, (2, 3), (4, 5), 6


def key_sentence_documents(num_documents=1000, max_sentences=6, max_words=8, seed=0):
    """Documents of several sentences whose label is decided by one sentence, the one with the cue.

    Every document has from 2 to ``max_sentences`` sentences of 3 to ``max_words`` words (ids into
    ``DOCUMENT_VOCABULARY``). Each sentence holds one sentiment word, positive ("good", "great") or
    negative ("bad", "awful") at random, among neutral words. One sentence, the *key sentence*, also
    holds the cue word "verdict", and the document's label is the polarity of that sentence's sentiment
    word (1 positive, 0 negative). The other sentences' sentiments are independent of the label, so a
    model must find the key sentence to do better than chance: a task for hierarchical attention
    (Yang et al. 2016), whose sentence-level weights should land on the key sentence.

    Sentences are padded with id 0 to ``max_words`` words, documents with all-zero sentences to
    ``max_sentences``, so ``Embedding(mask_zero=True)`` masks padding words, and padding sentences are
    wholly masked.

    Args:
        num_documents: the number of documents, a positive integer.
        max_sentences: the number of sentence slots per document, an integer of at least 2.
        max_words: the number of word slots per sentence, an integer of at least 3.
        seed: a non-negative integer, the seed of the NumPy generator; the same seed gives the same documents.

    Returns:
        A ``KeySentenceDocuments`` of ``tokens`` ``(num_documents, max_sentences, max_words)``,
        ``labels`` ``(num_documents,)`` and ``key_sentences`` ``(num_documents,)``, the index of each
        document's key sentence, all int32.
    """
    check.check_integer_at_least(num_documents, "num_documents", 1)
    check.check_integer_at_least(max_sentences, "max_sentences", 2)
    check.check_integer_at_least(max_words, "max_words", 3)
    _check_seed(seed)
    rng = np.random.default_rng(seed)
    tokens = np.zeros((num_documents, max_sentences, max_words), dtype="int32")
    labels = rng.integers(2, size=num_documents).astype("int32")
    num_sentences = rng.integers(2, max_sentences + 1, size=num_documents)
    key_sentences = rng.integers(num_sentences).astype("int32")  # one below each document's count
    for document in range(num_documents):
        for sentence in range(num_sentences[document]):
            length = rng.integers(3, max_words + 1)
            words = rng.integers(_FIRST_NEUTRAL, len(DOCUMENT_VOCABULARY), size=length)
            is_key = sentence == key_sentences[document]
            positive = labels[document] == 1 if is_key else rng.integers(2) == 1
            slots = rng.permutation(length)
            words[slots[0]] = rng.choice(_POSITIVE if positive else _NEGATIVE)
            if is_key:
                words[slots[1]] = _CUE
            tokens[document, sentence, :length] = words
    return KeySentenceDocuments(tokens, labels, key_sentences)


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
        characters = list(characters)
        is_distinct = len(set(characters)) == len(characters)
        if not characters or not is_distinct or any(not isinstance(c, str) or len(c) != 1 for c in characters):
            raise ValueError(
                "Invalid value for argument characters. Expected distinct single characters. "
                f"Received: characters={characters!r}"
            )
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
            raise TypeError(
                f"{expected} Received: texts={texts!r} of type {type(texts).__name__}"
            ) from None
        for row, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"{expected} Received: texts[{row}]={text!r} of type {type(text).__name__}")
        return [str(text) for text in texts]  # NumPy's str_ to str

    def decode(self, ids):
        """Returns the text spelled by each row of ``ids``, skipping padding and the start token.

        ``ids`` of shape ``(num_texts, length)`` give a list of strings, ``(length,)`` one string.
        """
        ids = np.asarray(ids)
        if ids.size == 0 and ids.dtype.kind == "f":
            ids = ids.astype("int32")  # an empty list is float to NumPy; it still spells empty texts
        if ids.ndim not in (1, 2) or ids.dtype.kind not in "iu":
            raise ValueError(
                "Invalid value for argument ids. Expected integers of shape (num_texts, length) or (length,). "
                f"Received: ids with shape {ids.shape} and dtype {ids.dtype}"
            )
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(
                f"Invalid value for argument ids. Expected ids from 0 to {len(self) - 1}. "
                f"Received: ids from {ids.min()} to {ids.max()}"
            )
        texts = ["".join(self.tokens[i] for i in row if i > self.START) for row in np.atleast_2d(ids).tolist()]
        return texts[0] if ids.ndim == 1 else texts


MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
               "October", "November", "December")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Human-readable date formats: {D}/{M} without a leading zero, {DD}/{MM} with; {YY} is the year's last two
# digits (00-49 mean 20YY, 50-99 mean 19YY); {Month}/{Mon} the month's name in full or in three letters,
# {mon}/{MON} in lower and upper case; {Weekday}/{Wkd} the day of the week.
DATE_FORMATS = (
    "{D} {Mon} {YYYY}",                # 26 Nov 2026
    "{Weekday}, {Month} {D}, {YYYY}",  # Thursday, November 26, 2026
    "{MM}/{DD}/{YY}",                  # 11/26/26
    "{YYYY}.{MM}.{DD}",                # 2026.11.26
    "{Month} {D}, {YYYY}",             # November 26, 2026
    "{DD}.{MM}.{YYYY}",                # 26.11.2026
    "{D} {Month} {YYYY}",              # 26 November 2026
    "{Wkd} {D} {Mon} {YYYY}",          # Thu 26 Nov 2026
    "{M}/{D}/{YYYY}",                  # 11/26/2026
    "{D} {mon} {YY}",                  # 26 nov 26
    "{DD} {MON} {YYYY}",               # 26 NOV 2026
    "{YYYY}-{MM}-{DD}",                # 2026-11-26, already ISO
)
DATE_FIELDS = ("year", "month", "day")
FIRST_DATE, LAST_DATE = "1950-01-01", "2049-12-31"
ISO_LENGTH = 10


def _date_field_texts(date):
    month, weekday = MONTH_NAMES[date.month - 1], WEEKDAY_NAMES[date.weekday()]
    return {
        "YYYY": ("year", f"{date.year:04d}"), "YY": ("year", f"{date.year % 100:02d}"),
        "MM": ("month", f"{date.month:02d}"), "M": ("month", str(date.month)),
        "Month": ("month", month), "Mon": ("month", month[:3]),
        "mon": ("month", month[:3].lower()), "MON": ("month", month[:3].upper()),
        "DD": ("day", f"{date.day:02d}"), "D": ("day", str(date.day)),
        "Weekday": (None, weekday), "Wkd": (None, weekday[:3]),
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


DATE_SOURCE_VOCABULARY = CharVocabulary(sorted(set(
    "0123456789 ,./-" + "".join(MONTH_NAMES + WEEKDAY_NAMES)
    + "".join(month[:3].lower() + month[:3].upper() for month in MONTH_NAMES)
)))
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
    _check_seed(seed)
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
