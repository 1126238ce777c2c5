"""Documents whose label one key sentence decides (notebook 07)."""

from typing import NamedTuple

import numpy as np

from attention_utils import _validation as check


class KeySentenceDocuments(NamedTuple):
    tokens: np.ndarray
    labels: np.ndarray
    key_sentences: np.ndarray


# Token ids of key_sentence_documents: 0 pads, 1 is the cue, 2-3 are positive, 4-5 negative, the rest neutral.
DOCUMENT_VOCABULARY = (
    "<pad>",
    "verdict",
    "good",
    "great",
    "bad",
    "awful",
    "the",
    "a",
    "film",
    "plot",
    "actor",
    "scene",
    "story",
    "music",
    "was",
    "is",
    "and",
    "very",
    "quite",
    "long",
    "this",
    "ending",
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
    check.check_seed(seed)
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
