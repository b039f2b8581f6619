"""Numeric context columns of IntentRecommender's queries, standardised.

The columns are picked once in ``fit`` (:func:`context_columns`) and
standardised by a fitted :class:`~sklearn.preprocessing.StandardScaler`
(a constant column keeps scale 1); :func:`context_features` checks and
scales the same columns of any later ``X``.

The rule for values: context must be finite (NaN, inf raise), and every
standardised value must lie within ``MAX_SCALED`` (10^4) standard
deviations of the training mean, at fit and later; beyond that the value
is refused with the column and row named, instead of turning the scores
into NaN.
"""

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

__all__ = ["context_columns", "context_features", "fit_context"]

# Columns of queries_from_log's X that describe the query, not its context.
# Standardised context beyond this many standard deviations is refused: it
# is almost always a unit error (milliseconds for seconds), and it would
# dominate, or overflow, the network's float32 scores.
MAX_SCALED = 1e4

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
    bad = ~np.isfinite(values)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(
            f"Context columns must hold finite numbers; column {columns[c]!r} holds "
            f"{values[r, c]} at row {r} ({int(bad.sum())} non-finite value(s) in all)."
        )
    return values


def _check_scaled(scaled, columns, raw):
    """Standardised context must be finite and within ``MAX_SCALED`` standard deviations."""
    bad = ~(np.abs(scaled) <= MAX_SCALED)  # also catches NaN/inf from an overflowing scale
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ValueError(
            f"Context column {columns[c]!r} holds {raw[r, c]:.6g} at row {r}: "
            f"{scaled[r, c]:.3g} standard deviations from the training mean, beyond the "
            f"limit of {MAX_SCALED:g} (such a value would turn the network's scores into "
            "NaN or dominate them). Rescale or clip the column upstream."
        )
    return scaled


def fit_context(spec, frame):
    """``(columns, scaler)``: the context columns and their fitted scaler (None without context)."""
    columns = context_columns(spec, frame)
    if not columns:
        return columns, None
    values = _values(frame, columns)
    with np.errstate(over="ignore", invalid="ignore"):
        scaler = StandardScaler().fit(values)
        if not (np.isfinite(scaler.mean_).all() and np.isfinite(scaler.scale_).all()):
            c = int(np.flatnonzero(~(np.isfinite(scaler.mean_) & np.isfinite(scaler.scale_)))[0])
            raise ValueError(
                f"Context column {columns[c]!r} cannot be standardised: its values "
                f"(largest magnitude {np.abs(values[:, c]).max():.3g}) overflow the mean "
                "or variance. Rescale the column upstream."
            )
        _check_scaled(scaler.transform(values), columns, values)
    return columns, scaler


def context_features(frame, columns, scaler):
    """Standardised float32 context of each row of ``frame``, or None without context."""
    if not columns:
        return None
    values = _values(frame, columns)
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = _check_scaled(scaler.transform(values), columns, values)
    return scaled.astype(np.float32)
