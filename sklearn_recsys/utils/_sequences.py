"""Parsing of the queries ``X`` (histories of item ids) and of item ids.

The rules, in one place so every estimator follows them:

* ``X`` is a DataFrame with a ``history`` column (a column whose name ends in
  ``"__history"``, as a ``ColumnTransformer`` with verbose feature names makes
  it, is accepted too), or a plain list / tuple / 1-D array / Series of
  sequences.
* A history is a list, tuple or 1-D array of item ids, oldest first. A string
  is not a history (it would be read as a sequence of characters). ``None``
  or NaN as a whole history is an error: pass an empty list for "no history".
* Item ids are all integers or all strings. Floats (often integer ids that
  became floats through a missing value), booleans and NaN/None ids raise.
"""

import numbers

import numpy as np
import pandas as pd

HISTORY = "history"

_KIND_MSG = (
    "Item ids must be all integers or all strings; got {what} with {kind} values{example}."
)


def history_column(X):
    """Name of the history column of the DataFrame ``X``.

    Parameters
    ----------
    X : pandas.DataFrame
        Queries.

    Returns
    -------
    name : str
        ``"history"`` or the single column whose name ends in ``"__history"``.

    Examples
    --------
    >>> import pandas as pd
    >>> history_column(pd.DataFrame({"history": [[1, 2]]}))
    'history'
    >>> history_column(pd.DataFrame({"remainder__history": [[1, 2]]}))
    'remainder__history'
    """
    if HISTORY in X.columns:
        return HISTORY
    found = [c for c in X.columns if isinstance(c, str) and c.endswith("__" + HISTORY)]
    if len(found) == 1:
        return found[0]
    raise ValueError(
        "X must have a 'history' column holding each query's sequence of item "
        f"ids (oldest first); got a DataFrame with columns {list(X.columns)[:20]}."
    )


def _is_missing_scalar(v):
    return v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT


def check_histories(X, *, name="X"):
    """Validate queries and return their histories and context frame.

    Parameters
    ----------
    X : DataFrame with a ``history`` column, or sequence of sequences
        Queries, one row each.
    name : str, default="X"
        Name used in error messages.

    Returns
    -------
    histories : list of sequences
        One sequence of raw item ids per row.
    frame : pandas.DataFrame or None
        ``X`` itself when it is a DataFrame (for context columns), else None.

    Examples
    --------
    >>> hist, frame = check_histories([[1, 2], [3]])
    >>> hist, frame
    ([[1, 2], [3]], None)
    """
    frame = None
    if isinstance(X, pd.DataFrame):
        frame = X
        values = X[history_column(X)].tolist()
    elif isinstance(X, pd.Series):
        values = X.tolist()
    elif isinstance(X, np.ndarray):
        if X.ndim != 1:
            raise ValueError(
                f"{name} must be a DataFrame with a 'history' column or a 1-D "
                f"sequence of histories; got a {X.ndim}-D array of shape {X.shape}."
            )
        values = X.tolist()
    elif isinstance(X, (list, tuple)):
        values = list(X)
    else:
        raise TypeError(
            f"{name} must be a DataFrame with a 'history' column or a list of "
            f"item-id sequences; got {type(X).__name__}."
        )
    if len(values) == 0:
        raise ValueError(f"{name} has 0 rows; at least 1 query is required.")
    for i, h in enumerate(values):
        if isinstance(h, (list, tuple)):
            continue
        if isinstance(h, np.ndarray) and h.ndim == 1:
            continue
        if isinstance(h, pd.Series):
            values[i] = h.tolist()
            continue
        if isinstance(h, (str, bytes)):
            raise TypeError(
                f"Row {i} of {name}'s history is a string ({h[:30]!r}); a history "
                "must be a list, tuple or 1-D array of item ids."
            )
        if _is_missing_scalar(h):
            raise ValueError(
                f"Row {i} of {name} has a missing history ({h!r}); use an empty "
                "list for a query with no history."
            )
        raise TypeError(
            f"Row {i} of {name}'s history must be a list, tuple or 1-D array of "
            f"item ids; got {type(h).__name__}."
        )
    return values, frame


def flatten_histories(histories):
    """Concatenate histories into ``(indptr, items)``, CSR style.

    Parameters
    ----------
    histories : sequence of sequences
        Item ids per row, e.g. from :func:`check_histories`.

    Returns
    -------
    indptr : ndarray of shape (n_rows + 1,), int64
        Row ``i`` is ``items[indptr[i]:indptr[i + 1]]``.
    items : ndarray
        All ids, row after row: int64 when every history holds integers,
        object otherwise (strings or mixed kinds are kept as given, for
        :func:`check_item_ids` to judge).

    Examples
    --------
    >>> indptr, items = flatten_histories([[1, 2], [], [3]])
    >>> indptr.tolist(), items.tolist()
    ([0, 2, 2, 3], [1, 2, 3])
    """
    lengths = np.fromiter((len(h) for h in histories), dtype=np.int64, count=len(histories))
    indptr = np.zeros(len(histories) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    if indptr[-1] == 0:
        return indptr, np.empty(0, dtype=np.int64)
    parts = [h if isinstance(h, np.ndarray) else np.asarray(h) for h in histories if len(h)]
    if all(p.ndim == 1 and p.dtype.kind in "iu" for p in parts):
        return indptr, np.concatenate(parts)
    # Strings, booleans, floats or a mix: numpy would coerce [1, "a"] to
    # ["1", "a"] and [True, 2] to [1, 2], hiding mixed ids. Keep the Python
    # objects so that check_item_ids sees what the user passed.
    items = np.empty(int(indptr[-1]), dtype=object)
    items[:] = [v for h in histories for v in h]
    return indptr, items


def _kind(values):
    kind = pd.api.types.infer_dtype(values, skipna=False)
    if kind == "integer":
        return "int"
    if kind == "string":
        return "str"
    return kind


def check_item_ids(values, *, what="item ids", kind=None):
    """Validate item ids: no missing values, all integers or all strings.

    Parameters
    ----------
    values : array-like
        Raw item ids.
    what : str, default="item ids"
        Name used in error messages.
    kind : {"int", "str"} or None, default=None
        When given, the kind the ids must have (the fitted vocabulary's).
        Ids of another kind raise; pass None to infer.

    Returns
    -------
    ids : ndarray
        ``int64`` for integer ids, ``object`` holding ``str`` otherwise.
    kind : {"int", "str"}

    Examples
    --------
    >>> ids, kind = check_item_ids([3, 1, 2])
    >>> ids.dtype, kind
    (dtype('int64'), 'int')
    >>> check_item_ids(["a", None])
    Traceback (most recent call last):
    ...
    ValueError: item ids contain missing values (None/NaN) at position 1 ...
    """
    arr = values if isinstance(values, np.ndarray) else np.asarray(
        values, dtype=object if len(values) and isinstance(values[0], str) else None
    )
    if arr.ndim != 1:
        arr = arr.reshape(-1) if arr.size == len(values) else arr
        if arr.ndim != 1:
            raise ValueError(f"{what} must be 1-D; got shape {arr.shape}.")
    if arr.size == 0:
        return arr.astype(np.int64) if kind in (None, "int") else arr.astype(object), kind or "int"
    if arr.dtype.kind in "iu":
        found = "int"
    elif arr.dtype.kind == "b":
        found = "bool"
    else:
        missing = pd.isna(arr)
        if np.any(missing):
            pos = int(np.flatnonzero(missing)[0])
            raise ValueError(
                f"{what} contain missing values (None/NaN) at position {pos} "
                f"({int(missing.sum())} in all); every id must be an integer or a string."
            )
        found = _kind(arr)
    if found not in ("int", "str"):
        example = ""
        if arr.size:
            example = f" (first value {arr[0]!r} of type {type(arr[0]).__name__})"
        hint = " Floats usually mean integer ids read next to missing values; drop them and cast to int." if found in ("floating", "mixed-integer-float") else ""
        raise TypeError(_KIND_MSG.format(what=what, kind=found, example=example) + hint)
    if kind is not None and found != kind:
        raise TypeError(
            f"{what} are {'integers' if found == 'int' else 'strings'} but the "
            f"estimator was fitted on {'integer' if kind == 'int' else 'string'} item ids."
        )
    if found == "int":
        return arr.astype(np.int64, copy=False), "int"
    return arr.astype(object, copy=False), "str"


def check_k(k, n_items=None):
    """Validate the list length ``k``.

    Parameters
    ----------
    k : int
        Number of items per list; a positive integer.
    n_items : int or None, default=None
        Number of items that can be recommended; ``k`` may not exceed it.

    Returns
    -------
    k : int

    Raises
    ------
    ValueError
        If ``k`` is not a positive integer or exceeds ``n_items``.

    Examples
    --------
    >>> check_k(10)
    10
    >>> check_k(0)
    Traceback (most recent call last):
    ...
    ValueError: k must be a positive integer; got 0.
    """
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral) or k <= 0:
        raise ValueError(f"k must be a positive integer; got {k!r}.")
    k = int(k)
    if n_items is not None and k > n_items:
        raise ValueError(
            f"k={k} is larger than the number of items that can be recommended ({n_items})."
        )
    return k
