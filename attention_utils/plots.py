"""Plots that the notebooks share: attention matrices as heatmaps, and an interactive explorer of them.

``show_heatmaps`` draws a grid of matrices with Matplotlib. ``explore_attention`` and ``explore_scores``
return an ``AttentionExplorer`` widget (``attention_utils.explorer``), which needs ``ipywidgets``; it is
imported on their first use, so the rest of the package works without it.
"""

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from keras import ops
from matplotlib.ticker import MaxNLocator

if TYPE_CHECKING:  # for linters and editors; at run time, __getattr__ below imports them on first use
    from attention_utils.explorer import AttentionExplorer, explore_attention, explore_scores

__all__ = ["AttentionExplorer", "explore_attention", "explore_scores", "show_heatmaps"]
_EXPLORER_NAMES = ("AttentionExplorer", "explore_attention", "explore_scores")


def __getattr__(name):
    """The explorer's names, imported on first use (PEP 562): importing ``ipywidgets`` is left to those
    who use it. Raises ``ImportError`` saying ``pip install ipywidgets`` when it is missing."""
    if name in _EXPLORER_NAMES:
        from attention_utils import explorer

        return getattr(explorer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


def show_heatmaps(
    matrices,
    xlabel="Keys",
    ylabel="Queries",
    titles=None,
    xticklabels=None,
    yticklabels=None,
    figsize=None,
    cmap="Reds",
    vmin=None,
    vmax=None,
    colorbar_label=None,
):
    """Draws a grid of attention matrices with labelled axes, token labels and one colour bar.

    Args:
        matrices: ``(Tq, Tk)``, ``(num_cols, Tq, Tk)`` or ``(num_rows, num_cols, Tq, Tk)``, as an array
            or a tensor; for example attention weights of shape ``(batch, heads, Tq, Tk)``. The colour
            range spans the finite values; NaN and infinite cells are drawn blank.
        xlabel, ylabel: axis labels, written on the bottom row and the left column.
        titles: optional list of ``num_cols`` titles, one per column.
        xticklabels, yticklabels: optional token labels for the keys and the queries; without them the
            ticks are the positions, whole numbers only.
        figsize: defaults to 2.5 inches per panel.
        cmap: a Matplotlib colour map; sequential maps read best for weights in ``[0, 1]``.
        vmin, vmax: the colour range; by default the smallest and largest finite values. Give both
            (for weights, ``vmin=0, vmax=1``) to draw several figures on one scale.
        colorbar_label: what the colour bar measures, such as ``"attention weight"``.

    Returns:
        The Matplotlib figure.
    """
    matrices = np.asarray(ops.convert_to_numpy(matrices) if ops.is_tensor(matrices) else matrices)
    if matrices.ndim not in (2, 3, 4):
        raise ValueError(
            "Invalid shape for argument matrices. Expected (Tq, Tk), (num_cols, Tq, Tk) or "
            f"(num_rows, num_cols, Tq, Tk). Received: matrices.shape={matrices.shape}"
        )
    if matrices.dtype.kind not in "biuf":
        raise TypeError(
            "Invalid value for argument matrices. Expected an array or a tensor of real numbers. "
            f"Received: matrices with dtype {matrices.dtype}"
        )
    grid = matrices.reshape((1,) * (4 - matrices.ndim) + matrices.shape)
    num_rows, num_cols, num_queries, num_keys = grid.shape
    if titles is not None and len(titles) != num_cols:
        raise ValueError(
            f"Invalid value for argument titles. Expected {num_cols} titles, one per column. "
            f"Received: {len(titles)} titles"
        )
    for name, labels, expected in (("xticklabels", xticklabels, num_keys), ("yticklabels", yticklabels, num_queries)):
        if labels is not None and len(labels) != expected:
            raise ValueError(
                f"Invalid value for argument {name}. Expected {expected} labels. Received: {len(labels)} labels"
            )
    # Before the figure exists, so an error leaves none open.
    vmin, vmax = _colour_limits(matrices, vmin, vmax)
    figsize = figsize or (2.5 * num_cols + 1, 2.5 * num_rows)
    fig, axes = plt.subplots(num_rows, num_cols, figsize=figsize, sharex=True, sharey=True, squeeze=False)
    for row in range(num_rows):
        for col in range(num_cols):
            ax = axes[row, col]
            image = ax.imshow(grid[row, col], cmap=cmap, vmin=vmin, vmax=vmax)
            if row == num_rows - 1:
                ax.set_xlabel(xlabel)
            if col == 0:
                ax.set_ylabel(ylabel)
            if titles is not None and row == 0:
                ax.set_title(titles[col])
            # Positions are whole numbers: without labels, ticks fall on integers only (never 2.5).
            if xticklabels is not None:
                ax.set_xticks(range(num_keys), xticklabels, rotation=90)
            else:
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if yticklabels is not None:
                ax.set_yticks(range(num_queries), yticklabels)
            else:
                ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.colorbar(image, ax=axes, shrink=0.6, label=colorbar_label)
    return fig


def _colour_limits(matrices, vmin, vmax):
    """``vmin`` and ``vmax`` where given, else the range of the finite values, checked to be a range."""
    for name, value in (("vmin", vmin), ("vmax", vmax)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float, np.number))):
            raise TypeError(
                f"Invalid value for argument {name}. Expected a real number or None. Received: {name}={value!r}"
            )
        if value is not None and not np.isfinite(value):
            raise ValueError(f"Invalid value for argument {name}. Expected a finite number. Received: {name}={value!r}")
    if vmin is None or vmax is None:
        data_min, data_max = _colour_range(matrices)
        vmin = data_min if vmin is None else vmin
        vmax = data_max if vmax is None else vmax
    if vmin > vmax:
        raise ValueError(
            f"Invalid value for arguments vmin and vmax. Expected vmin <= vmax. Received: vmin={vmin!r}, vmax={vmax!r}"
        )
    return float(vmin), float(vmax)


def _colour_range(matrices):
    """The smallest and largest finite values of ``matrices``: one NaN or infinity must not blank the plot.

    Matplotlib leaves NaN and infinite cells blank; they do not count. Raises ``ValueError`` when no value
    is finite (including an empty grid), since there is then nothing to draw.
    """
    finite = matrices[np.isfinite(matrices)]
    if finite.size == 0:
        raise ValueError(
            "Invalid value for argument matrices. Expected at least one finite value. "
            f"Received: matrices.shape={matrices.shape} with no finite value (every value is NaN or infinite, "
            "or there is none)"
        )
    return float(finite.min()), float(finite.max())
