"""Figures shared by both notebooks.

Every ``plot_*`` function returns a :class:`matplotlib.figure.Figure` and never calls
``plt.show()``; save it with :func:`save_fig`. Call :func:`set_style` once per notebook
for a consistent look. In a notebook, assign the result (``fig = plot_...(...)``) so that
Jupyter shows the figure once, not twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullFormatter
from numpy.typing import ArrayLike

from common import metrics as _metrics

__all__ = [
    "plot_comparison",
    "plot_confusion_matrix",
    "plot_digits",
    "plot_learning_curves",
    "plot_misclassified",
    "plot_per_class_metrics",
    "save_fig",
    "set_style",
]

_TRAIN_STYLE = "-"
_VAL_STYLE = "--"


# ----------------------------------------------------------------------------- style & saving
def set_style() -> None:
    """Apply the project's figure style (seaborn ``whitegrid``, readable font sizes).

    Idempotent; call once near the top of each notebook.
    """
    sns.set_theme(context="notebook", style="whitegrid", palette="tab10")
    plt.rcParams.update(
        {
            "figure.figsize": (8.0, 5.0),
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "axes.titlesize": 12,
            "axes.titleweight": "bold",
            "axes.labelsize": 11,
            "figure.titlesize": 14,
            "figure.titleweight": "bold",
            "legend.fontsize": 9,
            "legend.framealpha": 0.9,
            "image.cmap": "viridis",
        }
    )


def save_fig(name: str, fig: Figure | None = None, dpi: int = 150) -> Path:
    """Save a figure as PNG under ``results_dir()/"figures"``.

    Parameters
    ----------
    name : str
        Relative name without extension; may contain ``/`` subfolders, e.g. ``"keras/curves"``.
        A trailing ``.png`` is accepted and not doubled.
    fig : Figure, optional
        Figure to save; defaults to the current pyplot figure.
    dpi : int, default 150
        Resolution.

    Returns
    -------
    pathlib.Path
        Path of the written file (parent folders are created).
    """
    from common.results import results_dir  # lazy: keeps this module importable on its own

    if not isinstance(name, str) or not name.strip():
        raise ValueError("name must be a non-empty string such as 'keras/learning_curves'")
    rel = PurePosixPath(name.replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts:
        raise ValueError(f"name must be a relative path without '..', got {name!r}")
    if rel.suffix.lower() == ".png":
        rel = rel.with_suffix("")
    if fig is None:
        fig = plt.gcf()
    if not isinstance(fig, Figure):
        raise ValueError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    path = Path(results_dir()) / "figures" / Path(*rel.parts).with_name(rel.name + ".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight", facecolor="white")
    return path


# ----------------------------------------------------------------------------- helpers
def _finish(fig: Figure, title: str | None) -> Figure:
    """Add the optional figure title and return the figure."""
    if title:
        fig.suptitle(title)
    return fig


def _pretty(metric: str) -> str:
    """'val_accuracy' -> 'Val accuracy'."""
    return metric.replace("_", " ").capitalize()


def _as_images(images: ArrayLike) -> np.ndarray:
    """Return images as (N, H, W); accepts (N, H, W), (N, H, W, 1) and (N, H*W) square images."""
    arr = np.asarray(images)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    elif arr.ndim == 2:
        side = math.isqrt(arr.shape[1])
        if side * side != arr.shape[1]:
            raise ValueError(
                f"flat images must have a square number of pixels (e.g. 784), got {arr.shape[1]}"
            )
        arr = arr.reshape(arr.shape[0], side, side)
    if arr.ndim != 3:
        raise ValueError(
            f"images must have shape (N, 28, 28), (N, 28, 28, 1) or (N, 784), got {np.shape(images)}"
        )
    if arr.shape[0] == 0:
        raise ValueError("images is empty")
    return arr


def _check_n(n: int) -> int:
    """Validate the number of panels requested."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    return int(n)


def _image_grid(
    images: np.ndarray,
    titles: Sequence[str],
    title: str | None,
    title_colors: Sequence[str] | None = None,
) -> Figure:
    """Draw images (N, H, W) in a near-square grid with one small title each."""
    k = len(images)
    ncols = min(k, max(1, math.ceil(math.sqrt(k))), 10)
    nrows = math.ceil(k / ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(1.45 * ncols, 1.55 * nrows + (0.4 if title else 0.0)),
        squeeze=False,
        layout="constrained",
    )
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i >= k:
            continue
        ax.imshow(images[i], cmap="gray_r", interpolation="nearest")
        color = title_colors[i] if title_colors is not None else "black"
        ax.set_title(titles[i], fontsize=9, color=color, fontweight="normal")
    return _finish(fig, title)


def _zoomed_ylim(lows: np.ndarray, highs: np.ndarray) -> tuple[float, float, bool]:
    """Y-limits for bars of similar height: returns (bottom, top, truncated).

    The bottom is placed two data ranges below the lowest bar (rounded down to a tick), so the
    shortest bar keeps a substantial height and visible differences are not exaggerated. If
    that bottom would be below half of the lowest value, the axis simply starts at 0.
    """
    lo, hi = float(np.min(lows)), float(np.max(highs))
    if lo <= 0:
        span = max(hi - min(lo, 0.0), 1e-12)
        return (lo - 0.05 * span if lo < 0 else 0.0), hi + 0.2 * span, False
    span = max(hi - lo, 0.01 * hi)
    bottom = lo - 2.0 * span
    if bottom <= 0.5 * lo:
        return 0.0, hi + 0.15 * hi, False
    ticks = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]).tick_values(bottom, hi)
    step = float(ticks[1] - ticks[0])
    bottom = float(np.round(math.floor(bottom / step) * step, 10))
    return bottom, hi + 0.45 * span, True


def _ylabel_note(label: str, bottom: float, truncated: bool) -> str:
    """Append a visible note to the y label when the axis does not start at 0."""
    return f"{label}\n(axis starts at {bottom:g}, not 0)" if truncated else label


# ----------------------------------------------------------------------------- learning curves
def _is_history(obj: Any) -> bool:
    """True for a Keras-style history: mapping of metric name -> sequence of numbers."""
    if hasattr(obj, "history") and isinstance(obj.history, Mapping):
        return True
    if not isinstance(obj, Mapping) or not obj:
        return False
    try:
        return all(
            not isinstance(v, (Mapping, str))
            and np.ndim(v) == 1
            and not any(isinstance(x, Mapping) or hasattr(x, "history") for x in v)
            for v in obj.values()
        )
    except (TypeError, ValueError):  # ragged or non-numeric values
        return False


def _as_history(obj: Any) -> dict[str, np.ndarray]:
    hist = obj.history if hasattr(obj, "history") else obj
    if not _is_history(hist):
        raise ValueError(
            "each history must map metric names to per-epoch lists, e.g. "
            "{'loss': [...], 'val_loss': [...]} (Keras History.history)"
        )
    return {str(k): np.asarray(v, dtype=float) for k, v in hist.items()}


def _normalise_runs(runs: Any) -> dict[str | None, list[dict[str, np.ndarray]]]:
    """Turn the three accepted input forms into {label or None: [history, ...]}."""
    if _is_history(runs):
        return {None: [_as_history(runs)]}
    if isinstance(runs, Mapping):
        if not runs:
            raise ValueError("runs is empty")
        out: dict[str | None, list[dict[str, np.ndarray]]] = {}
        for label, group in runs.items():
            group_list = [group] if _is_history(group) else list(group)
            if not group_list:
                raise ValueError(f"runs[{label!r}] contains no histories")
            out[str(label)] = [_as_history(h) for h in group_list]
        return out
    if isinstance(runs, Iterable) and not isinstance(runs, str):
        group_list = list(runs)
        if not group_list:
            raise ValueError("runs is an empty list of histories")
        return {None: [_as_history(h) for h in group_list]}
    raise ValueError(
        "runs must be a history dict, a list of history dicts or a dict label -> list of "
        f"history dicts; got {type(runs).__name__}"
    )


def _mean_std_ragged(curves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-epoch mean, std (ddof=1, 0 where only one run) and count over runs of any length."""
    length = max(len(c) for c in curves)
    stack = np.full((len(curves), length), np.nan)
    for i, c in enumerate(curves):
        stack[i, : len(c)] = c
    count = np.sum(~np.isnan(stack), axis=0)
    mean = np.nanmean(stack, axis=0)
    std = np.zeros(length)
    multi = count > 1
    if np.any(multi):
        std[multi] = np.nanstd(stack[:, multi], axis=0, ddof=1)
    return mean, std, count


def plot_learning_curves(
    runs: Any,
    metrics: Sequence[str] = ("loss", "accuracy"),
    title: str | None = None,
) -> Figure:
    """Training (solid) and validation (dashed) curves, one panel per metric.

    Parameters
    ----------
    runs : dict, list of dict, or dict of str -> list of dict
        One Keras-style history (``History.history`` or the ``History`` object itself;
        ``{"loss": [...], "val_loss": [...], ...}``), a list of histories from several seeds
        (drawn as mean line with a ±1 std band), or a mapping label -> list of histories for
        several models (one colour each). Runs of different lengths (early stopping) are
        averaged per epoch over the runs that reached that epoch. ``val_*`` keys are optional.
    metrics : sequence of str, default ("loss", "accuracy")
        Metric names (without ``val_``); one panel each.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if isinstance(metrics, str):
        metrics = (metrics,)
    metrics = tuple(metrics)
    if not metrics:
        raise ValueError("metrics is empty")
    groups = _normalise_runs(runs)
    all_keys = sorted({k for hs in groups.values() for h in hs for k in h})
    for m in metrics:
        if not any(m in h or f"val_{m}" in h for hs in groups.values() for h in hs):
            raise ValueError(f"metric {m!r} not found in any history; available keys: {all_keys}")

    fig, axes = plt.subplots(
        1, len(metrics), figsize=(5.5 * len(metrics), 4.2), squeeze=False, layout="constrained"
    )
    colors = sns.color_palette("tab10", n_colors=max(len(groups), 1))
    any_band = False
    for ax, m in zip(axes.flat, metrics, strict=True):
        for color, (label, hists) in zip(colors, groups.items(), strict=True):
            for prefix, style, split in (("", _TRAIN_STYLE, "train"), ("val_", _VAL_STYLE, "val")):
                curves = [h[prefix + m] for h in hists if len(h.get(prefix + m, ())) > 0]
                if not curves:
                    continue
                mean, std, count = _mean_std_ragged(curves)
                epochs = np.arange(1, len(mean) + 1)
                name = split if label is None else f"{label} {split}"
                if len(curves) > 1:
                    name += f" (n={len(curves)})"
                ax.plot(
                    epochs,
                    mean,
                    style,
                    color=color,
                    label=name,
                    lw=1.8,
                    marker="o" if len(epochs) <= 15 else None,
                    ms=3,
                )
                if np.any(count > 1):
                    any_band = True
                    ax.fill_between(epochs, mean - std, mean + std, color=color, alpha=0.18, lw=0)
        ax.set_xlabel("Epoch")
        ax.set_ylabel(_pretty(m))
        ax.set_title(_pretty(m))
        last = max(len(line.get_xdata()) for line in ax.get_lines())
        if last <= 10:
            ax.set_xticks(np.arange(1, last + 1))
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        pad = 0.5 if last <= 10 else 0.02 * (last - 1)
        ax.set_xlim(1 - pad, last + pad)
    axes.flat[0].legend(
        loc="best", title="line: mean, band: ±1 std" if any_band else None, title_fontsize=8
    )
    return _finish(fig, title)


# ----------------------------------------------------------------------------- classification
def plot_confusion_matrix(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    labels: Iterable[Any] = range(10),
    title: str | None = None,
) -> Figure:
    """Confusion matrix as two seaborn heatmaps: counts and row-normalised, side by side.

    The count panel uses a logarithmic colour scale so that rare confusions stand out next to
    the large diagonal (zero cells stay white); every cell is annotated with its count. The
    row-normalised panel shows the fraction of each true class (diagonal = recall) in percent,
    on a linear 0-100 % scale, leaving zero cells blank.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        True and predicted labels; every value must be in ``labels``.
    labels : iterable, default ``range(10)``
        Classes, in row/column order.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    lab = list(labels)
    counts = _metrics.confusion_matrix(y_true, y_pred, labels=lab)
    rows = counts.sum(axis=1, keepdims=True)
    norm = np.divide(counts, rows, out=np.zeros(counts.shape, dtype=float), where=rows > 0)
    k = len(lab)
    side = max(4.0, 0.55 * k + 1.5)
    fig, (ax_c, ax_n) = plt.subplots(1, 2, figsize=(2 * side + 1.5, side), layout="constrained")
    font = 9 if k <= 10 else 7
    vmax = max(int(counts.max()), 2)
    sns.heatmap(
        np.where(counts > 0, counts, np.nan),
        ax=ax_c,
        cmap="Blues",
        norm=LogNorm(vmin=0.5, vmax=vmax),
        annot=counts,
        fmt="d",
        annot_kws={"fontsize": font},
        square=True,
        linewidths=0.5,
        linecolor="0.9",
        xticklabels=lab,
        yticklabels=lab,
        cbar_kws={"label": "count (log scale)", "shrink": 0.8},
    )
    pct_text = np.where(counts > 0, np.char.mod("%.1f", 100 * norm), "")
    sns.heatmap(
        100 * norm,
        ax=ax_n,
        cmap="Blues",
        vmin=0,
        vmax=100,
        annot=pct_text,
        fmt="",
        annot_kws={"fontsize": font - 1},
        square=True,
        linewidths=0.5,
        linecolor="0.9",
        xticklabels=lab,
        yticklabels=lab,
        cbar_kws={"label": "% of true class", "shrink": 0.8},
    )
    cbar = ax_c.collections[0].colorbar
    cbar_ticks = [10**e for e in range(int(math.log10(vmax)) + 1)]
    cbar_ticks += [vmax] if len(cbar_ticks) < 2 else []
    cbar.set_ticks(cbar_ticks, labels=[f"{t:g}" for t in cbar_ticks])
    cbar.ax.yaxis.set_minor_formatter(NullFormatter())
    ax_c.set_title(f"Counts (n={int(counts.sum())}; blank = 0)")
    ax_n.set_title("Row-normalised (%): diagonal = recall")
    for ax in (ax_c, ax_n):
        ax.set_xlabel("Predicted label")
        ax.set_ylabel("True label")
        ax.tick_params(axis="y", rotation=0)
        ax.tick_params(axis="x", rotation=0)
        ax.grid(False)
    return _finish(fig, title)


def plot_per_class_metrics(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    labels: Iterable[Any] = range(10),
    title: str | None = None,
) -> Figure:
    """Grouped bars of precision, recall and F1 for each class.

    The y-axis is zoomed (see :func:`plot_comparison`) because per-class scores on MNIST are
    all close to 1; a note on the plot says where the axis starts when it is not 0.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        True and predicted labels; every value must be in ``labels``.
    labels : iterable, default ``range(10)``
        Classes to show.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    lab = list(labels)
    df = _metrics.per_class_metrics(y_true, y_pred, labels=lab)
    cols = ("precision", "recall", "f1")
    names = ("Precision", "Recall", "F1")
    k = len(lab)
    x = np.arange(k)
    width = 0.27
    fig, ax = plt.subplots(figsize=(max(7.0, 0.75 * k + 2.5), 4.5), layout="constrained")
    colors = sns.color_palette("tab10", 3)
    for j, (col, name) in enumerate(zip(cols, names, strict=True)):
        ax.bar(x + (j - 1) * width, df[col].to_numpy(), width, label=name, color=colors[j])
    values = df[list(cols)].to_numpy()
    bottom, _, truncated = _zoomed_ylim(values, values)
    ax.set_ylim(bottom, 1.0 + 0.02 * (1.0 - bottom) if bottom > 0 else 1.05)
    ax.set_xticks(x, [str(v) for v in lab])
    ax.set_xlabel("Class")
    ax.set_ylabel(_ylabel_note("Score", bottom, truncated))
    ax.set_title("Per-class precision, recall and F1")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="x", visible=False)
    return _finish(fig, title)


# ----------------------------------------------------------------------------- images
def plot_misclassified(
    images: ArrayLike,
    y_true: ArrayLike,
    y_pred: ArrayLike,
    probs: ArrayLike,
    n: int = 25,
    title: str | None = None,
) -> Figure:
    """Grid of the most confidently wrong predictions, most confident first.

    Each panel is titled ``"true 7 / pred 2 (0.93)"`` where 0.93 is the predicted probability
    of the (wrong) predicted class. Shows fewer than ``n`` panels if there are fewer errors,
    and a short message if there are none.

    Parameters
    ----------
    images : array-like of shape (N, 28, 28), (N, 28, 28, 1) or (N, 784)
        Images aligned with the labels.
    y_true, y_pred : array-like of shape (N,)
        True and predicted labels.
    probs : array-like of shape (N, n_classes)
        Predicted class probabilities (e.g. softmax outputs).
    n : int, default 25
        Maximum number of errors to show.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    n = _check_n(n)
    imgs = _as_images(images)
    t = _metrics._as_label_vector(y_true, "y_true")
    p = _metrics._as_label_vector(y_pred, "y_pred")
    pr = np.asarray(probs, dtype=float)
    if not (len(imgs) == len(t) == len(p)):
        raise ValueError(
            f"images, y_true and y_pred have different lengths: {len(imgs)}, {len(t)}, {len(p)}"
        )
    if pr.ndim != 2 or pr.shape[0] != len(t):
        raise ValueError(f"probs must have shape (N, n_classes) with N={len(t)}, got {pr.shape}")
    if not np.issubdtype(p.dtype, np.integer) or p.min() < 0 or p.max() >= pr.shape[1]:
        raise ValueError(
            f"y_pred must be integer class indices in [0, {pr.shape[1] - 1}] to index probs "
            f"of shape {pr.shape}"
        )
    wrong = np.flatnonzero(p != t)
    conf = pr[wrong, p[wrong]]
    order = wrong[np.argsort(-conf, kind="stable")][:n]
    if order.size == 0:
        fig, ax = plt.subplots(figsize=(4, 1.5), layout="constrained")
        ax.set_axis_off()
        ax.text(0.5, 0.5, f"No misclassified examples (of {len(t)})", ha="center", va="center")
        return _finish(fig, title)
    titles = [f"true {t[i]} / pred {p[i]} ({pr[i, p[i]]:.2f})" for i in order]
    heading = title or f"Most confident errors ({order.size} of {wrong.size} errors)"
    return _image_grid(imgs[order], titles, heading, title_colors=["firebrick"] * order.size)


def plot_digits(
    images: ArrayLike,
    labels: ArrayLike | None = None,
    n: int = 25,
    title: str | None = None,
) -> Figure:
    """Grid of the first ``n`` images, optionally titled with their labels.

    Parameters
    ----------
    images : array-like of shape (N, 28, 28), (N, 28, 28, 1) or (N, 784)
        Images to show.
    labels : array-like of shape (N,), optional
        Label shown above each image.
    n : int, default 25
        Maximum number of images.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    n = _check_n(n)
    imgs = _as_images(images)
    if labels is not None:
        lab = np.asarray(labels)
        if lab.ndim != 1 or len(lab) != len(imgs):
            raise ValueError(
                f"labels must have shape ({len(imgs)},) to match images, got {lab.shape}"
            )
        titles = [str(v) for v in lab[:n]]
    else:
        titles = [""] * min(n, len(imgs))
    return _image_grid(imgs[:n], titles, title)


# ----------------------------------------------------------------------------- comparison
def plot_comparison(
    results: Mapping[str, Sequence[float]],
    ylabel: str,
    title: str | None = None,
    scale: float = 100.0,
) -> Figure:
    """Bar chart comparing models: bar = mean over seeds, error bar = sample std (ddof=1).

    Each bar is labelled ``"98.52 ± 0.05"`` (``(n=1)`` instead of ``± std`` for one run) and
    each tick shows the number of runs. Y-limits: when all values are positive and close,
    the axis starts two data ranges (including error bars) below the lowest bar, rounded
    down to a tick, and a note states where it starts. This keeps differences of a few
    tenths of a percent visible without stretching them into apparent multiples; if that
    bottom would fall below half of the lowest value, the axis starts at 0.

    Parameters
    ----------
    results : mapping of str -> sequence of float
        Model name -> one value per seed (e.g. test accuracies in [0, 1]).
    ylabel : str
        Y-axis label, e.g. ``"Test accuracy (%)"``.
    title : str, optional
        Axes title.
    scale : float, default 100.0
        Multiplier applied to the values (100 for percent, 1 to plot as is).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(results, Mapping) or not results:
        raise ValueError("results must be a non-empty mapping of model name -> values")
    names, means, stds, counts = [], [], [], []
    for name, values in results.items():
        try:
            mean, std = _metrics.mean_std(values)
        except ValueError as err:
            raise ValueError(f"results[{name!r}]: {err}") from None
        names.append(str(name))
        means.append(mean * scale)
        stds.append(std * abs(scale))
        counts.append(int(np.size(values)))
    m, s = np.array(means), np.array(stds)
    k = len(names)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * k + 2.0), 4.5), layout="constrained")
    x = np.arange(k)
    colors = sns.color_palette("tab10", n_colors=k)
    ax.bar(x, m, width=0.6, color=colors, alpha=0.85, edgecolor="0.2", linewidth=0.6)
    c = np.array(counts)
    ax.errorbar(
        x[c > 1], m[c > 1], yerr=s[c > 1], fmt="none", ecolor="0.15", elinewidth=1.4, capsize=6
    )
    bottom, top, truncated = _zoomed_ylim(m - s, m + s)
    ax.set_ylim(bottom, top)
    span = top - bottom
    digits = 2
    for xi, mi, si, ci in zip(x, m, s, counts, strict=True):
        text = f"{mi:.{digits}f} ± {si:.{digits}f}" if ci > 1 else f"{mi:.{digits}f} (n=1)"
        ax.text(xi, mi + si + 0.02 * span, text, ha="center", va="bottom", fontsize=9)
    long_names = max(len(nm) for nm in names) > 12 and k > 3
    ax.set_xticks(
        x,
        [f"{nm}\n(n={c})" for nm, c in zip(names, counts, strict=True)],
        rotation=20 if long_names else 0,
        ha="right" if long_names else "center",
    )
    ax.set_ylabel(_ylabel_note(ylabel, bottom, truncated))
    ax.grid(axis="x", visible=False)
    ax.set_title(title or "Mean ± std over runs")
    return fig


# ----------------------------------------------------------------------------- your own digit
# (owner: handwriting engineer; self-contained so that it can stay at the end of this file)
def plot_digit_prediction(
    image: Any,
    naive: ArrayLike,
    normalised: ArrayLike,
    proba_naive: ArrayLike,
    proba_normalised: ArrayLike,
    class_names: Sequence[str] | None = None,
) -> Figure:
    """The input image, its naive 28x28 squeeze, its MNIST normalisation, and what each is called.

    Parameters
    ----------
    image : path, bytes, PIL image or array
        The original image, shown as it is (transparent parts over white).
    naive, normalised : array-like of shape (28, 28)
        ``common.handwriting.naive_resize(image)`` and ``common.handwriting.to_mnist(image)``.
    proba_naive, proba_normalised : array-like of shape (K,)
        A model's class probabilities for each of the two 28x28 images.
    class_names : sequence of K str, optional
        Names of the classes; default "0", "1", ...

    Returns
    -------
    matplotlib.figure.Figure
    """
    from common.handwriting import _open  # reads and validates any image kind

    original = _open(image)
    p_naive, p_norm = (np.asarray(p, dtype=float).ravel() for p in (proba_naive, proba_normalised))
    if p_naive.shape != p_norm.shape or p_naive.size < 2:
        raise ValueError(
            f"proba_naive and proba_normalised must be (K,) with the same K >= 2, "
            f"got {p_naive.shape} and {p_norm.shape}"
        )
    names = [str(c) for c in (class_names if class_names is not None else range(p_norm.size))]
    if len(names) != p_norm.size:
        raise ValueError(f"{len(names)} class_names for {p_norm.size} probabilities")
    small = [np.asarray(a).reshape(28, 28) for a in (naive, normalised)]

    fig = plt.figure(figsize=(12, 3.2), layout="constrained")
    axes = fig.subplots(1, 4, gridspec_kw={"width_ratios": [1, 1, 1, 2.4]})
    axes[0].imshow(original, cmap="gray", vmin=0, vmax=1)
    axes[0].set_title(f"input ({original.shape[1]}x{original.shape[0]})")
    whats = ("naive resize", "MNIST-style")
    for ax, img, p, what in zip(axes[1:3], small, (p_naive, p_norm), whats, strict=True):
        ax.imshow(img, cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"{what}\n-> {names[int(p.argmax())]} ({p.max():.0%})")
    for ax in axes[:3]:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    x = np.arange(p_norm.size)
    bars = axes[3]
    bars.bar(x - 0.2, p_naive, width=0.4, color="0.6", label="naive resize")
    bars.bar(x + 0.2, p_norm, width=0.4, color="tab:blue", label="MNIST-style")
    long_names = max(len(n) for n in names) > 3
    bars.set_xticks(
        x, names, rotation=30 if long_names else 0, ha="right" if long_names else "center"
    )
    bars.set_ylim(0, 1)
    bars.set_ylabel("probability")
    bars.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    bars.grid(axis="x", visible=False)
    return fig


__all__ += ["plot_digit_prediction"]
