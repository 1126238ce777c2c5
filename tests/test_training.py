"""optimizer_values and restore: a compiled model restarted at a seed trains as a new one built there."""

import keras
import numpy as np
import pytest

from attention_utils.training import optimizer_values, restore


def build(seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    model.optimizer.build(model.trainable_variables)
    return model


@pytest.fixture
def data(rng):
    return rng.normal(size=(64, 4)).astype("float32"), rng.normal(size=(64, 1)).astype("float32")


def test_a_restarted_model_trains_as_a_new_one_built_at_the_seed(data):
    # A used model: trained weights, a step count and moments that are not zero.
    reused = build(0)
    untrained = optimizer_values(reused)
    reused.fit(*data, batch_size=16, epochs=2, verbose=0, shuffle=False)
    restore(reused, build(1).get_weights(), untrained)
    new = build(1)
    losses = [
        model.fit(*data, batch_size=16, epochs=1, verbose=0, shuffle=False).history["loss"] for model in (reused, new)
    ]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)
    for reused_weights, new_weights in zip(reused.get_weights(), new.get_weights(), strict=True):
        np.testing.assert_allclose(reused_weights, new_weights, atol=1e-6)


def test_the_learning_rate_is_part_of_the_state_and_is_kept(data):
    model = build(0)
    untrained = optimizer_values(model)
    restore(model, model.get_weights(), untrained)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)
    assert int(model.optimizer.iterations) == 0


def test_bad_arguments_name_the_argument():
    with pytest.raises(TypeError, match=r"argument model.*Received: model='a model'"):
        optimizer_values("a model")
    uncompiled = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match=r"argument model.*compiled"):
        optimizer_values(uncompiled)
    with pytest.raises(ValueError, match=r"argument optimizer_state.*Received: 1 arrays"):
        restore(build(0), build(0).get_weights(), [np.zeros(())])
