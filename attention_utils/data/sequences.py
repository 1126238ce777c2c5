"""Digit and symbol sequences: reversal and sorting, copies of many lengths, associative recall, shared-symbol
pairs (06, 10, 11)."""

from typing import NamedTuple

import numpy as np

from attention_utils import _validation as check


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
    check.check_one_of(task, "task", DIGIT_TASKS)
    check.check_seed(seed)
    inputs = np.random.default_rng(seed).integers(10, size=(num_sequences, length)).astype("int32")
    targets = inputs[:, ::-1] if task == "reverse" else np.sort(inputs, axis=1)
    return DigitSequences(inputs, np.ascontiguousarray(targets))


class DigitCopies(NamedTuple):
    source: np.ndarray
    previous_targets: np.ndarray
    targets: np.ndarray
    lengths: np.ndarray


DIGIT_COPY_TASKS = ("copy", "reverse")
DIGIT_COPY_START = 1  # the id of the start token; 0 is padding, the digits 0-9 are the ids 2-11
DIGIT_COPY_VOCABULARY_SIZE = 12


def digit_copies(num_sequences=1000, min_length=1, max_length=20, task="copy", seed=0):
    """Digit sequences of many lengths, padded, and their copy or reversal: a task whose input can
    outgrow one vector.

    Each sequence has a length drawn uniformly from ``min_length`` to ``max_length`` (both included) and
    random digits. The ids suit an encoder-decoder with ``Embedding(mask_zero=True)``: 0 is padding,
    ``DIGIT_COPY_START`` (1) the start token, and digit ``d`` is the id ``d + 2``, so there are
    ``DIGIT_COPY_VOCABULARY_SIZE`` (12) ids in all. The target is the same digits (``"copy"``) or the same
    digits backwards (``"reverse"``), padded like the source; ``previous_targets`` is the decoder's input
    under teacher forcing, the start token followed by ``targets[:, :-1]``.

    Args:
        num_sequences: the number of sequences, a positive integer.
        min_length: the shortest length, a positive integer.
        max_length: the longest length, the padded length of every array, an integer of at least
            ``min_length``.
        task: ``"copy"`` or ``"reverse"``.
        seed: a non-negative integer, the seed of the NumPy generator; the same seed gives the same sequences.

    Returns:
        A ``DigitCopies`` of int32 arrays: ``source``, ``previous_targets`` and ``targets``, each
        ``(num_sequences, max_length)``, and ``lengths`` ``(num_sequences,)``.
    """
    check.check_integer_at_least(num_sequences, "num_sequences", 1)
    check.check_integer_at_least(min_length, "min_length", 1)
    check.check_integer_at_least(max_length, "max_length", 1)
    if max_length < min_length:
        raise ValueError(
            "Invalid value for argument max_length. Expected at least min_length. "
            f"Received: max_length={max_length}, min_length={min_length}"
        )
    check.check_one_of(task, "task", DIGIT_COPY_TASKS)
    check.check_seed(seed)
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_length, max_length + 1, size=num_sequences)
    digits = rng.integers(10, size=(num_sequences, max_length))
    real = np.arange(max_length) < lengths[:, None]  # (num_sequences, max_length): True before the padding
    source = np.where(real, digits + 2, 0)
    if task == "copy":
        targets = source
    else:  # position i of the target holds digit length - 1 - i of the source
        backwards = np.clip(lengths[:, None] - 1 - np.arange(max_length), 0, max_length - 1)
        targets = np.where(real, np.take_along_axis(source, backwards, axis=1), 0)
    previous_targets = np.concatenate([np.full((num_sequences, 1), DIGIT_COPY_START), targets[:, :-1]], axis=1)
    return DigitCopies(*(a.astype("int32") for a in (source, previous_targets, targets, lengths)))


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

    This is Ba et al.'s (2016) associative retrieval task; the name comes from Graves et al.'s (2014)
    associative recall, whose answer is the item that *follows* the query rather than the value under it.

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
    check.check_seed(seed)
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
    check.check_seed(seed)
    rng = np.random.default_rng(seed)
    symbols = np.argsort(rng.random((num_pairs, num_symbols)), axis=1)  # a random permutation per pair
    labels = symbols[:, 0]
    first = symbols[:, :first_length].copy()
    second = np.concatenate([symbols[:, :1], symbols[:, first_length : first_length + second_length - 1]], axis=1)
    rows = np.arange(num_pairs)
    first_positions = rng.integers(first_length, size=num_pairs)
    second_positions = rng.integers(second_length, size=num_pairs)
    # Move the shared symbol from position 0 to its random position, in both sequences.
    first[:, 0], first[rows, first_positions] = first[rows, first_positions], labels
    second[:, 0], second[rows, second_positions] = second[rows, second_positions], labels
    arrays = (first, second, labels, first_positions, second_positions)
    return SharedSymbolPairs(*(a.astype("int32") for a in arrays))
