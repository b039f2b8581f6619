"""Datasets: MovieLens loaders, user logs, synthetic sessions, log -> queries.

* :func:`fetch_movielens` downloads a MovieLens dataset from GroupLens into a
  cache folder (checksums verified), then loads it.
* :func:`load_movielens` reads local MovieLens copies (nothing is downloaded).
* :func:`load_interactions` validates a user's own log (DataFrame, CSV/TSV,
  Parquet) into the canonical ``user_id, item_id, timestamp`` form.
* :func:`make_sessions` generates a catalogue with text and sequences with a
  planted sequential structure: the default data of examples and tests.
* :func:`queries_from_log` turns a log into queries ``X`` (histories) and
  next-item targets ``y``, the input of every recommender.
"""

from ._fetch import fetch_movielens
from ._log import load_interactions
from ._movielens import load_movielens
from ._queries import queries_from_log
from ._synthetic import make_sessions

__all__ = [
    "fetch_movielens",
    "load_interactions",
    "load_movielens",
    "make_sessions",
    "queries_from_log",
]
