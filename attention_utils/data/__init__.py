"""Deterministic data generators, a module per domain: nothing is downloaded, the same seed gives the same data.

| module       | generators                                                                     | notebooks  |
|--------------|--------------------------------------------------------------------------------|------------|
| `regression` | `regression_points`: noisy samples of a 1-D function                           | 01         |
| `images`     | `cluttered_shapes`, `cued_shapes`: shapes among distractors                    | 08         |
| `sequences`  | `digit_sequences`, `digit_copies`, `associative_recall`, `shared_symbol_pairs` | 06, 10, 11 |
| `documents`  | `key_sentence_documents`: a label decided by one key sentence                  | 07         |
| `dates`      | `dates`, `format_date`, `CharVocabulary`: date translation                     | 09         |

Every public name is re-exported here: ``au.data.cluttered_shapes(...)``, ``au.data.dates(...)`` (the
function; its module is ``attention_utils.data.dates``, as in ``from attention_utils.data.dates import
CharVocabulary``).
Every generator checks its arguments: counts are positive integers, a seed is a non-negative integer,
noise a finite non-negative number.
"""

from attention_utils.data.dates import (
    DATE_FIELDS,
    DATE_FORMATS,
    DATE_SOURCE_LENGTH,
    DATE_SOURCE_VOCABULARY,
    DATE_TARGET_VOCABULARY,
    FIRST_DATE,
    ISO_LENGTH,
    LAST_DATE,
    MONTH_NAMES,
    WEEKDAY_NAMES,
    CharVocabulary,
    Dates,
    DateSplit,
    dates,
    format_date,
)
from attention_utils.data.documents import (
    DOCUMENT_VOCABULARY,
    KeySentenceDocuments,
    key_sentence_documents,
)
from attention_utils.data.images import (
    CUED_IMAGE_SHAPE,
    CUED_MARGIN,
    SHAPE_NAMES,
    ClutteredShapes,
    CuedShapes,
    cluttered_shapes,
    cued_shapes,
)
from attention_utils.data.regression import (
    RegressionPoints,
    regression_points,
    regression_target,
)
from attention_utils.data.sequences import (
    DIGIT_COPY_START,
    DIGIT_COPY_TASKS,
    DIGIT_COPY_VOCABULARY_SIZE,
    DIGIT_TASKS,
    AssociativeRecall,
    DigitCopies,
    DigitSequences,
    SharedSymbolPairs,
    associative_recall,
    digit_copies,
    digit_sequences,
    shared_symbol_pairs,
)

__all__ = [
    "AssociativeRecall",
    "CharVocabulary",
    "ClutteredShapes",
    "CUED_IMAGE_SHAPE",
    "CUED_MARGIN",
    "CuedShapes",
    "DATE_FIELDS",
    "DATE_FORMATS",
    "DATE_SOURCE_LENGTH",
    "DATE_SOURCE_VOCABULARY",
    "DATE_TARGET_VOCABULARY",
    "DIGIT_COPY_START",
    "DIGIT_COPY_TASKS",
    "DIGIT_COPY_VOCABULARY_SIZE",
    "DIGIT_TASKS",
    "DOCUMENT_VOCABULARY",
    "DateSplit",
    "Dates",
    "DigitCopies",
    "DigitSequences",
    "FIRST_DATE",
    "ISO_LENGTH",
    "KeySentenceDocuments",
    "LAST_DATE",
    "MONTH_NAMES",
    "RegressionPoints",
    "SHAPE_NAMES",
    "SharedSymbolPairs",
    "WEEKDAY_NAMES",
    "associative_recall",
    "cluttered_shapes",
    "cued_shapes",
    "dates",
    "digit_copies",
    "digit_sequences",
    "format_date",
    "key_sentence_documents",
    "regression_points",
    "regression_target",
    "shared_symbol_pairs",
]
