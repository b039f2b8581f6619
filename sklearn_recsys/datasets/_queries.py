"""From an interaction log to queries ``X`` and next-item targets ``y``."""

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import validate_params

from ..utils._param_validation import NumberInterval
from ._log import _check_columns, _check_id_column, _check_no_missing, _user_time_order

_RESERVED = ("user_id", "offset", "timestamp", "prev_timestamp", "history")


def _time_values(series, name):
    _check_no_missing(series, name)
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or not (
        pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype)
    ):
        raise TypeError(
            f"Column {name!r} must hold numbers or datetimes; got dtype {dtype}. "
            "Parse date strings with load_interactions first."
        )
    if pd.api.types.is_datetime64_any_dtype(dtype):
        if getattr(series.dt, "tz", None) is not None:
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        return series.to_numpy().astype("datetime64[ns]").view(np.int64)
    return series.to_numpy()


def _take(series, idx, present=None):
    """``series`` at positions ``idx`` with a fresh index; missing where not ``present``."""
    out = series.iloc[idx].reset_index(drop=True)
    if present is None or present.all():
        return out
    if pd.api.types.is_integer_dtype(out.dtype):
        out = out.astype("Int64")
    return out.where(present)


@validate_params(
    {
        "log": [pd.DataFrame],
        "n_last": [NumberInterval(Integral, 1, None, closed="left"), None],
        "min_history": [NumberInterval(Integral, 0, None, closed="left")],
        "max_len": [NumberInterval(Integral, 1, None, closed="left"), None],
        "drop_repeats": ["boolean"],
        "user_features": [pd.DataFrame, None],
        "context_columns": [str, "array-like", None],
        "user_col": [str, Integral],
        "item_col": [str, Integral],
        "time_col": [str, Integral, None],
    },
    prefer_skip_nested_validation=True,
)
def queries_from_log(
    log,
    *,
    n_last=1,
    min_history=1,
    max_len=None,
    drop_repeats=False,
    user_features=None,
    context_columns=None,
    user_col="user_id",
    item_col="item_id",
    time_col="timestamp",
):
    """Turn an interaction log into queries ``X`` and next items ``y``.

    Each user's events are put in time order (a stable sort by user then
    time: events with equal times keep their order in ``log``). A *cut point*
    at position ``p`` of a user's sequence ``s`` gives one query: the history
    ``s[:p]`` (oldest first) and the target ``s[p]``. For every user the last
    ``n_last`` cut points whose history has at least ``min_history`` items are
    kept; users with too few events give fewer rows (or none).

    The standard leave-one-out protocol: ``queries_from_log(log, n_last=2)``
    gives per user a validation row (``s[:-2] -> s[-2]``) and a test row
    (``s[:-1] -> s[-1]``), in that order; train on the earlier cut points
    (e.g. ``n_last=None`` on the log without each user's last two events) and
    pass ``n_last=2`` rows to :class:`~sklearn_recsys.model_selection.LeaveLastOut`.

    Parameters
    ----------
    log : pandas.DataFrame
        One row per event, with user, item and time columns.
    n_last : int or None, default=1
        Number of cut points per user (at least 1), the latest ones. None
        keeps every cut point whose history has at least ``min_history``
        items (the histories are Python lists: with long sequences, also set
        ``max_len`` to bound the memory).
    min_history : int, default=1
        Smallest history length (before truncation to ``max_len``) of a query.
        0 allows queries with an empty history.
    max_len : int or None, default=None
        Keep only the last ``max_len`` (at least 1) items of each history.
    drop_repeats : bool, default=False
        Remove consecutive repeats of the same item first (the first event of
        a run is kept); offsets then count positions in the reduced sequence.
    user_features : pandas.DataFrame or None, default=None
        Indexed by user id; its columns are added to ``X`` (missing users get
        missing values).
    context_columns : str, list of str or None, default=None
        Columns of ``log`` copied from the target event's row, e.g. a free
        text ``query`` typed before the event.
    user_col, item_col : str or int, default="user_id", "item_id"
        Columns of ``log`` holding user and item ids.
    time_col : str, int or None, default="timestamp"
        Column of ``log`` holding event times. None means the row order is
        the time order; the ``timestamp`` column of ``X`` is then the offset.

    Returns
    -------
    X : pandas.DataFrame
        One row per query, ordered by user then offset, with columns
        ``user_id``, ``offset`` (0-based position of the target in the user's
        sequence), ``timestamp`` (time of the target event: the query moment),
        ``prev_timestamp`` (time of the last history event; missing for an
        empty history), ``history`` (list of item ids, oldest first), then the
        ``user_features`` and ``context_columns`` columns.
    y : ndarray of shape (n_queries,)
        The target item ids.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_recsys.datasets import queries_from_log
    >>> log = pd.DataFrame({"user_id": [1, 1, 1, 2, 2],
    ...                     "item_id": [10, 11, 12, 10, 13],
    ...                     "timestamp": [5, 6, 7, 1, 2]})
    >>> X, y = queries_from_log(log, n_last=2)
    >>> X[["user_id", "offset", "history"]]
       user_id  offset   history
    0        1       1      [10]
    1        1       2  [10, 11]
    2        2       1      [10]
    >>> y
    array([11, 12, 13])
    """
    # Python ints: numpy unsigned ones would turn the positions below into floats.
    n_last = None if n_last is None else int(n_last)
    min_history = int(min_history)
    max_len = None if max_len is None else int(max_len)
    if context_columns is None:
        context_columns = []
    elif isinstance(context_columns, str):
        context_columns = [context_columns]
    else:
        context_columns = list(context_columns)
    clash = [c for c in context_columns if c in _RESERVED]
    if clash:
        raise ValueError(f"context_columns must not be named like the columns of X {list(_RESERVED)}; got {clash}.")
    used = [user_col, item_col] + ([time_col] if time_col is not None else [])
    _check_columns(log, used + context_columns)
    if len(log) == 0:
        raise ValueError("log has 0 rows; at least 1 event is required.")
    feature_cols = []
    if user_features is not None:
        if not user_features.index.is_unique:
            raise ValueError("user_features must have one row per user; its index has duplicates.")
        feature_cols = list(user_features.columns)
        clash = [c for c in feature_cols if c in _RESERVED or c in context_columns]
        if clash:
            raise ValueError(
                f"user_features columns {clash} clash with the columns of X "
                f"{list(_RESERVED)} or with context_columns."
            )

    users = _check_id_column(log[user_col], user_col)
    items = _check_id_column(log[item_col], item_col)
    if time_col is None:
        key = np.arange(len(log), dtype=np.int64)
    else:
        key = _time_values(log[time_col], time_col)
    if users.dtype == object:
        ucodes = pd.factorize(users, sort=True)[0]
    else:
        ucodes = users
    if len(ucodes) > 1 and (
        np.any(ucodes[1:] < ucodes[:-1])
        or np.any((ucodes[1:] == ucodes[:-1]) & (key[1:] < key[:-1]))
    ):
        rows = _user_time_order(ucodes, key)
    else:  # already sorted: skip the copy
        rows = np.arange(len(log))
    new_user = np.empty(len(rows), dtype=bool)
    new_user[0] = True
    u_sorted = ucodes[rows]
    new_user[1:] = u_sorted[1:] != u_sorted[:-1]
    if drop_repeats:
        it = items[rows]
        repeat = np.zeros(len(rows), dtype=bool)
        repeat[1:] = (~new_user[1:]) & (it[1:] == it[:-1])
        rows, new_user = rows[~repeat], new_user[~repeat]

    n = len(rows)
    starts = np.flatnonzero(new_user)
    lengths = np.diff(np.append(starts, n))
    user_start = np.repeat(starts, lengths)
    pos = np.arange(n) - user_start
    keep = pos >= min_history
    if n_last is not None:
        keep &= pos >= np.repeat(lengths, lengths) - n_last
    sel = np.flatnonzero(keep)
    if len(sel) == 0:
        raise ValueError(
            f"No query: every user has fewer than min_history + 1 = {min_history + 1} "
            "events."
        )
    seq_items = items[rows]
    item_list = seq_items.tolist()
    lo = user_start[sel]
    if max_len is not None:
        lo = np.maximum(lo, sel - max_len)
    histories = [item_list[a:b] for a, b in zip(lo.tolist(), sel.tolist())]

    target_rows = rows[sel]
    has_prev = pos[sel] > 0
    prev_rows = rows[np.maximum(sel - 1, 0)]
    if time_col is None:
        time_series = pd.Series(np.empty(len(log), dtype=np.int64))
        time_series.iloc[rows] = pos
    else:
        time_series = log[time_col]
    X = pd.DataFrame(
        {
            "user_id": users[target_rows],
            "offset": pos[sel].astype(np.int64),
            "timestamp": _take(time_series, target_rows),
            "prev_timestamp": _take(time_series, prev_rows, has_prev),
        }
    )
    X["history"] = pd.Series(histories, dtype=object)
    if feature_cols:
        found = user_features.index.isin(pd.unique(users))
        if not found.any():
            raise ValueError(
                "No user of the log is in user_features' index (index dtype "
                f"{user_features.index.dtype}, user ids dtype {users.dtype}); "
                "user_features must be indexed by user id."
            )
        feats = user_features.reindex(pd.Index(X["user_id"])).reset_index(drop=True)
        X = pd.concat([X, feats], axis=1)
    for c in context_columns:
        X[c] = _take(log[c], target_rows)
    y = seq_items[sel]
    return X, y
