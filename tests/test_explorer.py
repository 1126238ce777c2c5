"""The attention explorer: its controls, the weights it shows, its picture, its static fallback, and bad input.

The widgets run without a kernel here: setting a control's value runs the same observers a click does.
"""

import base64
import re
import subprocess
import sys

import ipywidgets
import matplotlib
import numpy as np
import pytest
from helpers import softmax
from keras import ops

import attention_utils as au
from attention_utils import explorer as explorer_module
from attention_utils.plots import AttentionExplorer, explore_attention, explore_scores

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TQ, TK = 3, 4


def explore(weights, *args, **kwargs):
    """``explore_attention``, naming the layers of 4-D weights (required there) unless the test does."""
    if np.ndim(weights) == 4:
        kwargs.setdefault("layer_names", [f"layer {index}" for index in range(np.shape(weights)[0])])
    return explore_attention(weights, *args, **kwargs)


def random_weights(shape, seed=0):
    weights = np.random.default_rng(seed).random(shape)
    return weights / weights.sum(-1, keepdims=True)


def random_scores(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape) * 3


def control(explorer, css_class):
    """The child of ``explorer`` with the CSS class ``css_class``, or None."""
    found = [child for child in explorer.children if css_class in child._dom_classes]
    assert len(found) <= 1
    return found[0] if found else None


def css_classes(explorer):
    return {css_class for child in explorer.children for css_class in child._dom_classes}


# ---- construction and controls ----


@pytest.mark.parametrize("shape", [(TQ, TK), (2, TQ, TK), (2, 2, TQ, TK)])
def test_every_rank_builds_an_explorer_showing_one_matrix(shape):
    weights = random_weights(shape)
    explorer = explore(weights)
    assert isinstance(explorer, AttentionExplorer) and isinstance(explorer, ipywidgets.VBox)
    assert "au-explorer" in explorer._dom_classes
    np.testing.assert_allclose(explorer.current_weights, weights.reshape((-1, TQ, TK))[0])
    assert explorer.selected_query == 0
    assert explorer.picture.startswith(PNG_SIGNATURE)


@pytest.mark.parametrize(
    "shape, expected",
    [
        ((TQ, TK), set()),
        ((1, TQ, TK), set()),
        ((2, TQ, TK), {"au-explorer-heads"}),
        ((2, 1, TQ, TK), {"au-explorer-layers"}),
        ((2, 3, TQ, TK), {"au-explorer-layers", "au-explorer-heads"}),
    ],
)
def test_weights_get_a_layer_or_head_control_only_with_a_choice(shape, expected):
    explorer = explore(random_weights(shape))
    assert css_classes(explorer) == {"au-explorer-queries", "au-explorer-picture"} | expected


@pytest.mark.parametrize(
    "shape, mask, expected",
    [
        ((TQ, TK), None, {"au-explorer-temperature"}),
        ((TQ, TK), np.tril(np.ones((TQ, TK), bool)), {"au-explorer-temperature", "au-explorer-mask"}),
        ((2, TQ, TK), None, {"au-explorer-temperature", "au-explorer-heads"}),
    ],
)
def test_scores_get_a_temperature_and_a_mask_control_when_given_a_mask(shape, mask, expected):
    explorer = explore_scores(random_scores(shape), mask=mask)
    assert css_classes(explorer) == {"au-explorer-queries", "au-explorer-picture"} | expected


def test_controls_are_the_documented_widgets():
    explorer = explore_scores(
        random_scores((2, TQ, TK)),
        ["a", "b", "c"],
        mask=np.ones(TK, bool),
        temperature=0.5,
        temperature_range=(0.01, 100),
    )
    queries = control(explorer, "au-explorer-queries")
    assert isinstance(queries, ipywidgets.ToggleButtons)
    assert queries._options_labels == ("a", "b", "c") and len(queries.tooltips) == TQ
    assert isinstance(control(explorer, "au-explorer-heads"), ipywidgets.ToggleButtons)
    slider = control(explorer, "au-explorer-temperature")
    assert isinstance(slider, ipywidgets.FloatLogSlider)
    assert (slider.min, slider.max, slider.value, slider.readout_format) == (-2, 2, 0.5, ".3g")
    mask = control(explorer, "au-explorer-mask")
    assert isinstance(mask, ipywidgets.Checkbox) and mask.value is True
    picture = control(explorer, "au-explorer-picture")
    assert isinstance(picture, ipywidgets.Image) and picture.format == "png" and picture.value == explorer.picture
    layers = control(explore(random_weights((2, 2, TQ, TK))), "au-explorer-layers")
    assert isinstance(layers, ipywidgets.Dropdown) and layers._options_labels == ("layer 0", "layer 1")


# ---- what is shown ----


def test_selecting_a_query_changes_the_picture_but_not_the_weights():
    explorer = explore(random_weights((2, TQ, TK)))
    weights, picture = explorer.current_weights, explorer.picture
    assert explorer.select(query=2) is explorer
    assert explorer.selected_query == 2
    assert explorer.picture != picture
    np.testing.assert_array_equal(explorer.current_weights, weights)


def test_a_view_gives_the_same_picture_however_it_was_reached():
    explorer = explore(random_weights((2, 2, TQ, TK)), title="Self-attention")
    first = explorer.picture
    explorer.select(layer=1, head=1, query=2)
    explorer.select(layer=0, head=0, query=0)
    assert explorer.picture == first


@pytest.mark.parametrize("layer, head", [(0, 1), (1, 0), (1, 2)])
def test_selecting_a_layer_and_head_shows_that_slice(layer, head):
    weights = random_weights((2, 3, TQ, TK))
    explorer = explore(weights)
    explorer.select(layer=layer, head=head)
    np.testing.assert_array_equal(explorer.current_weights, weights[layer, head])


def test_clicking_a_control_redraws_as_select_does():
    weights = random_weights((2, TQ, TK))
    clicked, selected = explore(weights), explore(weights)
    control(clicked, "au-explorer-heads").value = 1
    control(clicked, "au-explorer-queries").value = 2
    selected.select(head=1, query=2)
    np.testing.assert_array_equal(clicked.current_weights, weights[1])
    assert clicked.selected_query == 2
    assert clicked.picture == selected.picture


def test_weights_are_softmax_of_the_scores_over_the_temperature():
    scores = random_scores((2, TQ, TK))
    explorer = explore_scores(scores, temperature_range=(0.05, 20))
    pictures, sharpness = set(), []
    for temperature in (10.0, 2.0, 1.0, 0.5, 0.1):
        explorer.select(temperature=temperature)
        np.testing.assert_allclose(explorer.current_weights, softmax(scores[0] / temperature), atol=1e-6)
        pictures.add(explorer.picture)
        sharpness.append(explorer.current_weights.max())
    assert np.all(np.diff(sharpness) > 0), sharpness  # a lower temperature, a sharper row
    assert len(pictures) == 5
    explorer.select(head=1, temperature=0.5)
    np.testing.assert_allclose(explorer.current_weights, softmax(scores[1] / 0.5), atol=1e-6)


def test_moving_the_temperature_slider_recomputes_the_weights():
    scores = random_scores((TQ, TK))
    explorer = explore_scores(scores)
    control(explorer, "au-explorer-temperature").value = 0.25
    np.testing.assert_allclose(explorer.current_weights, softmax(scores / 0.25), atol=1e-6)


def test_masked_keys_get_zero_weight_and_the_toggle_removes_the_mask():
    scores = random_scores((TQ, TK))
    mask = np.array([True, False, True, False])  # one entry per key, broadcast over the queries
    explorer = explore_scores(scores, mask=mask, temperature=0.5)
    weights = explorer.current_weights
    assert np.all(weights[:, ~mask] == 0)
    np.testing.assert_allclose(weights.sum(-1), 1, atol=1e-6)
    np.testing.assert_allclose(weights, softmax(scores / 0.5, mask), atol=1e-6)
    masked_picture = explorer.picture
    control(explorer, "au-explorer-mask").value = False
    np.testing.assert_allclose(explorer.current_weights, softmax(scores / 0.5), atol=1e-6)
    assert explorer.picture != masked_picture
    explorer.select(masked=True)
    np.testing.assert_array_equal(explorer.current_weights, weights)


def test_a_fully_masked_row_gets_zero_weights_not_nan():
    mask = np.ones((TQ, TK), bool)
    mask[1] = False
    explorer = explore_scores(random_scores((TQ, TK)), mask=mask)
    for temperature in (0.1, 1.0, 10.0):
        explorer.select(temperature=temperature, query=1)
        weights = explorer.current_weights
        assert not np.isnan(weights).any()
        assert np.all(weights[1] == 0)
        np.testing.assert_allclose(weights[[0, 2]].sum(-1), 1, atol=1e-6)


def test_keras_tensors_are_accepted():
    weights, scores = random_weights((2, TQ, TK)), random_scores((TQ, TK))
    explorer = explore(ops.convert_to_tensor(weights, "float32"))
    np.testing.assert_allclose(explorer.current_weights, weights[0], atol=1e-6)
    mask = au.causal_mask(TQ, TK)  # a boolean tensor
    explorer = explore_scores(ops.convert_to_tensor(scores), mask=mask)
    np.testing.assert_allclose(explorer.current_weights, softmax(scores, np.tril(np.ones((TQ, TK)))), atol=1e-6)


def test_repeated_and_dollar_tokens_are_distinct_buttons():
    explorer = explore(random_weights((TQ, TK)), ["the", "$5", "the"], ["a", "b", "$", "c"])
    explorer.select(query=2)
    assert explorer.selected_query == 2
    assert control(explorer, "au-explorer-queries")._options_labels == ("the", "$5", "the")


def test_no_pyplot_figure_is_left_open():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    explorer = explore_scores(random_scores((2, TQ, TK)), mask=np.ones(TK, bool))
    explorer.select(head=1, query=2, temperature=0.3, masked=False)
    explorer._repr_mimebundle_()
    assert plt.get_fignums() == before
    assert matplotlib.get_backend()  # untouched: the explorer never selects a backend


# ---- the static fallback ----


@pytest.mark.parametrize(
    "make, sizes",
    [
        (lambda: explore(random_weights((2, 4, 7, 9))), ["2", "4", "7", "9"]),
        (lambda: explore(random_weights((TQ, TK))), ["3", "4"]),
        (lambda: explore_scores(random_scores((2, TQ, TK)), temperature=0.37, mask=np.ones(TK, bool)), ["2", "3", "4"]),
    ],
)
def test_display_data_hold_the_widget_a_png_and_a_short_deterministic_text(make, sizes):
    explorer = make()
    bundle = explorer._repr_mimebundle_()
    assert {"application/vnd.jupyter.widget-view+json", "image/png", "text/plain"} <= set(bundle)
    assert base64.b64decode(bundle["image/png"]) == explorer.picture
    assert explorer.picture.startswith(PNG_SIGNATURE)
    text = bundle["text/plain"]
    assert text.startswith("AttentionExplorer: ") and len(text) < 200
    assert re.findall(r"\d+", text) == sizes


def test_summary_names_the_sizes_in_words():
    explorer = explore(random_weights((2, 4, 1, 9)))
    assert repr(explorer) == "AttentionExplorer: 2 layers x 4 heads, 1 query x 9 keys"


# ---- bad input ----


def must_not_build(*args, **kwargs):
    raise AssertionError("an explorer was built before its arguments were checked")


GOOD_WEIGHTS = random_weights((2, TQ, TK))
GOOD_SCORES = random_scores((TQ, TK))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"weights": np.array([["a", "b"], ["c", "d"]])}, TypeError, r"argument weights.*dtype <U1"),
        ({"weights": np.ones(4) / 4}, ValueError, r"argument weights.*no batch axis.*weights.shape=\(4,\)"),
        ({"weights": np.ones((1, 1, 1, TQ, TK))}, ValueError, r"argument weights.*weights.shape=\(1, 1, 1, 3, 4\)"),
        ({"weights": np.ones((TQ, 0))}, ValueError, r"argument weights.*weights.shape=\(3, 0\)"),
        ({"weights": np.ones((0, TK))}, ValueError, r"argument weights.*weights.shape=\(0, 4\)"),
        ({"weights": np.full((TQ, TK), np.nan)}, ValueError, r"argument weights.*12 NaN or infinite"),
        ({"weights": np.full((TQ, TK), np.inf)}, ValueError, r"argument weights.*NaN or infinite"),
        ({"weights": np.full((TQ, TK), 2.0)}, ValueError, r"argument weights.*between 0 and 1.*explore_scores"),
        ({"query_tokens": [1, 2, 3]}, TypeError, r"argument query_tokens.*strings.*\[1, 2, 3\]"),
        ({"query_tokens": "abc"}, TypeError, r"argument query_tokens.*Received: query_tokens='abc'"),
        ({"query_tokens": 3}, TypeError, r"argument query_tokens"),
        ({"query_tokens": ["a", "b"]}, ValueError, r"argument query_tokens.*Expected 3.*Received: 2"),
        ({"key_tokens": ["a"] * 5}, ValueError, r"argument key_tokens.*Expected 4.*Received: 5"),
        ({"head_names": ["h"]}, ValueError, r"argument head_names.*Expected 2.*Received: 1"),
        ({"head_names": [0, 1]}, TypeError, r"argument head_names"),
        ({"layer_names": ["a", "b"]}, ValueError, r"argument layer_names.*Expected 1.*Received: 2"),
        ({"title": 3}, TypeError, r"argument title.*title=3"),
    ],
)
def test_bad_input_to_explore_attention_names_the_argument(kwargs, error, message, monkeypatch):
    monkeypatch.setattr(explorer_module.AttentionExplorer, "__init__", must_not_build)
    kwargs = {"weights": GOOD_WEIGHTS, **kwargs}
    with pytest.raises(error, match=message):
        explore_attention(**kwargs)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"scores": [["a"]]}, TypeError, r"argument scores"),
        ({"scores": np.ones((2, 2, TQ, TK))}, ValueError, r"argument scores.*no batch axis.*\(2, 2, 3, 4\)"),
        ({"scores": np.full((TQ, TK), -np.inf)}, ValueError, r"argument scores.*finite.*mask"),
        ({"key_tokens": ["a"]}, ValueError, r"argument key_tokens"),
        ({"mask": np.ones((TQ, 5), bool)}, ValueError, r"argument mask.*\(3, 4\).*mask.shape=\(3, 5\)"),
        ({"mask": np.ones((2, TQ, TK), bool)}, ValueError, r"argument mask.*mask.shape=\(2, 3, 4\)"),
        ({"mask": np.ones((TQ, TK))}, TypeError, r"argument mask.*float64"),
        ({"temperature": "1"}, TypeError, r"argument temperature.*temperature='1'"),
        ({"temperature": None}, TypeError, r"argument temperature"),
        ({"temperature": 0}, ValueError, r"argument temperature.*temperature=0"),
        ({"temperature": -1.0}, ValueError, r"argument temperature.*temperature=-1.0"),
        ({"temperature": np.nan}, ValueError, r"argument temperature"),
        ({"temperature": 20.0}, ValueError, r"argument temperature.*within temperature_range.*temperature=20.0"),
        ({"temperature_range": 5}, TypeError, r"argument temperature_range.*Received: 5"),
        ({"temperature_range": ("a", 1)}, TypeError, r"argument temperature_range"),
        ({"temperature_range": (0, 10)}, ValueError, r"argument temperature_range.*\(0, 10\)"),
        ({"temperature_range": (10, 1)}, ValueError, r"argument temperature_range.*lowest < highest"),
        ({"title": ["t"]}, TypeError, r"argument title"),
    ],
)
def test_bad_input_to_explore_scores_names_the_argument(kwargs, error, message, monkeypatch):
    monkeypatch.setattr(explorer_module.AttentionExplorer, "__init__", must_not_build)
    kwargs = {"scores": GOOD_SCORES, **kwargs}
    with pytest.raises(error, match=message):
        explore_scores(**kwargs)


@pytest.mark.parametrize(
    "make, kwargs, error, message",
    [
        (lambda: explore(GOOD_WEIGHTS), {"query": 3}, ValueError, r"argument query.*0 to 2.*query=3"),
        (lambda: explore(GOOD_WEIGHTS), {"query": 1.0}, TypeError, r"argument query.*query=1.0"),
        (lambda: explore(GOOD_WEIGHTS), {"head": -1}, ValueError, r"argument head.*head=-1"),
        (lambda: explore(GOOD_WEIGHTS), {"layer": 1}, ValueError, r"argument layer.*0 to 0.*layer=1"),
        (lambda: explore(GOOD_WEIGHTS), {"temperature": 2.0}, ValueError, r"argument temperature"),
        (lambda: explore_scores(GOOD_SCORES), {"temperature": 100.0}, ValueError, r"argument temperature.*within"),
        (lambda: explore_scores(GOOD_SCORES), {"temperature": "2"}, TypeError, r"argument temperature"),
        (lambda: explore_scores(GOOD_SCORES), {"masked": True}, ValueError, r"argument masked.*without a mask"),
        (lambda: explore_scores(GOOD_SCORES, mask=np.ones(TK, bool)), {"masked": 1}, TypeError, r"argument masked"),
    ],
)
def test_bad_selections_name_the_argument_and_change_nothing(make, kwargs, error, message):
    explorer = make()
    picture = explorer.picture
    with pytest.raises(error, match=message):
        explorer.select(**kwargs)
    assert explorer.picture == picture


def test_a_selection_with_one_bad_argument_changes_nothing():
    explorer = explore_scores(random_scores((2, TQ, TK)))
    weights, picture = explorer.current_weights, explorer.picture
    with pytest.raises(ValueError, match="argument temperature"):
        explorer.select(head=1, query=2, temperature=50.0)
    assert explorer.selected_query == 0 and explorer.picture == picture
    np.testing.assert_array_equal(explorer.current_weights, weights)


# ---- the import ----

IMPORT_CHECK = """
import sys
import attention_utils as au
import attention_utils.plots
assert "ipywidgets" not in sys.modules, "importing attention_utils imported ipywidgets"
assert {"explore_attention", "explore_scores", "AttentionExplorer"} <= set(dir(au.plots)) & set(au.plots.__all__)
sys.modules["ipywidgets"] = None  # as if it were not installed
try:
    au.plots.explore_attention
except ImportError as error:
    assert "pip install ipywidgets" in str(error), error
else:
    raise AssertionError("no ImportError without ipywidgets")
au.plots.show_heatmaps([[1.0]])  # the rest of the module still works
print("ok")
"""


def test_ipywidgets_is_imported_on_first_use_only():
    result = subprocess.run([sys.executable, "-c", IMPORT_CHECK], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


def test_masked_cells_are_drawn_apart_from_zero_weights_while_the_mask_is_on():
    mask = np.tril(np.ones((4, 4), dtype=bool))
    explorer = explore_scores(np.zeros((4, 4)), mask=mask)
    shown = explorer._drawing._heatmap.get_array()
    np.testing.assert_array_equal(np.ma.getmaskarray(shown), ~mask)  # grey, not white
    explorer.select(masked=False)
    assert not np.ma.getmaskarray(explorer._drawing._heatmap.get_array()).any()


def test_axis_labels_and_the_row_title_name_what_the_caller_says():
    explorer = explore(
        np.full((2, 3), 1 / 3), ["1", "-"], ["a", " ", "b"], query_label="output characters", key_label="input"
    )
    heatmap_axes, bar_axes = explorer._drawing._figure.axes[:2]
    assert heatmap_axes.get_ylabel() == "output characters" and bar_axes.get_xlabel() == "input"
    assert [label.get_text() for label in heatmap_axes.get_xticklabels()] == ["a", "\u2423", "b"]  # a space shows
    explorer.select(query=1)
    assert explorer._drawing._row_title.get_text() == "row 1: '-'"


@pytest.mark.parametrize("name", ["query_label", "key_label"])
def test_axis_labels_must_be_strings(name):
    with pytest.raises(TypeError, match=f"argument {name}.*Received: {name}=3"):
        explore(np.eye(2), **{name: 3})
    with pytest.raises(TypeError, match=f"argument {name}"):
        explore_scores(np.eye(2), **{name: None})


def test_4d_weights_need_layer_names_so_that_a_batch_is_not_taken_for_layers():
    with pytest.raises(ValueError, match=r"argument layer_names.*indexed first.*weights.shape=\(2, 2, 3, 4\)"):
        explore_attention(random_weights((2, 2, TQ, TK)))


def test_the_layer_axis_is_named_as_the_caller_says():
    explorer = explore_attention(
        random_weights((2, 1, TQ, TK)), layer_names=["Bahdanau", "Luong"], layer_label="decoder"
    )
    assert control(explorer, "au-explorer-layers").description == "decoder"
    assert repr(explorer).startswith("AttentionExplorer: 2 decoders, ")
    with pytest.raises(TypeError, match="argument layer_label"):
        explore_attention(random_weights((TQ, TK)), layer_label=1)
