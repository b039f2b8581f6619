"""Leak-free splitters for queries: per-user leave-last-out and global time cut-offs.

A query row is "this user, at this moment, with this history -> next item".
Rows of one user overlap: a later row's history holds the earlier rows'
targets. Shuffled K-fold therefore leaks test items into training histories.
The splitters here keep, for every fold, training rows strictly before the
test rows -- per user (:class:`LeaveLastOut`) or on the global clock
(:class:`TemporalSplit`).
"""

import math
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import (
    StrOptions,
    validate_params,
)

from ..utils._param_validation import NumberInterval, validate_own_params

USER = "user_id"
OFFSET = "offset"
TIMESTAMP = "timestamp"


# Shared by the splitters and the functions built on them. The share is a
# Real, not a RealNotInt: that one takes no np.float32; no int lies in (0, 1).
_N_SPLITS = [NumberInterval(Integral, 1, None, closed="left")]
_TEST_SIZE = [
    NumberInterval(Integral, 1, None, closed="left"),
    NumberInterval(Real, 0, 1, closed="neither"),
]


def _test_count(test_size, n):
    """``test_size`` as a number out of ``n``: an int as is, a share rounded up."""
    if isinstance(test_size, Integral):
        return int(test_size)
    # round() first: 0.2 / 4 * 100 is 5.000000000000001 in floats
    return math.ceil(round(test_size * n, 9))


def _check_frame(X, who):
    if not isinstance(X, pd.DataFrame):
        raise TypeError(
            f"{who} needs X as a DataFrame of queries with a 'user_id' column and "
            f"an 'offset' (or 'timestamp') column; got {type(X).__name__}."
        )
    if len(X) == 0:
        raise ValueError(f"{who}: X has 0 rows.")


def _user_ranks(X, who):
    """Rank of every row within its user, counted from the latest (0 = last).

    Rows are ordered by ``offset``, else by ``timestamp``; ties keep the row
    order of ``X`` (the later row counts as later).
    """
    _check_frame(X, who)
    if USER not in X.columns:
        raise ValueError(
            f"{who} needs a 'user_id' column in X to find each user's queries; "
            f"got columns {list(X.columns)[:20]}."
        )
    order_col = (
        OFFSET if OFFSET in X.columns else TIMESTAMP if TIMESTAMP in X.columns else None
    )
    if order_col is None:
        raise ValueError(
            f"{who} needs an 'offset' (position of the target in the user's "
            "sequence) or a 'timestamp' column in X to order each user's queries; "
            f"got columns {list(X.columns)[:20]}."
        )
    for col in (USER, order_col):
        missing = X[col].isna().to_numpy()
        if missing.any():
            raise ValueError(
                f"{who}: column {col!r} of X has {int(missing.sum())} missing "
                f"value(s) (first at row {int(np.flatnonzero(missing)[0])})."
            )
    users = pd.factorize(X[USER])[0]
    order = X[order_col]
    if isinstance(order.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(
        order.dtype
    ):
        order = order.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    elif pd.api.types.is_numeric_dtype(order.dtype) and not pd.api.types.is_bool_dtype(
        order.dtype
    ):
        order = order.to_numpy(dtype=np.float64)
    else:
        raise TypeError(
            f"{who}: column {order_col!r} of X must hold numbers or datetimes; "
            f"got dtype {order.dtype}."
        )
    n = len(X)
    sorted_rows = np.lexsort((np.arange(n), order, users))
    sorted_users = users[sorted_rows]
    first = np.r_[True, sorted_users[1:] != sorted_users[:-1]]
    group_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    position = np.arange(n) - group_start
    sizes = np.bincount(users)
    ranks = np.empty(n, dtype=np.int64)
    ranks[sorted_rows] = sizes[sorted_users] - 1 - position
    return ranks


def _check_depth(ranks, needed, who, hint):
    deepest = int(ranks.max()) + 1
    if deepest < needed:
        raise ValueError(
            f"{who} needs at least {needed} queries (cut points) for some user, "
            f"to train on one and test on a later one; the most any user has in X "
            f"is {deepest}. {hint}"
        )


class LeaveLastOut(BaseCrossValidator):
    """Per-user, time-ordered cross-validator over queries.

    Each user's query rows are ranked from the latest: rank 0 is the user's
    last cut point (its target is the last item), rank 1 the one before, and
    so on -- by ``offset``, else ``timestamp``. With ``n_splits`` folds, fold
    ``i`` (oldest first, ``i = 0 .. n_splits - 1``)

    - trains on the rows at rank ``n_splits - i``,
    - tests on the rows at rank ``n_splits - 1 - i``.

    A query's history is the user's whole prefix, so the one training row per
    user already carries everything the user did before the test target, and
    no training row holds the test item or anything after it. The last fold
    (train rank 1, test rank 0) is :func:`leave_last_out_split`.

    Users with fewer rows appear in fewer folds: a user whose rows stop at
    rank ``r`` is tested only in the folds with test rank ``<= r`` (possibly
    without a training row, which a history-reading model handles). X must
    hold ``n_splits + 1`` cut points for at least one user, e.g. from
    ``queries_from_log(log, n_last=n_splits + 1)``.

    Parameters
    ----------
    n_splits : int, default=1
        Number of folds.

    See Also
    --------
    TemporalSplit : Global time cut-offs; leak-free across users too.
    leave_last_out_split : The last fold as a train/test split.

    Notes
    -----
    The folds are leak-free *per user*, not on the global clock: one user's
    training row may be later in time than another user's test row, so global
    trends (what became popular last week) can leak into training. Use
    :class:`TemporalSplit` when that matters.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_recsys.model_selection import LeaveLastOut
    >>> X = pd.DataFrame({
    ...     "user_id": [1, 1, 1, 2, 2],
    ...     "offset": [1, 2, 3, 1, 2],
    ...     "history": [["a"], ["a", "b"], ["a", "b", "c"], ["x"], ["x", "y"]],
    ... })
    >>> cv = LeaveLastOut(n_splits=2)
    >>> for train, test in cv.split(X):
    ...     print(train, test)
    [0] [1 3]
    [1 3] [2 4]
    """

    _parameter_constraints: dict = {"n_splits": _N_SPLITS}

    def __init__(self, n_splits=1):
        self.n_splits = n_splits

    def split(self, X, y=None, groups=None):
        """Generate indices to split the queries into training and test rows.

        Parameters
        ----------
        X : DataFrame
            Queries with a ``user_id`` column and an ``offset`` (or
            ``timestamp``) column.

        y : array-like of shape (n_queries,), default=None
            Ignored.

        groups : None
            Ignored; users are read from ``X["user_id"]``.

        Yields
        ------
        train : ndarray of int
            Positions of the training rows of the fold.

        test : ndarray of int
            Positions of the test rows of the fold.
        """
        n_splits = self.get_n_splits()
        ranks = _user_ranks(X, type(self).__name__)
        _check_depth(
            ranks,
            n_splits + 1,
            f"LeaveLastOut(n_splits={n_splits})",
            f"Build X with at least {n_splits + 1} cut points per user (e.g. "
            f"queries_from_log(log, n_last={n_splits + 1})) or lower n_splits.",
        )
        for i in range(n_splits):
            train = np.flatnonzero(ranks == n_splits - i)
            test = np.flatnonzero(ranks == n_splits - 1 - i)
            yield train, test

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of folds.

        Parameters
        ----------
        X, y, groups : object
            Ignored, present for API compatibility.

        Returns
        -------
        n_splits : int
            ``n_splits``.
        """
        validate_own_params(self)
        return int(self.n_splits)


class TemporalSplit(BaseCrossValidator):
    """Global time cut-offs: train on the past, test on the next window.

    For each cut-off ``c_j`` (expanding window)

    - training rows: queries with time ``< c_j`` -- so neither their history
      nor their target can hold anything from ``c_j`` on;
    - test rows: queries with ``c_j <= time < c_{j+1}`` (the last window runs
      to the end of the data).

    "Time" is ``X[time_column]``, the moment of the query (the time of its
    target event). Unlike :class:`LeaveLastOut`, no fold trains on anything
    that happened after any of its test queries, for any user.

    Parameters
    ----------
    n_splits : int, default=1
        Number of folds (test windows) when ``cutoffs`` is None. With
        ``cutoffs``, it must be left at 1 or equal ``len(cutoffs)``.

    test_size : int, float or None, default=None
        Size of each test window when ``cutoffs`` is None: a number of queries
        (int) or a fraction of all queries (float in (0, 1), rounded up to a
        whole number of queries). None splits the latest 20% of the queries
        into ``n_splits`` equal-count windows (``test_size = 0.2 / n_splits``). The cut-offs are the times of the
        first query of each window, so ties at a cut-off go to the test side
        and the windows hold about, not exactly, ``test_size`` queries.
        Must be None when ``cutoffs`` is given.

    cutoffs : sequence of times or None, default=None
        Explicit increasing cut-offs, in the type of the time column (numbers,
        or anything :class:`pandas.Timestamp` reads for a datetime column;
        naive cut-offs on a timezone-aware column are read as UTC).

    time_column : str or int, default="timestamp"
        Column of ``X`` with the query time (numbers or datetimes).

    See Also
    --------
    LeaveLastOut : Per-user leave-last-out folds.

    Notes
    -----
    The known trap: per-user leave-last-out holds out each user's last item,
    whenever it happened, so training rows of some users are later than test
    rows of others and global trends leak. A temporal split does not leak
    time, but its test users may have little history before the cut-off.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_recsys.model_selection import TemporalSplit
    >>> X = pd.DataFrame({"user_id": [1, 2, 1, 3, 2, 3],
    ...                   "timestamp": [10, 20, 30, 40, 50, 60]})
    >>> for train, test in TemporalSplit(n_splits=2, test_size=2).split(X):
    ...     print(train, test)
    [0 1] [2 3]
    [0 1 2 3] [4 5]
    >>> for train, test in TemporalSplit(cutoffs=[45]).split(X):
    ...     print(train, test)
    [0 1 2 3] [4 5]
    """

    _parameter_constraints: dict = {
        "n_splits": _N_SPLITS,
        "test_size": [*_TEST_SIZE, None],
        "cutoffs": ["array-like", None],
        "time_column": [str, Integral],
    }

    def __init__(
        self, n_splits=1, *, test_size=None, cutoffs=None, time_column=TIMESTAMP
    ):
        self.n_splits = n_splits
        self.test_size = test_size
        self.cutoffs = cutoffs
        self.time_column = time_column

    def split(self, X, y=None, groups=None):
        """Generate indices to split the queries into training and test rows.

        Parameters
        ----------
        X : DataFrame
            Queries with a ``time_column`` column.

        y : array-like of shape (n_queries,), default=None
            Ignored.

        groups : None
            Ignored.

        Yields
        ------
        train : ndarray of int
            Positions of the queries before the cut-off.

        test : ndarray of int
            Positions of the queries in the test window.
        """
        n_splits = self.get_n_splits()
        times = self._times(X)
        cutoffs = self._cutoffs(times, n_splits)
        for j, cut in enumerate(cutoffs):
            train = np.flatnonzero(times < cut)
            in_window = times >= cut
            if j + 1 < len(cutoffs):
                in_window &= times < cutoffs[j + 1]
            test = np.flatnonzero(in_window)
            if train.size == 0 or test.size == 0:
                side = "training" if train.size == 0 else "test"
                raise ValueError(
                    f"TemporalSplit: fold {j} has an empty {side} set (cut-off "
                    f"{cut}). Use fewer splits, another test_size or "
                    "explicit cutoffs inside the time range of X."
                )
            yield train, test

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of folds.

        Parameters
        ----------
        X, y, groups : object
            Ignored, present for API compatibility.

        Returns
        -------
        n_splits : int
            ``len(cutoffs)`` when given, else ``n_splits``.
        """
        validate_own_params(self)
        n = self.n_splits
        if self.cutoffs is None:
            return int(n)
        if len(self.cutoffs) == 0:
            raise ValueError(
                "cutoffs must hold at least one time; got an empty sequence."
            )
        if n not in (1, len(self.cutoffs)):
            raise ValueError(
                f"n_splits={n} disagrees with the {len(self.cutoffs)} cutoffs given; "
                "leave n_splits at 1 when passing cutoffs."
            )
        if self.test_size is not None:
            raise ValueError(
                "test_size must be None when cutoffs are given: each window runs "
                "from its cut-off to the next one (the last to the end of the data)."
            )
        return len(self.cutoffs)

    def _times(self, X):
        who = "TemporalSplit"
        _check_frame(X, who)
        if self.time_column not in X.columns:
            raise ValueError(
                f"{who} needs the time column {self.time_column!r} in X (the moment "
                f"of each query); got columns {list(X.columns)[:20]}."
            )
        col = X[self.time_column]
        missing = col.isna().to_numpy()
        if missing.any():
            raise ValueError(
                f"{who}: column {self.time_column!r} has {int(missing.sum())} missing "
                f"value(s) (first at row {int(np.flatnonzero(missing)[0])})."
            )
        if isinstance(col.dtype, pd.DatetimeTZDtype):
            return (
                col.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]")
            )
        if pd.api.types.is_datetime64_dtype(col.dtype):
            return col.to_numpy("datetime64[ns]")
        if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(
            col.dtype
        ):
            return col.to_numpy(dtype=np.float64)
        raise TypeError(
            f"{who}: column {self.time_column!r} must hold numbers or datetimes; got "
            f"dtype {col.dtype}. Convert text with pandas.to_datetime."
        )

    def _cutoffs(self, times, n_splits):
        if self.cutoffs is not None:
            if times.dtype.kind == "M":
                cuts = []
                for c in self.cutoffs:
                    ts = pd.Timestamp(c)
                    if ts.tz is not None:
                        ts = ts.tz_convert("UTC").tz_localize(None)
                    cuts.append(ts.to_datetime64().astype("datetime64[ns]"))
                cuts = np.array(cuts, dtype="datetime64[ns]")
            else:
                try:
                    cuts = np.asarray(self.cutoffs, dtype=np.float64)
                except (TypeError, ValueError) as exc:
                    raise TypeError(
                        "cutoffs must be numbers for a numeric time column; got "
                        f"{list(self.cutoffs)!r}."
                    ) from exc
            if np.any(cuts[1:] <= cuts[:-1]):
                raise ValueError(
                    f"cutoffs must be strictly increasing; got {list(self.cutoffs)!r}."
                )
            return cuts
        n = times.size
        size = self.test_size if self.test_size is not None else 0.2 / n_splits
        per_window = _test_count(size, n)
        if per_window < 1 or n_splits * per_window >= n:
            raise ValueError(
                f"TemporalSplit(n_splits={n_splits}) cannot make test windows of "
                f"{per_window} queries out of {n} and keep training rows before them; "
                "use fewer splits or another test_size."
            )
        ordered = np.sort(times, kind="stable")
        return ordered[[n - (n_splits - j) * per_window for j in range(n_splits)]]


@validate_params(
    {
        "X": [pd.DataFrame],
        "y": ["array-like", None],
        "n_test": [NumberInterval(Integral, 1, None, closed="left")],
        "train": [StrOptions({"last", "all"})],
    },
    prefer_skip_nested_validation=True,
)
def leave_last_out_split(X, y, *, n_test=1, train="last"):
    """Split queries into each user's latest rows (test) and the rows before.

    Per user, rows are ranked from the latest by ``offset`` (else
    ``timestamp``): the test set holds the rows at ranks ``0 .. n_test - 1``
    (the last ``n_test`` cut points) and the training set the row at rank
    ``n_test``. That training row's history is everything the user did
    before it, so it carries all of the user's training information and
    nothing from the test targets on; older rows add nothing and are left
    out (``train="last"``). With ``n_test=1`` this is the last fold of
    :class:`LeaveLastOut`.

    When every row carries data of its own moment -- a free-text query
    (``IntentRecommender(query_column=...)``) or time context --, the older
    rows are training examples too: ``train="all"`` keeps every row at rank
    ``n_test`` or later. They are prefixes of the rank-``n_test`` row, so
    the split stays leak-free.

    Parameters
    ----------
    X : DataFrame
        Queries with a ``user_id`` column and an ``offset`` (or ``timestamp``)
        column.

    y : array-like of shape (n_queries,) or None
        Next item per row; None returns None for ``y_train`` and ``y_test``.

    n_test : int, default=1
        Number of latest cut points per user held out for testing.

    train : {"last", "all"}, default="last"
        Training rows: each user's row just before the test rows, or every
        earlier row.

    Returns
    -------
    X_train, X_test : DataFrame
        Rows of ``X``, in their original order.

    y_train, y_test : array-like or None
        The matching entries of ``y``, of the same type.

    See Also
    --------
    LeaveLastOut : The same split as a cross-validator with rolling folds.
    TemporalSplit : Global time cut-offs.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_recsys.model_selection import leave_last_out_split
    >>> X = pd.DataFrame({
    ...     "user_id": ["u", "u", "u", "v", "v"],
    ...     "offset": [1, 2, 3, 1, 2],
    ...     "history": [["a"], ["a", "b"], ["a", "b", "c"], ["x"], ["x", "y"]],
    ... })
    >>> y = ["b", "c", "d", "y", "z"]
    >>> X_train, X_test, y_train, y_test = leave_last_out_split(X, y)
    >>> X_train["history"].tolist(), y_train
    ([['a', 'b'], ['x']], ['c', 'y'])
    >>> X_test["history"].tolist(), y_test
    ([['a', 'b', 'c'], ['x', 'y']], ['d', 'z'])
    >>> X_train, *_ = leave_last_out_split(X, y, train="all")
    >>> X_train["history"].tolist()
    [['a'], ['a', 'b'], ['x']]
    """
    ranks = _user_ranks(X, "leave_last_out_split")
    if y is not None and len(y) != len(X):
        raise ValueError(
            f"X and y have different numbers of rows: {len(X)} and {len(y)}."
        )
    _check_depth(
        ranks,
        n_test + 1,
        f"leave_last_out_split(n_test={n_test})",
        f"Build X with at least {n_test + 1} cut points per user (e.g. "
        f"queries_from_log(log, n_last={n_test + 1})).",
    )
    train = np.flatnonzero(ranks == n_test if train == "last" else ranks >= n_test)
    test = np.flatnonzero(ranks < n_test)
    X_train, X_test = X.iloc[train], X.iloc[test]
    if y is None:
        return X_train, X_test, None, None
    return X_train, X_test, _safe_indexing(y, train), _safe_indexing(y, test)
