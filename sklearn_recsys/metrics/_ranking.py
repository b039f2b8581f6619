"""Ranking metrics at k over recommendation lists.

Every metric takes ``y_true`` and ``y_rec``:

* ``y_true``: the relevant item(s) of each row. A 1-D array of ids means one
  relevant item per row (next-item prediction); a sequence of collections
  (lists, sets, arrays) means several relevant items per row.
* ``y_rec``: ``(n_rows, >= k)`` array of recommended ids, best first, as
  returned by ``recommend``. Rows must have equal length and must not repeat
  an item within their first ``k`` entries (a repeat would count as several
  hits); both raise a ``ValueError`` naming the row.

Metrics are averaged over rows. A relevant item that is not in the list, or
that the model does not even know, simply scores 0 for that row.
"""

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import validate_params

from ..utils._param_validation import NumberInterval

__all__ = [
    "average_precision_at_k",
    "catalog_coverage",
    "hit_rate_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
]


_METRIC_CONSTRAINTS = {
    "y_true": ["array-like"],
    "y_rec": ["array-like"],
    "k": [NumberInterval(Integral, 1, None, closed="left")],
}


def _is_multi(y_true):
    if isinstance(y_true, np.ndarray):
        return y_true.dtype == object and len(y_true) and not np.isscalar(y_true[0]) and isinstance(y_true[0], (list, tuple, set, frozenset, np.ndarray))
    first = next(iter(y_true), None)
    return isinstance(first, (list, tuple, set, frozenset, np.ndarray, pd.Series))


def _as_lists(y_rec):
    """``y_rec`` as a 2-D array; ragged lists raise naming the first odd row."""
    if isinstance(y_rec, np.ndarray):
        return y_rec
    if hasattr(y_rec, "to_numpy"):
        return y_rec.to_numpy()
    rows = list(y_rec)
    lengths = [len(r) if isinstance(r, (list, tuple, np.ndarray, pd.Series)) else None for r in rows]
    if rows and all(n is not None for n in lengths) and len(set(lengths)) > 1:
        r = next(i for i, n in enumerate(lengths) if n != lengths[0])
        raise ValueError(
            f"y_rec must hold lists of equal length (n_rows, k); row 0 has "
            f"{lengths[0]} items but row {r} has {lengths[r]}. Recommend the same "
            "number of items for every row (recommend() always does)."
        )
    return np.asarray(rows)


def _check_no_repeats(rec):
    """A recommendation list names each item at most once (else hits count twice)."""
    if rec.shape[1] < 2 or not len(rec):
        return
    try:
        srt = np.sort(rec, axis=1)
        dup_rows = np.flatnonzero((srt[:, 1:] == srt[:, :-1]).any(axis=1))
    except TypeError:  # mixed kinds of ids in an object array
        dup_rows = [i for i, row in enumerate(rec.tolist()) if len(set(row)) < len(row)]
    if len(dup_rows):
        i = int(dup_rows[0])
        row = rec[i].tolist()
        item = next(v for j, v in enumerate(row) if v in row[:j])
        raise ValueError(
            f"y_rec must list each item at most once per row; row {i} repeats item "
            f"{item!r} ({len(dup_rows)} row(s) with repeats in the top k). A repeated "
            "item would count as several hits."
        )


def _hits(y_true, y_rec, k):
    """Boolean ``(n, k)`` hit matrix and the number of relevant items per row."""
    if isinstance(y_true, (pd.Series, pd.Index)):
        y_true = y_true.to_numpy()
    rec = _as_lists(y_rec)
    if rec.ndim != 2:
        raise ValueError(
            f"y_rec must be a 2-D array of recommended item ids (n_rows, k); got shape {rec.shape}."
        )
    if rec.shape[1] < k:
        raise ValueError(
            f"y_rec has {rec.shape[1]} recommendations per row, fewer than k={k}."
        )
    rec = rec[:, :k]
    _check_no_repeats(rec)
    n = len(y_true)
    if n != rec.shape[0]:
        raise ValueError(
            f"y_true has {n} rows but y_rec has {rec.shape[0]}; they must match."
        )
    if n == 0:
        raise ValueError("y_true is empty; at least one row is required.")
    if not _is_multi(y_true):
        truth = np.asarray(y_true)
        if truth.ndim != 1:
            raise ValueError(
                f"y_true must be 1-D (one relevant item per row) or a sequence of "
                f"collections; got shape {truth.shape}."
            )
        missing = pd.isna(truth) if truth.dtype.kind in "fO" else np.zeros(n, bool)
        if missing.any():
            raise ValueError(
                f"y_true holds a missing value (None/NaN) at row {int(np.flatnonzero(missing)[0])} "
                f"({int(missing.sum())} in all); every row needs its relevant item id."
            )
        if truth.dtype.kind in "iu" and rec.dtype.kind in "iu":
            hits = rec == truth[:, None]
        else:
            hits = np.array([[r == t for r in row] for t, row in zip(truth.tolist(), rec.tolist())], dtype=bool).reshape(n, k)
        return hits, np.ones(n, dtype=np.int64)
    hits = np.zeros((n, k), dtype=bool)
    n_rel = np.empty(n, dtype=np.int64)
    for i, (rel, row) in enumerate(zip(y_true, rec.tolist())):
        rel = set(np.asarray(rel).tolist()) if isinstance(rel, np.ndarray) else set(rel)
        if any(v is None or (isinstance(v, float) and v != v) for v in rel):
            raise ValueError(f"Row {i} of y_true holds a missing value (None/NaN) among its relevant items.")
        if not rel:
            raise ValueError(
                f"Row {i} of y_true has no relevant item; drop such rows before scoring."
            )
        n_rel[i] = len(rel)
        hits[i] = [r in rel for r in row]
    return hits, n_rel


@validate_params(_METRIC_CONSTRAINTS, prefer_skip_nested_validation=True)
def hit_rate_at_k(y_true, y_rec, *, k=10):
    """Share of rows with at least one relevant item in the top ``k``.

    Parameters
    ----------
    y_true : array-like of shape (n_rows,) or sequence of collections
        Relevant item(s) per row.
    y_rec : array-like of shape (n_rows, >= k)
        Recommended item ids, best first.
    k : int, default=10
        List length.

    Returns
    -------
    score : float

    Examples
    --------
    >>> hit_rate_at_k([1, 2], [[1, 3], [3, 4]], k=2)
    0.5
    """
    hits, _ = _hits(y_true, y_rec, k)
    return float(hits.any(axis=1).mean())


@validate_params(_METRIC_CONSTRAINTS, prefer_skip_nested_validation=True)
def recall_at_k(y_true, y_rec, *, k=10):
    """Share of each row's relevant items found in the top ``k``, averaged.

    The denominator is the number of relevant items of the row (not capped at
    ``k``). With one relevant item per row it equals :func:`hit_rate_at_k`.

    Parameters
    ----------
    y_true : array-like of shape (n_rows,) or sequence of collections
        Relevant item(s) per row.
    y_rec : array-like of shape (n_rows, >= k)
        Recommended item ids, best first.
    k : int, default=10
        List length.

    Returns
    -------
    score : float

    Examples
    --------
    >>> recall_at_k([[1, 2], [5]], [[1, 3], [5, 4]], k=2)
    0.75
    """
    hits, n_rel = _hits(y_true, y_rec, k)
    return float((hits.sum(axis=1) / n_rel).mean())


@validate_params(_METRIC_CONSTRAINTS, prefer_skip_nested_validation=True)
def precision_at_k(y_true, y_rec, *, k=10):
    """Share of the top ``k`` that is relevant, averaged over rows.

    Parameters
    ----------
    y_true : array-like of shape (n_rows,) or sequence of collections
        Relevant item(s) per row.
    y_rec : array-like of shape (n_rows, >= k)
        Recommended item ids, best first.
    k : int, default=10
        List length.

    Returns
    -------
    score : float

    Examples
    --------
    >>> precision_at_k([[1, 2], [5]], [[1, 2], [4, 3]], k=2)
    0.5
    """
    hits, _ = _hits(y_true, y_rec, k)
    return float(hits.sum(axis=1).mean() / k)


def _discounts(k):
    return 1.0 / np.log2(np.arange(2, k + 2))


@validate_params(_METRIC_CONSTRAINTS, prefer_skip_nested_validation=True)
def ndcg_at_k(y_true, y_rec, *, k=10):
    """Normalised discounted cumulative gain at ``k`` with binary relevance.

    ``DCG = sum(1 / log2(rank + 1))`` over the relevant items in the list
    (rank from 1), divided by the ideal DCG of ``min(n_relevant, k)`` hits.
    With one relevant item per row, a hit at rank ``r`` scores
    ``1 / log2(r + 1)``. Equal to :func:`sklearn.metrics.ndcg_score` on the
    corresponding score matrix when the list holds every scored item.

    Parameters
    ----------
    y_true : array-like of shape (n_rows,) or sequence of collections
        Relevant item(s) per row.
    y_rec : array-like of shape (n_rows, >= k)
        Recommended item ids, best first.
    k : int, default=10
        List length.

    Returns
    -------
    score : float

    Examples
    --------
    >>> round(ndcg_at_k([3], [[1, 2, 3]], k=3), 4)
    0.5
    """
    hits, n_rel = _hits(y_true, y_rec, k)
    disc = _discounts(k)
    dcg = hits @ disc
    ideal = np.cumsum(disc)[np.minimum(n_rel, k) - 1]
    return float((dcg / ideal).mean())


@validate_params(_METRIC_CONSTRAINTS, prefer_skip_nested_validation=True)
def mrr_at_k(y_true, y_rec, *, k=10):
    """Mean reciprocal rank of the first relevant item in the top ``k``.

    Parameters
    ----------
    y_true : array-like of shape (n_rows,) or sequence of collections
        Relevant item(s) per row.
    y_rec : array-like of shape (n_rows, >= k)
        Recommended item ids, best first.
    k : int, default=10
        List length.

    Returns
    -------
    score : float

    Examples
    --------
    >>> mrr_at_k([2, 9], [[1, 2], [3, 4]], k=2)
    0.25
    """
    hits, _ = _hits(y_true, y_rec, k)
    first = hits.argmax(axis=1)
    rr = np.where(hits.any(axis=1), 1.0 / (first + 1), 0.0)
    return float(rr.mean())


@validate_params(_METRIC_CONSTRAINTS, prefer_skip_nested_validation=True)
def average_precision_at_k(y_true, y_rec, *, k=10):
    """Mean average precision at ``k`` (MAP@k).

    Per row: the sum of precision@i at each rank i holding a relevant item,
    divided by ``min(n_relevant, k)``.

    Parameters
    ----------
    y_true : array-like of shape (n_rows,) or sequence of collections
        Relevant item(s) per row.
    y_rec : array-like of shape (n_rows, >= k)
        Recommended item ids, best first.
    k : int, default=10
        List length.

    Returns
    -------
    score : float

    Examples
    --------
    >>> average_precision_at_k([[1, 3]], [[1, 2, 3]], k=3)  # (1/1 + 2/3) / 2
    0.833...
    """
    hits, n_rel = _hits(y_true, y_rec, k)
    cum = np.cumsum(hits, axis=1)
    prec = cum / np.arange(1, k + 1)
    ap = (prec * hits).sum(axis=1) / np.minimum(n_rel, k)
    return float(ap.mean())


@validate_params(
    {
        "y_rec": ["array-like"],
        "items": [NumberInterval(Integral, 1, None, closed="left"), "array-like"],
        "k": [NumberInterval(Integral, 1, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
def catalog_coverage(y_rec, items, *, k=None):
    """Share of the catalogue that appears in at least one list.

    Parameters
    ----------
    y_rec : array-like of shape (n_rows, n_recommended)
        Recommended item ids.
    items : int or array-like
        The catalogue: its size (at least 1) or its item ids.
    k : int or None, default=None
        Only count the first ``k`` columns when given.

    Examples
    --------
    >>> catalog_coverage([[1, 2], [2, 3]], items=[1, 2, 3, 4])
    0.75
    """
    rec = _as_lists(y_rec)
    if rec.ndim != 2:
        raise ValueError(f"y_rec must be 2-D; got shape {rec.shape}.")
    if k is not None:
        rec = rec[:, :k]
    if isinstance(items, Integral):
        n_items = int(items)
        shown = len(pd.unique(rec.ravel()))
    else:
        items = pd.Index(pd.unique(np.asarray(items, dtype=object if not hasattr(items, "dtype") else None)))
        n_items = len(items)
        shown = int((pd.Index(pd.unique(rec.ravel())).isin(items)).sum())
    if n_items <= 0:
        raise ValueError(f"items must describe a non-empty catalogue; got {n_items} items.")
    return shown / n_items
