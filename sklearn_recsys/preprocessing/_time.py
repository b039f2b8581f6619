"""Context features from timestamp columns: time of day, weekday, recency, gaps."""

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_is_fitted,
    validate_data,
)

from .._doc_link import DocLinkMixin

_UNIT_SECONDS = {
    "D": 86400.0,
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "ns": 1e-9,
}
_FEATURES = ("hour", "weekday", "recency")
_DAY = 86400.0
# 1970-01-01 was a Thursday; Monday = 0 as in pandas.
_EPOCH_WEEKDAY = 3


def _signed_log1p(x):
    # log1p of a duration that stays defined (and monotone) when it is negative,
    # e.g. a query time after the fitted reference.
    return np.sign(x) * np.log1p(np.abs(x))


def _datetime_seconds(values):
    values = np.asarray(values).astype("datetime64[us]")
    out = values.astype(np.int64).astype(np.float64) / 1e6
    out[np.isnat(values)] = np.nan
    return out


def _column_seconds(column, name, unit):
    """``(absolute, wall-clock)`` seconds since the epoch of one column."""
    dtype = column.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        absolute = _datetime_seconds(column.dt.tz_convert("UTC").dt.tz_localize(None))
        # Hour and weekday are read on the column's own clock.
        return absolute, _datetime_seconds(column.dt.tz_localize(None))
    if pd.api.types.is_datetime64_dtype(dtype):
        seconds = _datetime_seconds(column)
        return seconds, seconds
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        seconds = (
            column.to_numpy(dtype=np.float64, na_value=np.nan) * _UNIT_SECONDS[unit]
        )
        if np.isinf(seconds).any():
            raise ValueError(f"Input contains infinity: column {name!r} of X.")
        return seconds, seconds
    raise TypeError(
        f"Column {name!r} of X must hold numbers (Unix time in unit={unit!r}) or "
        f"datetimes; got dtype {dtype}. Convert text with pandas.to_datetime."
    )


class TimeFeatures(DocLinkMixin, TransformerMixin, BaseEstimator):
    """Turn timestamp columns into context features for a recommender.

    Each input column (e.g. ``timestamp``, the moment of the query, and
    ``prev_timestamp``, the time of the last history event) gives

    - ``"hour"``: time of day as a point on a circle, ``<col>_hour_sin`` and
      ``<col>_hour_cos`` (fractional hours, so 23:59 is next to 00:00);
    - ``"weekday"``: day of the week on a circle, ``<col>_weekday_sin`` and
      ``<col>_weekday_cos`` (Monday = 0);
    - ``"recency"``: ``<col>_recency`` = ``log1p`` of the number of days
      between the value and ``reference_``, the latest time seen in ``fit``.

    With ``gaps=True`` and two or more columns, each pair of consecutive
    columns ``a, b`` adds ``<a>_to_<b>_gap`` = ``log1p`` of the days from
    ``a`` to ``b``; list the columns oldest first, e.g.
    ``["prev_timestamp", "timestamp"]`` gives the pause before the query.

    Durations are passed through a signed ``log1p`` (``sign(d) log1p(|d|)``),
    so a time after ``reference_`` or a gap in the wrong order gives a
    negative value instead of NaN. Missing times (NaN, NaT; e.g. no previous
    event) give NaN features, as sklearn's scalers do; add an imputer if the
    next step cannot take NaN.

    Parameters
    ----------
    features : tuple or list of {"hour", "weekday", "recency"}, \
            default=("hour", "weekday", "recency")
        Features computed for every column, in this order; each at most once.

    gaps : bool, default=True
        Add the gaps between consecutive columns (needs at least 2 columns).

    unit : {"s", "ms", "us", "ns", "m", "h", "D"}, default="s"
        Unit of numeric columns, read as time since the Unix epoch (UTC).
        Datetime columns ignore it; timezone-aware ones give hour and weekday
        on their own clock.

    Attributes
    ----------
    reference_ : float
        Latest time seen in ``fit`` (over all columns), in seconds since the
        Unix epoch: the "now" that recency is measured from.

    n_features_in_ : int
        Number of timestamp columns seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the columns seen during fit. Defined only when ``X`` has
        string column names.

    See Also
    --------
    SequenceEncoder : Encode histories of item ids as integer codes.
    sklearn.preprocessing.SplineTransformer : Periodic splines, an
        alternative encoding of the hour.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_recsys.preprocessing import TimeFeatures
    >>> X = pd.DataFrame({
    ...     "prev_timestamp": pd.to_datetime(["2024-01-01 06:00", "2024-01-03 12:00"]),
    ...     "timestamp": pd.to_datetime(["2024-01-01 18:00", "2024-01-04 12:00"]),
    ... })
    >>> tf = TimeFeatures(features=("hour", "recency")).fit(X)
    >>> pd.Timestamp(tf.reference_, unit="s")
    Timestamp('2024-01-04 12:00:00')
    >>> tf.get_feature_names_out().tolist()
    ['prev_timestamp_hour_sin', 'prev_timestamp_hour_cos', 'prev_timestamp_recency',
     'timestamp_hour_sin', 'timestamp_hour_cos', 'timestamp_recency',
     'prev_timestamp_to_timestamp_gap']
    >>> tf.transform(X).round(3) + 0.0  # + 0.0 turns -0.0 into 0.0
    array([[ 1.   ,  0.   ,  1.447, -1.   ,  0.   ,  1.322,  0.405],
           [ 0.   , -1.   ,  0.693,  0.   , -1.   ,  0.   ,  0.693]])
    """

    _parameter_constraints: dict = {
        "features": [list, tuple],
        "gaps": ["boolean"],
        "unit": [StrOptions(set(_UNIT_SECONDS))],
    }

    def __init__(self, *, features=_FEATURES, gaps=True, unit="s"):
        self.features = features
        self.gaps = gaps
        self.unit = unit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the columns and record the reference time.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_queries, n_columns)
            Timestamp columns: numbers (Unix time in ``unit``) or datetimes.

        y : None
            Ignored.

        Returns
        -------
        self : TimeFeatures
            Fitted transformer.
        """
        features = list(self.features)
        unknown = [f for f in features if f not in _FEATURES]
        if unknown or len(set(features)) != len(features):
            raise ValueError(
                f"features must be distinct values among {list(_FEATURES)}; "
                f"got {self.features!r}."
            )
        absolute, _ = self._read(X, reset=True)
        if not features and (not self.gaps or absolute.shape[1] < 2):
            raise ValueError(
                "TimeFeatures has nothing to compute: features is empty and gaps "
                f"need gaps=True and at least 2 columns (got gaps={self.gaps}, "
                f"{absolute.shape[1]} column(s))."
            )
        if np.isnan(absolute).all():
            raise ValueError("X holds no time at all (every value is missing).")
        self.reference_ = float(np.nanmax(absolute))
        return self

    def transform(self, X):
        """Compute the time features.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_queries, n_columns)
            The same columns as in ``fit``.

        Returns
        -------
        features : ndarray of shape (n_queries, n_features_out)
            Columns in the order of :meth:`get_feature_names_out`.
        """
        check_is_fitted(self)
        absolute, local = self._read(X, reset=False)
        out = []
        for j in range(absolute.shape[1]):
            for feature in self.features:
                if feature == "hour":
                    angle = 2 * np.pi * np.mod(local[:, j], _DAY) / _DAY
                    out += [np.sin(angle), np.cos(angle)]
                elif feature == "weekday":
                    weekday = np.mod(np.floor(local[:, j] / _DAY) + _EPOCH_WEEKDAY, 7)
                    angle = 2 * np.pi * weekday / 7
                    out += [np.sin(angle), np.cos(angle)]
                else:
                    out.append(_signed_log1p((self.reference_ - absolute[:, j]) / _DAY))
        if self.gaps:
            for j in range(absolute.shape[1] - 1):
                out.append(_signed_log1p((absolute[:, j + 1] - absolute[:, j]) / _DAY))
        return np.column_stack(out)

    def get_feature_names_out(self, input_features=None):
        """Names of the output features, e.g. ``"timestamp_hour_sin"``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input column names; ``feature_names_in_`` (or ``x0, x1, ...``)
            when None.

        Returns
        -------
        feature_names_out : ndarray of str objects
            Output feature names.
        """
        check_is_fitted(self)
        columns = _check_feature_names_in(self, input_features)
        names = []
        suffixes = {
            "hour": ["hour_sin", "hour_cos"],
            "weekday": ["weekday_sin", "weekday_cos"],
            "recency": ["recency"],
        }
        for column in columns:
            for feature in self.features:
                names += [f"{column}_{suffix}" for suffix in suffixes[feature]]
        if self.gaps:
            names += [f"{a}_to_{b}_gap" for a, b in zip(columns[:-1], columns[1:])]
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _read(self, X, *, reset):
        """``(absolute, wall-clock)`` seconds since the epoch, shape (n, n_columns)."""
        if isinstance(X, np.ndarray) and X.dtype.kind == "M":
            if X.ndim != 2:
                raise ValueError(f"Expected a 2-D array of times; got shape {X.shape}.")
            X = pd.DataFrame(X)
        if not isinstance(X, pd.DataFrame):
            seconds = validate_data(
                self, X, reset=reset, dtype=np.float64, ensure_all_finite="allow-nan"
            )
            seconds = seconds * _UNIT_SECONDS[self.unit]
            return seconds, seconds
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(
                f"X must have at least 1 row and 1 column of times; got shape {X.shape}."
            )
        validate_data(self, X, reset=reset, skip_check_array=True)
        pairs = [
            _column_seconds(X.iloc[:, j], X.columns[j], self.unit)
            for j in range(X.shape[1])
        ]
        absolute = np.column_stack([a for a, _ in pairs])
        local = np.column_stack([w for _, w in pairs])
        return absolute, local
