"""Most-popular baseline."""

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils.validation import check_is_fitted

from ..base import RecommenderMixin
from ._ranking import _SparseRankingMixin


class Popularity(_SparseRankingMixin, RecommenderMixin, BaseEstimator):
    """Recommend the items seen most often in training, to everyone.

    Counts every item of every training sequence (history + target; several
    rows of one user that are prefixes of each other count once). Ties are
    broken by item id order. Every recommender should beat this.

    ``recommend`` walks one order of the items (by count, computed in
    ``fit``) and skips each row's seen items: no ``n_rows x n_items`` block,
    whatever the catalogue size. ``decision_function`` and ``predict_proba``
    return dense ``(n_rows, n_items)`` arrays: for small catalogues.

    Attributes
    ----------
    classes_ : ndarray of shape (n_items,)
        Known item ids, sorted.
    item_counts_ : ndarray of shape (n_items,)
        Training occurrences of each item, in ``classes_`` order.

    See Also
    --------
    EASE : Item-item linear model; a much stronger baseline.
    ItemKNN : Item-item nearest neighbours.
    Transition : Markov chain over the last items.

    Examples
    --------
    >>> from sklearn_recsys.baselines import Popularity
    >>> X = [[1, 2], [2, 3], [2]]
    >>> y = [3, 4, 3]
    >>> rec = Popularity().fit(X, y)
    >>> rec.recommend([[1]], k=2)
    array([[2, 3]])
    """

    _similar_by = None  # one ranking for everyone: no item-item relation


    _parameter_constraints: dict = {}

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Count item occurrences.

        Parameters
        ----------
        X : DataFrame with a ``history`` column, or sequence of sequences
            Training queries.
        y : array-like of shape (n_rows,)
            Next item of each row.

        Returns
        -------
        self : Popularity
        """
        self._fit_queries(X, y)
        return self

    def _sparse_scores(self, queries):
        n = len(queries)
        return sp.csr_matrix((n, len(self.classes_)), dtype=np.float32), np.ones(n)

    def _explain_exact(self, queries, targets):
        # the history plays no part: the score is the training count
        return (np.zeros((len(queries.codes), len(targets))),
                {"popularity": self.item_counts_[targets].astype(np.float64)})

    def _score_chunk(self, queries):
        return np.broadcast_to(
            self.item_counts_.astype(np.float32), (len(queries), len(self.classes_))
        ).copy()

    def predict_proba(self, X):
        """Item frequencies as probabilities, the same for every row."""
        check_is_fitted(self)
        n = len(self._encode_queries(X))
        p = self.item_counts_ / self.item_counts_.sum()
        return np.broadcast_to(p, (n, len(p))).copy()
