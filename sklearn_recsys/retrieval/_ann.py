"""ApproximateRecommender: a vector recommender ranked through an ANN index.

A vector recommender scores items by ``transform(X) @ item_vectors().T``
(:class:`~sklearn_recsys.intent.IntentRecommender`). Ranking a catalogue of
10^6 items exactly costs ``n_items x d`` multiply-adds per query; an
approximate nearest-neighbour index over the item vectors returns the best
inner products of a few thousand items instead. This meta-estimator builds
the index after fitting its estimator and keeps the package's ranking
contract on top of it: the index only proposes items, which are re-scored
exactly and ordered by (score, item code).
"""

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._topk import SEEN, _top_k_subset, top_k
from ..base import _CHUNK_SCORES, Queries, RecommenderMixin
from . import _backends

__all__ = ["ApproximateRecommender", "retrieval_recall"]

# Rows searched per call of the index (and per transform call).
_QUERY_ROWS = 4096


class ApproximateRecommender(RecommenderMixin, BaseEstimator):
    """Rank a vector recommender's items through an approximate nearest-neighbour index.

    ``fit`` fits a clone of ``estimator`` (a model with ``transform(X)``
    returning query vectors and ``item_vectors()`` returning the item
    vectors, such as :class:`~sklearn_recsys.intent.IntentRecommender`),
    then indexes its item vectors for maximum inner-product search.
    ``recommend`` embeds the queries with ``estimator_.transform``, asks the
    index for the best items and re-scores them exactly, so the returned
    scores are the estimator's own dot products and only the choice of items
    is approximate. To index a model that is already fitted, wrap it in
    :class:`sklearn.frozen.FrozenEstimator` (its ``fit`` does nothing)::

        ApproximateRecommender(FrozenEstimator(fitted)).fit(X, y)

    (``X`` and ``y`` are then not used; any queries will do.)

    The ranking contract (:class:`~sklearn_recsys.base.RecommenderMixin`)
    holds, with one approximation, the set of items proposed by the index:

    * a row with no known history item gets the estimator's popularity
      fallback, ranked exactly;
    * ``exclude_seen``: the index is asked for ``k`` plus the history's
      length (rounded up to a power of two) items; a row left with fewer
      than ``k`` unseen allowed items is asked again for four times as many,
      then ranked exactly. Seen items that fill a list score ``-inf``;
    * ``candidates``: a candidate set of at most ``exact_candidates`` items
      is ranked exactly (its scores only); a larger one is over-fetched in
      proportion to ``n_items / n_candidates``, with the same retries;
    * the proposed items are ordered by exact score, ties to the lower item
      code. An item tied with the k-th that the index did not propose cannot
      be listed: ties are broken by code among proposed items.

    With an exhaustive setting (``n_probe >= n_lists`` for faiss, or a
    catalogue smaller than ``ef_search`` for the graph backends) the lists
    equal the estimator's own ``recommend``, up to float rounding of the
    scores.

    Parameters
    ----------
    estimator : estimator object
        An unfitted vector recommender with ``fit``, ``transform``,
        ``item_vectors``, ``classes_`` and ``item_counts_``; or a fitted one
        wrapped in :class:`sklearn.frozen.FrozenEstimator`.
    backend : {"auto", "faiss", "hnswlib", "usearch"}, default="auto"
        Index library (optional dependencies: ``pip install
        'sklearn-recsys[ann]'``). ``"faiss"``: an inverted file
        (``IndexIVFFlat``, inner product) of ``n_lists`` k-means lists, of
        which ``n_probe`` are scanned per query; the fastest to build
        (about a minute for 10^6 items on 2 cores), slower per query.
        ``"hnswlib"`` and ``"usearch"``: HNSW graphs (inner-product space)
        of ``hnsw_m`` links per node; several times slower to build, faster
        per query at the same recall. ``"auto"`` takes the first installed
        of hnswlib, faiss, usearch.
    n_lists : int or None, default=None
        faiss: number of inverted lists. None: ``4 sqrt(n_items)``, at most
        ``n_items / 39`` (so k-means has 39 points per list).
    n_probe : int or None, default=None
        faiss: lists scanned per query; more is slower and more exact
        (``n_probe >= n_lists`` is exhaustive). None: 2.5% of the lists
        (100 of 4,000 at 10^6 items).
    hnsw_m : int, default=32
        hnswlib, usearch: links per node of the graph. On a fitted
        IntentRecommender's vectors 32 found 97% of the exact top 10 at
        ``ef_search=64`` where 16 found 89%, for 20% more build time.
    ef_construction : int, default=100
        hnswlib, usearch: candidate list size while building the graph.
    ef_search : int, default=64
        hnswlib, usearch: candidate list size per query (at least the number
        of items asked for); more is slower and more exact.
    exact_candidates : int, default=10000
        Candidate sets (``recommend(candidates=...)``) of at most this many
        items are ranked exactly, without the index.
    n_jobs : int or None, default=None
        Threads of the index library for building and searching; None means
        1, -1 every core.
    random_state : int, default=0
        Seed of faiss's k-means and of hnswlib's graph levels (usearch has
        none). Builds with ``n_jobs`` above 1 may still differ between runs
        (graph insertion order).

    Attributes
    ----------
    estimator_ : estimator object
        The fitted clone of ``estimator`` (the ``FrozenEstimator`` itself
        when one was given).
    backend_ : str
        The backend used ("faiss", "hnswlib" or "usearch").
    index_ : object
        The index: a ``faiss.IndexIVFFlat``, ``hnswlib.Index`` or
        ``usearch.index.Index`` over the item codes (positions in
        ``classes_``). Pickling serialises it.
    classes_ : ndarray of shape (n_items,)
        Known item ids, sorted (the estimator's).
    item_counts_ : ndarray of shape (n_items,)
        Training occurrences of each item (the estimator's; the popularity
        fallback).

    See Also
    --------
    retrieval_recall : Share of the exact top-k lists that the approximate
        lists find.
    sklearn_recsys.intent.IntentRecommender.item_vectors : The vectors
        indexed.

    Notes
    -----
    Only ``recommend`` (and ``predict``, ``score``, which use it) is
    approximate; ``decision_function`` returns the estimator's exact dense
    scores. The index is built from ``item_vectors()`` at ``fit``: refit
    after changing the estimator (``update_items``, ``set_params`` of
    ``cold_scale``). On a catalogue of 10^6 items (d=64) see the ANN
    benchmark for build and query times against recall.

    Examples
    --------
    >>> from sklearn_recsys.intent import IntentRecommender
    >>> from sklearn_recsys.retrieval import ApproximateRecommender
    >>> X = [[1, 2, 3], [2, 3, 4], [1, 2], [3, 4]] * 8
    >>> y = [4, 5, 3, 5] * 8
    >>> net = IntentRecommender(max_epochs=20, lr=0.01, max_len=4, verbose=0,
    ...                         module__d_model=8, random_state=0, device="cpu")
    >>> rec = ApproximateRecommender(net, backend="faiss").fit(X, y)
    >>> rec.recommend([[1, 2]], k=2)
    array([[3, 4]])
    >>> rec.index_.ntotal
    5
    """

    _similar_by = None  # the index serves recommend; use the wrapped model's similar_items


    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "transform", "item_vectors"])],
        "backend": [StrOptions({"auto", *_backends.PACKAGES})],
        "n_lists": [None, Interval(Integral, 1, None, closed="left")],
        "n_probe": [None, Interval(Integral, 1, None, closed="left")],
        "hnsw_m": [Interval(Integral, 2, None, closed="left")],
        "ef_construction": [Interval(Integral, 1, None, closed="left")],
        "ef_search": [Interval(Integral, 1, None, closed="left")],
        "exact_candidates": [Interval(Integral, 0, None, closed="left")],
        "n_jobs": [None, Integral],
        "random_state": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, estimator, *, backend="auto", n_lists=None, n_probe=None, hnsw_m=32,
                 ef_construction=100, ef_search=64, exact_candidates=10_000, n_jobs=None,
                 random_state=0):
        self.estimator = estimator
        self.backend = backend
        self.n_lists = n_lists
        self.n_probe = n_probe
        self.hnsw_m = hnsw_m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.exact_candidates = exact_candidates
        self.n_jobs = n_jobs
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, **fit_params):
        """Fit a clone of ``estimator``, then index its item vectors.

        Parameters
        ----------
        X : DataFrame with a ``history`` column, or sequence of sequences
            Training queries.
        y : array-like of shape (n_rows,)
            Next item of each row.
        **fit_params : dict
            Passed to ``estimator.fit``.

        Returns
        -------
        self : ApproximateRecommender
        """
        backend = _backends.resolve(self.backend)  # before a long fit
        estimator = clone(self.estimator).fit(X, y, **fit_params)
        vectors = self._check_vectors(estimator)
        index = _backends.build(backend, vectors, self._index_params(), self._threads())
        self.estimator_ = estimator
        self.backend_ = backend
        self.index_ = index
        self._vectors_ = vectors
        self.classes_ = estimator.classes_
        self.item_counts_ = estimator.item_counts_
        self._item_kind_ = getattr(
            estimator, "_item_kind_", "str" if self.classes_.dtype == object else "int")
        return self

    @staticmethod
    def _check_vectors(estimator):
        vectors = np.ascontiguousarray(estimator.item_vectors(), dtype=np.float32)
        n = len(estimator.classes_)
        if vectors.ndim != 2 or len(vectors) != n:
            raise ValueError(
                f"{type(estimator).__name__}.item_vectors() must return one row per item of "
                f"classes_ ({n}); got shape {vectors.shape}."
            )
        if not np.isfinite(vectors).all():
            raise ValueError(f"{type(estimator).__name__}.item_vectors() holds NaN or inf.")
        return vectors

    def _index_params(self):
        return {
            "n_lists": self.n_lists, "n_probe": self.n_probe, "hnsw_m": self.hnsw_m,
            "ef_construction": self.ef_construction, "ef_search": self.ef_search,
            "seed": self.random_state,
        }

    def _threads(self):
        return _backends.n_threads(self.n_jobs)

    # -- ranking ------------------------------------------------------------
    def decision_function(self, X):
        """The estimator's exact scores of every item (dense; small catalogues).

        Parameters
        ----------
        X : DataFrame with a ``history`` column, or sequence of sequences
            Queries.

        Returns
        -------
        scores : ndarray of shape (n_rows, n_items), float32
        """
        check_is_fitted(self)
        return self.estimator_.decision_function(X)

    def _fallback_scores(self):
        own = getattr(self.estimator_, "_fallback_scores", None)
        return own() if callable(own) else self.item_counts_.astype(np.float32)

    def _chunk_rows(self):
        return _QUERY_ROWS

    def _intents(self, queries):
        """Query vectors ``(n, d)`` of rows that all hold a known item."""
        if queries.frame is not None:
            X = queries.frame
        else:  # known items only: transform drops unknown ones anyway
            X = [h.tolist() for h in np.split(self.classes_[queries.codes], queries.indptr[1:-1])]
        return np.ascontiguousarray(self.estimator_.transform(X), dtype=np.float32)

    def _score_chunk(self, queries):
        """Exact scores of a chunk (per-row candidates and ``exclude`` rank
        these, not the index); rows with no known item score 0 here (the
        mixin gives them the popularity fallback)."""
        lengths = queries.lengths()
        out = np.zeros((len(queries), len(self.classes_)), dtype=np.float32)
        rows = np.flatnonzero(lengths > 0)
        if len(rows):
            indptr = np.concatenate([[0], np.cumsum(lengths[rows])])
            frame = None if queries.frame is None else queries.frame.iloc[rows]
            out[rows] = self._intents(Queries(indptr, queries.codes, frame)) @ self._vectors_.T
        return out

    def _topk_chunk(self, queries, k, exclude_seen, allowed):
        """Top-``k`` codes and scores of a chunk: fallback rows, then the index."""
        n = len(queries)
        codes = np.empty((n, k), dtype=np.int64)
        scores = np.empty((n, k), dtype=np.float32)
        lengths = queries.lengths()
        empty = lengths == 0
        if empty.any():  # no seen items there: one popularity list for all
            c, s = top_k(self._fallback_scores()[None, :], k, allowed=allowed)
            codes[empty], scores[empty] = c[0], s[0]
        rows = np.flatnonzero(~empty)
        if len(rows):
            # empty rows hold no codes: the CSR codes stay as they are
            indptr = np.concatenate([[0], np.cumsum(lengths[rows])])
            frame = None if queries.frame is None else queries.frame.iloc[rows]
            known = Queries(indptr, queries.codes, frame)
            codes[rows], scores[rows] = self._search(known, k, exclude_seen, allowed)
        return codes, scores

    def _search(self, queries, k, exclude_seen, allowed):
        intents = self._intents(queries)
        n, n_items = len(queries), len(self.classes_)
        n_allowed = n_items if allowed is None else int(allowed.sum())
        if allowed is not None and n_allowed <= self.exact_candidates:
            return self._exact(queries, intents, np.arange(n), k, exclude_seen, allowed)
        seen = _seen_keys(queries, n_items) if exclude_seen else None
        # items to ask for: k, plus the history, scaled up when the index
        # proposes items outside the candidates
        need = k + (queries.lengths() if exclude_seen else np.zeros(n, dtype=np.int64))
        need = np.ceil(need * (n_items / n_allowed) * (1.0 if allowed is None else 1.5))
        fetch = np.minimum(2 ** np.ceil(np.log2(np.maximum(need, 1))), n_items).astype(np.int64)
        codes = np.empty((n, k), dtype=np.int64)
        scores = np.empty((n, k), dtype=np.float32)
        pending = np.arange(n)
        for attempt in range(2):
            short = []
            for size in np.unique(fetch[pending]):
                rows = pending[fetch[pending] == size]
                found = _backends.search(self.backend_, self.index_, intents[rows], int(size),
                                         self._index_params(), self._threads())
                c, s, ok = self._rerank(found, intents[rows], rows, seen, k, allowed)
                codes[rows[ok]], scores[rows[ok]] = c[ok], s[ok]
                short.append(rows[~ok])
            pending = np.concatenate(short)
            if not len(pending):
                return codes, scores
            if attempt == 0:
                fetch[pending] = np.minimum(fetch[pending] * 4, n_items)
        # still short (few allowed unseen items, or the index found too few):
        # these rows are ranked exactly
        codes[pending], scores[pending] = self._exact(
            queries, intents, pending, k, exclude_seen, allowed)
        return codes, scores

    def _rerank(self, found, intents, rows, seen, k, allowed):
        """Exact scores of the proposed items, ordered by (-score, code).

        Returns the first ``k`` codes and scores of each row and whether the
        row has ``k`` allowed unseen items among them.
        """
        valid = found >= 0
        codes = np.where(valid, found, 0)
        scores = np.einsum("nd,nkd->nk", intents, self._vectors_[codes], dtype=np.float32)
        if allowed is not None:
            valid &= allowed[codes]
        scores[~valid] = -np.inf
        if seen is not None:
            is_seen = np.isin(rows[:, None] * len(self.classes_) + codes, seen) & valid
            scores[is_seen] = SEEN
        ok = (scores > SEEN).sum(axis=1) >= k
        order = np.lexsort((codes, -scores), axis=1)[:, :k]
        return (np.take_along_axis(codes, order, axis=1),
                np.take_along_axis(scores, order, axis=1), ok)

    def _exact(self, queries, intents, rows, k, exclude_seen, allowed):
        """Exact top-``k`` of ``rows``: over the candidates when there are few
        (the engine's subset ranking: codes in order, so ties go to the lower
        code)."""
        n_items = len(self.classes_)
        few = allowed is not None and int(allowed.sum()) <= self.exact_candidates
        cols = np.flatnonzero(allowed) if few else np.arange(n_items)
        seen = None
        if exclude_seen:  # the history entries of ``rows``, renumbered
            at = np.full(len(queries), -1, dtype=np.int64)
            at[rows] = np.arange(len(rows))
            r = at[queries.row_ids()]
            seen = (r[r >= 0], queries.codes[r >= 0])
        width = max(1, _CHUNK_SCORES // max(1, len(rows)))
        import torch

        return _top_k_subset(
            torch.from_numpy(intents[rows]), torch.from_numpy(self._vectors_), cols, k, width,
            seen, None if few else allowed, None, None,
        )

    # -- persistence ----------------------------------------------------------
    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: it may be our own __dict__
        if "index_" in state:  # the libraries' objects do not all pickle
            state["index_"] = _backends.dumps(self.backend_, state["index_"])
        return state

    def __setstate__(self, state):
        if isinstance(state.get("index_"), bytes):
            state["index_"] = _backends.loads(state["backend_"], state["index_"])
        super().__setstate__(state)


def _seen_keys(queries, n_items):
    """Sorted ``row * n_items + code`` of every history entry."""
    return np.unique(queries.row_ids() * n_items + queries.codes)


def retrieval_recall(exact_items, items):
    """Mean share of each exact top-k list found in the approximate list.

    The recall@k of an approximate index against exact ranking: for each
    row, the number of items of ``exact_items`` that ``items`` holds too,
    divided by ``k``; averaged over rows. Order within the lists is ignored.

    Parameters
    ----------
    exact_items : array-like of shape (n_rows, k)
        Exact top-k lists (e.g. ``model.estimator_.recommend(X, k)``).
    items : array-like of shape (n_rows, k)
        Approximate lists of the same rows (``model.recommend(X, k)``).

    Returns
    -------
    recall : float
        In [0, 1]; 1 when every list holds the exact items.

    Examples
    --------
    >>> from sklearn_recsys.retrieval import retrieval_recall
    >>> retrieval_recall([[1, 2], [3, 4]], [[2, 1], [3, 5]])
    0.75
    """
    exact_items, items = np.asarray(exact_items), np.asarray(items)
    if exact_items.shape != items.shape or exact_items.ndim != 2:
        raise ValueError(
            f"exact_items and items must be 2-D of the same shape; got {exact_items.shape} "
            f"and {items.shape}."
        )
    if not exact_items.size:
        raise ValueError("retrieval_recall needs at least one row and one item.")
    hits = sum(len(set(a) & set(b)) for a, b in zip(exact_items.tolist(), items.tolist()))
    return float(hits / exact_items.size)
