"""Ranking the baselines from their sparse scores.

The classical baselines score a query by a sparse row (similarities,
transition counts) plus at most a rank-one dense part (a weight times the
item popularity). :func:`~sklearn_recsys._topk.top_k_sparse` ranks that
without the ``(n_rows, n_items)`` block, with the lists and scores the dense
engine gives; ``decision_function`` stays dense (a small-catalogue API, in
the mixin's ``_chunk_rows`` blocks).
"""

import numpy as np
import scipy.sparse as sp

from .._topk import top_k_sparse

# Rows ranked together: the sparse scores of a chunk, not n_items, bound the memory.
_RANK_ROWS = 512


class _SparseRankingMixin:
    """``recommend`` from ``_sparse_scores`` for a :class:`~sklearn_recsys.base.RecommenderMixin`.

    Subclasses implement ``_sparse_scores(queries) -> (scores, row_weights)``:
    a sparse ``(n_rows, n_items)`` matrix and the weights of the rank-one
    dense part ``row_weights[r] * item_scores[j]`` (None for no dense part),
    with ``_item_scores() -> (item_scores, levels)`` (training counts by
    default; it must increase with them: the cached popularity order ranks
    them); see :func:`~sklearn_recsys._topk.top_k_sparse`. Their
    ``_score_chunk`` must compute the same scores densely (the tests compare
    both). Rows with no known history item are ranked by popularity, as by
    the mixin. Put it left of :class:`~sklearn_recsys.base.RecommenderMixin`.
    """

    def _count_items(self, queries, y_codes):
        super()._count_items(queries, y_codes)
        # the popularity order, once per fit: every recommend call uses it
        self._popularity_order_ = np.argsort(-self.item_counts_, kind="stable")
        self._popularity_levels_ = np.unique(self.item_counts_)

    def _rank_rows(self):
        return max(super()._rank_rows(), _RANK_ROWS)

    def _sparse_scores(self, queries):  # pragma: no cover - abstract
        raise NotImplementedError

    def _item_scores(self):
        """The dense part's item scores and their distinct values, increasing."""
        return self.item_counts_, self._popularity_levels_

    def _rank_popular(self, n_rows, k, allowed):
        """Popularity lists of ``n_rows`` rows with no history."""
        return top_k_sparse(
            sp.csr_matrix((n_rows, len(self.classes_)), dtype=np.float32), k,
            row_weights=np.ones(n_rows), item_scores=self.item_counts_,
            order=self._popularity_order_, levels=self._popularity_levels_,
            allowed=allowed,
        )

    def _topk_chunk(self, queries, k, exclude_seen, allowed):
        """Top-``k`` codes and scores of a chunk, from its sparse scores."""
        n = len(queries)
        empty = queries.lengths() == 0
        codes = np.empty((n, k), dtype=np.int64)
        scores = np.empty((n, k), dtype=np.float32)
        if empty.any():
            codes[empty], scores[empty] = self._rank_popular(int(empty.sum()), k, allowed)
        if empty.all():
            return codes, scores
        rows = np.flatnonzero(~empty)
        sparse, row_weights = self._sparse_scores(queries)
        item_scores, levels = self._item_scores() if row_weights is not None else (None, None)
        if len(rows) < n:
            sparse = sparse[rows]
            row_weights = None if row_weights is None else row_weights[rows]
        seen = None
        if exclude_seen:
            new_row = np.cumsum(~empty) - 1  # seen items belong to non-empty rows
            seen = (new_row[queries.row_ids()], queries.codes)
        codes[rows], scores[rows] = top_k_sparse(
            sparse, k, row_weights=row_weights, item_scores=item_scores,
            order=self._popularity_order_, levels=levels, seen=seen, allowed=allowed,
        )
        return codes, scores
