"""Loading and validating a user's own interaction log."""

import os
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch
from sklearn.utils._param_validation import StrOptions, validate_params

from ..utils._sequences import check_item_ids

USER, ITEM, TIME, RATING = "user_id", "item_id", "timestamp", "rating"

_COMPRESSION = {".gz", ".bz2", ".zip", ".xz", ".zst"}
_SEPARATORS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
_PARQUET = {".parquet", ".pq"}


def _rebuild_bunch(fields):
    return DatasetBunch(**fields)


class DatasetBunch(Bunch):
    """A :class:`~sklearn.utils.Bunch` whose ``items`` attribute is the catalogue.

    On a plain Bunch, ``data.items`` is the method ``dict.items``, which
    shadows the key ``"items"``. Here ``data.items`` is the catalogue; iterate
    over the pairs with ``dict.items(data)``.

    Examples
    --------
    >>> data = DatasetBunch(items="catalogue", users=None)
    >>> data.items
    'catalogue'
    >>> sorted(dict.items(data))
    [('items', 'catalogue'), ('users', None)]
    """

    @property
    def items(self):
        return self["items"]

    def __reduce__(self):  # pickling calls obj.items(): rebuild from the keys
        return (_rebuild_bunch, (dict.copy(self),))


def _py(value):
    """A numpy scalar as the plain Python value, for readable messages."""
    return value.item() if isinstance(value, np.generic) else value


def _first_row(frame_or_index, pos):
    """Describe row ``pos`` (0-based position) with its index label."""
    index = frame_or_index if isinstance(frame_or_index, pd.Index) else frame_or_index.index
    return f"row {pos} (index label {index[pos]!r})"


def _check_columns(frame, columns, what="log"):
    """Raise a KeyError naming the missing columns and the available ones."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(
            f"The {what} has no column(s) {missing}; available columns: "
            f"{list(frame.columns)[:30]}."
        )


def _check_no_missing(series, name):
    missing = series.isna().to_numpy()
    if missing.any():
        pos = int(np.flatnonzero(missing)[0])
        raise ValueError(
            f"Column {name!r} has {int(missing.sum())} missing value(s); the first "
            f"is at {_first_row(series, pos)}. Drop or fill those rows first."
        )


def _check_id_column(series, name):
    """Ids of one column as int64 or object (str) ndarray.

    Integer-valued floats (integer ids read next to a missing value) become
    int64 once no NaN remains; any other float, mixed or boolean column raises.
    """
    _check_no_missing(series, name)
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(series.cat.categories.dtype)
    if pd.api.types.is_bool_dtype(series.dtype):
        values = series.to_numpy()
    elif pd.api.types.is_integer_dtype(series.dtype):
        return series.to_numpy(dtype=np.int64)
    elif pd.api.types.is_float_dtype(series.dtype) or (
        pd.api.types.is_object_dtype(series.dtype)
        and pd.api.types.infer_dtype(series, skipna=False)
        in ("floating", "mixed-integer-float")
    ):
        values = series.to_numpy(dtype=np.float64)
        integral = np.isfinite(values) & (values == np.round(values))
        if not integral.all():
            pos = int(np.flatnonzero(~integral)[0])
            raise ValueError(
                f"Column {name!r} holds ids as floats and {_first_row(series, pos)} "
                f"is not an integer ({_py(values[pos])!r}); ids must be all integers "
                "or all strings."
            )
        return values.astype(np.int64)
    else:
        values = series.to_numpy(dtype=object)
    ids, _ = check_item_ids(values, what=f"ids in column {name!r}")
    return ids


def _to_unix_seconds(values):
    """datetime64 (naive = UTC, or tz-aware) Series -> int64 Unix seconds."""
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return ((values - pd.Timestamp(0)) // pd.Timedelta(seconds=1)).to_numpy(np.int64)


def _parse_times(series, name):
    """Return ``(sort_key, output)`` arrays for a time column.

    Numbers are kept; datetimes and date strings become int64 Unix seconds,
    sorted on their full precision first.
    """
    _check_no_missing(series, name)
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        raise TypeError(f"Column {name!r} must hold times; got booleans.")
    if pd.api.types.is_numeric_dtype(dtype):
        out = series.to_numpy(
            dtype=np.int64 if pd.api.types.is_integer_dtype(dtype) else np.float64
        )
        return out, out
    if pd.api.types.is_datetime64_any_dtype(dtype):
        parsed = series
    elif pd.api.types.is_object_dtype(dtype) and pd.api.types.infer_dtype(series) in ("integer", "floating"):
        out = pd.to_numeric(series).to_numpy()
        return out, out
    elif pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        try:
            parsed = pd.to_datetime(series)
        except (ValueError, TypeError, OverflowError):
            parsed = pd.to_datetime(series, errors="coerce", format="mixed")
            bad = parsed.isna().to_numpy()
            if bad.any():
                pos = int(np.flatnonzero(bad)[0])
                raise ValueError(
                    f"Column {name!r} could not be parsed as dates/times: "
                    f"{series.iloc[pos]!r} at {_first_row(series, pos)} "
                    f"({int(bad.sum())} unparsable value(s) in all)."
                ) from None
    else:
        raise TypeError(
            f"Column {name!r} must hold numbers, datetimes or date strings; got "
            f"dtype {dtype}."
        )
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    key = parsed.to_numpy().astype("datetime64[ns]").view(np.int64)
    return key, _to_unix_seconds(parsed)


def _user_time_order(users, times):
    """Stable order by user then time: ties keep their current order."""
    if users.dtype == object:
        users = pd.factorize(users, sort=True)[0]
    return np.lexsort((times, users))


def _positions_within_user(users):
    """0-based rank of each row among the rows of its user, in row order."""
    codes = pd.factorize(users)[0]
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    pos = np.empty(len(codes), dtype=np.int64)
    pos[order] = np.arange(len(codes)) - np.repeat(starts, counts)
    return pos


def _read_log(path, sep):
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"Interaction log file not found: {str(path)!r}.")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION:
        suffixes = suffixes[:-1]
    ext = suffixes[-1] if suffixes else ""
    if ext in _PARQUET:
        return pd.read_parquet(path)
    if sep is None:
        sep = _SEPARATORS.get(ext)
    if sep is None:  # unknown extension: let pandas sniff the delimiter
        return pd.read_csv(path, sep=None, engine="python")
    return pd.read_csv(path, sep=sep)


@validate_params(
    {
        "data": [pd.DataFrame, str, os.PathLike],
        "user_col": [str, Integral],
        "item_col": [str, Integral],
        "time_col": [str, Integral, None],
        "rating_col": [str, Integral, None],
        "min_rating": [Real, None],
        "duplicates": [StrOptions({"keep", "drop", "raise"})],
        "sep": [str, None],
        "keep_columns": [str, "array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def load_interactions(
    data,
    *,
    user_col="user_id",
    item_col="item_id",
    time_col="timestamp",
    rating_col=None,
    min_rating=None,
    duplicates="keep",
    sep=None,
    keep_columns=None,
):
    """Load and validate an interaction log (one row per event).

    The log is returned in the canonical form every other function of this
    package reads: columns ``user_id``, ``item_id``, ``timestamp`` (and
    ``rating`` when ``rating_col`` is given), sorted by user then time with a
    stable sort, so events with the same time keep their order in the input
    ("ties in file order").

    Rules:

    * Missing columns raise a ``KeyError`` listing the available columns.
    * Missing user or item ids raise a ``ValueError`` with their count and the
      first offending row.
    * Ids must be all integers or all strings in each column. Integer-valued
      floats (integer ids that became floats, e.g. in a CSV with an empty
      cell) are cast to ``int64`` once no missing value remains; other floats,
      booleans and mixed columns raise.
    * The time column may hold numbers (kept as they are), ``datetime64``
      values or date strings (parsed with :func:`pandas.to_datetime`; the
      first unparsable value is named in the error). Dates become ``int64``
      Unix seconds (UTC; naive times are read as UTC); the sort uses their
      full precision first. Missing times raise.
    * ``time_col=None``: the row order of the input is the time order, and
      ``timestamp`` is the row's 0-based position among its user's rows.
    * ``duplicates``: what to do with rows whose (user, item, time) repeats an
      earlier row: ``"keep"`` them, ``"drop"`` all but the first, or
      ``"raise"``. ``"drop"`` and ``"raise"`` need a ``time_col``.
    * ``min_rating`` keeps the rows with ``rating >= min_rating``.

    The input is never modified.

    Parameters
    ----------
    data : DataFrame, str or path-like
        The log, or the path to a CSV/TSV file with a header row (the
        separator follows the extension ``.csv``/``.tsv``/``.tab``, is sniffed
        for other extensions, a compression suffix such as ``.gz`` is allowed)
        or to a Parquet file (``.parquet``/``.pq``). For a file without a
        header, read it with pandas and pass the DataFrame.
    user_col, item_col : str or int, default="user_id", "item_id"
        Columns holding user and item ids (an int names a column of a frame
        read without a header).
    time_col : str, int or None, default="timestamp"
        Column holding event times; None when the row order is the time order.
    rating_col : str, int or None, default=None
        Column holding a numeric rating, returned as ``rating`` (float64).
    min_rating : float or None, default=None
        Keep only rows with a rating at least this high (needs ``rating_col``).
    duplicates : {"keep", "drop", "raise"}, default="keep"
        Handling of exact (user, item, time) duplicates.
    sep : str or None, default=None
        Field separator of a text file; None to infer it.
    keep_columns : str, list of str or None, default=None
        Other columns to carry along unchanged (e.g. a free-text ``query``).

    Returns
    -------
    log : pandas.DataFrame
        A new frame with columns ``user_id``, ``item_id``, ``timestamp``
        [, ``rating``][, *keep_columns*] and a fresh ``RangeIndex``.

    See Also
    --------
    queries_from_log : Turn the log into queries ``X`` and targets ``y``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_recsys.datasets import load_interactions
    >>> raw = pd.DataFrame({"user": ["b", "a", "a", "b"],
    ...                     "movie": [1.0, 2.0, 3.0, 4.0],
    ...                     "when": ["2024-01-02", "2024-01-03", "2024-01-01",
    ...                              "2024-01-01"]})
    >>> load_interactions(raw, user_col="user", item_col="movie", time_col="when")
      user_id  item_id   timestamp
    0       a        3  1704067200
    1       a        2  1704240000
    2       b        4  1704067200
    3       b        1  1704153600
    """
    if duplicates != "keep" and time_col is None:
        raise ValueError(
            f"duplicates={duplicates!r} compares (user, item, time) and needs a "
            "time_col; with time_col=None every row is its own event."
        )
    if min_rating is not None and rating_col is None:
        raise ValueError("min_rating needs rating_col, the column to filter on.")
    if keep_columns is None:
        keep_columns = []
    elif isinstance(keep_columns, str):
        keep_columns = [keep_columns]
    else:
        keep_columns = list(keep_columns)

    frame = data if isinstance(data, pd.DataFrame) else _read_log(data, sep)
    used = [user_col, item_col] + [c for c in (time_col, rating_col) if c is not None]
    if len(set(used)) != len(used):
        raise ValueError(f"user_col, item_col, time_col and rating_col must differ; got {used}.")
    canonical = {USER, ITEM, TIME, RATING}
    clash = [c for c in keep_columns if c in canonical or c in used]
    if clash:
        raise ValueError(f"keep_columns must not repeat the id/time/rating columns; got {clash}.")
    _check_columns(frame, used + keep_columns)
    if len(frame) == 0:
        raise ValueError("The interaction log has 0 rows; at least 1 is required.")

    users = _check_id_column(frame[user_col], user_col)
    items = _check_id_column(frame[item_col], item_col)
    if time_col is None:
        key = out_time = _positions_within_user(users)
    else:
        key, out_time = _parse_times(frame[time_col], time_col)
    keep = np.ones(len(frame), dtype=bool)
    rating = None
    if rating_col is not None:
        r = frame[rating_col]
        if not pd.api.types.is_numeric_dtype(r.dtype) or pd.api.types.is_bool_dtype(r.dtype):
            raise TypeError(f"Column {rating_col!r} must hold numeric ratings; got dtype {r.dtype}.")
        _check_no_missing(r, rating_col)
        rating = r.to_numpy(dtype=np.float64)
        if min_rating is not None:
            keep &= rating >= min_rating
            if not keep.any():
                raise ValueError(
                    f"No row has {rating_col} >= {min_rating}; ratings range from "
                    f"{rating.min()} to {rating.max()}."
                )
    if duplicates != "keep":
        dup = pd.DataFrame({"u": users, "i": items, "t": key}).duplicated().to_numpy()
        if duplicates == "raise" and dup.any():
            pos = int(np.flatnonzero(dup)[0])
            raise ValueError(
                f"The log has {int(dup.sum())} duplicate (user, item, time) row(s); "
                f"the first is {_first_row(frame, pos)}: user {_py(users[pos])!r}, item "
                f"{_py(items[pos])!r}. Pass duplicates='drop' to keep only the first."
            )
        keep &= ~dup

    rows = np.flatnonzero(keep)
    rows = rows[_user_time_order(users[rows], key[rows])]
    columns = {USER: users[rows], ITEM: items[rows], TIME: out_time[rows]}
    if rating is not None:
        columns[RATING] = rating[rows]
    for c in keep_columns:
        columns[c] = frame[c].iloc[rows].reset_index(drop=True)
    return pd.DataFrame(columns)
