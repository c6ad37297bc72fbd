"""Classification metrics shared by both notebooks (scikit-learn and scipy do the computing).

Each public function checks its inputs once (``ValueError`` naming the problem). Labels are
integers or strings; floats are refused, being usually class probabilities (take ``argmax``).
``labels`` (default ``range(10)``, the digits) lists the classes; every label must be one of them.

A ratio whose denominator is 0 (the precision of a class never predicted, the recall of a class
absent from ``y_true``) counts as 0, and macro averages are the plain mean over *all* ``labels``:
a class absent from the data pulls them down. This is scikit-learn's
``precision_recall_fscore_support(..., labels=labels, average="macro", zero_division=0)``; its
default (``labels=None``) averages only over the classes that occur, and ``zero_division=np.nan``
leaves undefined ratios out: on data missing some classes both give higher macro scores.
"""

from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats
from sklearn import metrics as skm

DIGITS = range(10)
#: Below this many discordant pairs (n01 + n10) McNemar's test uses the exact binomial test.
EXACT_THRESHOLD = 25


def _check(labels: Iterable[Any] | None = None, **arrays: ArrayLike) -> list[np.ndarray]:
    """The named arrays as 1-D label vectors of one length, then ``labels`` if given."""
    arrays = {name: np.asarray(y) for name, y in arrays.items()}
    for name, y in arrays.items():
        if y.size == 0:
            raise ValueError(f"{name} is empty")
        if y.ndim != 1 or y.dtype.kind == "f":
            raise ValueError(
                f"{name} must be a 1-D array of integer class labels, got {y.dtype} of shape "
                f"{y.shape} (class probabilities? take argmax over the class axis)"
            )
    lengths = [len(y) for y in arrays.values()]
    if len(set(lengths)) > 1:
        raise ValueError(f"{', '.join(arrays)} have different lengths: {lengths}")
    if labels is None:
        return list(arrays.values())
    lab = np.asarray(list(labels))
    if lab.ndim != 1 or lab.size == 0:
        raise ValueError("labels must be a non-empty 1-D sequence")
    if np.unique(lab).size != lab.size:
        raise ValueError(f"labels contains duplicates: {lab.tolist()}")
    for name, y in arrays.items():
        outside = np.setdiff1d(y, lab)
        if outside.size:
            raise ValueError(f"{name} contains labels outside {lab.tolist()}: {outside.tolist()}")
    return [*arrays.values(), lab]


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of predictions equal to the true label, a float in [0, 1]."""
    t, p = _check(y_true=y_true, y_pred=y_pred)
    return float(np.mean(t == p))


def per_class_metrics(
    y_true: ArrayLike, y_pred: ArrayLike, labels: Iterable = DIGITS
) -> pd.DataFrame:
    """Precision, recall, F1 (0/0 counts as 0) and support of each class: a DataFrame with one
    row per class, indexed by ``class`` in the order of ``labels``."""
    t, p, lab = _check(labels, y_true=y_true, y_pred=y_pred)
    prfs = skm.precision_recall_fscore_support(t, p, labels=lab, zero_division=0)
    columns = {"precision": prfs[0], "recall": prfs[1], "f1": prfs[2], "support": prfs[3]}
    return pd.DataFrame(columns, index=pd.Index(lab, name="class"))


def classification_summary(
    y_true: ArrayLike, y_pred: ArrayLike, labels: Iterable = DIGITS
) -> dict[str, Any]:
    """JSON-able dict: ``accuracy``; ``macro_precision``, ``macro_recall``, ``macro_f1`` (plain
    means over all ``labels``, whatever their support); ``per_class`` (``{"precision": [...],
    "recall": ..., "f1": ..., "support": ...}``), ``labels`` and ``n_samples``."""
    df = per_class_metrics(y_true, y_pred, labels)
    scores = ["precision", "recall", "f1"]
    return {
        "accuracy": accuracy(y_true, y_pred),
        **{f"macro_{s}": float(df[s].mean()) for s in scores},
        "per_class": {c: df[c].tolist() for c in [*scores, "support"]},
        "labels": df.index.tolist(),
        "n_samples": int(df["support"].sum()),
    }


def confusion_matrix(
    y_true: ArrayLike, y_pred: ArrayLike, labels: Iterable = DIGITS, normalize: str | None = None
) -> np.ndarray:
    """Confusion matrix, rows = true class, columns = predicted class. ``normalize``: None
    (counts), "true" (rows sum to 1: the diagonal is the recall; absent classes' rows stay 0),
    "pred" (columns) or "all"."""
    t, p, lab = _check(labels, y_true=y_true, y_pred=y_pred)
    return skm.confusion_matrix(t, p, labels=lab, normalize=normalize)


class McNemarResult(NamedTuple):
    """Result of :func:`mcnemar_test`."""

    n01: int  # model A wrong, model B right
    n10: int  # model A right, model B wrong
    statistic: float  # chi-squared value, or min(n01, n10) for the exact test
    p_value: float
    method: str  # "exact" or "chi2"


def mcnemar_test(
    y_true: ArrayLike, pred_a: ArrayLike, pred_b: ArrayLike, labels: Iterable = DIGITS
) -> McNemarResult:
    """McNemar's test: do two classifiers have the same error rate on the same test set?

    Only discordant samples matter: ``n01`` (A wrong, B right) and ``n10`` (A right, B wrong);
    under the null hypothesis each is equally likely. With ``n01 + n10 < 25`` the p-value is
    the exact two-sided binomial test (p = 0.5; 1.0 when there is no discordant pair);
    otherwise the chi-squared test with 1 degree of freedom of Edwards' continuity-corrected
    statistic ``(|n01 - n10| - 1)**2 / (n01 + n10)``. Predictions are labels, not probabilities.
    """
    t, a, b, _ = _check(labels, y_true=y_true, pred_a=pred_a, pred_b=pred_b)
    n01 = int(np.sum((a != t) & (b == t)))
    n10 = int(np.sum((a == t) & (b != t)))
    n = n01 + n10
    if n == 0:
        return McNemarResult(0, 0, 0.0, 1.0, "exact")
    if n < EXACT_THRESHOLD:
        k = min(n01, n10)
        return McNemarResult(n01, n10, float(k), float(stats.binomtest(k, n).pvalue), "exact")
    statistic = (abs(n01 - n10) - 1) ** 2 / n
    return McNemarResult(n01, n10, statistic, float(stats.chi2.sf(statistic, df=1)), "chi2")


def mean_std(values: ArrayLike) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0.0 for one value) of repeated runs."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        raise ValueError("values is empty")
    if v.ndim != 1:
        raise ValueError(f"values must be 1-D, got shape {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError(f"values contains NaN or inf: {v.tolist()}")
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def format_mean_std(values: ArrayLike, scale: float = 100.0, digits: int = 2) -> str:
    """``"mean ± std"`` of :func:`mean_std` times ``scale``, e.g. ``"98.52 ± 0.05"`` for fractions."""
    mean, std = mean_std(values)
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"
