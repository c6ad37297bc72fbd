"""Tests for common.metrics: hand-computed values on tiny examples, McNemar against mlxtend."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from mlxtend.evaluate import mcnemar as mlx_mcnemar
from mlxtend.evaluate import mcnemar_table

from common import metrics as M

# Tiny 3-class example, worked out by hand:
#   class 0: predicted at idx 0, 5 -> TP 1, FP 1, FN 1 -> P 1/2, R 1/2, F1 1/2
#   class 1: predicted at idx 1, 2, 3 -> TP 2, FP 1, FN 0 -> P 2/3, R 1, F1 4/5
#   class 2: predicted at idx 4 -> TP 1, FP 0, FN 1 -> P 1, R 1/2, F1 2/3
Y_TRUE = [0, 0, 1, 1, 2, 2]
Y_PRED = [0, 1, 1, 1, 2, 0]
LABELS = [0, 1, 2]
PRECISION = [1 / 2, 2 / 3, 1.0]
RECALL = [1 / 2, 1.0, 1 / 2]
F1 = [1 / 2, 4 / 5, 2 / 3]


# ----------------------------------------------------------------------------- accuracy
def test_accuracy_hand_computed():
    assert M.accuracy([0, 1, 2, 3], [0, 1, 2, 0]) == pytest.approx(0.75)
    assert M.accuracy(Y_TRUE, Y_PRED) == pytest.approx(4 / 6)
    assert isinstance(M.accuracy(np.array([1]), np.array([1])), float)


@pytest.mark.parametrize(
    ("y_true", "y_pred", "match"),
    [
        ([0, 1, 2], [0, 1], "different lengths: 3 != 2"),
        ([], [], "y_true is empty"),
        ([0, 1], np.eye(2), "y_pred must be a 1-D array.*argmax"),
        (np.zeros((2, 2)), [0, 1], "y_true must be a 1-D"),
    ],
)
def test_accuracy_rejects_bad_input(y_true, y_pred, match):
    with pytest.raises(ValueError, match=match):
        M.accuracy(y_true, y_pred)


# ----------------------------------------------------------------------------- per class
def test_per_class_metrics_hand_computed():
    df = M.per_class_metrics(Y_TRUE, Y_PRED, labels=LABELS)
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["precision", "recall", "f1", "support"]
    assert df.index.name == "class" and list(df.index) == LABELS
    np.testing.assert_allclose(df["precision"], PRECISION)
    np.testing.assert_allclose(df["recall"], RECALL)
    np.testing.assert_allclose(df["f1"], F1)
    assert df["support"].tolist() == [2, 2, 2]


def test_per_class_metrics_default_labels_cover_all_digits():
    df = M.per_class_metrics(Y_TRUE, Y_PRED)
    assert list(df.index) == list(range(10))
    # absent classes: support 0 and scores reported as 0.0 rather than NaN
    assert df.loc[3:, "support"].sum() == 0
    assert not df.isna().any().any()
    assert df.loc[3:, ["precision", "recall", "f1"]].to_numpy().sum() == 0.0


def test_labels_outside_are_rejected():
    with pytest.raises(ValueError, match=r"y_pred contains labels outside .*\[7\]"):
        M.per_class_metrics([0, 1], [0, 7], labels=[0, 1])
    with pytest.raises(ValueError, match=r"y_true contains labels outside .*\[10\]"):
        M.confusion_matrix([10, 1], [0, 1])
    with pytest.raises(ValueError, match="duplicates"):
        M.per_class_metrics([0, 1], [0, 1], labels=[0, 1, 1])
    with pytest.raises(ValueError, match="non-empty"):
        M.classification_summary([0, 1], [0, 1], labels=[])


def test_classification_summary_values_and_json():
    s = M.classification_summary(Y_TRUE, Y_PRED, labels=LABELS)
    assert s["accuracy"] == pytest.approx(4 / 6)
    assert s["macro_precision"] == pytest.approx(np.mean(PRECISION))
    assert s["macro_recall"] == pytest.approx(np.mean(RECALL))
    assert s["macro_f1"] == pytest.approx(np.mean(F1))
    assert set(s["per_class"]) == {"precision", "recall", "f1", "support"}
    np.testing.assert_allclose(s["per_class"]["f1"], F1)
    assert s["per_class"]["support"] == [2, 2, 2]
    assert s["labels"] == LABELS and s["n_samples"] == 6
    # strict JSON round trip (no numpy scalars, no NaN)
    assert json.loads(json.dumps(s, allow_nan=False)) == s


# ----------------------------------------------------------------------------- confusion matrix
def test_confusion_matrix_counts_and_normalised():
    expected = np.array([[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    cm = M.confusion_matrix(Y_TRUE, Y_PRED, labels=LABELS)
    np.testing.assert_array_equal(cm, expected)
    np.testing.assert_allclose(
        M.confusion_matrix(Y_TRUE, Y_PRED, labels=LABELS, normalize="true"), expected / 2
    )
    assert M.confusion_matrix(Y_TRUE, Y_PRED).shape == (10, 10)
    with pytest.raises(ValueError, match="normalize must be"):
        M.confusion_matrix(Y_TRUE, Y_PRED, normalize="rows")


# ----------------------------------------------------------------------------- McNemar
def _make_pairs(n01: int, n10: int, n_both_right: int = 30, n_both_wrong: int = 5):
    """y_true, pred_a, pred_b with exactly n01 (A wrong, B right) and n10 (A right, B wrong)."""
    y = np.zeros(n01 + n10 + n_both_right + n_both_wrong, dtype=int)
    a, b = y.copy(), y.copy()
    i = 0
    a[i : i + n01] = 1  # A wrong, B right
    i += n01
    b[i : i + n10] = 2  # A right, B wrong
    i += n10 + n_both_right
    a[i:] = 3  # both wrong
    b[i:] = 4
    return y, a, b


@pytest.mark.parametrize(("n01", "n10"), [(3, 9), (0, 5), (7, 7), (12, 12)])
def test_mcnemar_exact_matches_mlxtend(n01, n10):
    y, a, b = _make_pairs(n01, n10)
    res = M.mcnemar_test(y, a, b)
    assert (res.n01, res.n10, res.method) == (n01, n10, "exact")
    _, p_ref = mlx_mcnemar(mcnemar_table(y, a, b), exact=True)
    assert res.p_value == pytest.approx(p_ref, rel=1e-12)
    assert res.statistic == min(n01, n10)


@pytest.mark.parametrize(("n01", "n10"), [(10, 30), (13, 12), (40, 55), (20, 20)])
def test_mcnemar_chi2_matches_mlxtend(n01, n10):
    y, a, b = _make_pairs(n01, n10)
    res = M.mcnemar_test(y, a, b)
    assert (res.n01, res.n10, res.method) == (n01, n10, "chi2")
    chi2_ref, p_ref = mlx_mcnemar(mcnemar_table(y, a, b), corrected=True, exact=False)
    assert res.statistic == pytest.approx(chi2_ref, rel=1e-12)
    assert res.p_value == pytest.approx(p_ref, rel=1e-12)


def test_mcnemar_hand_computed_and_threshold():
    # exact: n01=0, n10=5 -> two-sided p = 2 * 0.5**5
    assert M.mcnemar_test(*_make_pairs(0, 5)).p_value == pytest.approx(0.0625)
    # chi2: (|10 - 30| - 1)^2 / 40 = 9.025
    assert M.mcnemar_test(*_make_pairs(10, 30)).statistic == pytest.approx(9.025)
    # 24 discordant pairs -> exact, 25 -> chi2
    assert M.mcnemar_test(*_make_pairs(10, 14)).method == "exact"
    assert M.mcnemar_test(*_make_pairs(10, 15)).method == "chi2"


def test_mcnemar_symmetry_and_no_disagreement():
    y, a, b = _make_pairs(4, 11)
    ab, ba = M.mcnemar_test(y, a, b), M.mcnemar_test(y, b, a)
    assert (ab.n01, ab.n10) == (ba.n10, ba.n01)
    assert ab.p_value == pytest.approx(ba.p_value)
    same = M.mcnemar_test(y, a, a)
    assert same == M.McNemarResult(0, 0, 0.0, 1.0, "exact")


def test_mcnemar_rejects_bad_input():
    with pytest.raises(ValueError, match="different lengths: 3, 3, 2"):
        M.mcnemar_test([0, 1, 2], [0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="pred_b is empty"):
        M.mcnemar_test([0], [0], [])


# ----------------------------------------------------------------------------- mean ± std
def test_mean_std_matches_numpy_ddof1():
    values = [0.9852, 0.9857, 0.9848, 0.9861, 0.9850]
    mean, std = M.mean_std(values)
    assert mean == pytest.approx(np.mean(values))
    assert std == pytest.approx(np.std(values, ddof=1))
    assert std != pytest.approx(np.std(values, ddof=0))
    assert isinstance(mean, float) and isinstance(std, float)
    assert M.mean_std([0.5]) == (0.5, 0.0)


@pytest.mark.parametrize(
    ("values", "match"),
    [([], "values is empty"), ([0.9, np.nan], "NaN or inf"), ([[0.9, 0.8]], "must be 1-D")],
)
def test_mean_std_rejects_bad_input(values, match):
    with pytest.raises(ValueError, match=match):
        M.mean_std(values)


def test_format_mean_std():
    # mean 0.985, std sqrt(0.00005) = 0.0070711 -> percent
    assert M.format_mean_std([0.98, 0.99]) == "98.50 ± 0.71"
    assert M.format_mean_std([12.0, 14.0], scale=1, digits=1) == "13.0 ± 1.4"
    assert M.format_mean_std([0.9852]) == "98.52 ± 0.00"
    with pytest.raises(ValueError, match="digits"):
        M.format_mean_std([0.9], digits=-1)
