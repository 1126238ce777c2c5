"""Grad-CAM against its equations in NumPy (Selvaraju et al. 2017, eqs. 1-2), and its bad input.

grad_cam is TensorFlow only (it takes the gradient with respect to a layer's output with tf.GradientTape):
its maps are checked on TensorFlow, its argument checks on every backend, and on the others the error
that names KERAS_BACKEND."""

import keras
import numpy as np
import pytest
from helpers import numpy_of, other_than_tensorflow, tensorflow_only

from attention_utils import grad_cam

NUM_CLASSES = 4


def relu(x):
    return np.maximum(x, 0)


@pytest.fixture
def images(rng):
    return rng.normal(size=(5, 6, 6, 1)).astype("float32")


def features_then(head):
    """A model: a strided convolution to a (3, 3, 3) feature map named "features", then ``head``."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 1))
    features = keras.layers.Conv2D(3, 3, strides=2, padding="same", activation="relu", name="features")(inputs)
    return keras.Model(inputs, head(features))


def gap_model():
    return features_then(lambda x: keras.layers.Dense(NUM_CLASSES)(keras.layers.GlobalAveragePooling2D()(x)))


def flatten_model():
    return features_then(lambda x: keras.layers.Dense(NUM_CLASSES)(keras.layers.Flatten()(x)))


def feature_maps(model, images):
    return numpy_of(keras.Model(model.input, model.get_layer("features").output)(images))


@tensorflow_only
def test_after_global_average_pooling_grad_cam_is_the_class_activation_map(images):
    # y^c = sum_k W[k, c] mean_ij A^k_ij + b_c, so alpha^c_k = W[k, c] / (h w): Zhou et al.'s CAM, scaled.
    model = gap_model()
    kernel, _ = model.layers[-1].get_weights()
    maps = feature_maps(model, images)
    predicted = numpy_of(model(images)).argmax(axis=-1)
    expected = relu(np.einsum("bhwk,kb->bhw", maps, kernel[:, predicted]) / 9)
    np.testing.assert_allclose(numpy_of(grad_cam(model, images, "features")), expected, rtol=1e-5, atol=1e-6)


@tensorflow_only
def test_after_flatten_the_channel_weights_are_the_dense_weights_averaged_over_positions(images):
    # y^c = sum_{ijk} W[(i, j, k), c] A^k_ij + b_c: the gradient at each position is that position's weight.
    model = flatten_model()
    kernel, _ = model.layers[-1].get_weights()
    maps = feature_maps(model, images)
    classes = np.array([0, 1, 2, 3, 1])
    alpha = kernel.reshape(3, 3, 3, NUM_CLASSES).mean(axis=(0, 1))[:, classes]  # (channels, batch)
    expected = relu(np.einsum("bhwk,kb->bhw", maps, alpha))
    outputs = numpy_of(grad_cam(model, images, "features", class_index=classes))
    np.testing.assert_allclose(outputs, expected, rtol=1e-5, atol=1e-6)


@tensorflow_only
def test_each_image_gets_its_own_map_whatever_the_batch(images):
    model = flatten_model()
    together = numpy_of(grad_cam(model, images, "features", class_index=2))
    alone = np.concatenate([numpy_of(grad_cam(model, image[None], "features", class_index=2)) for image in images])
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-6)


@tensorflow_only
def test_the_default_class_is_the_prediction_and_the_layer_may_be_given_itself(images):
    model = flatten_model()
    predicted = numpy_of(model(images)).argmax(axis=-1)
    np.testing.assert_allclose(
        numpy_of(grad_cam(model, images, model.get_layer("features"))),
        numpy_of(grad_cam(model, images, "features", class_index=predicted)),
    )


@tensorflow_only
def test_maps_are_non_negative_and_at_the_feature_maps_resolution(images):
    outputs = numpy_of(grad_cam(flatten_model(), images, "features", class_index=0))
    assert outputs.shape == (5, 3, 3) and (outputs >= 0).all()


@tensorflow_only
def test_an_empty_batch_gives_no_maps(images):
    assert tuple(grad_cam(gap_model(), images[:0], "features").shape) == (0, 3, 3)
    assert tuple(grad_cam(gap_model(), images[:0], "features", class_index=np.zeros(0, int)).shape) == (0, 3, 3)


@tensorflow_only
def test_a_model_in_inference_mode_uses_the_moving_statistics(images):
    # Batch normalisation after the features: in training mode the batch would mix the images' maps.
    model = features_then(
        lambda x: keras.layers.Dense(NUM_CLASSES)(keras.layers.Flatten()(keras.layers.BatchNormalization()(x)))
    )
    together = numpy_of(grad_cam(model, images, "features", class_index=1))
    alone = numpy_of(grad_cam(model, images[:1], "features", class_index=1))
    np.testing.assert_allclose(together[:1], alone, rtol=1e-5, atol=1e-6)


@other_than_tensorflow
def test_on_another_backend_valid_arguments_get_an_error_that_names_the_backend(images):
    with pytest.raises(RuntimeError, match=r"needs KERAS_BACKEND=tensorflow\. Received: backend="):
        grad_cam(gap_model(), images, "features", class_index=1)


# ---- bad input, on every backend: TypeError for a wrong type, ValueError for a wrong value or shape ----


def two_outputs():
    inputs = keras.Input((6, 6, 1))
    features = keras.layers.Conv2D(3, 3, name="features")(inputs)
    return keras.Model(inputs, [features, keras.layers.Flatten()(features)])


def feature_map_output():
    inputs = keras.Input((6, 6, 1))
    return keras.Model(inputs, keras.layers.Conv2D(3, 3, name="features")(inputs))


@pytest.mark.parametrize(
    "make_model, feature_layer, kwargs, error, message",
    [
        (lambda: "model", "features", {}, TypeError, r"argument model\. Expected a Keras model\. Received: model="),
        (two_outputs, "features", {}, ValueError, r"argument model\. Expected a model with one input and one output"),
        (feature_map_output, "features", {}, ValueError, r"argument model\. Expected an output of class scores"),
        (gap_model, "nowhere", {}, ValueError, r"argument feature_layer\. .*Received: feature_layer='nowhere'"),
        (gap_model, 3, {}, TypeError, r"argument feature_layer\. Expected a layer of the model or its name"),
        (gap_model, keras.layers.Dense(2), {}, ValueError, r"argument feature_layer\. Expected a layer of the model"),
        (gap_model, "dense", {}, ValueError, r"argument feature_layer\. Expected a layer whose output is a feature"),
        (gap_model, "features", {"class_index": 4}, ValueError, r"argument class_index\. .*Received: class_index=4"),
        (gap_model, "features", {"class_index": -1}, ValueError, r"argument class_index\."),
        (gap_model, "features", {"class_index": 1.0}, TypeError, r"argument class_index\. Expected integers"),
        (gap_model, "features", {"class_index": True}, TypeError, r"argument class_index\. Expected integers"),
        (gap_model, "features", {"class_index": [0, 1]}, ValueError, r"argument class_index\. Expected one class"),
        (gap_model, "features", {"class_index": [[0] * 5]}, ValueError, r"argument class_index\. Expected integers"),
    ],
)
def test_bad_arguments_are_named(images, make_model, feature_layer, kwargs, error, message):
    model = make_model()
    if feature_layer == "dense":
        feature_layer = model.layers[-1].name
    with pytest.raises(error, match=message):
        grad_cam(model, images, feature_layer, **kwargs)


@pytest.mark.parametrize(
    "images, error, message",
    [
        (np.zeros((2, 6, 6), "float32"), ValueError, r"argument images\. .*Received: images\.shape=\(2, 6, 6\)"),
        (np.zeros((2, 5, 6, 1), "float32"), ValueError, r"argument images\. .*\(None, 6, 6, 1\)"),
        (np.full((2, 6, 6, 1), "a"), TypeError, r"argument images\. Expected an array or a tensor of numbers"),
    ],
)
def test_images_that_do_not_fit_the_model_are_named(images, error, message):
    with pytest.raises(error, match=message):
        grad_cam(gap_model(), images, "features")
