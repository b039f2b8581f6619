"""sklearn scorers that call ``recommend``."""

from numbers import Integral

from sklearn.utils._param_validation import StrOptions, validate_params

from ..utils._param_validation import NumberInterval
from . import _ranking

_METRICS = {
    "hit_rate": _ranking.hit_rate_at_k,
    "recall": _ranking.recall_at_k,
    "precision": _ranking.precision_at_k,
    "ndcg": _ranking.ndcg_at_k,
    "mrr": _ranking.mrr_at_k,
    "map": _ranking.average_precision_at_k,
}


class _RankingScorer:
    """Callable ``scorer(estimator, X, y)`` for ``GridSearchCV`` / ``cross_validate``."""

    def __init__(self, metric, k, exclude_seen):
        self.metric = metric
        self.k = k
        self.exclude_seen = exclude_seen

    def __call__(self, estimator, X, y, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("Ranking scorers do not support sample_weight.")
        if not hasattr(estimator, "recommend"):
            raise TypeError(
                f"{type(estimator).__name__} has no recommend method; ranking "
                "scorers need a recommender (or a Pipeline ending in one)."
            )
        # as ``score``: a fold whose model knows fewer than k items ranks them all
        k = self.k
        classes = getattr(estimator, "classes_", None)
        if classes is not None and 0 < len(classes) < k:
            k = len(classes)
        rec = estimator.recommend(X, k=k, exclude_seen=self.exclude_seen)
        return _METRICS[self.metric](y, rec, k=k)

    def __repr__(self):
        return (
            f"make_ranking_scorer({self.metric!r}, k={self.k}"
            f"{'' if self.exclude_seen else ', exclude_seen=False'})"
        )


@validate_params(
    {
        "metric": [StrOptions(set(_METRICS))],
        "k": [NumberInterval(Integral, 1, None, closed="left")],
        "exclude_seen": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_ranking_scorer(metric="ndcg", k=10, *, exclude_seen=True):
    """Make an sklearn scorer that ranks with ``recommend`` and scores the lists.

    Parameters
    ----------
    metric : {"ndcg", "hit_rate", "recall", "precision", "mrr", "map"}, default="ndcg"
        Ranking metric at ``k``; greater is better for all of them.
    k : int, default=10
        List length; capped at the number of items a fitted model knows
        (``len(classes_)``), as ``score`` does.
    exclude_seen : bool, default=True
        Passed to ``recommend``: leave each row's history out of its list.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``, usable as ``scoring=`` in
        ``GridSearchCV`` and, in a dict, in ``cross_validate``.

    Examples
    --------
    >>> from sklearn_recsys.metrics import make_ranking_scorer
    >>> make_ranking_scorer("hit_rate", k=20)
    make_ranking_scorer('hit_rate', k=20)
    """
    return _RankingScorer(metric, int(k), exclude_seen)
