"""Pickle state in plain containers, so that skops can save every estimator.

skops stores numbers, strings, arrays, lists and dicts with string or int
keys, and refuses what it cannot take apart: a pandas DataFrame (the
catalogue ``items``), a dict keyed by tuples (``ContentEncoder``'s tag
vocabulary). ``plain_state`` turns those into dicts of lists and arrays
inside ``__getstate__``; ``rich_state`` turns them back in ``__setstate__``.
Pickles written before this conversion load unchanged (they hold the
objects themselves).
"""

import pandas as pd

_FRAME = "__sklearn_recsys_dataframe__"
_PAIRS = "__sklearn_recsys_tuple_keys__"


def _plain(value):
    if isinstance(value, pd.DataFrame):
        return {
            _FRAME: True,
            "columns": list(value.columns),
            "dtypes": [str(dtype) for dtype in value.dtypes],
            "index": value.index.to_numpy(),
            "index_name": value.index.name,
            "data": [value.iloc[:, i].to_numpy() for i in range(value.shape[1])],
        }
    if isinstance(value, dict) and any(isinstance(k, tuple) for k in value):
        return {_PAIRS: [[list(k) if isinstance(k, tuple) else k, v] for k, v in value.items()]}
    return value


def _rich(value):
    if not isinstance(value, dict):
        return value
    if value.get(_FRAME) is True:
        frame = pd.DataFrame(
            {i: column for i, column in enumerate(value["data"])},
            index=pd.Index(value["index"], name=value["index_name"]),
        )
        frame.columns = value["columns"]
        for name, dtype in zip(value["columns"], value["dtypes"]):
            if str(frame[name].dtype) != dtype:
                frame[name] = frame[name].astype(dtype)
        return frame
    if _PAIRS in value and len(value) == 1:
        return {tuple(k) if isinstance(k, list) else k: v for k, v in value[_PAIRS]}
    return value


def plain_state(state):
    """``state`` with DataFrames and tuple-keyed dicts as plain containers."""
    out = {k: _plain(v) for k, v in state.items()}
    return out if any(out[k] is not state[k] for k in state) else state


def rich_state(state):
    """The inverse of :func:`plain_state`."""
    return {k: _rich(v) for k, v in state.items()}


__all__ = ["plain_state", "rich_state"]
