"""Tests for common.plots: figure structure, content, saving and input validation."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from types import SimpleNamespace  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from common import plots  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _hist(n_epochs: int, offset: float = 0.0, val: bool = True) -> dict[str, list[float]]:
    e = np.arange(1, n_epochs + 1, dtype=float)
    h = {"loss": list(1.0 / e + offset), "accuracy": list(1.0 - 0.5 / e - offset)}
    if val:
        h["val_loss"] = list(1.2 / e + offset)
        h["val_accuracy"] = list(0.95 - 0.5 / e - offset)
    return h


def _lines(ax) -> dict[str, np.ndarray]:
    return {ln.get_label(): np.asarray(ln.get_ydata(), float) for ln in ax.get_lines()}


@pytest.fixture
def classification():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 20)
    pred = y.copy()
    pred[::7] = (pred[::7] + 3) % 10
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


def test_save_fig_writes_png_under_results_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_RESULTS_DIR", str(tmp_path / "res"))
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    path = plots.save_fig("keras/sub/curves", fig)
    assert path == tmp_path / "res" / "figures" / "keras" / "sub" / "curves.png"
    assert path.stat().st_size > 0 and path.read_bytes()[:8] == PNG_MAGIC
    # fig=None saves the current figure; a ".png" suffix is not doubled
    current = plots.save_fig("numpy/current.png")
    assert current == tmp_path / "res" / "figures" / "numpy" / "current.png"
    assert current.read_bytes()[:8] == PNG_MAGIC


@pytest.mark.parametrize(("name", "match"), [("", "non-empty"), ("../x", "without '..'")])
def test_save_fig_rejects_bad_names(name, match):
    with pytest.raises(ValueError, match=match):
        plots.save_fig(name, plt.figure())


# ----------------------------------------------------------------------------- learning curves
def test_learning_curves_single_history():
    fig = plots.plot_learning_curves(_hist(5), title="t")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_xlabel() == "Epoch" and loss_ax.get_ylabel() == "Loss"
    assert acc_ax.get_ylabel() == "Accuracy"
    lines = _lines(loss_ax)
    assert set(lines) == {"train", "val"}
    assert loss_ax.get_lines()[0].get_xdata()[0] == 1  # epochs start at 1
    assert list(loss_ax.get_xticks()) == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(lines["train"], _hist(5)["loss"])
    styles = {ln.get_label(): ln.get_linestyle() for ln in loss_ax.get_lines()}
    assert styles == {"train": "-", "val": "--"}
    assert fig.get_suptitle() == "t"


def test_learning_curves_ragged_runs_average_over_runs_that_reached_each_epoch():
    runs = [_hist(3, 0.0), _hist(5, 0.1), _hist(5, 0.2)]
    fig = plots.plot_learning_curves(runs)
    lines = _lines(fig.axes[0])
    mean = lines["train (n=3)"]
    assert len(mean) == 5
    e = np.arange(1, 6)
    expected = np.where(e <= 3, 1.0 / e + 0.1, 1.0 / e + 0.15)
    np.testing.assert_allclose(mean, expected)
    assert len(fig.axes[0].collections) == 2  # one std band for train, one for val


def test_learning_curves_several_models_and_train_only():
    runs = {"MLP": [_hist(4), _hist(4, 0.05)], "CNN": [_hist(6, val=False)]}
    fig = plots.plot_learning_curves(runs, title="models")
    labels = set(_lines(fig.axes[1]))
    assert labels == {"MLP train (n=2)", "MLP val (n=2)", "CNN train"}
    colors = {ln.get_label(): ln.get_color() for ln in fig.axes[1].get_lines()}
    assert colors["MLP train (n=2)"] == colors["MLP val (n=2)"] != colors["CNN train"]
    # a History-like object and a train-only single history
    fig2 = plots.plot_learning_curves(SimpleNamespace(history=_hist(2, val=False)))
    assert [set(_lines(ax)) for ax in fig2.axes] == [{"train"}, {"train"}]


def test_learning_curves_rejects_bad_input():
    with pytest.raises(ValueError, match="metric 'auc' not found.*available keys"):
        plots.plot_learning_curves(_hist(3), metrics=("loss", "auc"))
    with pytest.raises(ValueError, match="empty list"):
        plots.plot_learning_curves([])
    with pytest.raises(ValueError, match="per-epoch lists"):
        plots.plot_learning_curves([_hist(3), "oops"])


# ----------------------------------------------------------------------------- confusion / per class
def test_confusion_matrix_heatmaps_show_counts():
    y_true = [0, 0, 1, 1, 1, 2]
    y_pred = [0, 1, 1, 1, 1, 0]
    fig = plots.plot_confusion_matrix(y_true, y_pred, labels=[0, 1, 2], title="cm")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4  # two heatmaps + two colour bars
    counts_ax, norm_ax = fig.axes[0], fig.axes[1]
    texts = [t.get_text() for t in counts_ax.texts]
    assert sorted(texts) == ["1", "1", "1", "3"]  # non-zero counts annotated, zeros blank
    assert "100.0" in [t.get_text() for t in norm_ax.texts]  # class 1 recall = 100 %
    assert [t.get_text() for t in counts_ax.get_xticklabels()] == ["0", "1", "2"]
    assert counts_ax.get_xlabel() == "Predicted label" and counts_ax.get_ylabel() == "True label"


def test_confusion_matrix_default_digit_ticks_and_bad_labels():
    fig = plots.plot_confusion_matrix(np.arange(10), np.arange(10))
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [str(d) for d in range(10)]
    with pytest.raises(ValueError, match="outside"):
        plots.plot_confusion_matrix([0, 1], [0, 12])


def test_per_class_metrics_bars(classification):
    _, y, pred, _ = classification
    fig = plots.plot_per_class_metrics(y, pred)
    ax = fig.axes[0]
    assert len(ax.patches) == 30  # 10 classes x (precision, recall, F1)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Precision", "Recall", "F1"]
    assert ax.get_ylim()[1] >= 1.0


# ----------------------------------------------------------------------------- images
def test_misclassified_sorted_by_confidence():
    images = np.zeros((5, 28, 28))
    y_true = np.array([0, 1, 2, 3, 4])
    y_pred = np.array([1, 1, 3, 4, 0])  # errors at 0, 2, 3, 4
    probs = np.full((5, 10), 0.01)
    probs[[0, 1, 2, 3, 4], y_pred] = [0.6, 0.99, 0.9, 0.7, 0.95]
    fig = plots.plot_misclassified(images, y_true, y_pred, probs, n=3)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["true 4 / pred 0 (0.95)", "true 2 / pred 3 (0.90)", "true 3 / pred 4 (0.70)"]


@pytest.mark.parametrize("shape", [(200, 28, 28), (200, 28, 28, 1), (200, 784)])
def test_misclassified_shapes_and_fewer_errors_than_n(classification, shape):
    images, y, pred, probs = classification
    n_errors = int(np.sum(y != pred))
    fig = plots.plot_misclassified(images.reshape(shape), y, pred, probs, n=n_errors + 10)
    shown = [ax for ax in fig.axes if ax.get_images()]
    assert len(shown) == n_errors
    assert shown[0].get_images()[0].get_array().shape == (28, 28)


def test_misclassified_no_errors_and_bad_input(classification):
    images, y, _, probs = classification
    fig = plots.plot_misclassified(images, y, y, probs)
    assert "No misclassified" in fig.axes[0].texts[0].get_text()
    with pytest.raises(ValueError, match="probs must have shape"):
        plots.plot_misclassified(images, y, y, probs[:, :, None])
    with pytest.raises(ValueError, match="probs must have shape"):
        plots.plot_misclassified(images, y, y, probs[:-1])
    with pytest.raises(ValueError, match="different lengths"):
        plots.plot_misclassified(images[:-1], y, y, probs)
    with pytest.raises(ValueError, match="square number of pixels"):
        plots.plot_misclassified(images.reshape(200, -1)[:, :700], y, y, probs)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        plots.plot_misclassified(images, y, y, probs, n=0)


def test_plot_digits(classification):
    images, y, _, _ = classification
    fig = plots.plot_digits(images[:7], y[:7], n=25, title="digits")
    shown = [ax for ax in fig.axes if ax.get_images()]
    assert len(shown) == 7
    assert [ax.get_title() for ax in shown] == [str(v) for v in y[:7]]
    assert len([ax for ax in plots.plot_digits(images).axes if ax.get_images()]) == 25
    with pytest.raises(ValueError, match="labels must have shape"):
        plots.plot_digits(images[:5], y[:4])
    with pytest.raises(ValueError, match="images must have shape"):
        plots.plot_digits(np.zeros((2, 3, 28, 28)))


# ----------------------------------------------------------------------------- comparison
def test_comparison_value_labels_and_zoomed_axis():
    results = {"MLP": [0.9801, 0.9812, 0.9795], "CNN": [0.9921, 0.9925, 0.9918], "one": [0.985]}
    fig = plots.plot_comparison(results, "Test accuracy (%)", title="cmp")
    ax = fig.axes[0]
    assert len(ax.patches) == 3
    texts = [t.get_text() for t in ax.texts]
    m, s = np.mean(results["CNN"]) * 100, np.std(results["CNN"], ddof=1) * 100
    assert f"{m:.2f} ± {s:.2f}" in texts
    assert "98.50 (n=1)" in texts
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights[0], np.mean(results["MLP"]) * 100)
    bottom, top = ax.get_ylim()
    # zoomed so differences are visible, but the shortest bar keeps >= 2/3 of the CNN bar height
    assert 0 < bottom < 98.0 and top > 99.25
    assert (heights[0] - bottom) / (heights[1] - bottom) > 2 / 3
    assert "not 0" in ax.get_ylabel()


def test_comparison_starts_at_zero_for_large_differences_and_rejects_bad_input():
    fig = plots.plot_comparison({"A": [12.0, 14.0], "B": [30.0, 29.0]}, "Time (s)", scale=1)
    assert fig.axes[0].get_ylim()[0] == 0.0
    assert fig.axes[0].get_ylabel() == "Time (s)"
    with pytest.raises(ValueError, match="non-empty mapping"):
        plots.plot_comparison({}, "acc")
    with pytest.raises(ValueError, match=r"results\['B'\]: values is empty"):
        plots.plot_comparison({"A": [0.9], "B": []}, "acc")
