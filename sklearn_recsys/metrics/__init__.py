"""Ranking metrics at k and sklearn scorers built on ``recommend``."""

from ._ranking import (
    average_precision_at_k,
    catalog_coverage,
    hit_rate_at_k,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)
from ._scorer import make_ranking_scorer

__all__ = [
    "average_precision_at_k",
    "catalog_coverage",
    "hit_rate_at_k",
    "make_ranking_scorer",
    "mrr_at_k",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
]
