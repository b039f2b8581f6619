"""Input validation helpers shared by the estimators."""

from ._sequences import (
    check_histories,
    check_item_ids,
    check_k,
    flatten_histories,
    history_column,
)

__all__ = [
    "check_histories",
    "check_item_ids",
    "check_k",
    "flatten_histories",
    "history_column",
]
