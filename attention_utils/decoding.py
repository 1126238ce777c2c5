"""Decoding a trained sequence-to-sequence model: one output token at a time.

| name            | what it does                                                      |
|-----------------|-------------------------------------------------------------------|
| `greedy_decode` | feeds a teacher-forced model its own outputs, one step at a time |
"""

import numpy as np

from attention_utils import _validation as check


def greedy_decode(model, source, target_length, start_id=1):
    """Greedy decoding: each output is the most likely token given the source and the outputs before it.

    ``model([source, previous_targets])`` must return logits ``(batch_size, target_length, vocab_size)``
    and be causal: its output at step ``t`` depends on ``previous_targets[:, :t + 1]`` only, as in a
    recurrent decoder trained with teacher forcing. Step ``t`` runs the model on the start token and the
    ``t`` outputs decoded so far (the later, not yet decoded positions hold padding, which step ``t``
    does not read), keeps the most likely token at ``t``, and writes it into the input of step
    ``t + 1``. The model runs ``target_length`` times on the whole sequence: simple, and cheap enough
    for short outputs.

    Args:
        model: a Keras model with inputs ``[source, previous_targets]``.
        source: the model's source input, ``(batch_size, ...)``.
        target_length: the number of steps to decode, a positive integer.
        start_id: the id of the start token, the first previous target, a non-negative integer.

    Returns:
        The decoded ids, int32 of shape ``(batch_size, target_length)``.
    """
    check.check_integer_at_least(target_length, "target_length", 1)
    check.check_integer_at_least(start_id, "start_id", 0, expected="a non-negative integer token id")
    source = np.asarray(source)
    previous_targets = np.zeros((len(source), target_length), dtype="int32")
    previous_targets[:, 0] = start_id
    decoded = np.zeros((len(source), target_length), dtype="int32")
    for step in range(target_length):
        logits = np.asarray(model.predict_on_batch([source, previous_targets]))
        if logits.ndim != 3 or logits.shape[:2] != (len(source), target_length):
            raise ValueError(
                "Invalid value for argument model. Expected logits of shape "
                f"(batch_size={len(source)}, target_length={target_length}, vocab_size). "
                f"Received: logits of shape {logits.shape}"
            )
        decoded[:, step] = logits[:, step].argmax(axis=-1)
        if step + 1 < target_length:
            previous_targets[:, step + 1] = decoded[:, step]
    return decoded
