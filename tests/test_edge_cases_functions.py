"""Edge cases of the public functions of alignment, scores and attention: masks that are not boolean,
extreme temperatures and magnitudes, degenerate sizes, flags that are not bools, variables, bfloat16 and
empty inputs. Each was once silently wrong or failed deep inside Keras."""

import keras
import ml_dtypes
import numpy as np
import pytest
from helpers import linear_attention, numpy_of, weight_gradients
from keras import ops

from attention_utils import attend, autodiff, masked_softmax, scores
from attention_utils.alignment import sparsemax
from attention_utils.efficient import blockwise_attend, linear_attend, windowed_attend


def numpy_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.fixture
def query_key_value(rng):
    def draw(*shape):
        return rng.normal(size=shape).astype("float32")

    return draw(2, 5, 4), draw(2, 7, 4), draw(2, 7, 3)


# 1. A floating mask is a TypeError, whatever holds it; integer masks are read alike in every container.

FLOAT_MASKS = {
    "tensor": lambda: ops.convert_to_tensor([[0.0, 0.0, -1e9]]),
    "numpy": lambda: np.array([[0.0, 0.0, -1e9]]),
    "list": lambda: [[0.0, 0.0, -1e9]],
}


@pytest.mark.parametrize("container", sorted(FLOAT_MASKS))
@pytest.mark.parametrize("normalise", [masked_softmax, sparsemax])
def test_a_float_mask_is_a_type_error_in_any_container(normalise, container):
    with pytest.raises(TypeError, match=r"argument mask\. Expected a boolean array.*Received: mask with dtype float"):
        normalise(ops.convert_to_tensor([[1.0, 2.0, 3.0]]), FLOAT_MASKS[container]())


@pytest.mark.parametrize("container", sorted(FLOAT_MASKS))
def test_a_float_mask_is_a_type_error_in_the_efficient_functions(query_key_value, container):
    query, key, value = query_key_value
    mask = ops.ones((5, 7)) if container == "tensor" else np.ones((5, 7)) if container == "numpy" else [[1.0] * 7] * 5
    with pytest.raises(TypeError, match="argument mask"):
        blockwise_attend(query, value, key, mask=mask)
    with pytest.raises(TypeError, match="argument mask"):
        windowed_attend(query, value, key, mask=mask, window=1)
    with pytest.raises(TypeError, match="argument mask"):
        attend(query, value, key, mask=mask)
    key_mask = ops.ones((2, 7)) if container == "tensor" else np.ones((2, 7))
    with pytest.raises(TypeError, match=r"argument key_mask\. Expected a boolean array"):
        linear_attend(query, value, key, key_mask=key_mask)


@pytest.mark.parametrize("normalise", [masked_softmax, sparsemax])
def test_an_integer_mask_reads_the_same_as_a_tensor_an_array_and_a_bool_mask(normalise):
    x = np.array([[1.0, 2.0, 3.0], [0.5, 0.1, 0.2]], dtype="float32")
    as_bool = numpy_of(normalise(x, np.array([[1, 1, 0], [0, 1, 1]], dtype=bool)))
    for mask in (
        np.array([[1, 1, 0], [0, 1, 1]]),
        ops.convert_to_tensor([[1, 1, 0], [0, 1, 1]]),
        [[1, 1, 0], [0, 1, 1]],
    ):
        np.testing.assert_array_equal(numpy_of(normalise(x, mask)), as_bool)


# 2. A temperature the scores' dtype cannot hold, or that would make them overflow, gives no NaN.


@pytest.mark.parametrize(("dtype", "temperature"), [("float16", 1e-8), ("float32", 1e-38), ("float64", 1e-300)])
@pytest.mark.parametrize("masked", [False, True])
def test_a_tiny_temperature_gives_the_argmax_one_hot_not_nan(dtype, temperature, masked):
    x = np.array([[1.0, 2.0, 3.0], [3.0, 2.5, 1.0]], dtype=dtype)
    mask = np.array([[True, True, True], [True, True, False]]) if masked else None
    weights = masked_softmax(x, mask, temperature=temperature)
    assert ops.convert_to_numpy(weights).dtype == dtype
    np.testing.assert_array_equal(numpy_of(weights), [[0, 0, 1], [1, 0, 0]])


def test_scores_that_would_overflow_when_divided_by_the_temperature_give_no_nan():
    x = np.array([[3e37, 1e37, -3e37]], dtype="float32")
    for mask in (None, np.array([[True, True, False]])):
        np.testing.assert_array_equal(numpy_of(masked_softmax(x, mask, temperature=0.01)), [[1, 0, 0]])


def test_an_ordinary_temperature_still_divides_the_scores(rng):
    x = rng.normal(size=(3, 6)).astype("float32")
    for temperature in (0.1, 0.5, 2.0, 10.0):
        np.testing.assert_allclose(
            numpy_of(masked_softmax(x, temperature=temperature)),
            numpy_softmax(x.astype("float64") / temperature),
            rtol=1e-5,
        )


# 3. Cosine scores of huge vectors: the norm must not overflow.


@pytest.mark.parametrize(
    ("dtype", "size", "rtol"), [("float32", 1e20, 1e-6), ("float16", 200.0, 2e-3), ("float32", 1e-20, 1e-6)]
)
def test_cosine_of_a_huge_or_tiny_vector_with_itself_is_one(dtype, size, rtol):
    x = np.full((1, 3), size, dtype=dtype)
    if size < 1:  # below epsilon = 1e-12 a vector is divided by epsilon instead of its norm: pass a smaller one
        np.testing.assert_allclose(numpy_of(scores.cosine(x, x, epsilon=1e-30)), [[1.0]], rtol=rtol)
    else:
        np.testing.assert_allclose(numpy_of(scores.cosine(x, x)), [[1.0]], rtol=rtol)


def test_cosine_of_ordinary_vectors_is_unchanged(rng):
    query, key = rng.normal(size=(2, 3, 8)).astype("float32"), rng.normal(size=(2, 5, 8)).astype("float32")
    q64, k64 = query.astype("float64"), key.astype("float64")
    expected = (q64 / np.linalg.norm(q64, axis=-1, keepdims=True)) @ np.swapaxes(
        k64 / np.linalg.norm(k64, axis=-1, keepdims=True), -1, -2
    )
    np.testing.assert_allclose(numpy_of(scores.cosine(query, key)), expected, rtol=1e-6, atol=1e-7)


def test_cosine_of_a_zero_vector_is_zero_in_float16_too():
    result = numpy_of(scores.cosine(np.zeros((1, 3), "float16"), np.ones((2, 3), "float16")))
    np.testing.assert_array_equal(result, np.zeros((1, 2)))


def test_blockwise_cosine_of_huge_vectors_equals_attend(rng):
    query, value = (rng.normal(size=(4, 3)) * 1e20).astype("float32"), rng.normal(size=(6, 3)).astype("float32")
    expected, _ = attend(query, value, score="cosine")
    assert np.isfinite(numpy_of(expected)).all()
    np.testing.assert_allclose(
        numpy_of(blockwise_attend(query, value, score="cosine", block_size=4)), numpy_of(expected), atol=1e-5
    )


# 4. scaled_dot with d = 0, projected with a non-finite scale, and mixed precisions.


def test_scaled_dot_with_no_features_is_a_value_error_naming_query():
    with pytest.raises(
        ValueError,
        match=r"argument query\. Expected a feature size d of at least 1.*"
        r"Received: query\.shape=\(2, 0\)",
    ):
        scores.scaled_dot(np.ones((2, 0)), np.ones((3, 0)))
    with pytest.raises(ValueError, match=r"argument query\..*query\.shape=\(2, 0\)"):
        attend(np.ones((2, 0)), np.ones((3, 0)))
    with pytest.raises(ValueError, match=r"argument query\..*query\.shape=\(2, 0\)"):
        blockwise_attend(np.ones((2, 0)), np.ones((3, 0)))


@pytest.mark.parametrize("scale", [float("inf"), float("nan"), -float("inf"), 0.0, -2.0, np.float32("inf")])
def test_projected_rejects_a_scale_that_is_not_positive_and_finite(scale):
    with pytest.raises(
        ValueError, match=r"argument scale\. Expected a positive, finite number or None\. Received: scale="
    ):
        scores.projected(np.ones((2, 3)), np.ones((3, 3)), np.ones((3, 2)), np.ones((3, 2)), scale=scale)


@pytest.mark.parametrize("score", [scores.dot, scores.scaled_dot, scores.cosine])
def test_mixed_float16_and_float32_are_computed_in_float32(rng, score):
    query, key = rng.normal(size=(3, 4)).astype("float16"), rng.normal(size=(5, 4)).astype("float32")
    result = score(query, key)
    assert ops.convert_to_numpy(result).dtype == np.float32
    expected = score(query.astype("float32"), key)
    np.testing.assert_array_equal(numpy_of(result), numpy_of(expected))
    reversed_result = score(key, query)
    assert ops.convert_to_numpy(reversed_result).dtype == np.float32


def test_mixed_precisions_in_the_weighted_scores(rng):
    query, key = rng.normal(size=(3, 4)).astype("float16"), rng.normal(size=(5, 6)).astype("float32")
    weight = rng.normal(size=(4, 6)).astype("float32")
    assert ops.convert_to_numpy(scores.bilinear(query, key, weight)).dtype == np.float32
    w_query, w_key = rng.normal(size=(4, 2)).astype("float16"), rng.normal(size=(6, 2)).astype("float32")
    assert ops.convert_to_numpy(scores.projected(query, key, w_query, w_key)).dtype == np.float32
    v = rng.normal(size=2).astype("float16")
    assert ops.convert_to_numpy(scores.additive(query, key, w_query, w_key, v)).dtype == np.float32


def test_attend_with_float16_query_and_float32_value_gives_a_float32_context(rng):
    query, value = rng.normal(size=(3, 4)).astype("float16"), rng.normal(size=(5, 4)).astype("float32")
    context, _ = attend(query, value)
    assert ops.convert_to_numpy(context).dtype == np.float32


# 5. Linear attention with very negative inputs: elu(x) + 1 must not cancel to 0.


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("low", [-20.0, -60.0, -200.0])
def test_linear_attend_with_very_negative_inputs_equals_the_float64_reference(rng, causal, low):
    query = rng.uniform(low, low / 2, size=(2, 5, 4)).astype("float32")
    key = rng.uniform(low, low / 2, size=(2, 7, 4)).astype("float32")
    value = rng.normal(size=(2, 7, 3)).astype("float32")
    if low > -50:  # the float64 reference itself underflows beyond
        expected = linear_attention(query, key, value, causal=causal)
    else:  # shift the reference: the ratio is unchanged by scaling phi(q_i) per query and phi(k) for all keys
        q_shift = query.astype("float64").max(-1, keepdims=True)
        k_shift = key.astype("float64").max((-2, -1), keepdims=True)
        expected = linear_attention(query - q_shift, key - k_shift, value, causal=causal)
    context = numpy_of(linear_attend(query, value, key, causal=causal, block_size=3))
    assert np.abs(context).max() > 0.01  # not the zero context of cancelled features
    np.testing.assert_allclose(context, expected, rtol=1e-5, atol=1e-5)


def test_linear_attend_on_ordinary_inputs_equals_the_reference(rng):
    query, key, value = rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 7, 4)), rng.normal(size=(2, 7, 3))
    for causal in (False, True):
        np.testing.assert_allclose(
            numpy_of(linear_attend(query, value, key, causal=causal, block_size=2)),
            linear_attention(query, key, value, causal=causal),
            atol=1e-10,
        )


def test_linear_attend_gradients_are_finite_for_large_inputs():
    query = np.full((1, 3, 2), 200.0, "float32")
    key = np.full((1, 4, 2), -200.0, "float32")
    value = np.ones((1, 4, 2), "float32")
    for gradient in autodiff.gradients(lambda q, k: ops.sum(linear_attend(q, value, k)), query, key):
        assert np.isfinite(numpy_of(gradient)).all()


# 6. Boolean flags must be bools.


@pytest.mark.parametrize("causal", ["no", "False", 0, 1, None, 0.0])
@pytest.mark.parametrize("function", ["blockwise", "windowed", "linear"])
def test_a_causal_flag_that_is_not_a_bool_is_a_type_error(query_key_value, function, causal):
    query, key, value = query_key_value
    call = {
        "blockwise": lambda: blockwise_attend(query, value, key, causal=causal),
        "windowed": lambda: windowed_attend(query, value, key, causal=causal, window=1),
        "linear": lambda: linear_attend(query, value, key, causal=causal),
    }[function]
    with pytest.raises(TypeError, match=r"argument causal\. Expected True or False\. Received: causal="):
        call()


def test_a_numpy_bool_flag_is_accepted(query_key_value):
    query, key, value = query_key_value
    np.testing.assert_array_equal(
        numpy_of(blockwise_attend(query, value, key, causal=np.bool_(True))),
        numpy_of(blockwise_attend(query, value, key, causal=True)),
    )
    np.testing.assert_array_equal(
        numpy_of(linear_attend(query, value, key, causal=np.bool_(False))),
        numpy_of(linear_attend(query, value, key, causal=False)),
    )


# 7. Variables are accepted as query, key and value.

FUNCTIONS = {
    "attend": lambda q, v, k, **kw: attend(q, v, k, **kw)[0],
    "blockwise": lambda q, v, k, **kw: blockwise_attend(q, v, k, block_size=3, query_block_size=2, **kw),
    "windowed": lambda q, v, k, **kw: windowed_attend(q, v, k, window=2, block_size=2, **kw),
    "linear": lambda q, v, k, **kw: linear_attend(q, v, k),
}


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_variables_are_accepted_and_get_gradients(query_key_value, function):
    query, key, value = query_key_value
    variables = [keras.Variable(x) for x in (query, value, key)]
    expected = numpy_of(FUNCTIONS[function](query, value, key))
    np.testing.assert_allclose(numpy_of(FUNCTIONS[function](*variables)), expected, atol=1e-6)
    gradients = weight_gradients(lambda: ops.sum(FUNCTIONS[function](*variables)), variables)
    assert all(np.isfinite(numpy_of(gradient)).all() and np.abs(numpy_of(gradient)).sum() > 0 for gradient in gradients)


def test_a_variable_as_the_value_alone_is_accepted(query_key_value):
    query, _, value = query_key_value
    variable = keras.Variable(value)
    np.testing.assert_allclose(
        numpy_of(attend(query[..., :3], variable)[0]), numpy_of(attend(query[..., :3], value)[0])
    )


# 8. bfloat16.


def bfloat16(x):
    return ops.convert_to_tensor(x, dtype="bfloat16")


def dtype_of(x):
    return keras.backend.standardize_dtype(x.dtype)


def test_masked_softmax_in_bfloat16_is_close_to_float32(rng):
    x = rng.normal(size=(2, 3, 5)).astype("float32")
    mask = rng.random((2, 3, 5)) > 0.3
    mask[0, 0] = False  # a fully masked row: zeros
    for m in (None, mask):
        for temperature in (1.0, 0.5):
            weights = masked_softmax(bfloat16(x), m, temperature=temperature)
            assert dtype_of(weights) == "bfloat16"
            np.testing.assert_allclose(
                numpy_of(weights), numpy_of(masked_softmax(x, m, temperature=temperature)), atol=2e-2
            )
    weights = masked_softmax(x.astype(ml_dtypes.bfloat16), mask)  # a NumPy bfloat16 array
    np.testing.assert_allclose(numpy_of(weights), numpy_of(masked_softmax(x, mask)), atol=2e-2)


def test_attend_in_bfloat16_is_close_to_float32(query_key_value):
    query, key, value = query_key_value
    mask = np.tril(np.ones((5, 7), dtype=bool))
    for score in ("dot", "scaled_dot", "cosine"):
        context, weights = attend(bfloat16(query), bfloat16(value), bfloat16(key), score=score, mask=mask)
        expected_context, expected_weights = attend(query, value, key, score=score, mask=mask)
        np.testing.assert_allclose(numpy_of(weights), numpy_of(expected_weights), atol=2e-2)
        np.testing.assert_allclose(numpy_of(context), numpy_of(expected_context), atol=2e-2, rtol=2e-2)


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_the_efficient_functions_run_in_bfloat16(query_key_value, function):
    query, key, value = query_key_value
    context = FUNCTIONS[function](bfloat16(query), bfloat16(value), bfloat16(key))
    assert dtype_of(context) == "bfloat16"
    np.testing.assert_allclose(
        numpy_of(context), numpy_of(FUNCTIONS[function](query, value, key)), atol=3e-2, rtol=3e-2
    )


def test_sparsemax_runs_in_bfloat16(rng):
    x = rng.normal(size=(3, 5)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0]] * 3, dtype=bool)
    np.testing.assert_allclose(numpy_of(sparsemax(bfloat16(x), mask)), numpy_of(sparsemax(x, mask)), atol=2e-2)


# 9. Empty batches and no queries give empty results of the right shape.

EMPTY_CASES = {
    "empty batch": ((0, 5, 4), (0, 7, 4)),
    "no queries": ((2, 0, 4), (2, 7, 4)),
    "empty batch and no queries": ((0, 0, 4), (0, 7, 4)),
}


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("case", sorted(EMPTY_CASES))
@pytest.mark.parametrize("normalise", [masked_softmax, sparsemax])
def test_normalising_empty_scores_gives_empty_weights(normalise, case, masked):
    (batch, num_queries, _), (_, num_keys, _) = EMPTY_CASES[case]
    x = np.ones((batch, num_queries, num_keys), dtype="float32")
    mask = np.ones((batch, num_queries, num_keys), dtype=bool) if masked else None
    weights = normalise(x, mask)
    assert tuple(weights.shape) == x.shape
    if normalise is masked_softmax:
        assert tuple(masked_softmax(x, mask, temperature=0.5).shape) == x.shape


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("case", sorted(EMPTY_CASES))
@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_attention_of_an_empty_batch_or_no_queries_is_empty(function, case, masked, causal):
    query_shape, key_shape = EMPTY_CASES[case]
    query, key = np.ones(query_shape, dtype="float32"), np.ones(key_shape, dtype="float32")
    value = np.ones(key_shape[:-1] + (3,), dtype="float32")
    kwargs = {}
    if function in ("blockwise", "windowed"):
        kwargs["causal"] = causal
    if masked and function != "linear":
        kwargs["mask"] = np.ones((query_shape[0], query_shape[1], key_shape[1]), dtype=bool)
    context = FUNCTIONS[function](query, value, key, **kwargs)
    assert tuple(context.shape) == query_shape[:-1] + (3,)
    if function == "linear":
        context = linear_attend(
            query, value, key, causal=causal, key_mask=np.ones(key_shape[:-1], dtype=bool) if masked else None
        )
        assert tuple(context.shape) == query_shape[:-1] + (3,)


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_queries_with_no_keys_get_a_zero_context(function):
    query, key, value = np.ones((2, 4, 3), "float32"), np.ones((2, 0, 3), "float32"), np.ones((2, 0, 5), "float32")
    context = numpy_of(FUNCTIONS[function](query, value, key))
    np.testing.assert_array_equal(context, np.zeros((2, 4, 5)))


# ---- Arguments of the wrong type are TypeErrors, wrong values ValueErrors ----


def test_attend_names_a_key_of_rank_1():
    with pytest.raises(ValueError, match=r"argument key\. Expected a rank of at least 2.*key\.shape=\(4,\)"):
        attend(np.ones((2, 3, 4)), np.ones((2, 4, 4)), key=np.ones(4))


@pytest.mark.parametrize("scale", ["large", True, [1.0]])
def test_projected_scale_that_is_not_a_number_is_a_type_error(scale):
    with pytest.raises(TypeError, match=r"argument scale\. Expected a positive, finite number or None"):
        scores.projected(np.ones((2, 3)), np.ones((3, 3)), np.ones((3, 2)), np.ones((3, 2)), scale=scale)


@pytest.mark.parametrize("weight_shape", [(3,), (1, 1, 3, 2)])
def test_projected_names_weights_of_the_wrong_rank(weight_shape):
    with pytest.raises(ValueError, match=r"argument w_query\. Expected rank 2, \(d_query, units\), or rank 3"):
        scores.projected(np.ones((2, 3)), np.ones((3, 3)), np.ones(weight_shape), np.ones((3, 2)))


@pytest.mark.parametrize(
    "temperature, error", [("1", TypeError), (True, TypeError), (0.0, ValueError), (np.inf, ValueError)]
)
def test_masked_softmax_temperature_errors(temperature, error):
    with pytest.raises(error, match=r"argument temperature\. Expected a positive, finite number"):
        masked_softmax(np.ones((2, 3)), temperature=temperature)


def test_masked_softmax_accepts_a_numpy_temperature():
    x = np.array([[1.0, 2.0, 3.0]], dtype="float32")
    np.testing.assert_array_equal(
        numpy_of(masked_softmax(x, temperature=np.float32(0.5))), numpy_of(masked_softmax(x, temperature=0.5))
    )


@pytest.mark.parametrize(
    "lengths, error",
    [([1.0, 2.0], TypeError), ([True, False], TypeError), (["1"], TypeError), ([[1, 2]], ValueError)],
)
def test_padding_mask_lengths_errors(lengths, error):
    from attention_utils import padding_mask

    with pytest.raises(error, match=r"argument lengths\. Expected integers of shape \(batch,\)"):
        padding_mask(lengths, 3)


def test_padding_mask_of_no_sequences():
    from attention_utils import padding_mask

    assert tuple(padding_mask([], 3).shape) == (0, 3)
