"""Cold-item splitting: hold out whole items, as if released after training.

A cold-start test asks: can a model recommend an item it never saw in
training, from its content alone? The held-out items must then appear
nowhere in the training rows -- neither as targets nor inside histories --
or an ID-based model would learn their embeddings from the histories.
"""

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import validate_params

from ..utils._param_validation import validate_own_params
from ..utils._sequences import (
    check_histories,
    check_item_ids,
    flatten_histories,
    history_column,
)
from ._split import _N_SPLITS, _TEST_SIZE, _test_count

__all__ = ["ColdItemSplit", "cold_item_split"]


def _check_test_size(test_size, n_items):
    """Number of items held out; at least one of the ``n_items`` stays."""
    n_test = max(1, _test_count(test_size, n_items))
    if n_test >= n_items:
        raise ValueError(
            f"test_size={test_size!r} holds out {n_test} of the {n_items} distinct "
            "target items; at least one must stay for training."
        )
    return n_test


def _parse(X, y, who):
    """Target ids, flattened history ids and the row of each history entry."""
    if y is None:
        raise ValueError(f"{who} needs y: the target item of each row of X (got None).")
    histories, _ = check_histories(X)
    y_arr = y.to_numpy() if isinstance(y, (pd.Series, pd.Index)) else y
    y_ids, kind = check_item_ids(y_arr, what=f"{who}: y (target item ids)")
    if len(y_ids) != len(histories):
        raise ValueError(f"{who}: X has {len(histories)} rows but y has {len(y_ids)}.")
    indptr, flat = flatten_histories(histories)
    flat_ids, _ = check_item_ids(
        flat, what=f"{who}: item ids in X's histories", kind=kind, kind_of="the targets y"
    )
    return y_ids, flat_ids, indptr


class ColdItemSplit(BaseCrossValidator):
    """Hold out a share of the target items entirely (cold-start evaluation).

    For each split, ``test_size`` of the distinct items of ``y`` are drawn at
    random and held out, as if released after training:

    * test rows: the rows whose target is a held-out item (rank them over
      all items, the catalogue included);
    * training rows: the rows in which no held-out item appears at all --
      neither as target nor anywhere in the history. This is the leak-free
      choice: an ID-based model cannot learn anything about a held-out item.
      Rows that are neither (a history holding a held-out item, a target
      that is not) are left out.

    Long histories make the strict training filter drop many rows; use
    :func:`cold_item_split` with ``strip_history=True`` to keep those rows
    with the held-out items removed from their histories instead (a
    splitter can only select rows, not edit them).

    Splits are independent draws (like ``ShuffleSplit``): an item can be
    held out in several of them. Pass an int ``random_state`` for
    :meth:`split` and :meth:`held_out_items` to agree across calls.

    Parameters
    ----------
    n_splits : int, default=1
        Number of draws.
    test_size : float or int, default=0.1
        Share (float in (0, 1), rounded up) or number (int) of distinct target
        items held out.
    random_state : int, RandomState instance or None, default=None
        Seeds the draws.

    See Also
    --------
    cold_item_split : One split as train/test data, optionally with stripped histories.
    LeaveLastOut : Per-user leave-last-out (warm items).

    Examples
    --------
    >>> from sklearn_recsys.model_selection._cold import ColdItemSplit
    >>> X = [[1, 2], [2, 3], [1], [4]]
    >>> y = [3, 4, 2, 5]
    >>> cv = ColdItemSplit(test_size=1, random_state=0)
    >>> cv.held_out_items(X, y)
    [array([4])]
    >>> for train, test in cv.split(X, y):  # row 3 has item 4 in its history
    ...     print(train, test)
    [0 2] [1]
    """

    _parameter_constraints: dict = {
        "n_splits": _N_SPLITS,
        "test_size": _TEST_SIZE,
        "random_state": ["random_state"],
    }

    def __init__(self, n_splits=1, *, test_size=0.1, random_state=None):
        self.n_splits = n_splits
        self.test_size = test_size
        self.random_state = random_state

    def _draws(self, y_ids):
        items = np.unique(y_ids)
        n_test = _check_test_size(self.test_size, len(items))
        rng = check_random_state(self.random_state)
        for _ in range(self.n_splits):
            yield np.sort(items[rng.choice(len(items), n_test, replace=False)])

    def split(self, X, y, groups=None):
        """Generate indices of the training and test rows of each draw.

        Parameters
        ----------
        X : DataFrame with a ``history`` column, or sequence of sequences
            Queries.
        y : array-like of shape (n_rows,)
            Target item of each row.
        groups : None
            Ignored.

        Yields
        ------
        train : ndarray of int
            Rows without any held-out item.
        test : ndarray of int
            Rows whose target is held out.
        """
        validate_own_params(self)
        y_ids, flat_ids, indptr = _parse(X, y, type(self).__name__)
        for held in self._draws(y_ids):
            yield _rows(held, y_ids, flat_ids, indptr, strict=True, who=type(self).__name__)

    def held_out_items(self, X, y):
        """Held-out item ids of every draw, in the order of :meth:`split`.

        Parameters
        ----------
        X : DataFrame with a ``history`` column, or sequence of sequences
            Queries (validated only).
        y : array-like of shape (n_rows,)
            Target item of each row.

        Returns
        -------
        items : list of ndarray
            Sorted held-out ids, one array per split.
        """
        validate_own_params(self)
        y_ids, _, _ = _parse(X, y, type(self).__name__)
        return list(self._draws(y_ids))

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of draws.

        Parameters
        ----------
        X, y, groups : object
            Ignored.

        Returns
        -------
        n_splits : int
        """
        validate_own_params(self)
        return int(self.n_splits)


def _rows(held, y_ids, flat_ids, indptr, *, strict, who):
    """Training and test rows for the held-out items ``held``.

    An empty training fold raises a ``ValueError``: a model cannot be fitted
    on it, and returning it would only move the error to the estimator.
    """
    index = pd.Index(held)
    n = len(y_ids)
    test = index.get_indexer(y_ids) >= 0
    train = ~test
    if strict:
        row_of = np.repeat(np.arange(n), np.diff(indptr))
        train &= np.bincount(row_of[index.get_indexer(flat_ids) >= 0], minlength=n) == 0
    if not train.any():
        hint = (
            " Use cold_item_split(strip_history=True) to keep the rows with the "
            "held-out items removed from their histories, or hold out fewer items."
            if strict else " Hold out fewer items."
        )
        raise ValueError(
            f"{who}: the training fold is empty: every one of the {n} rows has a "
            f"held-out item (held out: {len(held)} item(s), e.g. {held[0]!r})."
            + hint
        )
    return np.flatnonzero(train), np.flatnonzero(test)


def _strip(X, keep_rows, held):
    """Rows ``keep_rows`` of ``X`` with ``held`` items removed from histories."""
    index = pd.Index(held)

    def clean(h):
        h_arr = np.asarray(h, dtype=object if len(h) and isinstance(h[0], str) else None)
        if not len(h_arr):
            return list(h) if not isinstance(h, np.ndarray) else h
        kept = h_arr[index.get_indexer(h_arr) < 0]
        return kept if isinstance(h, np.ndarray) else type(h)(kept.tolist())

    if isinstance(X, pd.DataFrame):
        out = X.iloc[keep_rows].copy()
        col = history_column(out)
        out[col] = pd.Series([clean(h) for h in out[col].tolist()], index=out.index, dtype=object)
        return out
    histories, _ = check_histories(X)
    rows = [clean(histories[i]) for i in keep_rows]
    if isinstance(X, pd.Series):
        return pd.Series(rows, index=X.index[keep_rows], dtype=object, name=X.name)
    return rows


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like"],
        "test_size": _TEST_SIZE,
        "random_state": ["random_state"],
        "strip_history": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def cold_item_split(X, y, *, test_size=0.1, random_state=None, strip_history=False):
    """Split queries into warm training rows and rows whose target is a held-out item.

    One draw of :class:`ColdItemSplit`. The held-out items are
    ``np.unique(y_test)``.

    Parameters
    ----------
    X : DataFrame with a ``history`` column, or sequence of sequences
        Queries.
    y : array-like of shape (n_rows,)
        Target item of each row.
    test_size : float or int, default=0.1
        Share or number of distinct target items held out.
    random_state : int, RandomState instance or None, default=None
        Seeds the draw.
    strip_history : bool, default=False
        False: training rows are those without any held-out item (as
        :class:`ColdItemSplit`). True: every row whose target is not held out
        is a training row, with the held-out items removed from its history
        (a copy; ``X`` is not modified). Both keep held-out items out of
        training entirely; True keeps more rows.

    Returns
    -------
    X_train, X_test : same kind as X
        Rows of ``X`` in their original order (test histories untouched).
    y_train, y_test : same kind as y

    See Also
    --------
    ColdItemSplit : The same rule as a cross-validator with several draws.

    Examples
    --------
    >>> from sklearn_recsys.model_selection._cold import cold_item_split
    >>> X = [[1, 2], [2, 3], [1], [4]]
    >>> y = [3, 4, 2, 5]
    >>> X_tr, X_te, y_tr, y_te = cold_item_split(X, y, test_size=1, random_state=0,
    ...                                          strip_history=True)
    >>> X_tr, y_tr, X_te, y_te
    ([[1, 2], [1], []], [3, 2, 5], [[2, 3]], [4])
    """
    y_ids, flat_ids, indptr = _parse(X, y, "cold_item_split")
    held = next(ColdItemSplit(test_size=test_size, random_state=random_state)._draws(y_ids))
    train, test = _rows(held, y_ids, flat_ids, indptr, strict=not strip_history, who="cold_item_split")
    X_train = _strip(X, train, held) if strip_history else _safe_indexing(X, train)
    return X_train, _safe_indexing(X, test), _safe_indexing(y, train), _safe_indexing(y, test)
