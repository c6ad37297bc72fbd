"""Classification metrics shared by both notebooks.

Thin, validated wrappers around scikit-learn (precision, recall, F1, confusion matrix) and
scipy.stats (McNemar's test), plus helpers to summarise repeated runs as mean ± std.
Every function checks its inputs and raises ``ValueError`` with a message naming the problem.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats
from sklearn import metrics as skm

__all__ = [
    "McNemarResult",
    "accuracy",
    "classification_summary",
    "confusion_matrix",
    "format_mean_std",
    "mcnemar_test",
    "mean_std",
    "per_class_metrics",
]

#: Below this many discordant pairs (n01 + n10) McNemar's test uses the exact binomial test.
EXACT_THRESHOLD = 25


# ----------------------------------------------------------------------------- validation
def _as_label_vector(y: ArrayLike, name: str) -> np.ndarray:
    """Return ``y`` as a non-empty 1-D array, or raise ``ValueError``."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        hint = " (class probabilities? take argmax over axis 1 first)" if arr.ndim == 2 else ""
        raise ValueError(f"{name} must be a 1-D array of class labels, got shape {arr.shape}{hint}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    return arr


def _check_pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (y_true, y_pred) pair: 1-D, non-empty, same length."""
    t = _as_label_vector(y_true, "y_true")
    p = _as_label_vector(y_pred, "y_pred")
    if t.shape[0] != p.shape[0]:
        raise ValueError(f"y_true and y_pred have different lengths: {t.shape[0]} != {p.shape[0]}")
    return t, p


def _check_labels(labels: Iterable[Any], *arrays: tuple[str, np.ndarray]) -> np.ndarray:
    """Validate ``labels`` (non-empty, unique) and that every array only uses those labels."""
    lab = np.asarray(list(labels))
    if lab.ndim != 1 or lab.size == 0:
        raise ValueError("labels must be a non-empty 1-D sequence")
    if np.unique(lab).size != lab.size:
        raise ValueError(f"labels contains duplicates: {lab.tolist()}")
    for name, arr in arrays:
        outside = np.setdiff1d(np.unique(arr), lab)
        if outside.size:
            shown = outside[:10].tolist()
            raise ValueError(
                f"{name} contains labels outside labels={lab.tolist()}: {shown}"
                + (" ..." if outside.size > 10 else "")
            )
    return lab


# ----------------------------------------------------------------------------- metrics
def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of predictions equal to the true label.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        True and predicted class labels.

    Returns
    -------
    float
        Accuracy in [0, 1].
    """
    t, p = _check_pair(y_true, y_pred)
    return float(skm.accuracy_score(t, p))


def per_class_metrics(
    y_true: ArrayLike, y_pred: ArrayLike, labels: Iterable[Any] = range(10)
) -> pd.DataFrame:
    """Precision, recall, F1 and support for each class (scikit-learn).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        True and predicted class labels; every value must be in ``labels``.
    labels : iterable, default ``range(10)``
        Classes to report, in this order.

    Returns
    -------
    pandas.DataFrame
        Index ``class`` (one row per label), columns ``precision``, ``recall``, ``f1``
        (floats) and ``support`` (int). Undefined ratios (class never predicted or absent)
        are reported as 0.0.
    """
    t, p = _check_pair(y_true, y_pred)
    lab = _check_labels(labels, ("y_true", t), ("y_pred", p))
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        t, p, labels=lab, average=None, zero_division=0
    )
    df = pd.DataFrame(
        {
            "precision": precision.astype(float),
            "recall": recall.astype(float),
            "f1": f1.astype(float),
            "support": support.astype(int),
        },
        index=pd.Index(lab, name="class"),
    )
    return df


def classification_summary(
    y_true: ArrayLike, y_pred: ArrayLike, labels: Iterable[Any] = range(10)
) -> dict[str, Any]:
    """JSON-able summary: accuracy, macro-averaged precision/recall/F1 and per-class lists.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        True and predicted class labels; every value must be in ``labels``.
    labels : iterable, default ``range(10)``
        Classes to report; the per-class lists follow this order.

    Returns
    -------
    dict
        ``accuracy``, ``macro_precision``, ``macro_recall``, ``macro_f1`` (floats),
        ``per_class`` ``{"precision": [...], "recall": [...], "f1": [...], "support": [...]}``,
        plus ``labels`` and ``n_samples``. Only built-in Python types, so ``json.dumps`` works.
    """
    t, p = _check_pair(y_true, y_pred)
    lab = _check_labels(labels, ("y_true", t), ("y_pred", p))
    df = per_class_metrics(t, p, labels=lab)
    macro_p, macro_r, macro_f1, _ = skm.precision_recall_fscore_support(
        t, p, labels=lab, average="macro", zero_division=0
    )
    return {
        "accuracy": accuracy(t, p),
        "macro_precision": float(macro_p),
        "macro_recall": float(macro_r),
        "macro_f1": float(macro_f1),
        "per_class": {
            "precision": [float(v) for v in df["precision"]],
            "recall": [float(v) for v in df["recall"]],
            "f1": [float(v) for v in df["f1"]],
            "support": [int(v) for v in df["support"]],
        },
        "labels": lab.tolist(),
        "n_samples": int(t.shape[0]),
    }


def confusion_matrix(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    labels: Iterable[Any] = range(10),
    normalize: str | None = None,
) -> np.ndarray:
    """Confusion matrix (rows = true class, columns = predicted class), via scikit-learn.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        True and predicted class labels; every value must be in ``labels``.
    labels : iterable, default ``range(10)``
        Row/column order.
    normalize : {None, "true", "pred", "all"}, default None
        None gives integer counts; "true" divides each row by its class size (the diagonal is
        then the per-class recall; rows of absent classes are all zero).

    Returns
    -------
    numpy.ndarray of shape (len(labels), len(labels))
    """
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"normalize must be None, 'true', 'pred' or 'all', got {normalize!r}")
    t, p = _check_pair(y_true, y_pred)
    lab = _check_labels(labels, ("y_true", t), ("y_pred", p))
    return skm.confusion_matrix(t, p, labels=lab, normalize=normalize)


# ----------------------------------------------------------------------------- McNemar
class McNemarResult(NamedTuple):
    """Result of :func:`mcnemar_test`.

    ``n01``: samples model A got wrong and model B got right; ``n10``: A right, B wrong.
    ``statistic``: chi-squared value (``method == "chi2"``) or ``min(n01, n10)``, the
    binomial test statistic (``method == "exact"``). ``method`` is ``"exact"`` or ``"chi2"``.
    """

    n01: int
    n10: int
    statistic: float
    p_value: float
    method: str


def mcnemar_test(y_true: ArrayLike, pred_a: ArrayLike, pred_b: ArrayLike) -> McNemarResult:
    """McNemar's test: do two classifiers have the same error rate on the same test set?

    Only discordant samples matter: ``n01`` (A wrong, B right) and ``n10`` (A right, B wrong).
    Under the null hypothesis both are equally likely. When ``n01 + n10 < 25`` the exact
    two-sided binomial test (``scipy.stats.binomtest``, p = 0.5) is used; otherwise the
    chi-squared approximation with Edwards' continuity correction,
    ``(|n01 - n10| - 1)**2 / (n01 + n10)`` with 1 degree of freedom.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True labels.
    pred_a, pred_b : array-like of shape (n,)
        Predictions of model A and model B on the same samples.

    Returns
    -------
    McNemarResult
        ``(n01, n10, statistic, p_value, method)``. With no discordant pairs the
        p-value is 1.0 (method "exact", statistic 0.0).
    """
    t = _as_label_vector(y_true, "y_true")
    a = _as_label_vector(pred_a, "pred_a")
    b = _as_label_vector(pred_b, "pred_b")
    if not (t.shape[0] == a.shape[0] == b.shape[0]):
        raise ValueError(
            "y_true, pred_a and pred_b have different lengths: "
            f"{t.shape[0]}, {a.shape[0]}, {b.shape[0]}"
        )
    a_ok = a == t
    b_ok = b == t
    n01 = int(np.sum(~a_ok & b_ok))
    n10 = int(np.sum(a_ok & ~b_ok))
    n = n01 + n10
    if n < EXACT_THRESHOLD:
        if n == 0:
            return McNemarResult(n01, n10, 0.0, 1.0, "exact")
        res = stats.binomtest(min(n01, n10), n=n, p=0.5, alternative="two-sided")
        return McNemarResult(n01, n10, float(min(n01, n10)), float(res.pvalue), "exact")
    statistic = (abs(n01 - n10) - 1.0) ** 2 / n
    p_value = float(stats.chi2.sf(statistic, df=1))
    return McNemarResult(n01, n10, float(statistic), p_value, "chi2")


# ----------------------------------------------------------------------------- mean ± std
def mean_std(values: ArrayLike) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1) of repeated measurements.

    Parameters
    ----------
    values : array-like of shape (k,)
        E.g. test accuracies of k seeds. Must be finite and non-empty.

    Returns
    -------
    (mean, std) : tuple of float
        ``std`` is 0.0 for a single value.
    """
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"values must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("values is empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"values contains NaN or inf: {arr.tolist()}")
    mean = float(np.mean(arr))
    std = float(np.std(arr, ddof=1)) if arr.size > 1 else 0.0
    return mean, std


def format_mean_std(values: ArrayLike, scale: float = 100.0, digits: int = 2) -> str:
    """Format repeated measurements as ``"mean ± std"``, e.g. ``"98.52 ± 0.05"``.

    Parameters
    ----------
    values : array-like of shape (k,)
        Measurements (e.g. accuracies in [0, 1]).
    scale : float, default 100.0
        Multiplier applied before formatting (100 turns fractions into percent).
    digits : int, default 2
        Decimal places.

    Returns
    -------
    str
    """
    if not isinstance(digits, int) or digits < 0:
        raise ValueError(f"digits must be a non-negative int, got {digits!r}")
    if not math.isfinite(scale):
        raise ValueError(f"scale must be finite, got {scale!r}")
    mean, std = mean_std(values)
    return f"{mean * scale:.{digits}f} ± {std * abs(scale):.{digits}f}"
