"""Tests for common.metrics: hand-computed values on tiny examples, the macro-average convention
against scikit-learn, McNemar against an independent computation (math.comb and erfc)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.metrics import precision_recall_fscore_support

from common import metrics as M

# Tiny 3-class example with unequal supports (4, 2, 1), worked out by hand:
#   class 0: predicted at idx 0, 1, 2, 6 -> TP 3, FP 1, FN 1 -> P 3/4, R 3/4, F1 3/4
#   class 1: predicted at idx 3, 4, 5    -> TP 2, FP 1, FN 0 -> P 2/3, R 1,   F1 4/5
#   class 2: never predicted             -> TP 0, FP 0, FN 1 -> P 0/0 := 0, R 0, F1 0
Y_TRUE = [0, 0, 0, 0, 1, 1, 2]
Y_PRED = [0, 0, 0, 1, 1, 1, 0]
LABELS = [0, 1, 2]
PRECISION = [3 / 4, 2 / 3, 0.0]
RECALL = [3 / 4, 1.0, 0.0]
F1 = [3 / 4, 4 / 5, 0.0]
SUPPORT = [4, 2, 1]


# ----------------------------------------------------------------------------- accuracy
def test_accuracy_hand_computed():
    assert M.accuracy([0, 1, 2, 3], [0, 1, 2, 0]) == 0.75
    assert M.accuracy(Y_TRUE, Y_PRED) == pytest.approx(5 / 7)
    assert M.accuracy(np.array([7]), np.array([7])) == 1.0
    assert M.accuracy(["cat", "dog"], ["cat", "cat"]) == 0.5
    assert type(M.accuracy([1], [2])) is float


@pytest.mark.parametrize(
    ("y_true", "y_pred", "message"),
    [
        ([0, 1, 2], [0, 1], "y_true, y_pred have different lengths: [3, 2]"),
        ([], [], "y_true is empty"),
        ([0], [], "y_pred is empty"),
        (
            [0, 1],
            np.eye(2, dtype=int),
            "y_pred must be a 1-D array of integer class labels, got int64 of shape (2, 2) "
            "(class probabilities? take argmax over the class axis)",
        ),
        (
            [0.0, 1.0],
            [0, 1],
            "y_true must be a 1-D array of integer class labels, got float64 of shape (2,) "
            "(class probabilities? take argmax over the class axis)",
        ),
    ],
)
def test_accuracy_rejects_bad_input(y_true, y_pred, message):
    with pytest.raises(ValueError) as err:
        M.accuracy(y_true, y_pred)
    assert str(err.value) == message


# ----------------------------------------------------------------------------- per class
@pytest.mark.filterwarnings("error")  # class 2 is never predicted: 0/0 precision, no warning
def test_per_class_metrics_hand_computed():
    df = M.per_class_metrics(Y_TRUE, Y_PRED, labels=LABELS)
    assert list(df.columns) == ["precision", "recall", "f1", "support"]
    assert df.index.name == "class" and list(df.index) == LABELS
    np.testing.assert_allclose(df["precision"], PRECISION)
    np.testing.assert_allclose(df["recall"], RECALL)
    np.testing.assert_allclose(df["f1"], F1)
    assert df["support"].tolist() == SUPPORT


def test_per_class_metrics_follow_the_order_of_labels():
    df = M.per_class_metrics(Y_TRUE, Y_PRED, labels=[2, 0, 1])
    assert list(df.index) == [2, 0, 1]
    np.testing.assert_allclose(df["recall"], [RECALL[2], RECALL[0], RECALL[1]])


def test_per_class_metrics_default_labels_are_the_ten_digits_absent_ones_zero():
    df = M.per_class_metrics(Y_TRUE, Y_PRED)
    assert list(df.index) == list(range(10))
    assert df.loc[3:].to_numpy().tolist() == [[0.0, 0.0, 0.0, 0]] * 7


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: M.per_class_metrics([0, 1], [0, 7], labels=[0, 1]), "y_pred contains labels outside [0, 1]: [7]"),
        (lambda: M.confusion_matrix([10, 1, 11], [0, 1, 2]), f"y_true contains labels outside {list(range(10))}: [10, 11]"),
        (lambda: M.per_class_metrics([0, 1], [0, 1], labels=[0, 1, 1]), "labels contains duplicates: [0, 1, 1]"),
        (lambda: M.classification_summary([0, 1], [0, 1], labels=[]), "labels must be a non-empty 1-D sequence"),
        (lambda: M.per_class_metrics([0, 1], [0, 1], labels=[[0, 1]]), "labels must be a non-empty 1-D sequence"),
    ],
)  # fmt: skip
def test_labels_are_checked(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message


# ----------------------------------------------------------------------------- summary
def test_classification_summary_values_and_json():
    s = M.classification_summary(Y_TRUE, Y_PRED, labels=LABELS)
    assert s["accuracy"] == pytest.approx(5 / 7)
    assert list(s["per_class"]) == ["precision", "recall", "f1", "support"]
    for key, expected in [("precision", PRECISION), ("recall", RECALL), ("f1", F1)]:
        assert s["per_class"][key] == pytest.approx(expected)
    assert s["per_class"]["support"] == SUPPORT
    assert s["labels"] == LABELS and s["n_samples"] == 7
    # strict JSON round trip (no numpy scalars, no NaN)
    assert json.loads(json.dumps(s, allow_nan=False)) == s


def test_summary_averages_are_macro_not_weighted():
    """Unequal supports (4, 2, 1): each class counts the same, whatever its support."""
    s = M.classification_summary(Y_TRUE, Y_PRED, labels=LABELS)
    for key, per_class in [("precision", PRECISION), ("recall", RECALL), ("f1", F1)]:
        assert s[f"macro_{key}"] == pytest.approx(sum(per_class) / 3)
        weighted = np.average(per_class, weights=SUPPORT)
        assert abs(s[f"macro_{key}"] - weighted) > 0.1
    macro = precision_recall_fscore_support(Y_TRUE, Y_PRED, average="macro", zero_division=0)
    assert [s["macro_precision"], s["macro_recall"], s["macro_f1"]] == pytest.approx(macro[:3])


def test_macro_averages_count_absent_classes_as_zero():
    """The documented convention: mean over all `labels`, 0/0 := 0 (scikit-learn's
    zero_division=0 with labels given), unlike scikit-learn's default labels=None."""
    s = M.classification_summary(Y_TRUE, Y_PRED)  # ten digits, seven of them absent
    assert s["macro_f1"] == pytest.approx(sum(F1) / 10)
    ours = [s["macro_precision"], s["macro_recall"], s["macro_f1"]]
    same = precision_recall_fscore_support(
        Y_TRUE, Y_PRED, labels=range(10), average="macro", zero_division=0
    )
    assert ours == pytest.approx(same[:3])
    for kwargs in [{"zero_division": 0}, {"labels": range(10), "zero_division": np.nan}]:
        other = precision_recall_fscore_support(Y_TRUE, Y_PRED, average="macro", **kwargs)
        assert all(o > m + 0.05 for o, m in zip(other[:3], ours, strict=True))


# ----------------------------------------------------------------------------- confusion matrix
def test_confusion_matrix_counts_and_normalised():
    expected = np.array([[3, 1, 0], [0, 2, 0], [1, 0, 0]])
    cm = M.confusion_matrix(Y_TRUE, Y_PRED, labels=LABELS)
    np.testing.assert_array_equal(cm, expected)
    np.testing.assert_allclose(
        M.confusion_matrix(Y_TRUE, Y_PRED, labels=LABELS, normalize="true"),
        expected / np.array(SUPPORT)[:, None],
    )
    full = M.confusion_matrix(Y_TRUE, Y_PRED)
    assert full.shape == (10, 10) and full.sum() == 7
    with pytest.raises(ValueError, match="normalize"):
        M.confusion_matrix(Y_TRUE, Y_PRED, normalize="rows")


# ----------------------------------------------------------------------------- McNemar
def reference_p_value(n01: int, n10: int) -> float:
    """McNemar's p-value computed independently of scipy: exact binomial sums with math.comb
    below 25 discordant pairs, else the chi2(1) tail erfc(sqrt(x / 2)) of the corrected x."""
    n = n01 + n10
    if n < 25:
        tail = sum(math.comb(n, i) for i in range(min(n01, n10) + 1)) / 2**n
        return min(1.0, 2 * tail)
    x = (abs(n01 - n10) - 1) ** 2 / n
    return math.erfc(math.sqrt(x / 2))


def make_pairs(n01: int, n10: int, n_both_right: int = 30, n_both_wrong: int = 5, seed=0):
    """Shuffled y_true, pred_a, pred_b over ten classes with exactly n01 (A wrong, B right)
    and n10 (A right, B wrong) discordant samples; some both-wrong samples disagree."""
    rng = np.random.default_rng(seed)
    n = n01 + n10 + n_both_right + n_both_wrong
    y = rng.integers(0, 10, n)
    wrong = (y + rng.integers(1, 10, n)) % 10  # any other class
    other_wrong = (wrong + 1) % 10
    other_wrong[other_wrong == y] = (other_wrong[other_wrong == y] + 1) % 10  # not y, not wrong
    a, b = y.copy(), y.copy()
    a[:n01] = wrong[:n01]
    b[n01 : n01 + n10] = wrong[n01 : n01 + n10]
    tail = slice(n01 + n10 + n_both_right, n)
    a[tail], b[tail] = wrong[tail], other_wrong[tail]
    order = rng.permutation(n)
    return y[order], a[order], b[order]


@pytest.mark.parametrize(
    ("n01", "n10"), [(3, 9), (0, 5), (7, 7), (1, 0), (12, 12), (10, 14), (0, 24)]
)
def test_mcnemar_exact_matches_independent_computation(n01, n10):
    res = M.mcnemar_test(*make_pairs(n01, n10))
    assert (res.n01, res.n10, res.method) == (n01, n10, "exact")
    assert res.statistic == min(n01, n10)
    assert res.p_value == pytest.approx(reference_p_value(n01, n10), rel=1e-9)


@pytest.mark.parametrize(("n01", "n10"), [(10, 15), (10, 30), (13, 12), (40, 55), (20, 20)])
def test_mcnemar_chi2_matches_independent_computation(n01, n10):
    res = M.mcnemar_test(*make_pairs(n01, n10))
    assert (res.n01, res.n10, res.method) == (n01, n10, "chi2")
    assert res.statistic == pytest.approx((abs(n01 - n10) - 1) ** 2 / (n01 + n10), rel=1e-12)
    assert res.p_value == pytest.approx(reference_p_value(n01, n10), rel=1e-9)


def test_mcnemar_hand_computed_values():
    assert M.mcnemar_test(*make_pairs(0, 5)).p_value == pytest.approx(0.0625)  # 2 * 0.5**5
    assert M.mcnemar_test(*make_pairs(10, 30)).statistic == pytest.approx(9.025)  # 19**2 / 40
    assert M.mcnemar_test(*make_pairs(10, 30)).p_value == pytest.approx(0.0026631, rel=1e-4)


def test_mcnemar_swapping_the_models_swaps_the_counts():
    y, a, b = make_pairs(4, 11)
    ab, ba = M.mcnemar_test(y, a, b), M.mcnemar_test(y, b, a)
    assert (ab.n01, ab.n10) == (ba.n10, ba.n01) == (4, 11)
    assert ab.p_value == ba.p_value
    assert M.mcnemar_test(y, a, a) == M.McNemarResult(0, 0, 0.0, 1.0, "exact")
    assert M.mcnemar_test(y, a, a.copy()).p_value == 1.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([0, 1, 2], [0, 1, 2], [0, 1]), "y_true, pred_a, pred_b have different lengths: [3, 3, 2]"),
        (([0], [0, 1], [0, 1, 2]), "y_true, pred_a, pred_b have different lengths: [1, 2, 3]"),
        (([0, 1], [0, 1], [0.9, 0.2]), "pred_b must be a 1-D array of integer class labels, got float64 of shape (2,) (class probabilities? take argmax over the class axis)"),
        (([0, 1], np.full((2, 10), 0.1), [0, 1]), "pred_a must be a 1-D array of integer class labels, got float64 of shape (2, 10) (class probabilities? take argmax over the class axis)"),
        (([0, 1], [0, 10], [0, 1]), f"pred_a contains labels outside {list(range(10))}: [10]"),
        (([0, -1], [0, 1], [0, 1]), f"y_true contains labels outside {list(range(10))}: [-1]"),
        (([0, 1], [0, 1], [3, 1], [0, 1]), "pred_b contains labels outside [0, 1]: [3]"),
    ],
)  # fmt: skip
def test_mcnemar_refuses_probabilities_and_labels_out_of_range(args, message):
    with pytest.raises(ValueError) as err:
        M.mcnemar_test(*args)
    assert str(err.value) == message


def test_mcnemar_accepts_other_label_sets():
    res = M.mcnemar_test([10, 11, 11], [10, 11, 10], [10, 10, 11], labels=range(12))
    assert (res.n01, res.n10) == (1, 1)


# ----------------------------------------------------------------------------- mean ± std
def test_mean_std_hand_computed_ddof1():
    mean, std = M.mean_std([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5
    assert std == pytest.approx(math.sqrt(5 / 3))  # squared deviations 5, over n - 1 = 3
    assert type(mean) is float and type(std) is float
    assert M.mean_std([0.5]) == (0.5, 0.0)
    assert M.mean_std(np.array([0.9, 0.9])) == (0.9, 0.0)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([], "values is empty"),
        ([[0.9, 0.8]], "values must be 1-D, got shape (1, 2)"),
        ([0.9, np.nan], "values contains NaN or inf: [0.9, nan]"),
        ([0.9, np.inf], "values contains NaN or inf: [0.9, inf]"),
        ([0.9, None], "values contains NaN or inf: [0.9, nan]"),  # a missing run (JSON null)
    ],
)
def test_mean_std_rejects_bad_input(values, message):
    with pytest.raises(ValueError) as err:
        M.mean_std(values)
    assert str(err.value) == message


def test_format_mean_std():
    # mean 0.985, std sqrt(0.00005) = 0.0070711 -> percent
    assert M.format_mean_std([0.98, 0.99]) == "98.50 ± 0.71"
    assert M.format_mean_std([12.0, 14.0], scale=1, digits=1) == "13.0 ± 1.4"
    assert M.format_mean_std([0.9852]) == "98.52 ± 0.00"
    assert M.format_mean_std([0.5, 0.75], digits=3) == "62.500 ± 17.678"
