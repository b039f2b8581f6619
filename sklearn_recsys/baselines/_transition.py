"""Markov-chain (item-to-item transition) recommender."""

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context

from ..base import RecommenderMixin
from ..utils._param_validation import NumberInterval
from ._ranking import _SparseRankingMixin


class Transition(_SparseRankingMixin, RecommenderMixin, BaseEstimator):
    r"""First-order Markov chain over items, applied to the last few items.

    Transitions are counted from consecutive pairs of every training sequence
    (history + target): :math:`C_{ab}` = number of times item :math:`b`
    directly follows item :math:`a`. With :math:`C_a = \sum_b C_{ab}`, the
    training popularity :math:`\pi_b` (``item_counts_`` normalised) and the
    smoothing :math:`s`, the next-item distribution after :math:`a` is the
    counts shrunk towards popularity (a Dirichlet prior of weight :math:`s`):

    .. math::

        P(b \mid a) = \frac{C_{ab} + s\,\pi_b}{C_a + s}.

    A query whose last known items are :math:`l_1` (most recent),
    :math:`l_2, \dots` scores

    .. math::

        \text{score}(b) = \sum_{t=1}^{\min(\text{order}, |h|)}
        \text{decay}^{\,t-1}\, P(b \mid l_t),

    i.e. the same one-step transition matrix applied to each of the last
    ``order`` items, older items down-weighted: a mixture of first-order
    Markov chains, as in the Markov part of FPMC (Rendle et al., 2010).

    An item never followed by anything in training (:math:`C_a = 0`)
    predicts plain popularity, :math:`P(b \mid a) = \pi_b`, whatever the
    smoothing. A history with no known item gets the most popular items.

    The scores of a query are a sparse row (the counts following its last
    items) plus a weight times :math:`\pi`: ``recommend`` merges the best
    sparse entries with the head of the popularity order, with no
    ``n_rows x n_items`` block (the lists equal those of the dense scores,
    float32 ties included). ``decision_function`` is dense: for small
    catalogues.

    Parameters
    ----------
    order : int, default=1
        Number of last history items used.
    decay : float, default=0.5
        Weight ratio between an item and the one after it, in ``[0, 1]``.
    smoothing : float, default=1.0
        Pseudo-count :math:`s` of the popularity prior (>= 0). Also breaks
        ties between items with the same transition counts.

    Attributes
    ----------
    classes_ : ndarray of shape (n_items,)
        Known item ids, sorted.
    item_counts_ : ndarray of shape (n_items,)
        Training occurrences of each item, in ``classes_`` order.
    transition_counts_ : scipy.sparse.csr_matrix of shape (n_items, n_items), int64
        :math:`C`: entry ``(a, b)`` counts the times ``classes_[b]`` directly
        followed ``classes_[a]``.

    See Also
    --------
    ItemKNN : Order-free item-item similarities.
    Popularity : The non-personalised baseline.

    References
    ----------
    S. Rendle, C. Freudenthaler, L. Schmidt-Thieme. "Factorizing
    personalized Markov chains for next-basket recommendation". WWW 2010.

    Examples
    --------
    >>> from sklearn_recsys.baselines import Transition
    >>> X = [["a", "b"], ["a", "b"], ["b"]]
    >>> y = ["c", "c", "c"]
    >>> rec = Transition().fit(X, y)
    >>> rec.transition_counts_.toarray()
    array([[0, 2, 0],
           [0, 0, 3],
           [0, 0, 0]])
    >>> rec.recommend([["a"]], k=2)
    array([['b', 'c']], dtype=object)
    """

    _parameter_constraints: dict = {
        "order": [NumberInterval(Integral, 1, None, closed="left")],
        "decay": [NumberInterval(Real, 0, 1, closed="both")],
        "smoothing": [NumberInterval(Real, 0, None, closed="left")],
    }

    def __init__(self, *, order=1, decay=0.5, smoothing=1.0):
        self.order = order
        self.decay = decay
        self.smoothing = smoothing

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Count the item-to-item transitions.

        Parameters
        ----------
        X : DataFrame with a ``history`` column, or sequence of sequences
            Training queries.
        y : array-like of shape (n_rows,)
            Next item of each row.

        Returns
        -------
        self : Transition
            The fitted recommender.
        """
        queries, y_codes = self._fit_queries(X, y)
        n_items = len(self.classes_)
        seqs = [s for s in self._training_sequences(queries, y_codes) if len(s) > 1]
        src = np.concatenate([s[:-1] for s in seqs]) if seqs else np.empty(0, np.int64)
        dst = np.concatenate([s[1:] for s in seqs]) if seqs else np.empty(0, np.int64)
        counts = sp.csr_matrix(
            (np.ones(len(src), dtype=np.int64), (src, dst)), shape=(n_items, n_items)
        )
        counts.sum_duplicates()
        self.transition_counts_ = counts
        return self

    def _item_scores(self):
        total = max(1, self.item_counts_.sum())
        return self.item_counts_ / total, self._popularity_levels_ / total

    def _sparse_scores(self, queries):
        """Sparse part (float64 CSR) and popularity weight of each row's scores."""
        n_items = len(self.classes_)
        s = float(self.smoothing)
        out_degree = np.asarray(self.transition_counts_.sum(axis=1)).ravel()
        lengths = queries.lengths()
        ends = queries.indptr[1:]
        rows, cols, vals = [], [], []
        prior = np.zeros(len(queries))  # weight of the popularity term per row
        for t in range(min(self.order, int(lengths.max(initial=0)))):
            has = np.flatnonzero(lengths > t)
            last = queries.codes[ends[has] - 1 - t]
            weight = float(self.decay) ** t
            total = out_degree[last] + s
            seen = total > 0
            rows.append(has[seen])
            cols.append(last[seen])
            vals.append(weight / total[seen])
            # s / (C_a + s) of the prior; all of it when nothing follows a
            prior[has] += weight * np.where(seen, s / np.where(seen, total, 1), 1.0)
        weights = sp.csr_matrix(
            (
                np.concatenate(vals) if vals else np.empty(0),
                (
                    np.concatenate(rows) if rows else np.empty(0, np.int64),
                    np.concatenate(cols) if cols else np.empty(0, np.int64),
                ),
            ),
            shape=(len(queries), n_items),
        )
        return weights @ self.transition_counts_, prior

    def _explain_exact(self, queries, targets):
        # the last ``order`` history items, each weighted decay**t / (C_a + s),
        # plus the smoothing prior's popularity term (as in _sparse_scores)
        codes = queries.codes
        s = float(self.smoothing)
        hist = np.zeros((len(codes), len(targets)))
        prior = 0.0
        for t in range(min(self.order, len(codes))):
            p = len(codes) - 1 - t
            weight = float(self.decay) ** t
            total = float(self.transition_counts_[codes[p]].sum()) + s
            if total > 0:
                hist[p] = weight / total * self.transition_counts_[codes[p]][:, targets].toarray().ravel()
                prior += weight * s / total
            else:
                prior += weight
        popularity, _ = self._item_scores()
        return hist, {"popularity": prior * np.asarray(popularity, dtype=np.float64)[targets]}

    def _score_chunk(self, queries):
        sparse, prior = self._sparse_scores(queries)
        popularity, _ = self._item_scores()
        scores = sparse.toarray()
        scores += prior[:, None] * popularity[None, :]
        return scores.astype(np.float32)
