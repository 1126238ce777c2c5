"""Restarting a compiled model, so that repeated runs at several seeds share one traced training step.

Tracing a training step (``fit`` compiling it into a TensorFlow graph the first time) can take as long as
several epochs of a small recurrent model. A notebook that trains the same architecture at several seeds
(notebooks 09 and 10) therefore compiles one model and, before each run, gives it the initial weights of
a model freshly built at the run's seed and the optimizer's state from before any step:

    untrained = optimizer_values(model)  # once, after model.optimizer.build(model.trainable_variables)
    keras.utils.set_random_seed(seed)
    restore(model, build().get_weights(), untrained)

The run is then the one a new model built and compiled at that seed would make (notebook 10 checks it).
"""

import keras
from keras import ops


def optimizer_values(model):
    """The values of ``model.optimizer``'s variables, as NumPy arrays, in order.

    These are all of the optimizer's state: the step count, the moments of Adam, and in Keras 3 the
    learning rate too, so a restart must restore them rather than zero them. The optimizer must be built
    (``model.optimizer.build(model.trainable_variables)``) for its variables to exist.
    """
    _check_compiled(model)
    return [ops.convert_to_numpy(variable) for variable in model.optimizer.variables]


def restore(model, weights, optimizer_state):
    """Sets ``model``'s weights (``model.set_weights``) and its optimizer's variables to saved values.

    Args:
        model: a compiled Keras model whose optimizer is built.
        weights: a list of arrays, as ``model.get_weights()`` returns.
        optimizer_state: a list of arrays, as ``optimizer_values(model)`` returns.
    """
    _check_compiled(model)
    variables = model.optimizer.variables
    if len(optimizer_state) != len(variables):
        raise ValueError(
            f"Invalid value for argument optimizer_state. Expected {len(variables)} arrays, one per variable "
            f"of the model's optimizer. Received: {len(optimizer_state)} arrays"
        )
    model.set_weights(weights)
    for variable, value in zip(variables, optimizer_state):
        variable.assign(value)


def _check_compiled(model):
    if not isinstance(model, keras.Model):
        raise TypeError(f"Invalid value for argument model. Expected a Keras model. Received: model={model!r}")
    if getattr(model, "optimizer", None) is None:
        raise ValueError(
            "Invalid value for argument model. Expected a compiled model (model.compile(optimizer=...)). "
            f"Received: model={model.name!r}, not compiled"
        )
