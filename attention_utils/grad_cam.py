"""Grad-CAM: where in a feature map a classifier found the evidence for a class (Selvaraju et al. 2017).

Woo et al. (2018, Figure 4) use it to compare ResNet-50 with and without CBAM on the same images;
notebook 08 does the same with a small CNN. ``grad_cam`` is TensorFlow only: it needs the gradient with
respect to an intermediate layer's output, which ``tf.GradientTape`` records while the model runs; JAX
differentiates functions of their arguments only, and a layer's output is not one. ``import
attention_utils`` selects TensorFlow unless told otherwise; on another backend ``grad_cam`` checks its
arguments, then raises a ``RuntimeError`` naming ``KERAS_BACKEND``.
"""

import keras
import numpy as np
from keras import ops

from attention_utils import _validation as check


def grad_cam(model, images, feature_layer, class_index=None):
    """Gradient-weighted class activation maps (Selvaraju et al. 2017, section 3, eqs. 1-2).

    For each image, with ``A`` the ``(height, width, channels)`` feature map that ``feature_layer``
    outputs and ``y^c`` the model's score for class ``c``, before any softmax:

    1. ``alpha^c_k = 1 / (height * width) * sum_{i,j} d y^c / d A^k_{ij}``: the gradient of the score
       with respect to each channel ``k`` of the map, averaged over the positions (eq. 1), one weight
       per channel.
    2. ``L^c = ReLU(sum_k alpha^c_k A^k)``: the channels summed with those weights, and only the
       positive evidence kept (eq. 2), a ``(height, width)`` map.

    For a network that ends in global average pooling and one dense layer, ``alpha^c_k`` is that
    layer's weight from channel ``k`` to class ``c`` divided by ``height * width``: Grad-CAM is then the
    class activation map of Zhou et al. (2016), up to that factor and the ReLU (CAM keeps negative values).
    The model runs in inference mode (batch normalisation uses its moving statistics), so each image's
    map depends on that image alone.

    Args:
        model: a Keras model with one input, whose output is the class scores, ``(batch_size,
            num_classes)``, before the softmax. (For a model that ends in a softmax, build one that
            stops before it: the softmax's gradient mixes the classes.)
        images: a batch for the model's input, ``(batch_size, ...)``.
        feature_layer: the layer of ``model`` (or its name) whose output is the feature map ``A``,
            ``(batch_size, height, width, channels)``, usually the last convolutional features.
        class_index: the class ``c`` for each image: ``None`` for the class the model scores highest
            (the prediction), an integer for the same class for every image, or integers of shape
            ``(batch_size,)``.

    TensorFlow only (see the module's docstring): on another backend, a ``RuntimeError`` after the
    arguments are checked.

    Returns:
        The maps ``L^c``, of shape ``(batch_size, height, width)``, at the feature map's resolution
        and not normalised (scale them for display).
    """
    layer = _check_model_and_layer(model, feature_layer)
    images = check.as_float_tensor(images, "images")
    expected = (None, *tuple(model.inputs[0].shape)[1:])
    shape = tuple(images.shape)
    if len(shape) != len(expected) or any(e is not None and d != e for d, e in zip(shape, expected)):
        raise ValueError(
            f"Invalid shape for argument images. Expected a batch for the model's input, of shape {expected}. "
            f"Received: images.shape={shape}"
        )
    classes = _check_class_index(class_index, tuple(model.outputs[0].shape)[-1], shape[0])
    check.check_backend("grad_cam takes the gradient with respect to a layer's output with tf.GradientTape")
    import tensorflow as tf

    features_and_scores = keras.Model(model.inputs, [layer.output, model.outputs[0]])
    with tf.GradientTape() as tape:
        features, scores = features_and_scores(images, training=False)
        if classes is None:  # the prediction
            classes = ops.cast(ops.argmax(scores, axis=-1), "int32")
        chosen = ops.take_along_axis(scores, ops.expand_dims(classes, -1), axis=-1)  # y^c, (batch_size, 1)
    # The sum of the chosen scores: each depends on its own image's features only (inference mode).
    gradients = tape.gradient(chosen, features)
    channel_weights = ops.mean(gradients, axis=(1, 2), keepdims=True)  # alpha^c_k, eq. 1
    return ops.relu(ops.sum(channel_weights * features, axis=-1))  # L^c, eq. 2


def _check_model_and_layer(model, feature_layer):
    """The layer of ``model`` that ``feature_layer`` names or is, after checking both."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"Invalid value for argument model. Expected a Keras model. Received: model={model!r}")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            "Invalid value for argument model. Expected a model with one input and one output. Received: "
            f"model with {len(model.inputs)} inputs and {len(model.outputs)} outputs"
        )
    output_shape = tuple(model.outputs[0].shape)
    if len(output_shape) != 2 or output_shape[-1] is None:
        raise ValueError(
            "Invalid value for argument model. Expected an output of class scores, (batch_size, num_classes). "
            f"Received: model with output shape {output_shape}"
        )
    if isinstance(feature_layer, str):
        names = [layer.name for layer in model.layers]
        if feature_layer not in names:
            raise ValueError(
                f"Invalid value for argument feature_layer. Expected the name of a layer of the model, one of "
                f"{names}. Received: feature_layer={feature_layer!r}"
            )
        layer = model.get_layer(feature_layer)
    elif isinstance(feature_layer, keras.layers.Layer):
        if not any(layer is feature_layer for layer in model.layers):
            raise ValueError(
                "Invalid value for argument feature_layer. Expected a layer of the model. Received: "
                f"feature_layer={feature_layer.name!r}, which is not one of its layers"
            )
        layer = feature_layer
    else:
        raise TypeError(
            "Invalid value for argument feature_layer. Expected a layer of the model or its name. "
            f"Received: feature_layer={feature_layer!r}"
        )
    feature_shape = tuple(layer.output.shape)
    if len(feature_shape) != 4:
        raise ValueError(
            "Invalid value for argument feature_layer. Expected a layer whose output is a feature map, "
            f"(batch_size, height, width, channels). Received: feature_layer={layer.name!r} with output "
            f"shape {feature_shape}"
        )
    return layer


def _check_class_index(class_index, num_classes, batch_size):
    """The class of each image, ``(batch_size,)`` int32, from ``class_index`` checked; ``None`` stays
    ``None`` (the prediction, known once the model has run)."""
    if class_index is None:
        return None
    expected = f"None, a class from 0 to {num_classes - 1}, or one such class per image"
    if isinstance(class_index, (int, np.integer)) and not isinstance(class_index, bool):
        classes = np.full((batch_size,), class_index)
    else:
        classes = check.check_integer_array(class_index, "class_index", (1,), "(batch_size,)")
        if classes.shape[0] != batch_size:
            raise ValueError(
                f"Invalid shape for argument class_index. Expected one class per image, shape ({batch_size},). "
                f"Received: class_index.shape={classes.shape}"
            )
    if classes.size and (classes.min() < 0 or classes.max() >= num_classes):
        raise ValueError(
            f"Invalid value for argument class_index. Expected {expected}. Received: class_index={class_index!r}"
        )
    return ops.convert_to_tensor(classes.astype("int32"))
