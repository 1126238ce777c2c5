"""An interactive attention explorer: pick a layer, a head and a query, and see where the query looks.

A grid of heatmaps shows every head at once but makes one query's row hard to read. The explorer shows
one ``(Tq, Tk)`` matrix at a time, outlines the row of the selected query, and draws that row beside it
as bars over the key tokens, with their weights written out. ``explore_scores`` adds a temperature
slider, ``weights = softmax(scores / T)``, and a mask toggle, so a learner can watch the weights sharpen
towards one key as ``T -> 0``, flatten towards uniform as ``T -> inf``, and lose the masked keys.

The explorer is an ``ipywidgets.VBox``: its controls run Python in the kernel, which re-renders one PNG
picture (Matplotlib's Agg canvas, never ``pyplot``, so no figure leaks into the cell's output).
Where no kernel runs (GitHub, nbviewer, a notebook converted to HTML) a widget shows nothing, so the
explorer also offers the current picture as a plain ``image/png`` output: the static fallback. Its
``text/plain`` output names only the sizes, so that nbval, which compares text outputs, sees the same
text on every machine.

``ipywidgets`` is needed here only: ``attention_utils.plots`` imports this module on first use of
``explore_attention``, ``explore_scores`` or ``AttentionExplorer``.
"""

import base64
import io
import math
import numbers

import matplotlib
import numpy as np
from keras import ops
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from attention_utils import _validation as check
from attention_utils.alignment import masked_softmax

try:
    import ipywidgets as widgets
except ImportError as error:  # the rest of the package works without it
    raise ImportError(
        "The attention explorer (attention_utils.plots.explore_attention and explore_scores) needs "
        "ipywidgets, which is not installed: pip install ipywidgets"
    ) from error

FIGURE_SIZE = (8, 3)  # inches: small enough that one re-render takes a few hundredths of a second
DPI = 90
CMAP = "Reds"
MASKED_COLOUR = "lightgrey"  # a masked cell, apart from a weight of 0 (white)
OUTLINE_COLOUR = "tab:blue"  # the selected query's row and its label, apart from the reds of the weights
WEIGHTS_SHAPES = "(Tq, Tk), (heads, Tq, Tk) or (layers, heads, Tq, Tk)"
SCORES_SHAPES = "(Tq, Tk) or (heads, Tq, Tk)"
MAX_WRITTEN_WEIGHTS = 30  # keys whose weights the bar chart writes out; beyond, they would overlap
WEIGHT_TOLERANCE = 1e-6  # float32 softmax can round a weight a hair outside [0, 1]


def explore_attention(
    weights,
    query_tokens=None,
    key_tokens=None,
    *,
    layer_names=None,
    head_names=None,
    layer_label="layer",
    title=None,
    query_label="queries",
    key_label="keys",
):
    """An interactive view of attention weights: choose a layer, a head and a query.

    The picture shows the ``(Tq, Tk)`` weights of the chosen layer and head as a heatmap on a fixed
    colour scale (0 white, 1 dark red), the chosen query's row outlined, and beside it that row as bars
    over the keys, on a fixed axis from 0 to 1 so that bars compare across heads and layers.

    Args:
        weights: ``(Tq, Tk)``, ``(heads, Tq, Tk)`` or ``(layers, heads, Tq, Tk)``, an array or a tensor
            of weights in ``[0, 1]`` for ONE example: there is no batch axis, so index it first
            (``weights[0]`` of a ``(batch_size, heads, Tq, Tk)`` tensor, such as the scores returned
            by ``MultiHeadAttention(..., return_attention_scores=True)``). To explore raw scores, use
            ``explore_scores``.
        query_tokens: ``Tq`` strings, the labels of the queries; by default their positions ``"0"``,
            ``"1"``, ...
        key_tokens: ``Tk`` strings, the labels of the keys; by default their positions.
        layer_names: ``layers`` strings naming the layers (1 for weights without a layer axis).
            Required for 4-D weights, so that a ``(batch_size, heads, Tq, Tk)`` tensor passed without
            indexing is not taken for layers; for fewer dimensions ``"layer 0"``.
        head_names: ``heads`` strings naming the heads (1 for ``(Tq, Tk)`` weights); by default
            ``"head 0"``, ``"head 1"``, ...
        title: an optional title, written before the current layer and head.
        layer_label: what the first axis of 4-D weights holds, for its menu and the title: ``"layer"``
            by default, or for example ``"decoder"`` for the weights of several models stacked.
        query_label, key_label: what the queries and the keys are, for the axes (for example
            ``"output characters"`` and ``"input characters"``).

    Returns:
        An ``AttentionExplorer``: display it (the last expression of a cell) to interact.

    Example:

    ```python
    _, weights = mha(x, x, return_attention_scores=True)  # (batch_size, heads, Tq, Tk)
    au.plots.explore_attention(weights[0], tokens, tokens, title="Self-attention")
    ```
    """
    weights = _checked_values(weights, "weights", (2, 3, 4), WEIGHTS_SHAPES)
    low, high = weights.min(), weights.max()
    if low < -WEIGHT_TOLERANCE or high > 1 + WEIGHT_TOLERANCE:
        raise ValueError(
            "Invalid value for argument weights. Expected attention weights, between 0 and 1 (to explore "
            f"scores, use explore_scores). Received: weights with values from {low:.4g} to {high:.4g}"
        )
    grid = weights.reshape((1,) * (4 - weights.ndim) + weights.shape)
    num_layers, num_heads, num_queries, num_keys = grid.shape
    query_tokens = _checked_tokens(query_tokens, "query_tokens", num_queries, "Tq", "weights", weights.shape)
    key_tokens = _checked_tokens(key_tokens, "key_tokens", num_keys, "Tk", "weights", weights.shape)
    _check_title(title)
    for label, label_name in ((query_label, "query_label"), (key_label, "key_label"), (layer_label, "layer_label")):
        _check_label(label, label_name)
    if weights.ndim == 4 and layer_names is None:
        raise ValueError(
            "Invalid value for argument layer_names. Expected one name per layer for 4-D weights (layers, "
            "heads, Tq, Tk); a (batch_size, heads, Tq, Tk) tensor must be indexed first (weights[0]). "
            f"Received: layer_names=None with weights.shape={weights.shape}"
        )
    return AttentionExplorer(
        lambda temperature, masked: grid,
        query_tokens,
        key_tokens,
        layer_names=_checked_names(layer_names, "layer_names", num_layers, layer_label, weights.shape),
        head_names=_checked_names(head_names, "head_names", num_heads, "head", weights.shape),
        title=title,
        # An axis of length 1 is not worth a word in the title unless the caller named it.
        show_layers=(weights.ndim == 4 and num_layers > 1) or layer_names is not None,
        show_heads=(weights.ndim >= 3 and num_heads > 1) or head_names is not None,
        axis_labels=(query_label, key_label),
        layer_label=layer_label,
    )


def explore_scores(
    scores,
    query_tokens=None,
    key_tokens=None,
    *,
    mask=None,
    temperature=1.0,
    temperature_range=(0.1, 10.0),
    title=None,
    query_label="queries",
    key_label="keys",
):
    """An interactive view of the weights that scores give at a temperature, with and without a mask.

    Each time the temperature slider or the mask toggle changes, the weights are computed again with
    ``attention_utils.masked_softmax``:

    ``weights_ij = mask_ij exp(s_ij / T) / sum_k mask_ik exp(s_ik / T)``, that is ``softmax(s / T)``
    over the keys that the mask lets query ``i`` attend to. A temperature ``T < 1`` sharpens each row
    towards the one-hot vector of its largest score (hard attention as ``T -> 0``); ``T > 1`` flattens it
    towards uniform. A masked key gets weight exactly 0, and a query with every key masked gets all-zero
    weights, never NaN. The picture is the one of ``explore_attention``.

    Args:
        scores: ``(Tq, Tk)`` or ``(heads, Tq, Tk)``, an array or a tensor of finite scores for ONE
            example (no batch axis: index it first).
        query_tokens: ``Tq`` strings, the labels of the queries; by default their positions.
        key_tokens: ``Tk`` strings, the labels of the keys; by default their positions.
        mask: optional boolean array broadcastable to ``(Tq, Tk)``, ``True`` meaning "may attend" (the
            package's mask rule, as in Keras); for example ``au.causal_mask(Tq)`` or a key mask of shape
            ``(Tk,)``. With a mask, a checkbox turns it on and off; it starts on.
        temperature: the starting temperature ``T``, a positive number within ``temperature_range``.
        temperature_range: ``(lowest, highest)``, the range of the slider, which moves on a log scale.
        title: an optional title, written before the current head and temperature.
        query_label, key_label: what the queries and the keys are, for the axes.

    Returns:
        An ``AttentionExplorer``: display it (the last expression of a cell) to interact.

    Example:

    ```python
    scores = au.scores.scaled_dot(query, key)[0]  # (Tq, Tk)
    au.plots.explore_scores(scores, tokens, tokens, mask=au.causal_mask(len(tokens)), temperature=0.5)
    ```
    """
    scores = _checked_values(scores, "scores", (2, 3), SCORES_SHAPES)
    grid = scores.reshape((1,) * (4 - scores.ndim) + scores.shape)
    _, num_heads, num_queries, num_keys = grid.shape
    query_tokens = _checked_tokens(query_tokens, "query_tokens", num_queries, "Tq", "scores", scores.shape)
    key_tokens = _checked_tokens(key_tokens, "key_tokens", num_keys, "Tk", "scores", scores.shape)
    if mask is not None:
        mask = _checked_mask(mask, (num_queries, num_keys))
    temperature_range = _checked_temperature_range(temperature_range)
    _check_temperature(temperature, temperature_range)
    _check_title(title)
    _check_label(query_label, "query_label")
    _check_label(key_label, "key_label")

    # float64 where the backend computes in it (not JAX without JAX_ENABLE_X64, which would warn).
    scores_to_weigh = grid.astype("float64" if check.float64_available() else "float32")

    def weights_of(temperature, masked):
        weights = masked_softmax(scores_to_weigh, mask if masked else None, temperature=temperature)
        return ops.convert_to_numpy(weights)

    return AttentionExplorer(
        weights_of,
        query_tokens,
        key_tokens,
        layer_names=["layer 0"],
        head_names=[f"head {head}" for head in range(num_heads)],
        title=title,
        show_layers=False,
        show_heads=scores.ndim == 3,
        temperature=float(temperature),
        temperature_range=temperature_range,
        mask=mask,
        axis_labels=(query_label, key_label),
    )


class AttentionExplorer(widgets.VBox):
    """Controls and one picture of attention weights; made by ``explore_attention`` or ``explore_scores``.

    The controls, each present only when it has a choice to offer:

    - ``layer``: a dropdown, for weights with more than one layer (CSS class ``au-explorer-layers``);
    - ``head``: toggle buttons, for more than one head (``au-explorer-heads``);
    - ``temperature``: a log-scale slider (``explore_scores`` only; ``au-explorer-temperature``);
    - ``mask``: a checkbox, starting checked (``explore_scores`` with a mask; ``au-explorer-mask``);
    - ``query``: one toggle button per query token (``au-explorer-queries``).

    Below them, one PNG image (``au-explorer-picture``): the current ``(Tq, Tk)`` weights as a heatmap
    with the selected query's row outlined, and that row as bars over the keys. The explorer itself has
    the class ``au-explorer``. ``select`` changes the same state from Python, and ``current_weights``,
    ``selected_query`` and ``picture`` read it back.

    Where no kernel runs the widget cannot be shown, so the explorer's display data also hold the
    current picture as ``image/png`` and a short ``text/plain`` without machine-dependent numbers.

    The arguments are checked by ``explore_attention`` and ``explore_scores``, which build the explorer:
    ``weights_of(temperature, masked)`` returns the ``(layers, heads, Tq, Tk)`` weights to show;
    ``show_layers`` and ``show_heads`` say whether the caller's array had that axis (or the caller named
    its entries), so that the title and the summary mention it.
    """

    def __init__(
        self,
        weights_of,
        query_tokens,
        key_tokens,
        *,
        layer_names,
        head_names,
        title,
        show_layers,
        show_heads,
        temperature=None,
        temperature_range=None,
        mask=None,
        axis_labels=("queries", "keys"),
        layer_label="layer",
    ):
        self._weights_of = weights_of
        self._query_tokens = query_tokens
        self._key_tokens = key_tokens
        self._layer_names = layer_names
        self._head_names = head_names
        self._title = title
        self._layer_label = layer_label
        self._show_layers, self._show_heads = show_layers, show_heads
        self._temperature_range = temperature_range
        self._mask_array = mask  # (Tq, Tk), True = may attend; drawn grey where it hides a key
        self._cache_key, self._cached_weights = None, None
        self._holding = False

        self._layers = self._heads = self._temperature = self._mask = None
        controls = []
        if len(layer_names) > 1:
            self._layers = widgets.Dropdown(options=_indexed(layer_names), value=0, description=layer_label)
            self._layers.add_class("au-explorer-layers")
            controls.append(self._layers)
        if len(head_names) > 1:
            self._heads = widgets.ToggleButtons(
                options=_indexed(head_names),
                value=0,
                description="head",
                tooltips=[f"Show {name}" for name in head_names],
                style={"button_width": "auto"},
            )
            self._heads.add_class("au-explorer-heads")
            controls.append(self._heads)
        if temperature is not None:
            low, high = temperature_range
            self._temperature = widgets.FloatLogSlider(
                value=temperature,
                base=10,
                min=math.log10(low),
                max=math.log10(high),
                step=0.01,  # in powers of 10: steps of 2.3 %
                description="temperature",
                readout_format=".3g",
                continuous_update=False,  # one re-render per release, not a queue of them while dragging
                style={"description_width": "initial"},
            )
            self._temperature.add_class("au-explorer-temperature")
            controls.append(self._temperature)
        if mask is not None:
            self._mask = widgets.Checkbox(
                value=True,
                description="mask",
                indent=False,
                tooltip="Apply the mask: masked keys get weight 0",
            )
            self._mask.add_class("au-explorer-mask")
            controls.append(self._mask)
        self._queries = widgets.ToggleButtons(
            options=_indexed(query_tokens),
            value=0,
            description="query",
            tooltips=[f"Show where query {index}, {token!r}, attends" for index, token in enumerate(query_tokens)],
            style={"button_width": "auto"},
        )
        self._queries.add_class("au-explorer-queries")
        controls.append(self._queries)
        self._drawing = _Drawing(query_tokens, key_tokens, *axis_labels)
        self._picture = widgets.Image(format="png")
        self._picture.add_class("au-explorer-picture")

        super().__init__(children=[*controls, self._picture])
        self.add_class("au-explorer")
        for control in controls:
            control.observe(self._on_change, names="value")
        self._redraw()

    # ---- state, read from the controls ----

    @property
    def selected_query(self):
        """The index of the query whose row is outlined and drawn as bars."""
        return int(self._queries.value)

    @property
    def current_weights(self):
        """The ``(Tq, Tk)`` weights now shown, a NumPy array (a copy)."""
        return np.array(self._all_weights()[self._layer_index, self._head_index])

    @property
    def picture(self):
        """The PNG bytes of the picture now shown."""
        return bytes(self._picture.value)  # the Image widget holds a memoryview

    @property
    def _layer_index(self):
        return 0 if self._layers is None else int(self._layers.value)

    @property
    def _head_index(self):
        return 0 if self._heads is None else int(self._heads.value)

    @property
    def _temperature_value(self):
        return None if self._temperature is None else float(self._temperature.value)

    @property
    def _masked(self):
        return self._mask is not None and bool(self._mask.value)

    def select(self, *, layer=None, head=None, query=None, temperature=None, masked=None):
        """Changes what is shown, as the controls do; arguments left ``None`` keep their value.

        Args:
            layer, head, query: indices, from 0.
            temperature: a temperature within the slider's range (``explore_scores`` only).
            masked: whether to apply the mask (``explore_scores`` with a mask only).

        Returns:
            The explorer, redrawn once.
        """
        changes = []
        for name, value, count, control in (
            ("layer", layer, len(self._layer_names), self._layers),
            ("head", head, len(self._head_names), self._heads),
            ("query", query, len(self._query_tokens), self._queries),
        ):
            if value is not None:
                check.check_integer(value, name, f"an index from 0 to {count - 1}")
                if not 0 <= value < count:
                    raise ValueError(
                        f"Invalid value for argument {name}. Expected an index from 0 to {count - 1}. "
                        f"Received: {name}={value!r}"
                    )
                if control is not None:  # without a control there is only index 0
                    changes.append((control, int(value)))
        if temperature is not None:
            if self._temperature is None:
                raise ValueError(
                    "Invalid value for argument temperature. This explorer shows fixed weights "
                    "(explore_attention); explore_scores has a temperature. "
                    f"Received: temperature={temperature!r}"
                )
            _check_temperature(temperature, self._temperature_range)
            changes.append((self._temperature, float(temperature)))
        if masked is not None:
            check.check_bool(masked, "masked")
            if self._mask is None:
                raise ValueError(
                    "Invalid value for argument masked. This explorer was made without a mask. "
                    f"Received: masked={masked!r}"
                )
            changes.append((self._mask, bool(masked)))
        self._holding = True  # one redraw for all the changes, not one per control
        try:
            for control, value in changes:
                control.value = value
        finally:
            self._holding = False
        self._redraw()
        return self

    # ---- drawing ----

    def _on_change(self, change):
        if not self._holding:
            self._redraw()

    def _all_weights(self):
        """The ``(layers, heads, Tq, Tk)`` weights at the current temperature and mask, computed once."""
        key = (self._temperature_value, self._masked)
        if key != self._cache_key:
            self._cached_weights = self._weights_of(*key)
            self._cache_key = key
        return self._cached_weights

    def _redraw(self):
        hidden = ~self._mask_array if self._masked else None
        self._picture.value = self._drawing.render(
            self.current_weights, self.selected_query, self._describe_view(), hidden=hidden
        )

    def _describe_view(self):
        """The title: the caller's, then the current layer, head, temperature and mask."""
        view = []
        if self._show_layers:
            view.append(self._layer_names[self._layer_index])
        if self._show_heads:
            view.append(self._head_names[self._head_index])
        if self._temperature is not None:
            view.append(f"T = {self._temperature_value:.3g}")
        if self._mask is not None and not self._masked:
            view.append("mask off")
        return ": ".join(part for part in (self._title, ", ".join(view)) if part)

    # ---- display ----

    def _summary(self):
        """The sizes, in words: no number that depends on the machine."""
        axes = []
        if self._show_layers:
            axes.append(_count(len(self._layer_names), self._layer_label))
        if self._show_heads:
            axes.append(_count(len(self._head_names), "head"))
        matrix = f"{_count(len(self._query_tokens), 'query', 'queries')} x {_count(len(self._key_tokens), 'key')}"
        return "AttentionExplorer: " + ", ".join([" x ".join(axes), matrix] if axes else [matrix])

    def __repr__(self):
        return self._summary()

    def _repr_mimebundle_(self, **kwargs):
        """The widget view, plus the current picture and a short text for where no kernel runs."""
        bundle = dict(super()._repr_mimebundle_(**kwargs) or {})
        bundle["image/png"] = base64.b64encode(self.picture).decode("ascii")
        bundle["text/plain"] = (
            f"{self._summary()} (a static picture of this view; run the notebook in JupyterLab to interact)"
        )
        return bundle


class _Drawing:
    """The explorer's figure, built once; ``render`` moves its artists to a new view and returns a PNG.

    Building a figure costs most of a render (every tick label is a new artist), so the heatmap, the
    outline, the bars and the written weights are created once and only updated. The axes are placed
    once, by constrained layout around the tick labels, then fixed: the tokens do not change, and a
    fixed layout keeps a view's picture the same whichever way it was reached.
    """

    def __init__(self, query_tokens, key_tokens, query_label, key_label):
        num_queries, num_keys = len(query_tokens), len(key_tokens)
        query_labels, key_labels = _escaped(query_tokens), _escaped(key_tokens)
        # Single characters (09's dates) read best upright; words would overlap.
        key_rotation = 0 if max(len(label) for label in key_labels) <= 2 else 90
        self._query_labels = query_labels
        self._figure = Figure(figsize=FIGURE_SIZE, dpi=DPI, layout="constrained")
        FigureCanvasAgg(self._figure)
        heatmap_axes, bar_axes = self._figure.subplots(1, 2)

        colours = matplotlib.colormaps[CMAP].with_extremes(bad=MASKED_COLOUR)  # masked cells: grey, not white
        self._heatmap = heatmap_axes.imshow(
            np.zeros((num_queries, num_keys)), cmap=colours, vmin=0, vmax=1, aspect="auto"
        )
        self._outline = Rectangle(
            (-0.5, -0.5), num_keys, 1, fill=False, edgecolor=OUTLINE_COLOUR, linewidth=2, clip_on=False
        )
        heatmap_axes.add_patch(self._outline)
        self._figure.colorbar(self._heatmap, ax=heatmap_axes, label="weight", fraction=0.05, pad=0.02)
        heatmap_axes.set_xticks(range(num_keys), key_labels, rotation=key_rotation, fontsize=_tick_font_size(num_keys))
        heatmap_axes.set_yticks(range(num_queries), query_labels, fontsize=_tick_font_size(num_queries))
        heatmap_axes.set_xlabel(key_label)
        heatmap_axes.set_ylabel(query_label)
        self._query_tick_labels = heatmap_axes.get_yticklabels()

        self._bars = bar_axes.bar(range(num_keys), np.zeros(num_keys), color="tab:red")
        # Up to MAX_WRITTEN_WEIGHTS keys, the weights in writing; beyond, they would overlap.
        self._written_weights = [
            bar_axes.text(key, 0, "", ha="center", fontsize=7, rotation=90 if num_keys > 12 else 0, in_layout=False)
            for key in range(num_keys if num_keys <= MAX_WRITTEN_WEIGHTS else 0)
        ]
        bar_axes.set_ylim(0, 1)  # fixed, so that bars compare across queries, heads and temperatures
        bar_axes.set_xlim(-0.5, num_keys - 0.5)
        bar_axes.set_xticks(range(num_keys), key_labels, rotation=key_rotation, fontsize=_tick_font_size(num_keys))
        bar_axes.set_xlabel(key_label)
        bar_axes.set_ylabel("weight")
        self._row_title = bar_axes.set_title("", fontsize=10)
        self._title = self._figure.suptitle("", fontsize=11)
        self._laid_out = False

    def render(self, weights, query, title, hidden=None):
        """The PNG bytes of ``weights`` ``(Tq, Tk)`` with row ``query`` outlined and drawn as bars; the
        cells where ``hidden`` (``(Tq, Tk)`` booleans) is True, the masked ones, are drawn grey."""
        self._heatmap.set_data(weights if hidden is None else np.ma.masked_array(weights, hidden))
        self._outline.set_y(query - 0.5)
        for index, label in enumerate(self._query_tick_labels):
            # Coloured, not bold: a wider label would push the axis label out of the fixed layout.
            label.set_color(OUTLINE_COLOUR if index == query else "black")
        row = weights[query]
        for bar, weight in zip(self._bars, row):
            bar.set_height(weight)
        for text, weight in zip(self._written_weights, row):
            # Above a bar or, for a tall one, inside it, so that no weight leaves the axes.
            inside = weight > 0.8
            text.set_text(f"{weight:.2f}" if weight >= 0.005 else "")  # no row of "0.00"s
            text.set_y(weight - 0.02 if inside else weight + 0.02)
            text.set_verticalalignment("top" if inside else "bottom")
            text.set_color("white" if inside else "black")
        # The row, and its token quoted: tokens repeat ("-" twice in a date) and may look like numbers.
        self._row_title.set_text(f"row {query}: '{self._query_labels[query]}'")
        self._title.set_text(_escape(title))
        if not self._laid_out:  # with the first view's titles in place, which keep their size
            self._figure.draw_without_rendering()
            self._figure.set_layout_engine("none")
            self._laid_out = True
        buffer = io.BytesIO()
        self._figure.savefig(buffer, format="png", metadata={"Software": None})  # no version: same bytes
        return buffer.getvalue()


# ---- argument checks: all run before any widget exists ----


def _checked_values(values, name, ranks, shapes):
    """``values`` as a finite, non-empty float64 NumPy array of one of the ``ranks``."""
    values = ops.convert_to_numpy(check.as_float_tensor(values, name)).astype("float64")
    one_example = f"{shapes} for one example (no batch axis: index it first, as in {name}[0])"
    check.check_rank_in(values, name, ranks, one_example)
    if values.size == 0:
        raise ValueError(
            f"Invalid shape for argument {name}. Expected at least one query and one key (and head, and "
            f"layer). Received: {name}.shape={values.shape}"
        )
    if not np.isfinite(values).all():
        raise ValueError(
            f"Invalid value for argument {name}. Expected finite numbers (to leave keys out, pass a mask to "
            f"explore_scores). Received: {name} with {np.count_nonzero(~np.isfinite(values))} NaN or "
            "infinite values"
        )
    return values


def _checked_tokens(tokens, name, count, count_name, values_name, shape):
    """``tokens`` as a list of ``count`` strings; ``None`` gives the positions ``"0"``, ``"1"``, ..."""
    positions = [str(position) for position in range(count)]
    return _checked_strings(
        tokens, name, count, positions, f"one per position ({count_name} of {values_name}.shape={shape})"
    )


def _checked_names(names, name, count, what, shape):
    """``names`` as a list of ``count`` strings; ``None`` gives ``"{what} 0"``, ``"{what} 1"``, ..."""
    defaults = [f"{what} {index}" for index in range(count)]
    where = f"one per {what} of weights.shape={shape} (1 for weights without a {what} axis)"
    return _checked_strings(names, name, count, defaults, where)


def _checked_strings(strings, name, count, defaults, each):
    """``strings`` as a list of ``count`` strings, ``each`` saying what they label; ``None`` gives ``defaults``."""
    if strings is None:
        return defaults
    strings = _string_list(strings, name, f"a sequence of {count} strings, {each}")
    if len(strings) != count:
        raise ValueError(
            f"Invalid value for argument {name}. Expected {count} strings, {each}. Received: {len(strings)} strings"
        )
    return strings


def _string_list(strings, name, expected):
    """``strings`` as a list, or ``TypeError`` unless it is a sequence (not a string) of strings."""
    message = f"Invalid value for argument {name}. Expected {expected}. Received: {name}={strings!r}"
    if isinstance(strings, (str, bytes)):
        raise TypeError(message)
    try:
        strings = list(strings)
    except TypeError:
        raise TypeError(message) from None
    if not all(isinstance(string, str) for string in strings):
        raise TypeError(message)
    return [str(string) for string in strings]  # np.str_ as str


def _checked_mask(mask, shape):
    """``mask`` as a boolean NumPy array of ``shape`` ``(Tq, Tk)``; a floating mask is a ``TypeError``."""
    mask = ops.convert_to_numpy(check.as_bool_mask(mask, "mask"))
    check.check_broadcasts_to(mask, "mask", np.empty(shape, bool), "one head's (Tq, Tk) scores")
    return np.broadcast_to(mask, shape)


def _checked_temperature_range(temperature_range):
    """``temperature_range`` as a pair of floats ``0 < lowest < highest < inf``."""
    expected = "(lowest, highest), two positive finite numbers with lowest < highest"
    message = f"Invalid value for argument temperature_range. Expected {expected}. Received: {temperature_range!r}"
    try:
        low, high = temperature_range
    except (TypeError, ValueError):
        raise TypeError(message) from None
    if any(isinstance(bound, (bool, np.bool_)) or not isinstance(bound, numbers.Real) for bound in (low, high)):
        raise TypeError(message)
    if not (0 < low < high < math.inf):  # NaN fails every comparison
        raise ValueError(message)
    return float(low), float(high)


def _check_temperature(temperature, temperature_range):
    check.check_positive_finite(temperature, "temperature")
    low, high = temperature_range
    if not low <= temperature <= high:
        raise ValueError(
            f"Invalid value for argument temperature. Expected a number within temperature_range=({low!r}, "
            f"{high!r}), the range of the slider. Received: temperature={temperature!r}"
        )


def _check_label(label, name):
    if not isinstance(label, str):
        raise TypeError(f"Invalid value for argument {name}. Expected a string. Received: {name}={label!r}")


def _check_title(title):
    if title is not None and not isinstance(title, str):
        raise TypeError(f"Invalid value for argument title. Expected a string or None. Received: title={title!r}")


# ---- small helpers ----


def _indexed(labels):
    """``(label, index)`` pairs: the controls' values are indices, so repeated tokens stay distinct."""
    return [(label, index) for index, label in enumerate(labels)]


def _escape(text):
    """``text`` with ``$`` escaped (Matplotlib would read ``$...$`` as mathematics: a token ``"$5"``), and
    a token of spaces shown as open boxes, ``"\u2423"``, so that it is not a blank tick."""
    text = text.replace("$", r"\$")
    return "\u2423" * len(text) if text and not text.strip() else text


def _escaped(tokens):
    return [_escape(token) for token in tokens]


def _tick_font_size(num_ticks):
    return 8 if num_ticks <= 20 else 6


def _count(number, singular, plural=None):
    return f"{number} {singular if number == 1 else plural or singular + 's'}"
