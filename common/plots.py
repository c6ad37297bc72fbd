"""Figures shared by both notebooks: call :func:`set_style` once, save with :func:`save_fig`.

Every ``plot_*`` function returns a Figure without calling ``plt.show()`` (assign it, ``fig =
plot_...(...)``, so that Jupyter shows it once). ``class_names`` name the classes 0..K-1
(default the digits "0".."9").
"""

import io
import math
from collections.abc import Mapping, Sequence
from contextlib import suppress
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter
from numpy.typing import ArrayLike

from common import metrics as _metrics
from common.results import results_dir


def set_style() -> None:
    """Apply the project's figure style (seaborn ``whitegrid``, bold titles); idempotent."""
    sns.set_theme(context="notebook", style="whitegrid", palette="tab10")
    plt.rcParams.update({"axes.titleweight": "bold", "figure.titleweight": "bold"})
    # inline figures at matplotlib's default 100 dpi (readable); files are saved at 150
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 150, "savefig.bbox": "tight"})
    plt.rcParams["legend.fontsize"] = 9
    with suppress(ImportError, AttributeError):  # in Jupyter: inline figures as 128-colour PNGs
        from IPython import get_ipython

        formatters = get_ipython().display_formatter.formatters  # None outside IPython
        plt.switch_backend(plt.get_backend())  # load the inline backend now: it sets its formatter
        formatters["image/png"].for_type(Figure, small_png)


def small_png(fig: Figure) -> bytes | None:
    """The figure as Jupyter shows it, in 128 colours: a third of the bytes, the same to the eye."""
    from IPython.core.pylabtools import print_figure
    from PIL import Image

    png, out = print_figure(fig, "png"), io.BytesIO()
    if png is None:  # an empty figure
        return None
    Image.open(io.BytesIO(png)).convert("RGB").quantize(128).save(out, "png", optimize=True)
    return out.getvalue()


def save_fig(
    name: str, fig: Figure | None = None, *, dataset: str = "mnist", mode: str = "full", dpi=150
) -> Path:
    """Save ``fig`` (default: the current one) as ``results_dir(dataset, mode)/figures/<name>.png``;
    ``name`` may have subfolders, e.g. ``"keras/learning_curves"``. Returns the path."""
    rel = Path(name.removesuffix(".png"))
    if not rel.parts or rel.is_absolute() or ".." in rel.parts:
        raise ValueError(f"name must be a relative name such as 'keras/curves', got {name!r}")
    path = results_dir(dataset, mode) / "figures" / f"{rel}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    (fig or plt.gcf()).savefig(path, dpi=dpi, bbox_inches="tight", facecolor="white")
    return path


def _names(class_names: Sequence[str] | None, k: int = 10) -> list[str]:
    return [str(c) for c in (range(k) if class_names is None else class_names)]


def _finish(fig: Figure, title: str | None) -> Figure:
    if title:
        fig.suptitle(title)
    return fig


def _zoom(ax, lows: np.ndarray, highs: np.ndarray, ylabel: str, top: float | None = None) -> None:
    """Y-limits for bars of similar height, and a label that says where a zoomed axis starts.

    The bottom goes two data ranges below the lowest bar, rounded down to a tick, so the shortest
    bar keeps a substantial height: small differences show without looking like multiples. If
    that would be below half the lowest value, the axis starts at 0.
    """
    lo, hi = float(np.min(lows)), float(np.max(highs))
    span = max(hi - lo, 0.01 * abs(hi), 1e-12)
    bottom = lo - 2.0 * span
    if bottom <= 0.5 * lo:  # always the case when lo <= 0
        ax.set_ylim(min(0.0, lo - 0.05 * span), top or hi + 0.15 * (hi - min(lo, 0.0)) + 1e-12)
        ax.set_ylabel(ylabel)
        return
    step = np.diff(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]).tick_values(bottom, hi))[0]
    bottom = round(math.floor(bottom / step) * step, 10)
    ax.set_ylim(bottom, top or hi + 0.45 * span)
    ax.set_ylabel(f"{ylabel}\n(axis starts at {bottom:g}, not 0)")


def _mean_std(curves: list[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Per-epoch mean and sample std (0 for one run) over the runs that reached each epoch."""
    epochs = pd.concat([pd.Series(c, dtype=float) for c in curves], axis=1)  # NaN after a run ends
    return epochs.mean(axis=1).to_numpy(), epochs.std(axis=1).fillna(0.0).to_numpy()


def plot_learning_curves(
    runs: Mapping[str, Sequence], metrics=("loss", "accuracy"), title=None, small_multiples=False
) -> Figure:
    """Training (solid) and validation (dashed) curves: mean over seeds with a ±1 std band.

    ``runs`` maps a label to one Keras-style history per seed (``{"loss": [...], "val_loss":
    [...], ...}``; ``val_*`` optional); runs stopped early are averaged per epoch over the runs
    that reached it. One row of panels per metric (accuracy in percent, ending at 100 %); with
    ``small_multiples``, one panel per label (shared axes) instead of all labels in one panel.
    """
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError("runs must be a non-empty dict: label -> list of history dicts")
    for label, hists in runs.items():
        flat = isinstance(hists, Mapping) or not hists  # a bare history, or nothing
        if flat or not all(isinstance(h, Mapping) for h in hists):
            raise ValueError(
                f"runs[{label!r}] must be a non-empty list of history dicts, one per seed "
                "(wrap a single history in a list)"
            )
    keys = {k for hists in runs.values() for h in hists for k in h}
    missing = [m for m in metrics if m not in keys and f"val_{m}" not in keys]
    if missing:
        raise ValueError(f"metrics {missing} not found in the histories; available: {sorted(keys)}")

    shape = (len(metrics), len(runs)) if small_multiples else (1, len(metrics))
    sharey = "row" if small_multiples else False
    fig, axes = plt.subplots(*shape, squeeze=False, sharex=True, sharey=sharey)
    fig.set(size_inches=(3.6 * shape[1] + 2.5, 3.4 * shape[0]), layout_engine="constrained")
    axes = axes if small_multiples else axes.T  # one row per metric
    colors = dict(zip(runs, sns.color_palette("tab10", len(runs)), strict=True))
    for i, (row, metric) in enumerate(zip(axes, metrics, strict=True)):
        for j, (label, hists) in enumerate(runs.items()):
            ax = row[j if small_multiples else 0]
            for prefix, style, split in (("", "-", "train"), ("val_", "--", "val")):
                curves = [h[prefix + metric] for h in hists if len(h.get(prefix + metric, ()))]
                if curves:
                    mean, std = _mean_std(curves)
                    x = np.arange(1, len(mean) + 1)
                    ax.plot(x, mean, style, color=colors[label], label=f"{label} {split}", lw=1.8)
                    ax.fill_between(x, mean - std, mean + std, color=colors[label], alpha=0.2, lw=0)
            if small_multiples and i == 0:
                ax.set_title(label)
        row[0].set_ylabel(metric.replace("_", " ").capitalize())
        for ax in row:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if "acc" in metric:
                ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
                ax.set_ylim(top=1.0)
    for ax in axes.flat:
        ax.set_xlabel("Epoch" if ax.get_subplotspec().is_last_row() else "")
    handles = {h.get_label(): h for ax in axes.flat for h in ax.get_lines()}
    legend = {"ncol": min(4, len(handles)), "title": "mean ± 1 std over seeds"}
    fig.legend(handles.values(), handles, loc="outside lower center", **legend)  # clear of a title
    return _finish(fig, title)


def plot_confusion_matrix(y_true, y_pred, class_names=None, title=None) -> Figure:
    """Confusion matrix as two heatmaps, zero cells blank: counts on a log colour scale (rare
    confusions stand out next to the large diagonal) and row-normalised percentages (diagonal =
    recall) on a linear 0-100 % scale."""
    names = _names(class_names)
    counts = _metrics.confusion_matrix(y_true, y_pred, labels=range(len(names)))
    pct = 100 * counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    side = max(4.0, 0.55 * len(names) + 1.5)
    fig, axes = plt.subplots(1, 2, figsize=(2 * side + 1.5, side), layout="constrained")
    shown = counts > 0
    log = LogNorm(vmin=0.5, vmax=max(int(counts.max()), 2))
    panels = [
        (np.where(shown, counts, np.nan), counts.astype(str), {"norm": log}, "count (log scale)"),
        (pct, np.char.mod("%.1f", pct), {"vmin": 0, "vmax": 100}, "% of true class"),
    ]
    style = {"fmt": "", "cmap": "Blues", "square": True, "linewidths": 0.5, "linecolor": "0.9"}
    style |= {"xticklabels": names, "yticklabels": names, "annot_kws": {"fontsize": 8}}
    headings = [f"Counts (n={counts.sum()}; blank = 0)", "Row-normalised (%): diagonal = recall"]
    for ax, (values, text, scale, bar_label), heading in zip(axes, panels, headings, strict=True):
        annot, cbar = np.where(shown, text, ""), {"label": bar_label, "shrink": 0.8}
        sns.heatmap(values, ax=ax, annot=annot, cbar_kws=cbar, **style, **scale)
        ax.set(title=heading, xlabel="Predicted label", ylabel="True label")
        ax.tick_params(rotation=0)
    return _finish(fig, title)


def plot_per_class_metrics(y_true, y_pred, class_names=None, title=None) -> Figure:
    """Grouped bars of precision, recall and F1 for each class, on a zoomed axis ending at 1."""
    names = _names(class_names)
    table = _metrics.per_class_metrics(y_true, y_pred, labels=range(len(names)))
    columns = ["precision", "recall", "f1"]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(7.0, 0.75 * len(names) + 2.5), 4.5), layout="constrained")
    for j, column in enumerate(columns):
        ax.bar(x + (j - 1) * 0.27, table[column], 0.27, label=column.capitalize())
    _zoom(ax, table[columns].to_numpy(), table[columns].to_numpy(), "Score", top=1.0)
    ax.set_xticks(x, names)
    ax.set(xlabel="Class", title="Per-class precision, recall and F1")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="x", visible=False)
    return _finish(fig, title)


def _image_grid(
    images: ArrayLike, titles: Sequence[str], title: str | None, color="black", ncols=None
):
    """Square images ((N, 28, 28), (N, 28, 28, 1) or (N, 784)) in a grid of ``ncols`` columns
    (default: about square, at most 10)."""
    images = np.asarray(images)
    images = images.reshape(len(images), *[math.isqrt(images[0].size)] * 2)
    ncols = ncols or min(len(images), math.ceil(math.sqrt(len(images))), 10)
    nrows = math.ceil(len(images) / ncols)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, layout="constrained")
    fig.set_size_inches(1.45 * ncols, 1.55 * nrows + 0.4)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, image, text in zip(axes.flat, images, titles, strict=False):
        ax.imshow(image, cmap="gray_r", interpolation="nearest")
        ax.set_title(text, fontsize=9, color=color, fontweight="normal")
    return _finish(fig, title)


def plot_misclassified(images, y_true, y_pred, probs, n=25, title=None, class_names=None) -> Figure:
    """The ``n`` most confidently wrong predictions, titled ``"true 7 / pred 2 (0.93)"`` (0.93:
    the probability of the wrong class). ``images`` as in :func:`plot_digits`, labels (N,) and
    ``probs`` (N, n_classes) aligned."""
    t, p, pr = np.asarray(y_true), np.asarray(y_pred), np.asarray(probs, dtype=float)
    if not len(images) == len(t) == len(p) == len(pr) or pr.ndim != 2:
        raise ValueError(
            f"images, y_true, y_pred and probs (N, n_classes) must be aligned, got lengths "
            f"{len(images)}, {len(t)}, {len(p)} and probs of shape {pr.shape}"
        )
    wrong = np.flatnonzero(p != t)
    order = wrong[np.argsort(-pr[wrong, p[wrong]], kind="stable")][:n]
    if order.size == 0:
        fig = plt.figure(figsize=(4, 1.5))
        fig.text(0.5, 0.5, f"No misclassified examples (of {len(t)})", ha="center", va="center")
        return fig
    names = _names(class_names)
    titles = [f"true {names[t[i]]} / pred {names[p[i]]} ({pr[i, p[i]]:.2f})" for i in order]
    heading = title or f"Most confident errors ({order.size} of {wrong.size} errors)"
    return _image_grid(np.asarray(images)[order], titles, heading, color="firebrick")


def plot_digits(images, labels=None, n=25, title=None, class_names=None, ncols=None) -> Figure:
    """The first ``n`` images ((N, 28, 28), (N, 28, 28, 1) or (N, 784)) in a grid of ``ncols``
    columns (default: about square, at most 10), titled with their labels (as ``class_names``)."""
    names = _names(class_names)
    titles = [""] * n if labels is None else [names[int(v)] for v in np.asarray(labels)[:n]]
    return _image_grid(np.asarray(images)[:n], titles, title, ncols=ncols)


def plot_comparison(results: Mapping, ylabel: str, title=None, scale=100.0) -> Figure:
    """Bars comparing models (``results``: name -> one value per seed), labelled ``"98.52 ±
    0.05"``: mean and sample std (ddof=1) times ``scale`` (100: fractions to percent), on a
    zoomed axis; one run shows ``(n=1)`` and no error bar."""
    if not results:
        raise ValueError("results is empty: give model name -> values")
    m, s = (np.array([_metrics.mean_std(v) for v in results.values()]) * [scale, abs(scale)]).T
    counts = [np.size(v) for v in results.values()]
    x = np.arange(len(results))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(x) + 2.0), 4.5), layout="constrained")
    ax.bar(x, m, 0.6, color=sns.color_palette("tab10", len(x)), alpha=0.85, edgecolor="0.2")
    many = np.array(counts) > 1
    ax.errorbar(x[many], m[many], yerr=s[many], fmt="none", ecolor="0.15", capsize=6)
    _zoom(ax, m - s, m + s, ylabel)
    bottom, top = ax.get_ylim()
    for xi, mi, si, n in zip(x, m, s, counts, strict=True):
        text = f"{mi:.2f} ± {si:.2f}" if n > 1 else f"{mi:.2f} (n=1)"
        ax.text(xi, mi + si + 0.02 * (top - bottom), text, ha="center", va="bottom", fontsize=9)
    ax.set_xticks(x, [f"{name}\n(n={n})" for name, n in zip(results, counts, strict=True)])
    ax.grid(axis="x", visible=False)
    ax.set_title(title or "Mean ± std over runs")
    return fig


def plot_digit_prediction(
    image, naive, normalised, proba_naive, proba_normalised, class_names=None
) -> Figure:
    """The input image (path, bytes, PIL image or array) as it is, its naive 28x28 squeeze and its
    MNIST normalisation (``naive_resize`` and ``to_mnist`` of :mod:`common.handwriting`), and what
    a model calls each (``proba_*``: its K class probabilities)."""
    from common.handwriting import _open  # reads and validates any image kind

    original = _open(image)
    p_naive, p_norm = (np.asarray(p, dtype=float).ravel() for p in (proba_naive, proba_normalised))
    if p_naive.shape != p_norm.shape or p_naive.size < 2:
        raise ValueError(
            f"proba_naive and proba_normalised must be (K,) with the same K >= 2, "
            f"got {p_naive.shape} and {p_norm.shape}"
        )
    names = _names(class_names, p_norm.size)
    if len(names) != p_norm.size:
        raise ValueError(f"{len(names)} class_names for {p_norm.size} probabilities")
    fig = plt.figure(figsize=(12, 3.2), layout="constrained")
    axes = fig.subplots(1, 4, gridspec_kw={"width_ratios": [1, 1, 1, 2.4]})
    axes[0].imshow(original, cmap="gray", vmin=0, vmax=1)
    axes[0].set_title(f"input ({original.shape[1]}x{original.shape[0]})")
    small = [np.asarray(a).reshape(28, 28) for a in (naive, normalised)]
    whats = ("naive resize", "MNIST-style")
    for ax, img, p, what in zip(axes[1:3], small, (p_naive, p_norm), whats, strict=True):
        ax.imshow(img, cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"{what}\n-> {names[int(p.argmax())]} ({p.max():.0%})")
    for ax in axes[:3]:
        ax.set(xticks=[], yticks=[])
        ax.grid(False)
    x = np.arange(p_norm.size)
    bars = axes[3]
    bars.bar(x - 0.2, p_naive, width=0.4, color="0.6", label="naive resize")
    bars.bar(x + 0.2, p_norm, width=0.4, color="tab:blue", label="MNIST-style")
    rotation, ha = (30, "right") if max(len(n) for n in names) > 3 else (0, "center")
    bars.set_xticks(x, names, rotation=rotation, ha=ha)
    bars.set(ylim=(0, 1), ylabel="probability")
    bars.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    bars.grid(axis="x", visible=False)
    return fig


def plot_filters(W: ArrayLike, title: str | None = None, ncols: int = 8) -> Figure:
    """A convolution's filters: ``W`` of shape (k, k, 1, n_filters) (one input channel), each
    filter as a k x k image on a symmetric colour scale (blue negative, red positive, white 0)."""
    W = np.asarray(W, dtype=float)
    if W.ndim != 4 or W.shape[2] != 1 or W.shape[3] < 1:
        raise ValueError(f"W must have shape (k, k, 1, n_filters), got {W.shape}")
    n = W.shape[3]
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    limit = float(np.abs(W).max()) or 1.0
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, layout="constrained",
                             figsize=(1.1 * ncols, 1.2 * nrows + 0.5))  # fmt: skip
    for ax in axes.flat:
        ax.set_axis_off()
    for f, ax in zip(range(n), axes.flat, strict=False):
        ax.imshow(W[:, :, 0, f], cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(str(f), fontsize=8, fontweight="normal")
    return _finish(fig, title)


def plot_feature_maps(image: ArrayLike, maps: Mapping[str, ArrayLike], n: int = 8,
                      title: str | None = None) -> Figure:  # fmt: skip
    """One image and, one row per entry of ``maps`` (name -> (H, W, channels) activations of that
    image), its first ``n`` channels, each on its own grey scale."""
    if not maps:
        raise ValueError("maps is empty: give layer name -> (H, W, channels) activations")
    arrays = {name: np.asarray(a, dtype=float) for name, a in maps.items()}
    for name, a in arrays.items():
        if a.ndim != 3:
            raise ValueError(f"maps[{name!r}] must have shape (H, W, channels), got {a.shape}")
    ncols = 1 + min(n, max(a.shape[2] for a in arrays.values()))
    fig, axes = plt.subplots(len(arrays), ncols, squeeze=False, layout="constrained",
                             figsize=(1.3 * ncols, 1.45 * len(arrays) + 0.5))  # fmt: skip
    for ax in axes.flat:
        ax.set_axis_off()
    image = np.asarray(image, dtype=float)
    axes[0, 0].imshow(image.reshape(*[math.isqrt(image.size)] * 2), cmap="gray_r")
    axes[0, 0].set_title("input", fontsize=9, fontweight="normal")
    for row, (name, a) in enumerate(arrays.items()):
        for c in range(min(n, a.shape[2])):
            axes[row, c + 1].imshow(a[:, :, c], cmap="gray_r", interpolation="nearest")
            label = f"{name} {c}" if c == 0 else str(c)
            axes[row, c + 1].set_title(f"{label}\n{a.shape[0]}x{a.shape[1]}" if c == 0 else label,
                                       fontsize=8, fontweight="normal")  # fmt: skip
    return _finish(fig, title)


def show_prediction(image, predict_proba, class_names=None, title=None) -> Figure:
    """Classify ``image`` twice, squeezed naively and MNIST-style (``naive_resize`` and
    ``to_mnist`` of :mod:`common.handwriting`), with ``predict_proba(uint8 images (N, 28, 28))``,
    and show both side by side (:func:`plot_digit_prediction`)."""
    from common.handwriting import naive_resize, to_mnist

    naive, normalised = naive_resize(image), to_mnist(image)
    proba_naive, proba_normalised = predict_proba(np.stack([naive, normalised]))
    fig = plot_digit_prediction(
        image, naive, normalised, proba_naive, proba_normalised, class_names
    )
    if title:
        fig.suptitle(title)
    return fig
