"""EASE: embarrassingly shallow autoencoder (Steck, 2019)."""

from numbers import Real

import numpy as np
import scipy.linalg
from scipy.linalg import blas, lapack
from sklearn.base import BaseEstimator, _fit_context

from ..base import RecommenderMixin
from ..utils._param_validation import NumberInterval
from ._knn import _history_matrix, _interaction_matrix, _last_occurrence
from ._memory import _check_memory

# Dense row blocks (users, or rows of B) hold at most this many float32 values.
_BLOCK_VALUES = 1 << 24


def _gram_upper(ui):
    """Upper triangle (Fortran order) of ``ui.T @ ui`` as float32 ``(n, n)``.

    Dense rank-k updates (BLAS ``syrk``) over blocks of users unless the sparse
    product is much cheaper (few items per user, as in long-tail logs).
    """
    n_users, n_items = ui.shape
    dense_cost = n_users * n_items * n_items / 2
    sparse_cost = 500.0 * float((np.diff(ui.indptr).astype(np.float64) ** 2).sum())
    if sparse_cost < dense_cost:
        return np.asfortranarray((ui.T @ ui).toarray(), dtype=np.float32)
    gram = np.zeros((n_items, n_items), dtype=np.float32, order="F")
    step = max(256, _BLOCK_VALUES // max(1, n_items))
    for start in range(0, n_users, step):
        block = ui[start : start + step].toarray()
        gram = blas.ssyrk(1.0, block, beta=1.0, c=gram, trans=1, lower=0, overwrite_c=1)
    return gram


def _symmetrize_from_upper(a):
    """Copy the upper triangle of the Fortran-ordered square ``a`` to the lower, in place."""
    n = a.shape[0]
    step = max(1, _BLOCK_VALUES // max(1, n))
    for start in range(0, n, step):
        stop = min(n, start + step)
        # columns start:stop, rows below the diagonal block <- their transposes
        a[stop:, start:stop] = a[start:stop, stop:].T
        blk = a[start:stop, start:stop]
        blk[...] = np.triu(blk) + np.triu(blk, 1).T
    return a


def _ease_primal(ui, l2):
    """``B`` from the Cholesky inverse of the item Gram matrix (n_items^3 flops)."""
    p = _gram_upper(ui)
    p.flat[:: p.shape[0] + 1] += np.float32(l2)
    p, info = lapack.spotrf(p, lower=0, clean=0, overwrite_a=1)
    if info == 0:
        p, info = lapack.spotri(p, lower=0, overwrite_c=1)
    if info != 0:  # pragma: no cover - X^T X + l2 I is positive definite
        raise np.linalg.LinAlgError(
            f"Cholesky inverse failed (LAPACK info={info}); increase l2 (got {l2})."
        )
    # P is symmetric: its transpose is the same matrix, C-contiguous
    p = _symmetrize_from_upper(p).T
    # B = I - P / diag(P): off-diagonal B_ij = -P_ij / P_jj, diagonal 0
    p *= (-1.0 / np.diag(p))[None, :]
    p.flat[:: p.shape[0] + 1] = 0.0
    return p


def _ease_dual(ui, l2):
    """``B`` through the Woodbury identity, for fewer users than items.

    ``P = (X^T X + l2 I)^{-1} = (I - Z^T Z) / l2`` with ``Z = L^{-1} X`` and
    ``L L^T = X X^T + l2 I`` (users x users), so
    ``B_ij = (Z^T Z)_ij / (1 - ||z_j||^2)`` for ``i != j``. The small system
    is solved in float64; the ``n_items^2`` product is a float32 ``syrk``.
    """
    dense = ui.toarray().astype(np.float64)
    kernel = dense @ dense.T
    kernel.flat[:: kernel.shape[0] + 1] += l2
    chol = scipy.linalg.cholesky(kernel, lower=True, overwrite_a=True, check_finite=False)
    z = scipy.linalg.solve_triangular(
        chol, dense, lower=True, overwrite_b=True, check_finite=False
    )
    denom = 1.0 - np.einsum("ij,ij->j", z, z)
    b = blas.ssyrk(1.0, z.astype(np.float32), trans=1, lower=0)
    del z
    b = _symmetrize_from_upper(b).T
    b *= (1.0 / denom).astype(np.float32)[None, :]
    b.flat[:: b.shape[0] + 1] = 0.0
    return b


class EASE(RecommenderMixin, BaseEstimator):
    r"""Embarrassingly Shallow Autoencoder: a closed-form item-item linear model.

    Each training sequence (history + target) is one row of a binary
    user-item matrix :math:`X` (an item repeated in a sequence counts once).
    EASE learns the item-item weights

    .. math::

        B = \arg\min_B \|X - XB\|_F^2 + \lambda \|B\|_F^2
        \quad \text{s.t.} \quad \operatorname{diag}(B) = 0,

    whose solution is, with :math:`P = (X^\top X + \lambda I)^{-1}`,

    .. math::

        B = I - P \operatorname{diagMat}(1 / \operatorname{diag}(P)),
        \qquad\text{i.e.}\quad B_{ij} = -P_{ij} / P_{jj} \ (i \ne j),
        \quad B_{jj} = 0.

    A query scores the items by :math:`h B`, where :math:`h` is the binary
    vector of its history. The order of the history is not used.

    :math:`P` is computed in float32 from a Cholesky factorisation
    (LAPACK ``spotrf`` + ``spotri``, about :math:`n_{items}^3` flops), or, when
    there are fewer training sequences than items, through the Woodbury
    identity on the smaller users x users system. Both give the same
    :math:`B`.

    **Memory**: :math:`B` is a dense ``n_items x n_items`` float32 matrix, kept
    in the fitted model (and in its pickle): 4 bytes x ``n_items**2``, e.g.
    9.7k items (MovieLens latest-small) -> about 380 MB; 50k items -> 10 GB.
    Fitting needs about the same again. ``fit`` checks this first: when two
    such matrices exceed the available memory it raises a ``MemoryError``
    (before allocating anything large) that names the alternatives,
    :class:`ItemKNN` (each item's top neighbours, sparse) or
    ``IntentRecommender(loss="sampled_softmax")``.

    Parameters
    ----------
    l2 : float, default=500.0
        L2 regularisation :math:`\lambda` (> 0). Steck reports good values
        between a few hundred and a few thousand on large datasets; smaller
        datasets usually want smaller values.

    Attributes
    ----------
    classes_ : ndarray of shape (n_items,)
        Known item ids, sorted.
    item_counts_ : ndarray of shape (n_items,)
        Training occurrences of each item, in ``classes_`` order.
    coef_ : ndarray of shape (n_items, n_items), float32
        The weight matrix :math:`B` (rows: history items, columns: scored
        items), zero diagonal.

    See Also
    --------
    ItemKNN : Heuristic item-item similarities; sparse, cheaper in memory.
    Popularity : The non-personalised baseline.

    References
    ----------
    H. Steck. "Embarrassingly Shallow Autoencoders for Sparse Data".
    The Web Conference (WWW) 2019. https://arxiv.org/abs/1905.03375

    Examples
    --------
    >>> from sklearn_recsys.baselines import EASE
    >>> X = [[1, 2], [1, 2], [3]]
    >>> y = [3, 3, 4]
    >>> rec = EASE(l2=1.0).fit(X, y)
    >>> rec.coef_.shape
    (4, 4)
    >>> rec.recommend([[1]], k=2)
    array([[2, 3]])
    """

    _parameter_constraints: dict = {
        "l2": [NumberInterval(Real, 0, None, closed="neither")],
    }

    def __init__(self, *, l2=500.0):
        self.l2 = l2

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Compute the weight matrix ``coef_`` in closed form.

        Parameters
        ----------
        X : DataFrame with a ``history`` column, or sequence of sequences
            Training queries.
        y : array-like of shape (n_rows,)
            Next item of each row.

        Returns
        -------
        self : EASE
            The fitted recommender.
        """
        queries, y_codes = self._fit_queries(X, y)
        n_items = len(self.classes_)
        _check_memory(
            self,
            2 * 4 * n_items**2,
            f"EASE with {n_items:,} items (dense n_items x n_items float32 matrices: "
            "about two while fitting, one kept in the model)",
            "For a catalogue this large use ItemKNN, which keeps each item's top "
            "neighbours in a sparse matrix, or IntentRecommender(loss=\"sampled_softmax\").",
        )
        ui = _interaction_matrix(self._training_sequences(queries, y_codes), n_items)
        n_users, n_items = ui.shape
        # flops: dual ~ m^2 n + m^3 / 3 (+ m n^2 / 2, shared); primal ~ n^3
        if n_users * n_users * n_items + n_users**3 / 3 < float(n_items) ** 3:
            self.coef_ = _ease_dual(ui, float(self.l2))
        else:
            self.coef_ = _ease_primal(ui, float(self.l2))
        return self

    def _explain_exact(self, queries, targets):
        # score = sum over the distinct history items of their weight row
        codes = queries.codes
        hist = np.asarray(self.coef_[np.ix_(codes, targets)], dtype=np.float64)
        hist[~_last_occurrence(codes)] = 0.0
        return hist, {}

    def _score_chunk(self, queries):
        hist = _history_matrix(queries, len(self.classes_))
        return np.asarray(hist @ self.coef_)
