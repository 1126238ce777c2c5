"""Gradients and Jacobians on whichever Keras backend runs: TensorFlow's tape or JAX's transformations.

Keras 3 has no function of its own that differentiates a function: each backend does it its own way.
TensorFlow records the operations on a tape and reads it backwards; JAX transforms the function::

    # TensorFlow                                   # JAX
    with tf.GradientTape() as tape:                jax.grad(loss, argnums=(0, 1))(x, y)
        tape.watch([x, y])
        value = loss(x, y)
    tape.gradient(value, [x, y])

``gradients(loss, x, y)`` is that, on either backend, so that the notebooks and the tests say once what
they differentiate. It differentiates with respect to the arguments it is given, as ``jax.grad`` does:
to differentiate with respect to a layer's weights, pass their values and call the layer with
``layer.stateless_call`` (or, as the notebooks do, write the function of the weights directly)::

    def loss(kernel):
        outputs, _ = dense.stateless_call([kernel, dense.bias.value], [], inputs)
        return ops.sum(outputs**2)

    (kernel_gradient,) = gradients(loss, dense.kernel.value)

The two backends differentiate differently, and a function written for both keeps to what both allow:

- JAX traces the function: no Python ``if`` on a tensor's value, no ``float(x)`` or NumPy round trip
  inside it (JAX raises a ``ConcretizationTypeError`` or ``TracerArrayConversionError``; TensorFlow runs
  them, and a NumPy round trip silently cuts the gradient, which then comes out 0).
- The function must not change Keras state on JAX: a layer called with ``training=True`` that updates
  its variables (batch normalisation's moving statistics) would leave JAX tracers in them.
- Where the result does not depend on an argument, TensorFlow's tape finds no path and the gradient is
  zeros; JAX gives zeros too, but raises where the path is cut by a non-differentiable step (an integer
  cast, ``argmax``'s output).
"""

from keras import ops

from attention_utils import _validation as check

_SUPPORTED = ("tensorflow", "jax")


def gradients(function, *arguments):
    """The gradient of a scalar ``function(*arguments)`` with respect to each of ``arguments``.

    For ``f(x_1, ..., x_n)`` returns ``(df/dx_1, ..., df/dx_n)``, each of the shape of its argument and
    of the floating dtype the argument was converted to (a zero gradient where ``f`` does not depend on
    an argument, never ``None``). TensorFlow: ``tf.GradientTape`` (``tape.watch`` on each argument, since
    a tape records only what it watches); JAX: ``jax.grad`` with ``argnums`` every argument (the positions
    of the arguments to differentiate with respect to). With one argument, unpack the tuple:
    ``(gradient,) = gradients(f, x)``.

    Args:
        function: a callable of ``len(arguments)`` tensors that returns a scalar (a tensor of shape
            ``()``).
        *arguments: tensors or arrays of numbers, at least one; integers and booleans are cast to Keras's
            float type, as everywhere in the package. float64 stays float64 on TensorFlow; JAX computes
            it in float32 unless ``JAX_ENABLE_X64=1``.

    Returns:
        A tuple of the gradients, backend tensors, one per argument.
    """
    _check_callable(function)
    if not arguments:
        raise ValueError("Invalid value for argument arguments. Expected at least one tensor. Received: none")
    arguments = tuple(check.as_float_tensor(x, f"arguments[{i}]") for i, x in enumerate(arguments))
    backend = _backend("gradients")

    def checked(*args):
        value = function(*args)
        if tuple(ops.shape(value)) != ():
            raise ValueError(
                "Invalid value for argument function. Expected a function that returns a scalar. "
                f"Received: a function that returned shape {tuple(ops.shape(value))}"
            )
        return value

    if backend == "jax":
        import jax

        return tuple(jax.grad(checked, argnums=tuple(range(len(arguments))))(*arguments))
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(arguments)
        value = checked(*arguments)
    grads = tape.gradient(value, arguments, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return tuple(grads)


def jacobian(function, x):
    """The Jacobian of ``function(x)`` with respect to ``x``: of shape ``output.shape + x.shape``.

    Entry ``[i..., j...]`` is ``d output[i...] / d x[j...]``. TensorFlow: ``tf.GradientTape.jacobian``;
    JAX: ``jax.jacrev`` ("rev" for reverse mode: a backward pass per output entry, run as one vectorised
    computation, as the tape's ``jacobian`` runs them). ``function`` returns one tensor.

    Args:
        function: a callable of one tensor.
        x: a tensor or array of numbers (integers and booleans are cast to Keras's float type).

    Returns:
        The Jacobian, a backend tensor.
    """
    _check_callable(function)
    x = check.as_float_tensor(x, "x")
    if _backend("jacobian") == "jax":
        import jax

        return jax.jacrev(function)(x)
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(x)
        value = function(x)
    return tape.jacobian(value, x, unconnected_gradients=tf.UnconnectedGradients.ZERO)


def _backend(name):
    return check.check_backend(f"{name} differentiates with TensorFlow or JAX", _SUPPORTED)


def _check_callable(function):
    if not callable(function):
        raise TypeError(f"Invalid value for argument function. Expected a callable. Received: function={function!r}")
