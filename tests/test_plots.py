import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from keras import ops

from attention_utils.plots import show_heatmaps


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("shape, panels", [((3, 4), 1), ((2, 3, 4), 2), ((2, 3, 3, 4), 6)])
def test_one_panel_per_matrix_plus_a_colour_bar(shape, panels):
    figure = show_heatmaps(np.random.default_rng(0).random(shape))
    assert len(figure.axes) == panels + 1


def test_labels_titles_and_token_labels():
    figure = show_heatmaps(
        ops.convert_to_tensor(np.eye(3)),
        xlabel="source",
        ylabel="target",
        titles=["head 0"],
        xticklabels=["a", "b", "c"],
        yticklabels=["x", "y", "z"],
    )
    ax = figure.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("source", "target", "head 0")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x", "y", "z"]


@pytest.mark.parametrize("num_positions", [3, 10, 37])
def test_without_token_labels_the_ticks_are_whole_positions(num_positions):
    figure = show_heatmaps(np.ones((num_positions, num_positions)))
    figure.canvas.draw()
    ax = figure.axes[0]
    for ticks in (ax.get_xticks(), ax.get_yticks()):
        shown = ticks[(ticks >= 0) & (ticks <= num_positions - 1)]
        assert len(shown) >= 2 and (shown == np.round(shown)).all(), ticks


def test_wrong_rank_names_the_argument_and_shape():
    with pytest.raises(ValueError, match=r"argument matrices.*matrices.shape=\(5,\)"):
        show_heatmaps(np.ones(5))


def test_wrong_number_of_titles_or_labels_is_rejected():
    with pytest.raises(ValueError, match="argument titles"):
        show_heatmaps(np.ones((2, 3, 4)), titles=["only one"])
    with pytest.raises(ValueError, match="argument xticklabels.*Expected 4"):
        show_heatmaps(np.ones((3, 4)), xticklabels=["a"])


def test_a_given_colour_range_is_used_and_the_colour_bar_labelled():
    # Two figures of weights on one scale: 0 to 1 whatever the largest weight of each.
    figure = show_heatmaps(np.full((3, 4), 0.25), vmin=0, vmax=1, colorbar_label="attention weight")
    image = figure.axes[0].images[0]
    assert image.get_clim() == (0.0, 1.0)
    assert figure.axes[-1].get_ylabel() == "attention weight"  # the colour bar's own axes come last


def test_one_given_limit_keeps_the_data_for_the_other():
    figure = show_heatmaps(np.array([[0.2, 0.6]]), vmin=0)
    assert figure.axes[0].images[0].get_clim() == (0.0, 0.6)


@pytest.mark.parametrize(
    "limits, error, message",
    [
        ({"vmin": "0"}, TypeError, r"argument vmin.*Received: vmin='0'"),
        ({"vmax": np.nan}, ValueError, r"argument vmax.*finite"),
        ({"vmin": 1, "vmax": 0}, ValueError, r"vmin <= vmax.*vmin=1, vmax=0"),
    ],
)
def test_bad_colour_limits_name_the_argument(limits, error, message):
    with pytest.raises(error, match=message):
        show_heatmaps(np.ones((2, 2)), **limits)
