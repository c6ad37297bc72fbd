"""common.plots: what each figure shows (values, not just counts of artists), saving, bad input."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.metrics import precision_recall_fscore_support  # noqa: E402

from common import plots  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _hist(n_epochs: int, offset: float = 0.0, val: bool = True) -> dict[str, list[float]]:
    e = np.arange(1, n_epochs + 1, dtype=float)
    h = {"loss": list(1.0 / e + offset), "accuracy": list(0.9 - 0.5 / e - offset)}
    if val:
        h["val_loss"] = list(1.2 / e + offset)
        h["val_accuracy"] = list(0.85 - 0.5 / e - offset)
    return h


def _lines(ax) -> dict[str, np.ndarray]:
    return {ln.get_label(): np.asarray(ln.get_ydata(), float) for ln in ax.get_lines()}


def _band(ax, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper edge, per epoch, of the index-th fill_between band of ``ax``."""
    verts = ax.collections[index].get_paths()[0].vertices
    xs = np.unique(verts[:, 0])
    return (
        np.array([verts[verts[:, 0] == x, 1].min() for x in xs]),
        np.array([verts[verts[:, 0] == x, 1].max() for x in xs]),
    )


@pytest.fixture
def classification():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 20)
    pred = y.copy()
    pred[::7] = (pred[::7] + 3) % 10
    pred[1::9] = 2  # unequal precision and recall per class
    probs = rng.dirichlet(np.ones(10), len(y))
    probs[np.arange(len(y)), pred] += 1.0
    probs /= probs.sum(axis=1, keepdims=True)
    images = rng.integers(0, 256, (len(y), 28, 28), dtype=np.uint8)
    return images, y, pred, probs


# ----------------------------------------------------------------------------- style & save_fig
def test_set_style_is_idempotent():
    with matplotlib.rc_context():
        plots.set_style()
        plots.set_style()
        assert plt.rcParams["savefig.dpi"] == 150
        assert plt.rcParams["figure.dpi"] >= 100  # inline figures: never below matplotlib's default


def test_jupyter_shows_figures_as_small_palette_pngs():
    """In IPython, set_style makes figures display through small_png: the same picture, fewer bytes."""
    from io import BytesIO

    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core.pylabtools import print_figure
    from PIL import Image

    shell = InteractiveShell.instance()
    with matplotlib.rc_context():
        plots.set_style()
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.imshow(np.linspace(0, 1, 400).reshape(20, 20), cmap="viridis")
        ax.plot(np.sin(np.linspace(0, 6, 50)), color="tab:red")
        assert shell.display_formatter.formatters["image/png"].lookup(fig) is plots.small_png
        small, full = plots.small_png(fig), print_figure(fig, "png")
    assert small.startswith(PNG_MAGIC) and len(small) < 0.7 * len(full)
    small_img, full_img = Image.open(BytesIO(small)), Image.open(BytesIO(full))
    assert small_img.mode == "P" and small_img.size == full_img.size
    diff = np.abs(np.asarray(small_img.convert("RGB"), float) - np.asarray(full_img.convert("RGB")))
    assert diff.mean() < 2  # grey levels out of 255: the eye sees the same figure


def test_save_fig_goes_to_the_dataset_and_mode_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_RESULTS_DIR", str(tmp_path / "res"))
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    path = plots.save_fig("keras/sub/curves", fig)
    assert path == tmp_path / "res" / "figures" / "keras" / "sub" / "curves.png"
    assert path.read_bytes()[:8] == PNG_MAGIC
    quick = plots.save_fig("numpy/current.png", dataset="fashion_mnist", mode="quick")
    assert (
        quick == tmp_path / "res" / "fashion_mnist" / "quick" / "figures" / "numpy" / "current.png"
    )
    assert quick.read_bytes()[:8] == PNG_MAGIC  # fig=None: the current figure
    assert (
        plots.save_fig("x", fig, mode="smoke") == tmp_path / "res" / "smoke" / "figures" / "x.png"
    )


@pytest.mark.parametrize("name", ["", "../x", "/abs/x"])
def test_save_fig_rejects_names_outside_the_figures_folder(name):
    with pytest.raises(ValueError, match="relative name"):
        plots.save_fig(name, plt.figure())


# ----------------------------------------------------------------------------- learning curves
def test_learning_curves_one_model_one_seed():
    fig = plots.plot_learning_curves({"MLP": [_hist(5)]}, title="t")
    loss_ax, acc_ax = fig.axes[:2]
    assert loss_ax.get_ylabel() == "Loss" and acc_ax.get_ylabel() == "Accuracy"
    assert acc_ax.get_xlabel() == "Epoch"
    lines = _lines(loss_ax)
    np.testing.assert_allclose(lines["MLP train"], _hist(5)["loss"])
    np.testing.assert_allclose(lines["MLP val"], _hist(5)["val_loss"])
    assert list(loss_ax.get_lines()[0].get_xdata()) == [1, 2, 3, 4, 5]  # epochs start at 1
    assert {ln.get_label(): ln.get_linestyle() for ln in loss_ax.get_lines()} == {
        "MLP train": "-",
        "MLP val": "--",
    }
    lo, hi = _band(loss_ax, 0)
    np.testing.assert_allclose(hi - lo, 0.0, atol=1e-12)  # one seed: no spread
    assert fig.get_suptitle() == "t"


def test_learning_curves_mean_and_std_band_over_ragged_seeds():
    runs = {"MLP": [_hist(3, 0.0), _hist(5, 0.1), _hist(5, 0.2)]}
    ax = plots.plot_learning_curves(runs).axes[0]
    e = np.arange(1, 6)
    per_seed = np.array([np.r_[1.0 / e[:3], np.nan, np.nan], 1.0 / e + 0.1, 1.0 / e + 0.2])
    mean = np.nanmean(per_seed, axis=0)
    std = np.nanstd(per_seed, axis=0, ddof=1)  # epochs 4-5: the two seeds that got there
    np.testing.assert_allclose(_lines(ax)["MLP train"], mean)
    lo, hi = _band(ax, 0)
    np.testing.assert_allclose(lo, mean - std)
    np.testing.assert_allclose(hi, mean + std)


def test_learning_curves_accuracy_axis_ends_at_100_percent_and_legend_is_outside():
    title = "a long title that spans the whole width of the figure, legend or not"
    fig = plots.plot_learning_curves(
        {"A": [_hist(4)], "B": [_hist(4, 0.05, val=False)]}, title=title
    )
    loss_ax, acc_ax = fig.axes[:2]
    assert acc_ax.get_ylim()[1] == 1.0
    assert acc_ax.yaxis.get_major_formatter()(0.5, 0) == "50%"
    assert loss_ax.get_ylim()[1] != 1.0
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["A train", "A val", "B train"]
    fig.canvas.draw()
    box = legend.get_window_extent()
    for ax in fig.axes:
        assert not box.overlaps(ax.get_window_extent()), "the legend covers a panel"
    assert not box.overlaps(fig._suptitle.get_window_extent()), "the legend covers the title"
    narrow = plots.plot_learning_curves({"CNN": [_hist(4)]}, small_multiples=True, title=title)
    narrow.canvas.draw()
    (legend,) = narrow.legends
    assert not legend.get_window_extent().overlaps(narrow._suptitle.get_window_extent())


def test_learning_curves_small_multiples_one_panel_per_model_shared_axes():
    runs = {"MLP": [_hist(4), _hist(4, 0.05)], "CNN": [_hist(6)], "ResNet": [_hist(6, 0.02)]}
    fig = plots.plot_learning_curves(runs, metrics=("loss", "accuracy"), small_multiples=True)
    axes = np.array(fig.axes).reshape(2, 3)
    assert [ax.get_title() for ax in axes[0]] == ["MLP", "CNN", "ResNet"]
    for col, name in enumerate(runs):
        for ax in axes[:, col]:
            assert {label.split()[0] for label in _lines(ax)} == {name}
    assert len({ax.get_ylim() for ax in axes[1]}) == 1  # shared y within a metric row
    assert all(ax.get_ylim()[1] == 1.0 for ax in axes[1])
    colors = {ln.get_label(): ln.get_color() for ax in fig.axes for ln in ax.get_lines()}
    assert colors["MLP train"] == colors["MLP val"] != colors["CNN train"]


@pytest.mark.parametrize(
    ("runs", "match"),
    [
        ({}, "non-empty dict"),
        (_hist(3), r"runs\['loss'\] must be a non-empty list of history dicts"),
        ({"MLP": _hist(3)}, "wrap a single history in a list"),
        ({"MLP": []}, "non-empty list"),
        ([_hist(3)], "non-empty dict"),
    ],
)
def test_learning_curves_takes_one_input_shape(runs, match):
    with pytest.raises(ValueError, match=match):
        plots.plot_learning_curves(runs)


def test_learning_curves_names_a_missing_metric():
    with pytest.raises(ValueError, match=r"\['auc'\] not found.*available: \['accuracy'"):
        plots.plot_learning_curves({"m": [_hist(3)]}, metrics=("loss", "auc"))


# ----------------------------------------------------------------------------- confusion / per class
def test_confusion_matrix_heatmaps_show_counts_and_row_percentages():
    y_true = [0, 0, 1, 1, 1, 2]
    y_pred = [0, 1, 1, 1, 1, 0]
    fig = plots.plot_confusion_matrix(
        y_true, y_pred, class_names=["zero", "one", "two"], title="cm"
    )
    counts_ax, norm_ax = fig.axes[0], fig.axes[1]
    # cells in row-major order: [[1, 1, 0], [0, 3, 0], [1, 0, 0]], zeros blank
    assert [t.get_text() for t in counts_ax.texts] == ["1", "1", "3", "1"]
    assert [t.get_text() for t in norm_ax.texts if t.get_text()] == [
        "50.0",
        "50.0",
        "100.0",
        "100.0",
    ]
    assert [t.get_text() for t in counts_ax.get_xticklabels()] == ["zero", "one", "two"]
    assert [t.get_text() for t in counts_ax.get_yticklabels()] == ["zero", "one", "two"]
    assert counts_ax.get_xlabel() == "Predicted label" and counts_ax.get_ylabel() == "True label"
    assert fig.get_suptitle() == "cm"


def test_confusion_matrix_default_digit_names_and_labels_outside():
    fig = plots.plot_confusion_matrix(np.arange(10), np.arange(10))
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [str(d) for d in range(10)]
    with pytest.raises(ValueError, match="outside"):
        plots.plot_confusion_matrix([0, 1], [0, 12])


def test_per_class_bars_are_precision_recall_f1_of_each_class(classification):
    _, y, pred, _ = classification
    fig = plots.plot_per_class_metrics(y, pred)
    ax = fig.axes[0]
    expected = precision_recall_fscore_support(y, pred, labels=range(10), zero_division=0)[:3]
    assert not np.allclose(expected[0], expected[1]), "the data must tell precision from recall"
    bars = {c.get_label(): c for c in ax.containers}
    assert list(bars) == ["Precision", "Recall", "F1"]
    for (name, container), values in zip(bars.items(), expected, strict=True):
        np.testing.assert_allclose([b.get_height() for b in container], values, err_msg=name)
        centres = [b.get_x() + b.get_width() / 2 for b in container]
        assert np.all(np.diff(centres) > 0), "bars in class order"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Precision", "Recall", "F1"]
    assert ax.get_ylim()[1] == 1.0 and ax.get_ylim()[0] < expected[0].min()


def test_per_class_tick_labels_use_class_names(classification):
    _, y, pred, _ = classification
    names = [f"c{i}" for i in range(10)]
    ax = plots.plot_per_class_metrics(y, pred, class_names=names).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == names


# ----------------------------------------------------------------------------- images
def test_misclassified_sorted_by_confidence_with_class_names():
    images = np.zeros((5, 28, 28))
    y_true = np.array([0, 1, 2, 3, 4])
    y_pred = np.array([1, 1, 3, 4, 0])  # errors at 0, 2, 3, 4
    probs = np.full((5, 10), 0.01)
    probs[[0, 1, 2, 3, 4], y_pred] = [0.6, 0.99, 0.9, 0.7, 0.95]
    fig = plots.plot_misclassified(images, y_true, y_pred, probs, n=3)
    titles = [ax.get_title() for ax in fig.axes if ax.get_images()]
    assert titles == ["true 4 / pred 0 (0.95)", "true 2 / pred 3 (0.90)", "true 3 / pred 4 (0.70)"]
    names = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", *"56789"]
    fig = plots.plot_misclassified(images, y_true, y_pred, probs, n=1, class_names=names)
    assert [ax.get_title() for ax in fig.axes if ax.get_images()] == [
        "true Coat / pred T-shirt (0.95)"
    ]


@pytest.mark.parametrize("shape", [(200, 28, 28), (200, 28, 28, 1), (200, 784)])
def test_misclassified_shapes_and_fewer_errors_than_n(classification, shape):
    images, y, pred, probs = classification
    n_errors = int(np.sum(y != pred))
    fig = plots.plot_misclassified(images.reshape(shape), y, pred, probs, n=n_errors + 10)
    shown = [ax for ax in fig.axes if ax.get_images()]
    assert len(shown) == n_errors
    np.testing.assert_array_equal(
        shown[0].get_images()[0].get_array(),
        images[np.flatnonzero(y != pred)][np.argmax(probs[y != pred, pred[y != pred]])],
    )


def test_misclassified_no_errors_and_misaligned_input(classification):
    images, y, _, probs = classification
    fig = plots.plot_misclassified(images, y, y, probs)
    assert fig.texts[0].get_text() == "No misclassified examples (of 200)"
    for bad in [
        (images[:-1], y, y, probs),
        (images, y, y, probs[:-1]),
        (images, y, y, probs[:, :, None]),
    ]:
        with pytest.raises(ValueError, match="must be aligned"):
            plots.plot_misclassified(*bad)
    with pytest.raises(ValueError, match="cannot reshape"):  # not square images
        plots.plot_misclassified(images.reshape(200, -1)[:, :700], y, (y + 1) % 10, probs)


def test_plot_digits(classification):
    images, y, _, _ = classification
    fig = plots.plot_digits(images[:7], y[:7], n=25, title="digits")
    shown = [ax for ax in fig.axes if ax.get_images()]
    assert [ax.get_title() for ax in shown] == [str(v) for v in y[:7]]
    np.testing.assert_array_equal(shown[3].get_images()[0].get_array(), images[3])
    assert len([ax for ax in plots.plot_digits(images).axes if ax.get_images()]) == 25
    names = [f"class {i}" for i in range(10)]
    fig = plots.plot_digits(images[:2], y[:2], class_names=names)
    assert [ax.get_title() for ax in fig.axes if ax.get_images()] == [names[y[0]], names[y[1]]]
    fig = plots.plot_digits(images, n=50, ncols=10)  # 5 rows of 10: one row per draw
    rows = {ax.get_subplotspec().rowspan.start for ax in fig.axes if ax.get_images()}
    assert fig.axes[0].get_gridspec().get_geometry() == (5, 10) and rows == set(range(5))


# ----------------------------------------------------------------------------- comparison
def test_comparison_value_labels_and_zoomed_axis():
    results = {"MLP": [0.9801, 0.9812, 0.9795], "CNN": [0.9921, 0.9925, 0.9918], "one": [0.985]}
    fig = plots.plot_comparison(results, "Test accuracy (%)", title="cmp")
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    m, s = np.mean(results["CNN"]) * 100, np.std(results["CNN"], ddof=1) * 100
    assert f"{m:.2f} ± {s:.2f}" in texts
    assert "98.50 (n=1)" in texts
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, [np.mean(v) * 100 for v in results.values()])
    bottom, top = ax.get_ylim()
    # zoomed so differences are visible, but the shortest bar keeps >= 2/3 of the CNN bar height
    assert 0 < bottom < 98.0 and top > 99.25
    assert (heights[0] - bottom) / (heights[1] - bottom) > 2 / 3
    assert "not 0" in ax.get_ylabel()


def test_comparison_starts_at_zero_for_large_differences_and_rejects_empty_input():
    fig = plots.plot_comparison({"A": [12.0, 14.0], "B": [30.0, 29.0]}, "Time (s)", scale=1)
    assert fig.axes[0].get_ylim()[0] == 0.0
    assert fig.axes[0].get_ylabel() == "Time (s)"
    with pytest.raises(ValueError, match="results is empty"):
        plots.plot_comparison({}, "acc")
    with pytest.raises(ValueError, match="empty"):
        plots.plot_comparison({"A": [0.9], "B": []}, "acc")


def test_plot_filters_one_panel_per_filter_on_a_symmetric_scale():
    W = np.zeros((3, 3, 1, 10))
    W[0, 0, 0, 3], W[2, 1, 0, 7] = 2.0, -0.5
    fig = plots.plot_filters(W, title="filters", ncols=4)
    images = [ax.get_images()[0] for ax in fig.axes if ax.get_images()]
    assert len(images) == 10 and len(fig.axes) == 12  # 3 rows of 4, two empty
    np.testing.assert_array_equal(images[3].get_array(), W[:, :, 0, 3])
    assert images[7].get_clim() == (-2.0, 2.0)  # one scale for all, 0 in the middle
    with pytest.raises(ValueError, match=r"shape \(k, k, 1, n_filters\)"):
        plots.plot_filters(np.zeros((3, 3, 2, 4)))


def test_plot_feature_maps_rows_of_channels():
    rng = np.random.default_rng(0)
    maps = {"conv 1": rng.random((26, 26, 16)), "conv 2": rng.random((11, 11, 4))}
    fig = plots.plot_feature_maps(rng.random(784), maps, n=6)
    images = [ax.get_images()[0].get_array() for ax in fig.axes if ax.get_images()]
    assert len(images) == 1 + 6 + 4 and len(fig.axes) == 2 * 7
    np.testing.assert_array_equal(images[1], maps["conv 1"][:, :, 0])
    np.testing.assert_array_equal(images[7], maps["conv 2"][:, :, 0])
    with pytest.raises(ValueError, match="maps is empty"):
        plots.plot_feature_maps(np.zeros(784), {})
    with pytest.raises(ValueError, match=r"must have shape \(H, W, channels\)"):
        plots.plot_feature_maps(np.zeros(784), {"flat": np.zeros(10)})


def test_show_prediction_classifies_both_versions_of_the_image():
    from common.handwriting import naive_resize, to_mnist

    image = np.zeros((60, 40), np.uint8)
    image[10:50, 15:25] = 255  # a white stroke on black: a "1"
    seen = []

    def predict_proba(images):
        seen.append(images)
        p = np.full((len(images), 10), 0.02)
        p[:, 1] = 0.82
        return p

    fig = plots.show_prediction(image, predict_proba, title="a one")
    (batch,) = seen
    assert batch.shape == (2, 28, 28) and batch.dtype == np.uint8
    np.testing.assert_array_equal(batch[0], naive_resize(image))
    np.testing.assert_array_equal(batch[1], to_mnist(image))
    assert fig._suptitle.get_text() == "a one"
    assert "-> 1 (82%)" in fig.axes[2].get_title()
    plt.close(fig)
