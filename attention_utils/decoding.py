"""Decoding: one output token at a time, from a sequence-to-sequence model or a language model.

| name                    | what it does                                                          |
|-------------------------|-----------------------------------------------------------------------|
| `greedy_decode`         | feeds a teacher-forced model its own outputs, one step at a time     |
| `generate`              | continues a prompt greedily, with or without a key-value cache       |
| `cache_bytes_per_token` | the bytes a language model's key-value cache grows by with each token |
| `traced`                | TensorFlow only: the forward passes as `tf.function`s, traced once    |
"""

import time

import keras
import ml_dtypes
import numpy as np
from keras import ops

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


def generate(model, prompt, steps, *, use_cache=True, return_step_seconds=False):
    """Greedy generation: continues each prompt by the most likely next token, ``steps`` times.

    The model is a decoder-only language model such as ``attention_utils.models.TransformerLanguageModel``,
    or any object that keeps its protocol:
    - ``model(tokens, training=False)`` returns logits ``(batch_size, T, vocabulary_size)`` for int32 ids
      ``tokens`` ``(batch_size, T)``, position ``t``'s logits predicting token ``t + 1`` (causal);
    - with ``use_cache``, ``model.empty_cache(batch_size)`` returns the cache before the first token,
      and ``model(tokens, cache=cache, training=False)`` returns ``(logits, new_cache)``, the logits of
      the new tokens (at the positions after those in the cache) and the cache extended by them;
    - optionally ``model.max_positions``, the most positions it can read (``None``: no limit).

    Without a cache (``use_cache=False``), the step at length ``n`` runs the model on the whole sequence
    so far, the prompt and the tokens generated, and keeps the last position's logits: it recomputes the
    queries, keys, values and feed-forward outputs of all ``n`` positions (work proportional to ``n``,
    and ``n^2`` for the attention), so generating ``N`` tokens costs work growing as ``N^2`` (``N^3``
    in the attention). With the cache, a first call on the prompt (the "prefill") fills the cache and
    gives the first token; each later step runs the model on the one token generated last: one query,
    key, value and feed-forward output (constant work) and one row of attention over the ``n`` cached
    keys and values (work proportional to ``n``), so ``N`` tokens cost work growing as ``N`` (``N^2``
    in the attention). Both give the same tokens (up to rounding in the logits, which could only matter
    for a tie).

    Each call is as fast as the model's own: eager for a Keras model, where a fixed cost per layer and
    operation can outweigh a cached step's arithmetic. A plain ``tf.function`` would be traced again at
    every step, since the sequence grows; ``traced(model)`` traces once, for any length.

    Args:
        model: the language model (see the protocol above).
        prompt: integer token ids ``(batch_size, P0)``, ``P0 >= 1``.
        steps: the number of tokens to generate, a positive integer. The model reads the prompt and all
            generated tokens but the last: ``P0 + steps - 1`` positions, at most ``model.max_positions``
            (``ValueError`` otherwise).
        use_cache: whether to decode with the key-value cache; a bool. Keyword only.
        return_step_seconds: whether to return the wall time of each step too; a bool. Keyword only.

    Returns:
        The prompt followed by the generated tokens, an int32 NumPy array ``(batch_size, P0 + steps)``;
        with ``return_step_seconds``, also a NumPy array ``(steps,)`` of each step's wall time in seconds
        (``time.perf_counter``, from the model call to the token read back). With the cache, the first
        step's time includes the prefill of the whole prompt.
    """
    prompt = check.check_integer_array(prompt, "prompt", (2,), "(batch_size, prompt_length)")
    if prompt.shape[1] == 0:
        raise ValueError(
            "Invalid shape for argument prompt. Expected at least one token per sequence (the first token "
            f"to continue). Received: prompt.shape={prompt.shape}"
        )
    check.check_integer_at_least(steps, "steps", 1)
    check.check_bool(use_cache, "use_cache")
    check.check_bool(return_step_seconds, "return_step_seconds")
    if use_cache and not callable(getattr(model, "empty_cache", None)):
        raise TypeError(
            "Invalid value for argument model. Expected a model with an empty_cache(batch_size) method and "
            "a cache argument with use_cache=True (or pass use_cache=False). Received: "
            f"model={getattr(model, 'name', model)!r} of type {type(model).__name__}"
        )
    batch_size, prompt_length = prompt.shape
    max_positions = getattr(model, "max_positions", None)
    if max_positions is not None and prompt_length + steps - 1 > max_positions:
        raise ValueError(
            f"Invalid value for argument steps. Expected prompt_length + steps - 1 <= max_positions="
            f"{max_positions}, the positions the model can read. Received: steps={steps}, "
            f"prompt.shape={prompt.shape}"
        )
    tokens = np.zeros((batch_size, prompt_length + steps), dtype="int32")
    tokens[:, :prompt_length] = prompt
    step_seconds = np.zeros(steps)
    cache = model.empty_cache(batch_size) if use_cache else None
    for step in range(steps):
        length = prompt_length + step  # tokens so far; the step predicts token `length`
        start = time.perf_counter()
        if not use_cache:
            logits = model(tokens[:, :length], training=False)
        else:  # the prefill, then the token generated last
            new_tokens = tokens[:, :length] if step == 0 else tokens[:, length - 1 : length]
            logits, cache = model(new_tokens, cache=cache, training=False)
        tokens[:, length] = np.argmax(ops.convert_to_numpy(logits[:, -1]), axis=-1)
        step_seconds[step] = time.perf_counter() - start
    return (tokens, step_seconds) if return_step_seconds else tokens


def cache_bytes_per_token(model):
    """The bytes by which a language model's key-value cache grows with each token of each sequence.

    Every block keeps the key and the value of every token, one vector of ``key_dim`` numbers per
    key/value head: ``2 x num_layers x num_key_value_heads x key_dim x`` the bytes of one number in the
    model's compute dtype (4 for float32). Fewer key/value heads (grouped-query or multi-query attention)
    make it smaller by the same factor; the query heads do not count.

    Args:
        model: a ``TransformerLanguageModel``, or any model with the attributes ``num_layers``,
            ``num_key_value_heads``, ``key_dim`` and ``compute_dtype``.

    Returns:
        A Python int.
    """
    names = ("num_layers", "num_key_value_heads", "key_dim", "compute_dtype")
    if not all(hasattr(model, name) for name in names):
        raise TypeError(
            f"Invalid value for argument model. Expected a model with the attributes {', '.join(names)}, "
            f"such as a TransformerLanguageModel. Received: model of type {type(model).__name__}"
        )
    bytes_per_number = ml_dtypes.finfo(keras.backend.standardize_dtype(model.compute_dtype)).bits // 8
    return int(2 * model.num_layers * model.num_key_value_heads * model.key_dim * bytes_per_number)


class TracedLanguageModel:
    """A language model's forward passes as two traced TensorFlow functions: what ``traced`` returns.

    It keeps ``generate``'s protocol (``__call__``, ``empty_cache``, ``max_positions``); see ``traced``.
    """

    def __init__(self, model):
        import tensorflow as tf

        self.model = model
        self.max_positions = getattr(model, "max_positions", None)
        tokens_spec = tf.TensorSpec((None, None), tf.int32)  # any batch, any length: one trace
        cache_spec = [  # per block, (keys, values): any batch, any cached length, fixed heads and key_dim
            tuple(tf.TensorSpec((None, None, *x.shape[2:]), x.dtype) for x in pair) for pair in model.empty_cache(1)
        ]
        self.full = tf.function(lambda tokens: model(tokens, training=False), input_signature=[tokens_spec])
        self.step = tf.function(
            lambda tokens, cache: model(tokens, cache=cache, training=False), input_signature=[tokens_spec, cache_spec]
        )

    def empty_cache(self, batch_size):
        return self.model.empty_cache(batch_size)

    def __call__(self, tokens, cache=None, training=False):
        if training:
            raise ValueError(
                "Invalid value for argument training. Expected False: a traced model only decodes (its "
                f"functions are traced with training=False). Received: training={training!r}"
            )
        tokens = ops.cast(tokens, "int32")
        if cache is None:
            return self.full(tokens)
        return self.step(tokens, [tuple(pair) for pair in cache])


def traced(model):
    """The model's two forward passes, with and without a cache, each traced once by ``tf.function``.

    Eager Keras pays a fixed cost at every call, for every layer and operation run from Python; a
    decoding step with the cache does little arithmetic (one token), so that cost can dominate it
    (notebook 14 measures it). ``tf.function`` runs a step as one TensorFlow graph instead. Traced with
    a plain ``tf.function``, a decoder would be traced again at every step, since the lengths of the
    tokens and of the cache change; here the input signatures leave them unknown,
    ``TensorSpec((None, None), int32)`` for the tokens and ``(None, None, num_key_value_heads, key_dim)``
    for each cached key and value, so each function is traced once, at its first call, for every
    batch size and length.

    TensorFlow only: it builds ``tf.function``s with input signatures, a TensorFlow feature (``jax.jit``
    compiles again for every new shape, so a growing sequence would be compiled at every step); on
    another backend, a ``RuntimeError`` naming ``KERAS_BACKEND``, after the model is checked. The model
    is not copied: the traced functions read its current weights.

    Args:
        model: a ``TransformerLanguageModel``, or a Keras model with its protocol: ``model(tokens,
            training=False)`` and ``model(tokens, cache=cache, training=False)``, ``empty_cache``
            returning a list of ``(keys, values)`` pairs of rank 4 (``(batch_size, length, heads,
            key_dim)``), and optionally ``max_positions``.

    Returns:
        A ``TracedLanguageModel``, which ``generate`` takes in place of the model:
        ``traced_model(tokens, cache=None, training=False)`` returns what the model returns (as
        TensorFlow tensors), ``traced_model.empty_cache(batch_size)`` and
        ``traced_model.max_positions`` are the model's, and ``traced_model.full`` and
        ``traced_model.step`` are the two ``tf.function``s (``experimental_get_tracing_count()`` counts
        their traces).
    """
    if not callable(getattr(model, "empty_cache", None)):
        raise TypeError(
            "Invalid value for argument model. Expected a language model with an empty_cache(batch_size) "
            f"method and a cache argument. Received: model of type {type(model).__name__}"
        )
    check.check_backend("traced builds TensorFlow functions")
    return TracedLanguageModel(model)
