"""Encode histories of raw item ids as fixed-length arrays of integer codes."""

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_array,
    check_is_fitted,
    validate_data,
)

from .._doc_link import DocLinkMixin
from ..utils._param_validation import NumberInterval
from ..utils._sequences import (
    HISTORY,
    check_histories,
    check_item_ids,
    flatten_histories,
    history_column,
)


def _is_sequence_cell(value):
    return isinstance(value, (list, tuple)) or (
        isinstance(value, np.ndarray) and value.ndim == 1
    )


def _sequence_column(X):
    """Name of the column of ``X`` holding histories, or None for a table of ids."""
    try:
        return history_column(X)
    except ValueError:
        pass
    # A lone column of sequences, e.g. what ColumnTransformer hands over for
    # ["items"]: reading it as a table of ids would fail on every cell.
    if X.shape[1] == 1 and len(X) and _is_sequence_cell(X.iloc[0, 0]):
        return X.columns[0]
    return None


def _table_ids(table):
    """Item ids of a 2-D table, row-major; integral floats are read as ints."""
    flat = table.ravel()
    is_float = flat.dtype.kind == "f" or (
        flat.dtype == object
        and pd.api.types.infer_dtype(flat, skipna=False)
        in ("floating", "mixed-integer-float")
    )
    if is_float:
        values = flat.astype(np.float64)
        if not np.all(values == np.round(values)):
            bad = values[values != np.round(values)][0]
            raise TypeError(
                "Item ids must be integers or strings; the 2-D X holds the "
                f"non-integer float {float(bad)!r}."
            )
        flat = values.astype(np.int64)
    return flat


class SequenceEncoder(DocLinkMixin, TransformerMixin, BaseEstimator):
    """Encode histories of item ids as left-padded arrays of integer codes.

    Each query's history (a sequence of raw item ids, oldest first) becomes a
    row of ``max_len`` integer codes ready for an embedding layer: ``0`` is
    padding, the known items get ``1 .. n_items_`` in sorted id order. Only
    the most recent ``max_len`` items of a history are kept.

    Item ids may be integers or strings (never a mix, never missing).

    Parameters
    ----------
    max_len : int, default=50
        Length of the encoded rows. Longer histories keep their last
        ``max_len`` items; shorter ones are padded with ``0``.

    min_frequency : int, default=1
        Items seen fewer than ``min_frequency`` times in the histories given to
        ``fit`` are left out of the vocabulary and treated as unknown.

    handle_unknown : {"ignore", "encode"}, default="ignore"
        What to do with unknown (and rare) items at transform time:

        - ``"ignore"``: drop them from the history *before* truncation, so a
          row still holds up to ``max_len`` known items;
        - ``"encode"``: keep their position and give them the code
          ``n_items_ + 1`` (an embedding table then needs ``n_items_ + 2``
          rows).

    padding : {"left", "right"}, default="left"
        Side of the padding. With ``"left"`` the most recent item is always
        in the last column; with ``"right"`` the oldest kept item is in the
        first column. Truncation keeps the most recent items either way.

    Attributes
    ----------
    vocabulary_ : dict
        Mapping from raw item id to its code (``1 .. n_items_``).

    items_ : ndarray of shape (n_items,)
        Known item ids in code order: ``items_[c - 1]`` has code ``c``.
        ``int64`` for integer ids, ``object`` (holding ``str``) otherwise.

    n_items_ : int
        Number of known items.

    n_features_in_ : int
        Number of columns of ``X`` during fit: ``1`` for a DataFrame with a
        history column, the width of a 2-D table of ids otherwise. Only
        defined when ``X`` was a DataFrame or a 2-D array.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the columns of ``X`` during fit (for a DataFrame with a
        history column: that column only). Only defined when ``X`` was a
        DataFrame with string column names.

    See Also
    --------
    sklearn.preprocessing.OrdinalEncoder : Encode tabular categories as codes.
    TimeFeatures : Context features from timestamp columns.

    Notes
    -----
    ``X`` may be

    - a DataFrame with a ``history`` column (other columns are ignored), or a
      single column of sequences (a DataFrame or an ``(n, 1)`` object array)
      as a ``ColumnTransformer`` hands it;
    - a list, tuple, Series or 1-D object array of histories;
    - a 2-D array or a DataFrame without a history column: each row is one
      fixed-length history (floats holding integer values are read as
      integer ids).

    Only the DataFrame and 2-D forms record ``n_features_in_`` and
    ``feature_names_in_`` and are checked against them in ``transform``;
    a list of histories is accepted whatever ``fit`` was given.

    Examples
    --------
    >>> from sklearn_recsys.preprocessing import SequenceEncoder
    >>> X = [["b", "a"], ["a", "c", "b"], ["c"]]
    >>> enc = SequenceEncoder(max_len=3).fit(X)
    >>> enc.vocabulary_
    {'a': 1, 'b': 2, 'c': 3}
    >>> enc.transform([["a", "z", "b"], ["c", "a", "b", "c"]])
    array([[0, 1, 2],
           [1, 2, 3]])
    >>> enc.inverse_transform([[0, 1, 2]])
    [['a', 'b']]
    >>> SequenceEncoder(max_len=4, handle_unknown="encode").fit(X).transform(
    ...     [["a", "z", "b"]])
    array([[0, 1, 4, 2]])
    """

    _parameter_constraints: dict = {
        "max_len": [NumberInterval(Integral, 1, None, closed="left")],
        "min_frequency": [NumberInterval(Integral, 1, None, closed="left")],
        "handle_unknown": [StrOptions({"ignore", "encode"})],
        "padding": [StrOptions({"left", "right"})],
    }

    def __init__(
        self, *, max_len=50, min_frequency=1, handle_unknown="ignore", padding="left"
    ):
        self.max_len = max_len
        self.min_frequency = min_frequency
        self.handle_unknown = handle_unknown
        self.padding = padding

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the item vocabulary from the histories in ``X``.

        Parameters
        ----------
        X : DataFrame with a ``history`` column, list of sequences or 2-D array
            Histories of raw item ids, one per row.

        y : None
            Ignored.

        Returns
        -------
        self : SequenceEncoder
            Fitted encoder.
        """
        indptr, items = self._read(X, reset=True)
        ids, kind = check_item_ids(items, what="item ids in X")
        if ids.size == 0:
            raise ValueError("X holds no item ids (every history is empty).")
        uniq, counts = np.unique(ids, return_counts=True)
        keep = counts >= self.min_frequency
        if not keep.any():
            raise ValueError(
                f"No item occurs at least min_frequency={self.min_frequency} times "
                f"in X; the most frequent item occurs {int(counts.max())} times."
            )
        self.items_ = uniq[keep]
        self.n_items_ = int(self.items_.size)
        self.vocabulary_ = dict(zip(self.items_.tolist(), range(1, self.n_items_ + 1)))
        self._kind = kind
        _ = self._index  # built now, so transform leaves __dict__ unchanged
        return self

    @property
    def _index(self):
        """Hash index of ``items_`` (id -> position), built on first use and
        never pickled (a skops file holds ``items_`` only)."""
        items = self.items_
        cached = self.__dict__.get("_index_cache")
        if cached is None or cached[0] is not items:
            cached = (items, pd.Index(items))
            self.__dict__["_index_cache"] = cached
        return cached[1]

    def __getstate__(self):
        state = super().__getstate__()
        return {k: v for k, v in state.items() if k != "_index_cache"}

    def transform(self, X):
        """Encode histories as an ``(n_queries, max_len)`` array of codes.

        Parameters
        ----------
        X : DataFrame with a ``history`` column, list of sequences or 2-D array
            Histories of raw item ids, one per row.

        Returns
        -------
        codes : ndarray of shape (n_queries, max_len), dtype int64
            ``0`` = padding, ``1 .. n_items_`` = known items, ``n_items_ + 1``
            = unknown item (only with ``handle_unknown="encode"``).
        """
        check_is_fitted(self)
        indptr, items = self._read(X, reset=False)
        ids, _ = check_item_ids(items, what="item ids in X", kind=self._kind)
        return self._encode(indptr, ids)

    def inverse_transform(self, X):
        """Decode rows of codes back to histories of raw item ids.

        Padding (``0``) and the unknown code (``n_items_ + 1``) are dropped.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_positions)
            Codes, as returned by :meth:`transform`.

        Returns
        -------
        histories : list of list
            Raw item ids per row, in the order of the codes.
        """
        check_is_fitted(self)
        codes = check_array(X, dtype="numeric")
        if codes.dtype.kind == "f":
            if not np.all(codes == np.round(codes)):
                raise ValueError("Codes must be integers; X holds non-integer floats.")
            codes = codes.astype(np.int64)
        if codes.min() < 0 or codes.max() > self.n_items_ + 1:
            raise ValueError(
                f"Codes must lie in [0, {self.n_items_ + 1}] (0 = padding, 1..n_items_ "
                f"= items, {self.n_items_ + 1} = unknown); got values in "
                f"[{codes.min()}, {codes.max()}]."
            )
        known = (codes >= 1) & (codes <= self.n_items_)
        values = self.items_[codes[known] - 1].tolist()
        ends = np.cumsum(known.sum(axis=1)).tolist()
        return [values[a:b] for a, b in zip([0] + ends[:-1], ends)]

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: ``"<history column>_<position>"``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input column names, checked against ``feature_names_in_`` (or
            ``n_features_in_``) when fit saw a DataFrame or a 2-D array.
            They do not change the output names.

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``max_len`` names, e.g. ``["history_0", "history_1", ...]``.
        """
        check_is_fitted(self)
        if hasattr(self, "n_features_in_"):
            _check_feature_names_in(self, input_features)
        prefix = self._prefix
        return np.asarray([f"{prefix}_{i}" for i in range(self.max_len)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags

    # -- helpers ---------------------------------------------------------

    def _read(self, X, *, reset):
        """Parse ``X`` into CSR-style ``(indptr, raw ids)``; record/check its form."""
        if isinstance(X, pd.DataFrame):
            column = _sequence_column(X)
            if column is not None:
                frame = X[[column]]
                # After a fit on a plain list there are no columns to compare.
                if reset or hasattr(self, "n_features_in_"):
                    validate_data(self, frame, reset=reset, skip_check_array=True)
                histories, _ = check_histories(frame[column].tolist())
                if reset:
                    self._prefix = str(column)
                return flatten_histories(histories)
            return self._read_table(X, reset=reset)
        if not isinstance(X, (list, tuple, pd.Series, np.ndarray)) and hasattr(
            X, "__array__"
        ):
            X = np.asarray(X)
        if isinstance(X, np.ndarray) and X.dtype != object and X.ndim != 2:
            raise ValueError(
                "Expected a 2-D array (one fixed-length history per row) or a "
                f"sequence of histories; got a {X.ndim}-D array of shape {X.shape}. "
                "Reshape your data: [history] for a single history, "
                "array.reshape(1, -1) for a single row."
            )
        if isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[1] == 1 and X.size:
            if _is_sequence_cell(X[0, 0]):
                # a history column that went through numpy, e.g. a ColumnTransformer
                X = X[:, 0]
        if (isinstance(X, np.ndarray) and X.ndim == 2) or hasattr(X, "tocsr"):
            return self._read_table(X, reset=reset)
        histories, _ = check_histories(X)
        if reset:
            # Forget the form of a previous fit: a list has no columns.
            validate_data(self, X, reset=True, skip_check_array=True, ensure_2d=False)
            self.__dict__.pop("n_features_in_", None)
            self._prefix = HISTORY
        return flatten_histories(histories)

    def _read_table(self, X, *, reset):
        table = validate_data(self, X, reset=reset, dtype=None)
        if reset:
            self._prefix = HISTORY
        n, width = table.shape
        return np.arange(0, n * width + 1, width, dtype=np.int64), _table_ids(table)

    def _encode(self, indptr, ids):
        n = indptr.size - 1
        lengths = np.diff(indptr)
        codes = self._index.get_indexer(ids).astype(np.int64) + 1
        unknown = codes == 0
        if unknown.any():
            if self.handle_unknown == "encode":
                codes[unknown] = self.n_items_ + 1
            else:
                rows = np.repeat(np.arange(n), lengths)
                codes = codes[~unknown]
                lengths = np.bincount(rows[~unknown], minlength=n)
        rows = np.repeat(np.arange(n), lengths)
        starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
        pos = np.arange(codes.size) - starts
        from_end = lengths[rows] - 1 - pos
        keep = from_end < self.max_len
        if self.padding == "left":
            cols = self.max_len - 1 - from_end
        else:
            cols = pos - np.maximum(lengths - self.max_len, 0)[rows]
        out = np.zeros((n, self.max_len), dtype=np.int64)
        out[rows[keep], cols[keep]] = codes[keep]
        return out
