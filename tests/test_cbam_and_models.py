"""CBAM, Squeeze-and-Excitation and the ResNet-50 builder against the papers' equations in NumPy."""

import keras
import numpy as np
import pytest
from helpers import numpy_of, other_than_tensorflow, saved_and_loaded, tensorflow_only, weight_gradients
from keras import ops

from attention_utils import layers, models

SHAPE = (2, 6, 5, 32)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def dense(x, layer, activation=None):
    kernel, bias = layer.get_weights()
    y = x @ kernel + bias
    return {None: y, "relu": np.maximum(y, 0), "sigmoid": sigmoid(y)}[activation]


def channel_attention_numpy(features, layer):
    """Woo et al. 2018, eq. 2: sigmoid(W_1 relu(W_0 F_avg) + W_1 relu(W_0 F_max)), one MLP for both."""

    def mlp(descriptor):
        return dense(dense(descriptor, layer.mlp_hidden, "relu"), layer.mlp_output)

    weights = sigmoid(mlp(features.mean(axis=(1, 2))) + mlp(features.max(axis=(1, 2))))[:, None, None, :]
    return features * weights, weights


def spatial_attention_numpy(features, layer):
    """Woo et al. 2018, eq. 3: sigmoid(BN(conv7x7([mean_c F; max_c F]))), BN with its moving statistics."""
    pooled = np.concatenate([features.mean(axis=-1, keepdims=True), features.max(axis=-1, keepdims=True)], -1)
    kernel = layer.conv.kernel.numpy()  # (k, k, 2, 1)
    size = kernel.shape[0]
    padded = np.pad(pooled, ((0, 0), (size // 2, size // 2), (size // 2, size // 2), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (size, size), axis=(1, 2))  # (b, h, w, 2, k, k)
    convolved = np.einsum("bhwcij,ijco->bhwo", windows, kernel)
    gamma, beta, mean, variance = layer.batch_norm.get_weights()
    normalised = gamma * (convolved - mean) / np.sqrt(variance + layer.batch_norm.epsilon) + beta
    weights = sigmoid(normalised)
    return features * weights, weights


def squeeze_excitation_numpy(features, layer):
    """Hu et al. 2018, eqs. 2-4: s = sigmoid(W_2 relu(W_1 mean(U))), x = s * U."""
    squeezed = features.mean(axis=(1, 2))
    weights = dense(dense(squeezed, layer.excite_hidden, "relu"), layer.excite_output, "sigmoid")
    weights = weights[:, None, None, :]
    return features * weights, weights


@pytest.fixture
def features(rng):
    return rng.normal(size=SHAPE).astype("float32")


def randomise_batch_norm(layer, rng):
    """Non-trivial moving statistics and affine parameters, so parity tests exercise every term."""
    layer.batch_norm.set_weights(
        [rng.uniform(0.5, 2, (1,)), rng.normal(size=(1,)), rng.normal(size=(1,)), rng.uniform(0.5, 2, (1,))]
    )


def test_trainable_parameters_leave_out_the_moving_statistics():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.BatchNormalization()])
    assert models.trainable_parameters(model) == 4 * 3 + 3 + 3 + 3  # kernel, bias, gamma, beta
    assert model.count_params() == models.trainable_parameters(model) + 2 * 3  # moving mean and variance


def test_trainable_parameters_needs_a_model_or_layer():
    with pytest.raises(TypeError, match="argument model_or_layer"):
        models.trainable_parameters([1, 2, 3])


def test_channel_attention_matches_the_paper_with_one_shared_mlp(features):
    layer = layers.ChannelAttention(reduction_ratio=8)
    outputs, weights = layer(features, return_attention_scores=True)
    expected_outputs, expected_weights = channel_attention_numpy(features, layer)
    np.testing.assert_allclose(numpy_of(weights), expected_weights, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(numpy_of(outputs), expected_outputs, rtol=1e-5, atol=1e-6)
    # One MLP C -> C/r -> C, with biases: 32*4 + 4 + 4*32 + 32 parameters.
    assert layer.count_params() == 32 * 4 + 4 + 4 * 32 + 32


def test_spatial_attention_matches_the_paper_at_inference(features, rng):
    layer = layers.SpatialAttention()
    layer.build(SHAPE)
    randomise_batch_norm(layer, rng)
    outputs, weights = layer(features, training=False, return_attention_scores=True)
    expected_outputs, expected_weights = spatial_attention_numpy(features, layer)
    np.testing.assert_allclose(numpy_of(weights), expected_weights, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(numpy_of(outputs), expected_outputs, rtol=1e-5, atol=1e-6)
    # 7x7x2 kernel without bias, then batch normalisation's gamma and beta (and 2 moving statistics).
    assert sum(int(np.prod(w.shape)) for w in layer.trainable_weights) == 7 * 7 * 2 + 2


def test_spatial_attention_normalises_with_batch_statistics_in_training(features):
    layer = layers.SpatialAttention(kernel_size=3)
    layer.build(SHAPE)
    layer.batch_norm.gamma.assign([1.0])
    _, weights = layer(features, training=True, return_attention_scores=True)
    # gamma 1 and beta 0: the normalised logits have mean 0 and variance 1 over the batch and positions.
    logits = np.log(numpy_of(weights) / (1 - numpy_of(weights)))
    np.testing.assert_allclose([logits.mean(), logits.var()], [0, 1], atol=1e-3)


@pytest.mark.parametrize("training", [True, False])
def test_a_fresh_spatial_map_is_one_half_everywhere_as_in_the_official_code(features, training):
    # The official ResNet initialisation sets the scale of the spatial gate's batch normalisation to 0.
    for layer in (layers.SpatialAttention(), layers.CBAM(reduction_ratio=4)):
        outputs = layer(features * 10 + 3, training=training, return_attention_scores=True)
        np.testing.assert_array_equal(numpy_of(outputs[-1]), 0.5)
    assert float(layers.SpatialAttention().batch_norm.gamma_initializer(shape=(1,))[0]) == 0.0


@pytest.mark.parametrize("momentum", [0.99, 0.5])
def test_spatial_attention_moving_statistics_keep_momentum_of_the_old_value(features, momentum):
    # Keras's convention (PyTorch's is 1 - momentum): moving = momentum * moving + (1 - momentum) * batch.
    for layer in (layers.SpatialAttention(kernel_size=3, momentum=momentum), layers.CBAM(4, 3, momentum=momentum)):
        spatial = layer if isinstance(layer, layers.SpatialAttention) else layer.spatial_attention
        layer(features, training=True)
        spatial.batch_norm.moving_mean.assign([0.0])
        refined = features if layer is spatial else layer.channel_attention(features)
        pooled = ops.concatenate([ops.mean(refined, -1, keepdims=True), ops.max(refined, -1, keepdims=True)], -1)
        batch_mean = float(ops.mean(spatial.conv(pooled)))
        layer(features, training=True)
        np.testing.assert_allclose(float(spatial.batch_norm.moving_mean[0]), (1 - momentum) * batch_mean, rtol=1e-4)


def test_a_fresh_spatial_gate_moves_its_scale_first(features):
    # With gamma = 0 nothing reaches the convolution's kernel; gamma itself gets a gradient.
    layer = layers.SpatialAttention(kernel_size=3)
    layer.build(SHAPE)
    target = np.random.default_rng(1).normal(size=SHAPE).astype("float32")
    kernel_gradient, gamma_gradient = weight_gradients(
        lambda: keras.ops.mean((layer(features, training=True) - target) ** 2),
        [layer.conv.kernel, layer.batch_norm.gamma],
    )
    np.testing.assert_array_equal(numpy_of(kernel_gradient), 0.0)
    assert abs(float(numpy_of(gamma_gradient)[0])) > 1e-6


def test_cbam_applies_spatial_attention_to_the_channel_refined_features(features, rng):
    layer = layers.CBAM(reduction_ratio=4, kernel_size=5)
    layer.build(SHAPE)
    randomise_batch_norm(layer.spatial_attention, rng)
    outputs, channel_weights, spatial_weights = layer(features, training=False, return_attention_scores=True)
    refined, expected_channel_weights = channel_attention_numpy(features, layer.channel_attention)
    expected_outputs, expected_spatial_weights = spatial_attention_numpy(refined, layer.spatial_attention)
    np.testing.assert_allclose(numpy_of(channel_weights), expected_channel_weights, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(numpy_of(spatial_weights), expected_spatial_weights, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(numpy_of(outputs), expected_outputs, rtol=1e-5, atol=1e-6)
    # Sequential, not parallel: the map computed from the raw input differs.
    _, parallel_weights = spatial_attention_numpy(features, layer.spatial_attention)
    assert not np.allclose(parallel_weights, expected_spatial_weights, atol=1e-3)


def test_squeeze_excitation_matches_the_paper(features):
    layer = layers.SqueezeExcitation(reduction_ratio=16)
    outputs, weights = layer(features, return_attention_scores=True)
    expected_outputs, expected_weights = squeeze_excitation_numpy(features, layer)
    np.testing.assert_allclose(numpy_of(weights), expected_weights, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(numpy_of(outputs), expected_outputs, rtol=1e-5, atol=1e-6)
    assert layer.count_params() == 32 * 2 + 2 + 2 * 32 + 32


@pytest.mark.parametrize(
    "layer, weight_shapes",
    [
        (layers.ChannelAttention(), [(2, 1, 1, 32)]),
        (layers.SpatialAttention(), [(2, 6, 5, 1)]),
        (layers.CBAM(), [(2, 1, 1, 32), (2, 6, 5, 1)]),
        (layers.SqueezeExcitation(), [(2, 1, 1, 32)]),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, keras.layers.Layer) else "",
)
def test_shapes_eager_and_symbolic(layer, weight_shapes, features):
    outputs = layer(features, return_attention_scores=True)
    assert [tuple(output.shape) for output in outputs] == [SHAPE, *weight_shapes]
    assert tuple(layer(features).shape) == SHAPE
    symbolic = layer(keras.Input(SHAPE[1:]), return_attention_scores=True)
    assert [tuple(output.shape) for output in symbolic] == [(None, *SHAPE[1:])] + [
        (None, *shape[1:]) for shape in weight_shapes
    ]
    for weights in outputs[1:]:
        assert ((numpy_of(weights) > 0) & (numpy_of(weights) < 1)).all()  # sigmoid gates


# Keras's own saving code converts variables with np.array(variable), which NumPy 2 flags; not ours to fix.
@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")
@pytest.mark.parametrize(
    "make_layer",
    [
        lambda: layers.ChannelAttention(reduction_ratio=4),
        lambda: layers.SpatialAttention(kernel_size=3),
        lambda: layers.CBAM(reduction_ratio=4, kernel_size=3),
        lambda: layers.CBAM(reduction_ratio=4, kernel_size=3, momentum=0.9),
        lambda: layers.SqueezeExcitation(reduction_ratio=4),
    ],
    ids=["ChannelAttention", "SpatialAttention", "CBAM", "CBAM-momentum", "SqueezeExcitation"],
)
def test_saves_to_keras_file_and_loads_back_with_identical_outputs(make_layer, features, tmp_path):
    inputs = keras.Input(SHAPE[1:])
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(make_layer()(inputs)))
    model.compile("sgd", "mse")
    model.fit(features, np.ones((SHAPE[0], SHAPE[-1])), epochs=1, verbose=0)  # moves the BN statistics
    loaded = saved_and_loaded(model, tmp_path)  # safe mode on: the layers are registered
    np.testing.assert_array_equal(numpy_of(loaded(features)), numpy_of(model(features)))
    assert type(loaded.layers[1]) is type(model.layers[1])
    assert loaded.layers[1].get_config() == model.layers[1].get_config()


@pytest.mark.parametrize(
    "make_layer, argument, error",
    [
        (lambda: layers.ChannelAttention(reduction_ratio=0.5), "reduction_ratio", TypeError),
        (lambda: layers.ChannelAttention(reduction_ratio=0), "reduction_ratio", ValueError),
        (lambda: layers.SqueezeExcitation(reduction_ratio="16"), "reduction_ratio", TypeError),
        (lambda: layers.SpatialAttention(kernel_size=6), "kernel_size", ValueError),
        (lambda: layers.SpatialAttention(kernel_size=True), "kernel_size", TypeError),
        (lambda: layers.CBAM(kernel_size=-1), "kernel_size", ValueError),
        (lambda: layers.SpatialAttention(momentum=1.0), "momentum", ValueError),
        (lambda: layers.CBAM(momentum="0.9"), "momentum", TypeError),
    ],
)
def test_bad_arguments_are_named(make_layer, argument, error):
    with pytest.raises(error, match=f"Invalid value for argument {argument}.*Received: {argument}="):
        make_layer()


@pytest.mark.parametrize(
    "layer_class", [layers.ChannelAttention, layers.SpatialAttention, layers.CBAM, layers.SqueezeExcitation]
)
def test_rejects_inputs_that_are_not_feature_maps(layer_class):
    with pytest.raises(ValueError, match=r"argument inputs.*rank 4.*Received: inputs.shape=\(2, 32\)"):
        layer_class()(np.zeros((2, 32), "float32"))


def test_a_reduction_ratio_larger_than_the_channels_is_rejected_with_both_numbers():
    with pytest.raises(ValueError, match="reduction_ratio=16 for an input with channels=8"):
        layers.ChannelAttention()(np.zeros((1, 4, 4, 8), "float32"))


TABLE_4_OF_WOO_ET_AL = [  # (attention, parameters, millions of parameters, GFLOPs)
    (None, 25_557_032, 25.56, 3.858),
    ("se", 28_088_024, 28.09, 3.860),
    ("cbam", 28_089_624, 28.09, 3.864),
]


@pytest.mark.parametrize("attention, parameters, millions, gflops", TABLE_4_OF_WOO_ET_AL)
def test_resnet50_has_the_parameters_of_table_4_of_woo_et_al(attention, parameters, millions, gflops):
    model = models.resnet50(attention)
    # PyTorch's parameters() leave out batch normalisation's moving statistics; so do trainable_weights.
    assert models.trainable_parameters(model) == parameters  # torchvision's ResNet-50 has 25,557,032
    assert round(models.trainable_parameters(model) / 1e6, 2) == millions
    keras.backend.clear_session()


@tensorflow_only  # count_multiply_adds reads TensorFlow's graph
@pytest.mark.parametrize("attention, parameters, millions, gflops", TABLE_4_OF_WOO_ET_AL)
def test_resnet50_has_the_multiply_adds_of_table_4_of_woo_et_al(attention, parameters, millions, gflops):
    assert round(models.count_multiply_adds(models.resnet50(attention)) / 1e9, 3) == gflops
    keras.backend.clear_session()


def test_resnet50_puts_the_module_before_the_addition_of_every_block():
    model = models.resnet50("cbam", input_shape=(64, 64, 3), num_classes=10)
    modules = [layer for layer in model.layers if isinstance(layer, layers.CBAM)]
    assert len(modules) == 16
    for module in modules:
        block = module.name.removesuffix("_cbam")
        assert module.input is model.get_layer(f"{block}_3_bn").output
        assert module.output in model.get_layer(f"{block}_add").input
    assert model.output_shape == (None, 10)


def test_resnet50_accepts_a_callable_and_rejects_unknown_modules():
    calls = []

    def identity(features):
        calls.append(features.shape)
        return features

    models.resnet50(identity, input_shape=(32, 32, 3), num_classes=2)
    assert len(calls) == 16 and calls[0] == (None, 8, 8, 256) and calls[-1] == (None, 1, 1, 2048)
    with pytest.raises(ValueError, match="argument attention.*Received: attention='bam'"):
        models.resnet50("bam")


def small_attention_classifier():
    inputs = keras.Input((8, 8, 3))
    features = keras.layers.Conv2D(16, 3, padding="same")(inputs)
    features = layers.ChannelAttention(reduction_ratio=4)(features)
    outputs = keras.layers.Dense(5)(keras.layers.GlobalAveragePooling2D()(features))
    return keras.Model(inputs, outputs)


@tensorflow_only
def test_count_multiply_adds_counts_convolutions_and_each_use_of_a_shared_mlp():
    convolution = 8 * 8 * 16 * 3 * 3 * 3
    shared_mlp_twice = 2 * (16 * 4 + 4 * 16)
    assert models.count_multiply_adds(small_attention_classifier()) == convolution + shared_mlp_twice + 16 * 5


@other_than_tensorflow
def test_count_multiply_adds_on_another_backend_is_an_error_that_names_the_backend():
    with pytest.raises(RuntimeError, match=r"needs KERAS_BACKEND=tensorflow\. Received: backend="):
        models.count_multiply_adds(small_attention_classifier())
