"""Item-based k-nearest-neighbours recommender."""

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import StrOptions

from .._topk import _top_entries
from ..base import RecommenderMixin
from ..utils._param_validation import NumberInterval
from ._memory import _check_memory
from ._ranking import _SparseRankingMixin

# Blocks of item rows whose sparse co-occurrence products hold at most this
# many entries.
_BLOCK_VALUES = 1 << 22
# Memory of one kept similarity while fitting: row, column and value in the
# block lists, their concatenation and the CSR conversion.
_BYTES_PER_NEIGHBOUR = 48


def _interaction_matrix(sequences, n_items, dtype=np.float32):
    """Binary ``(n_sequences, n_items)`` CSR matrix: 1 where a sequence holds an item.

    An item repeated within one sequence counts once.
    """
    lengths = np.fromiter((len(s) for s in sequences), np.int64, len(sequences))
    indptr = np.zeros(len(sequences) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    codes = np.concatenate(sequences) if len(sequences) else np.empty(0, np.int64)
    mat = sp.csr_matrix(
        (np.ones(len(codes), dtype=dtype), codes, indptr), shape=(len(sequences), n_items)
    )
    mat.sum_duplicates()
    mat.data[:] = 1
    return mat


def _history_matrix(queries, n_items, dtype=np.float32):
    """Binary ``(n_rows, n_items)`` CSR matrix of a chunk of encoded histories."""
    mat = sp.csr_matrix(
        (np.ones(len(queries.codes), dtype=dtype), queries.codes, queries.indptr),
        shape=(len(queries), n_items),
    )
    mat.sum_duplicates()
    mat.data[:] = 1
    return mat


def _last_occurrence(codes):
    """True at the last occurrence of each code (binary histories count an item once)."""
    mask = np.zeros(len(codes), dtype=bool)
    _, idx = np.unique(codes[::-1], return_index=True)
    mask[len(codes) - 1 - idx] = True
    return mask


class ItemKNN(_SparseRankingMixin, RecommenderMixin, BaseEstimator):
    r"""Item-based nearest neighbours with shrunk cosine (or Jaccard) similarity.

    Each training sequence (history + target) is one row of a binary
    user-item matrix :math:`X` (an item repeated in a sequence counts once).
    With :math:`c_{ij} = (X^\top X)_{ij}` the number of sequences holding both
    items :math:`i` and :math:`j`, the similarity of two distinct items is

    .. math::

        s_{ij} = \frac{c_{ij}}{\sqrt{c_{ii}}\,\sqrt{c_{jj}} + \lambda}
        \quad\text{(cosine)}, \qquad
        s_{ij} = \frac{c_{ij}}{c_{ii} + c_{jj} - c_{ij} + \lambda}
        \quad\text{(Jaccard)},

    where the shrinkage :math:`\lambda` damps similarities supported by few
    co-occurrences. Row :math:`i` of the similarity matrix keeps only the
    ``n_neighbors`` largest positive :math:`s_{ij}` (the neighbours of
    :math:`i`). A query with history :math:`h` scores item :math:`j` by
    :math:`\sum_{i \in h} s_{ij}` (each distinct history item once), the
    classic item-based collaborative filtering of Sarwar et al. (2001) and
    Deshpande & Karypis (2004).

    Items with no neighbour in the history score 0; ties are broken by item
    id. A history with no known item gets the most popular items.

    **Scale**: ``fit`` computes the co-occurrences of blocks of items as
    sparse products and the similarities on their nonzeros only (work about
    the sum of the squared sequence lengths, not ``n_items**2``);
    ``similarity_`` holds at most ``n_items x n_neighbors`` entries, and
    ``fit`` raises a ``MemoryError`` first when even its bound would not fit
    in the available memory. ``recommend`` ranks the sparse scores of each
    query (no ``n_rows x n_items`` block); ``decision_function`` is dense,
    for small catalogues.

    Parameters
    ----------
    n_neighbors : int, default=100
        Number of most similar items kept per item.
    shrinkage : float, default=10.0
        Added to the denominator of every similarity, :math:`\lambda` above.
    similarity : {"cosine", "jaccard"}, default="cosine"
        Similarity measure.

    Attributes
    ----------
    classes_ : ndarray of shape (n_items,)
        Known item ids, sorted.
    item_counts_ : ndarray of shape (n_items,)
        Training occurrences of each item, in ``classes_`` order.
    similarity_ : scipy.sparse.csr_matrix of shape (n_items, n_items), float32
        Pruned similarity matrix; row ``i`` holds the neighbours of item
        ``classes_[i]``. The diagonal is zero.

    See Also
    --------
    EASE : Learned item-item weights; usually more accurate.
    Transition : Uses only the order of the last items.
    Popularity : The non-personalised baseline.

    References
    ----------
    B. Sarwar, G. Karypis, J. Konstan, J. Riedl. "Item-based collaborative
    filtering recommendation algorithms". WWW 2001.

    M. Deshpande, G. Karypis. "Item-based top-N recommendation algorithms".
    ACM TOIS 22(1), 2004.

    Examples
    --------
    >>> from sklearn_recsys.baselines import ItemKNN
    >>> X = [["a", "b"], ["a", "b"], ["c"]]
    >>> y = ["c", "c", "d"]
    >>> rec = ItemKNN(n_neighbors=2, shrinkage=0.0).fit(X, y)
    >>> rec.recommend([["a"]], k=2)
    array([['b', 'c']], dtype=object)
    """

    _parameter_constraints: dict = {
        "n_neighbors": [NumberInterval(Integral, 1, None, closed="left")],
        "shrinkage": [NumberInterval(Real, 0, None, closed="left")],
        "similarity": [StrOptions({"cosine", "jaccard"})],
    }

    def __init__(self, *, n_neighbors=100, shrinkage=10.0, similarity="cosine"):
        self.n_neighbors = n_neighbors
        self.shrinkage = shrinkage
        self.similarity = similarity

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Compute the pruned item-item similarity matrix.

        Parameters
        ----------
        X : DataFrame with a ``history`` column, or sequence of sequences
            Training queries.
        y : array-like of shape (n_rows,)
            Next item of each row.

        Returns
        -------
        self : ItemKNN
            The fitted recommender.
        """
        queries, y_codes = self._fit_queries(X, y)
        n_items = len(self.classes_)
        ui = _interaction_matrix(self._training_sequences(queries, y_codes), n_items)
        iu = ui.T.tocsr()
        counts = np.asarray(ui.sum(axis=0), dtype=np.float32).ravel()
        norms = np.sqrt(counts)
        n_keep = min(self.n_neighbors, n_items - 1)
        # work[i]: the products behind item i's co-occurrence row, a bound on
        # its entries
        work = iu @ np.diff(ui.indptr).astype(np.float64)
        _check_memory(
            self,
            _BYTES_PER_NEIGHBOUR * int(np.minimum(work, n_keep).sum()),
            f"ItemKNN with {n_items:,} items and n_neighbors={self.n_neighbors} (up to "
            f"{n_keep} similarities kept per item, {_BYTES_PER_NEIGHBOUR} bytes each "
            "while fitting)",
            "Lower n_neighbors, or drop rare items from the training data.",
        )
        cum = np.concatenate([[0.0], np.cumsum(work)])
        rows, cols, vals = [], [], []
        start = 0
        while start < n_items:
            # the next item rows whose products fit in a block (at least one)
            stop = int(np.searchsorted(cum, cum[start] + _BLOCK_VALUES, side="right")) - 1
            stop = min(n_items, max(start + 1, stop))
            # co-occurrence counts of a block of items, sparse: every entry
            # is computed on the nonzeros only
            co = iu[start:stop] @ ui
            r = np.repeat(np.arange(start, stop), np.diff(co.indptr))
            c = co.indices.astype(np.int64)
            off = r != c  # the diagonal is zero
            r, c, v = r[off], c[off], co.data[off]
            if self.similarity == "cosine":
                den = norms[r] * norms[c]
            else:
                den = counts[r] + counts[c]
                den -= v
            # every known item occurs in a training sequence, so den >= 1
            den += self.shrinkage
            v = v / den
            pos = v > 0
            r, c, v = r[pos], c[pos], v[pos]
            # rows with at most n_keep positive similarities keep them all;
            # the others keep their n_keep best (ties: lower item code)
            ptr = np.zeros(stop - start + 1, dtype=np.int64)
            np.cumsum(np.bincount(r - start, minlength=stop - start), out=ptr[1:])
            keep = _top_entries(ptr, c, v, n_keep)
            rows.append(r[keep])
            cols.append(c[keep])
            vals.append(v[keep])
            start = stop
        # the blocks come in row order: CSR directly, columns sorted per row
        rows = np.concatenate(rows) if rows else np.empty(0, np.int64)
        indptr = np.zeros(n_items + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_items), out=indptr[1:])
        self.similarity_ = sp.csr_matrix(
            (
                np.concatenate(vals) if vals else np.empty(0, np.float32),
                np.concatenate(cols) if cols else np.empty(0, np.int64),
                indptr,
            ),
            shape=(n_items, n_items),
            dtype=np.float32,
        )
        self.similarity_.sort_indices()
        return self

    def _sparse_scores(self, queries):
        return _history_matrix(queries, len(self.classes_)) @ self.similarity_, None

    def _explain_exact(self, queries, targets):
        # score = sum over the distinct history items of their similarity row
        codes = queries.codes
        hist = self.similarity_[codes][:, targets].toarray().astype(np.float64)
        hist[~_last_occurrence(codes)] = 0.0
        return hist, {}

    def _score_chunk(self, queries):
        return self._sparse_scores(queries)[0].toarray()
