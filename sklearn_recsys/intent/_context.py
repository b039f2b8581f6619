"""Numeric context columns of IntentRecommender's queries, standardised.

The columns are picked once in ``fit`` (:func:`context_columns`) and
standardised by a fitted :class:`~sklearn.preprocessing.StandardScaler`
(a constant column keeps scale 1); :func:`context_features` checks and
scales the same columns of any later ``X``.
"""

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

__all__ = ["context_columns", "context_features", "fit_context"]

# Columns of queries_from_log's X that describe the query, not its context.
_NOT_CONTEXT = ("user_id", "offset", "timestamp", "prev_timestamp", "history")


def context_columns(spec, frame):
    """The context columns ``spec`` (None, "auto" or a list) names in ``frame``."""
    if spec is None or (isinstance(spec, str) and frame is None):
        return []
    if isinstance(spec, str):  # "auto"
        return [
            c for c in frame.columns
            if isinstance(c, str)
            and c.rsplit("__", 1)[-1] not in _NOT_CONTEXT
            and pd.api.types.is_numeric_dtype(frame[c].dtype)
        ]
    cols = list(spec)
    bad = [c for c in cols if not isinstance(c, str)]
    if bad:
        raise ValueError(f"context_columns must be None, 'auto' or a list of column names; got {spec!r}.")
    if cols and frame is None:
        raise ValueError(f"context_columns={cols} needs X as a DataFrame holding those columns.")
    return cols


def _values(frame, columns):
    if frame is None:
        raise ValueError(
            f"This model reads context columns {columns}; X must be a DataFrame holding them."
        )
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"X lacks the context column(s) {missing} the model was fitted with.")
    bad = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c].dtype)]
    if bad:
        raise TypeError(
            f"Context columns must be numeric; {bad} are not (encode them upstream, "
            "e.g. with a OneHotEncoder in a ColumnTransformer)."
        )
    values = frame[columns].to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isnan(values).any():
        raise ValueError("Context columns hold missing values; impute them upstream.")
    return values


def fit_context(spec, frame):
    """``(columns, scaler)``: the context columns and their fitted scaler (None without context)."""
    columns = context_columns(spec, frame)
    if not columns:
        return columns, None
    return columns, StandardScaler().fit(_values(frame, columns))


def context_features(frame, columns, scaler):
    """Standardised float32 context of each row of ``frame``, or None without context."""
    if not columns:
        return None
    return scaler.transform(_values(frame, columns)).astype(np.float32)
