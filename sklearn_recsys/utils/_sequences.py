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
  ``True`` is not the item ``1``: a boolean anywhere among the ids raises a
  ``TypeError`` naming its position, whether it comes in a list, a NumPy
  array or a Series.
* Integer ids must fit in a signed 64-bit integer, ``-2**63 <= id < 2**63``
  (ids are stored as ``int64``). Larger ids (a ``uint64`` array above
  ``2**63 - 1``, a Python int such as ``2**70``) raise a ``ValueError``; pass
  such ids as strings.
"""

import numbers

import numpy as np
import pandas as pd

HISTORY = "history"

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

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
    parts = [h for h in histories if len(h)]
    if all(isinstance(p, np.ndarray) and p.dtype.kind in "iu" for p in parts):
        if all(p.dtype.kind == "i" or p.max() <= _INT64_MAX for p in parts):
            return indptr, np.concatenate([p.astype(np.int64, copy=False) for p in parts])
    # Lists, strings, booleans, floats or a mix: numpy would coerce [1, "a"]
    # to ["1", "a"], [True, 2] to [1, 2] and [2**63, 1] to floats, hiding
    # bad ids. Keep the Python objects so that check_item_ids sees what the
    # user passed, and convert to int64 only when every id is an integer.
    items = np.empty(int(indptr[-1]), dtype=object)
    items[:] = [v for h in parts for v in (h.tolist() if isinstance(h, np.ndarray) else h)]
    if pd.api.types.infer_dtype(items, skipna=False) == "integer":
        try:
            return indptr, items.astype(np.int64)
        except OverflowError:
            pass  # check_item_ids says which id is out of range
    return indptr, items


def _kind(values):
    kind = pd.api.types.infer_dtype(values, skipna=False)
    if kind == "integer":
        return "int"
    if kind == "string":
        return "str"
    return kind


def _is_bool(v):
    return isinstance(v, (bool, np.bool_))


def _first(arr, test):
    """Position of the first value of ``arr`` passing ``test``, or None."""
    for i, v in enumerate(arr):
        if test(v):
            return i
    return None


def _as_id_array(values):
    """``values`` as a 1-D-or-more ndarray without numpy's silent coercions."""
    if isinstance(values, pd.Index):
        values = values.to_numpy()
    if isinstance(values, pd.Series):
        values = values.to_numpy()
    if isinstance(values, np.ndarray):
        return values
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise TypeError(
            "Expected item ids as a list, tuple or 1-D array of integers or "
            f"strings; got {type(values).__name__} {values!r:.40}."
        )
    values = list(values)
    if any(isinstance(v, (list, tuple, np.ndarray)) for v in values):
        # nested: np.asarray would build a 2-D array, or fail on ragged rows
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
        return arr
    # object dtype: np.asarray would turn [True, 2] into [1, 2], [1, "a"]
    # into ["1", "a"] and [2**63, 1] into floats
    return np.asarray(values, dtype=object)


def check_item_ids(values, *, what="item ids", kind=None, kind_of=None):
    """Validate item ids: no missing values, all integers or all strings.

    The rules (the same for histories, targets ``y``, ``candidates`` and
    catalogues):

    * every id is an integer or every id is a string;
    * no missing value (None, NaN, ``pd.NA``);
    * no boolean: ``True`` is not the item ``1`` (``TypeError``);
    * no float, even an integral one such as ``3.0`` (``TypeError``);
    * integer ids fit in int64, ``-2**63 <= id <= 2**63 - 1``
      (``ValueError``; pass larger ids as strings);
    * ids are scalars: a list or array among them (a nested history) raises
      ``TypeError``.

    Parameters
    ----------
    values : array-like
        Raw item ids: list, tuple, ndarray, Series or Index.
    what : str, default="item ids"
        Name used in error messages.
    kind : {"int", "str"} or None, default=None
        When given, the kind the ids must have (the fitted vocabulary's).
        Ids of another kind raise; pass None to infer.
    kind_of : str or None, default=None
        Where ``kind`` comes from, for the error message on a kind mismatch
        (e.g. ``"y (target item ids)"``); None means the fitted estimator's
        vocabulary.

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
    >>> check_item_ids([True, 2])
    Traceback (most recent call last):
    ...
    TypeError: Expected item ids as integers or strings, got bool True at position 0...
    """
    arr = _as_id_array(values)
    if arr.ndim != 1:
        arr = arr.reshape(-1) if arr.ndim == 2 and 1 in arr.shape else arr
        if arr.ndim != 1:
            raise ValueError(f"{what} must be 1-D; got shape {arr.shape}.")
    if arr.size == 0:
        return arr.astype(np.int64) if kind in (None, "int") else arr.astype(object), kind or "int"
    if arr.dtype.kind == "i":
        found = "int"
    elif arr.dtype.kind == "u":
        found = "int"
        big = arr > _INT64_MAX
        if big.any():
            pos = int(np.flatnonzero(big)[0])
            _raise_out_of_range(what, arr[pos], pos)
    elif arr.dtype.kind == "b":
        _raise_bool(what, arr[0], 0)
    elif arr.dtype.kind == "U":
        found = "str"
    else:
        pos = _first(arr, lambda v: isinstance(v, (list, tuple, np.ndarray, pd.Series)))
        if pos is not None:
            raise TypeError(
                f"Expected {what} as integers or strings, got a "
                f"{type(arr[pos]).__name__} at position {pos}: a history must be a "
                "flat sequence of item ids, not a sequence of sequences."
            )
        missing = pd.isna(arr)
        if np.any(missing):
            pos = int(np.flatnonzero(missing)[0])
            raise ValueError(
                f"{what} contain missing values (None/NaN) at position {pos} "
                f"({int(missing.sum())} in all); every id must be an integer or a string."
            )
        found = _kind(arr)
        if found != "str":
            pos = _first(arr, _is_bool)
            if pos is not None:
                _raise_bool(what, arr[pos], pos)
    if found not in ("int", "str"):
        example = ""
        if arr.size:
            example = f" (first value {arr[0]!r} of type {type(arr[0]).__name__})"
        hint = " Floats usually mean integer ids read next to missing values; drop them and cast to int." if found in ("floating", "mixed-integer-float") else ""
        raise TypeError(_KIND_MSG.format(what=what, kind=found, example=example) + hint)
    if kind is not None and found != kind and kind_of is not None:
        raise TypeError(
            f"{what} are {'integers' if found == 'int' else 'strings'} but "
            f"{kind_of} are {'integers' if kind == 'int' else 'strings'}; all item "
            "ids must be of one kind (cast them all to str, for instance)."
        )
    if kind is not None and found != kind:
        raise TypeError(
            f"{what} are {'integers' if found == 'int' else 'strings'} but the "
            f"estimator was fitted on {'integer' if kind == 'int' else 'string'} item ids."
        )
    if found == "int":
        if arr.dtype.kind in "iu":
            return arr.astype(np.int64, copy=False), "int"
        try:
            return arr.astype(np.int64), "int"
        except OverflowError:
            pos = _first(arr, lambda v: not _INT64_MIN <= int(v) <= _INT64_MAX)
            _raise_out_of_range(what, arr[pos], pos)
    return arr.astype(object, copy=False), "str"


def _raise_bool(what, value, pos):
    raise TypeError(
        f"Expected {what} as integers or strings, got bool {bool(value)!r} at "
        f"position {pos}. Booleans are not item ids (True would be read as item "
        "1); cast them explicitly if that is what you mean."
    )


def _raise_out_of_range(what, value, pos):
    raise ValueError(
        f"Expected {what} as integers in the int64 range [-2**63, 2**63 - 1] or "
        f"as strings, got {int(value)} at position {pos}. Integer ids are stored "
        "as int64; pass ids this large as strings (e.g. str(id))."
    )


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
