"""Precomputed vector columns of a catalogue (image, audio, any embedding).

A vector column holds one 1-D array of numbers per item, of the same length
for every item of the column (for example a CLIP image embedding). These
functions say which columns are vector columns (:func:`resolve_vector_columns`)
and read one into an ``(n_items, dim)`` float array (:func:`vector_values`),
with errors that name the column and the row.
"""

import numbers

import numpy as np

from ._text import _is_missing, _is_vector_column, _row

__all__ = ["resolve_vector_columns", "vector_values"]


def _as_list(value):
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def resolve_vector_columns(frame, vector_columns=None, *, others=(), name="items"):
    """Which columns of the catalogue hold precomputed vectors.

    Parameters
    ----------
    frame : pandas.DataFrame
        The catalogue.
    vector_columns : list of str, str or None, default=None
        Explicit columns (each must exist), or None to infer them: ``object``
        columns whose non-missing cells are all non-empty 1-D arrays, lists
        or tuples of numbers, and pyarrow ``list`` columns of numbers.
    others : iterable of (list of str, str or None), default=()
        The other explicit column parameters; their columns are not inferred
        as vector columns.
    name : str, default="items"
        Name used in error messages.

    Returns
    -------
    vector_columns : list of str
    """
    explicit = _as_list(vector_columns)
    if explicit is not None:
        missing = [c for c in explicit if c not in frame.columns]
        if missing:
            raise ValueError(
                f"vector_columns names column(s) {missing} that {name} does not "
                f"have; available columns: {list(frame.columns)[:30]}."
            )
        if len(set(explicit)) != len(explicit):
            raise ValueError(f"vector_columns names a column twice: {explicit}.")
    taken = {c for value in others for c in (_as_list(value) or [])}
    if explicit is not None:
        both = [c for c in explicit if c in taken]
        if both:
            raise ValueError(
                f"Column(s) {both} are named both in vector_columns and in another "
                "column parameter; each column is read as one kind."
            )
        return explicit
    return [c for c in frame.columns if c not in taken and _is_vector_column(frame[c])]


def _describe(v):
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def vector_values(frame, column, dim=None):
    """Cells of a vector column as a float64 ``(n_items, dim)`` array.

    Parameters
    ----------
    frame : pandas.DataFrame
        The catalogue (not modified).
    column : str
        A column whose every cell is a 1-D array-like of numbers (a list,
        tuple or ndarray) or missing (None, NaN).
    dim : int or None, default=None
        Expected length of every vector (the one seen in ``fit``); None takes
        the length of the first non-missing cell.

    Returns
    -------
    values : ndarray of shape (n_items, dim)
        Missing cells are rows of zeros.
    present : ndarray of bool, shape (n_items,)
        False for missing cells.

    Raises
    ------
    TypeError
        A cell that is not an array of numbers (a string, a scalar, a list of
        strings).
    ValueError
        A vector of another length than the others (or than in ``fit``), a
        non-finite value, a cell with more than one dimension, or a column
        with no vector at all.
    """
    values = frame[column].to_numpy(dtype=object)
    n = len(values)
    present = np.zeros(n, dtype=bool)
    rows = [None] * n
    first = None  # position of the cell that fixed the length
    for pos, v in enumerate(values):
        if not isinstance(v, (list, tuple, np.ndarray)) and _is_missing(v):
            continue
        if isinstance(v, (str, bytes, dict, set, frozenset)) or isinstance(v, numbers.Number):
            raise TypeError(
                f"Vector column {column!r} must hold 1-D arrays of numbers (one per "
                f"item; missing values are None or NaN); {_row(frame, pos)} holds "
                f"{_describe(v)} of type {type(v).__name__}."
            )
        try:
            arr = np.asarray(v)
        except (TypeError, ValueError) as exc:  # ragged nested lists
            raise TypeError(
                f"Vector column {column!r} must hold 1-D arrays of numbers; "
                f"{_row(frame, pos)} holds {_describe(v)}, not readable as one."
            ) from exc
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f"Vector column {column!r} must hold 1-D arrays of numbers; "
                f"{_row(frame, pos)} holds {_describe(v)} (values of dtype {arr.dtype})."
            )
        if arr.ndim != 1:
            raise ValueError(
                f"Vector column {column!r} must hold 1-D arrays; {_row(frame, pos)} "
                f"holds an array of shape {arr.shape}."
            )
        if dim is None:
            dim, first = len(arr), pos
            if dim == 0:
                raise ValueError(
                    f"Vector column {column!r}: {_row(frame, pos)} holds an empty "
                    "vector; use None for an item without one."
                )
        if len(arr) != dim:
            where = (f"the length of {_row(frame, first)}" if first is not None
                     else "the length seen in fit")
            raise ValueError(
                f"Vector column {column!r} holds vectors of different lengths: "
                f"{_row(frame, pos)} has length {len(arr)}, expected {dim} ({where}). "
                "Every item's vector of a column must have the same length."
            )
        arr = arr.astype(np.float64, copy=False)
        if not np.isfinite(arr).all():
            bad = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise ValueError(
                f"Vector column {column!r} holds a non-finite value ({arr[bad]}) at "
                f"position {bad} of {_row(frame, pos)}; use None for an item "
                "without a vector."
            )
        rows[pos] = arr
        present[pos] = True
    if dim is None:
        raise ValueError(
            f"Vector column {column!r} has no vector: every cell is missing, so "
            "its length is unknown."
        )
    out = np.zeros((n, dim), dtype=np.float64)
    if present.any():
        out[present] = np.stack([r for r in rows if r is not None])
    return out, present
