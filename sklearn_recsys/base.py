"""The recommender contract shared by every recommender, neural or not.

A recommender is fitted on queries ``X`` (one row per query; a ``history``
column of item ids, oldest first) and targets ``y`` (the next item per row),
and ranks the whole catalogue for new queries with ``recommend``.

Rules every recommender follows
-------------------------------
* Vocabulary: ``classes_`` holds the known item ids, sorted: every id seen in
  a history or target during ``fit`` plus the catalogue's ids when the model
  takes one. An unknown target in ``fit`` simply extends it.
* Unknown items in a history at ``recommend`` time are ignored (dropped from
  the history). A row whose history has no known item at all is scored by
  training popularity (``item_counts_``), so it still gets a sensible list.
* Item ids are all integers or all strings; other kinds, NaN or None raise.
* ``recommend`` works in chunks of rows, so it never holds a dense
  ``n_queries x n_items`` matrix for the whole input.
* Seen items (``exclude_seen=True``) and items outside ``candidates`` are never
  ranked above an allowed item. When fewer than ``k`` allowed unseen items
  remain, the list is filled with seen items, scored ``-inf``.
* ``score(X, y)`` is the NDCG@10 of ``y`` in ``recommend(X, k=10)``.
* ``similar_items(items, k)`` exists on recommenders with an item-item
  relation (``_similar_by`` is not None): the ranking of a one-item history
  (EASE's weight row, ItemKNN's similarity row, Transition's next-item row,
  TF-IDF cosine) or the cosine of item vectors (``IntentRecommender``). The
  item itself is left out, as a seen item is.
"""

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _num_samples, check_is_fitted

from ._doc_link import DocLinkMixin
from ._state import plain_state, rich_state
from ._topk import SEEN, _is_tensor, top_k
from .metrics import ndcg_at_k
from .utils import check_histories, check_item_ids, check_k, flatten_histories

# Where RecommenderMixin caches its pandas.Index of classes_ (never saved).
_INDEX_CACHE = "_item_index_cache_"

# Rows are scored in chunks holding at most this many scores (64 MiB float32).
_CHUNK_SCORES = 1 << 24


class Queries:
    """Encoded queries: histories as CSR item codes plus the raw frame.

    Attributes
    ----------
    indptr : ndarray of shape (n_rows + 1,)
        Row boundaries into ``codes``.
    codes : ndarray of int64
        Known item codes (positions in ``classes_``), oldest first per row.
    frame : pandas.DataFrame or None
        The original DataFrame, for context columns.
    training_rows : ndarray or None
        Rows kept for training (see ``RecommenderMixin._training_rows``),
        computed once per fit.
    """

    __slots__ = ("indptr", "codes", "frame", "training_rows")

    def __init__(self, indptr, codes, frame=None):
        self.indptr = indptr
        self.codes = codes
        self.frame = frame
        self.training_rows = None

    def __len__(self):
        return len(self.indptr) - 1

    def __getitem__(self, rows):
        """Rows ``start:stop`` (a slice with step 1) as a new ``Queries``."""
        start, stop, _ = rows.indices(len(self))
        ptr = self.indptr[start : stop + 1]
        frame = None if self.frame is None else self.frame.iloc[start:stop]
        return Queries(ptr - ptr[0], self.codes[ptr[0] : ptr[-1]], frame)

    def lengths(self):
        return np.diff(self.indptr)

    def row(self, i):
        return self.codes[self.indptr[i] : self.indptr[i + 1]]

    def row_ids(self):
        """Row number of every entry of ``codes``."""
        return np.repeat(np.arange(len(self)), self.lengths())

    def padded(self, max_len, pad=-1):
        """Left-padded ``(n_rows, max_len)`` matrix of the last ``max_len`` codes."""
        n = len(self)
        out = np.full((n, max_len), pad, dtype=np.int64)
        lengths = self.lengths()
        # position of each entry counted from the end of its row
        from_end = self.indptr[1:][self.row_ids()] - np.arange(len(self.codes)) - 1
        keep = from_end < max_len
        out[self.row_ids()[keep], max_len - 1 - from_end[keep]] = self.codes[keep]
        del lengths
        return out


def _has_similar_items(est):
    return getattr(est, "_similar_by", None) is not None


class RecommenderMixin(DocLinkMixin):
    """Mixin giving ``recommend``, ``predict`` and ``score`` to a recommender.

    Subclasses call ``self._fit_queries(X, y[, items=...])`` in ``fit`` (it
    validates ``X`` and ``y`` and sets ``classes_`` and ``item_counts_``) and
    implement ``_score_chunk(queries) -> (n_rows, n_items)`` returning
    scores (higher is better) for a chunk of encoded queries:
    ``queries.codes`` and ``queries.indptr`` hold the known history items as
    positions in ``classes_`` (CSR layout), ``queries.frame`` the chunk's
    rows of ``X`` when ``X`` is a DataFrame. The scores are a NumPy array,
    or a torch tensor for a model that scores on a torch device: the
    package's one top-k engine (:mod:`sklearn_recsys._topk`) ranks them
    there. Put the mixin to the left of :class:`~sklearn.base.BaseEstimator`.

    Examples
    --------
    A recommender that scores every item by how often it follows the last
    history item:

    >>> import numpy as np
    >>> from sklearn.base import BaseEstimator
    >>> from sklearn_recsys.base import RecommenderMixin
    >>> class LastItem(RecommenderMixin, BaseEstimator):
    ...     def fit(self, X, y):
    ...         queries, y_codes = self._fit_queries(X, y)
    ...         n = len(self.classes_)
    ...         self.counts_ = np.zeros((n, n))
    ...         for i in range(len(queries)):
    ...             if len(queries.row(i)):
    ...                 self.counts_[queries.row(i)[-1], y_codes[i]] += 1
    ...         return self
    ...     def _score_chunk(self, queries):
    ...         scores = np.zeros((len(queries), len(self.classes_)))
    ...         for i in range(len(queries)):
    ...             if len(queries.row(i)):  # no known item: the mixin
    ...                 scores[i] = self.counts_[queries.row(i)[-1]]  # uses popularity
    ...         return scores
    >>> model = LastItem().fit([["a"], ["a"], ["b"]], ["b", "b", "c"])
    >>> model.recommend([["x", "a"]], k=2)   # "x" is unknown: ignored
    array([['b', 'c']], dtype=object)
    >>> model.score([["a"]], ["b"])
    1.0
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # X holds sequences of ids, not a numeric matrix: sklearn's tabular
        # checks do not apply; the shared recommender suite tests the contract.
        tags.input_tags.two_d_array = False
        tags.target_tags.required = True
        return tags

    # -- fitting helpers -------------------------------------------------
    def _fit_queries(self, X, y, *, items=None):
        """Validate ``X``, ``y``; set the vocabulary; return encoded data.

        Returns
        -------
        queries : Queries
            Encoded histories of every row.
        y_codes : ndarray of int64
            Encoded targets.
        """
        histories, frame = check_histories(X)
        if y is None:
            raise ValueError(
                "y is required: the next item id of each row of X (got None)."
            )
        if isinstance(y, pd.DataFrame):
            if y.shape[1] != 1:
                raise ValueError(f"y must be 1-D (one item id per row); got shape {y.shape}.")
            y = y.iloc[:, 0]
        y_arr = np.asarray(y.to_numpy() if isinstance(y, pd.Series) else y, dtype=object if not hasattr(y, "dtype") else None)
        if y_arr.ndim != 1:
            raise ValueError(f"y must be 1-D (one item id per row); got shape {y_arr.shape}.")
        if len(y_arr) != len(histories):
            raise ValueError(
                f"X has {len(histories)} rows but y has {len(y_arr)}; y must hold "
                "the next item id of each row of X."
            )
        y_ids, kind = check_item_ids(y_arr, what="y (target item ids)")
        indptr, flat = flatten_histories(histories)
        flat_ids, _ = check_item_ids(flat, what="item ids in X's histories", kind=kind)
        parts = [flat_ids, y_ids]
        if items is not None:
            item_ids, _ = check_item_ids(items, what="catalogue item ids", kind=kind)
            parts.append(item_ids)
        self.classes_ = np.unique(np.concatenate(parts).astype(y_ids.dtype))
        # private fitted state ends in "_" too: skorch takes any attribute
        # that does not for a constructor parameter (get_params, clone)
        self._item_kind_ = kind
        queries = Queries(indptr, self._item_index_.get_indexer(flat_ids).astype(np.int64), frame)
        y_codes = self._item_index_.get_indexer(y_ids).astype(np.int64)
        self._count_items(queries, y_codes)
        return queries, y_codes

    # -- the id -> code lookup ---------------------------------------------
    @property
    def _item_index_(self):
        """Hash index of ``classes_`` (id -> code), built on first use.

        A cache, not fitted state: it is rebuilt from ``classes_`` whenever
        ``classes_`` is a new array, and left out of pickles (and so of skops
        files and the safe format), which hold only ``classes_``.
        """
        classes = self.classes_  # AttributeError before fit, as hasattr expects
        cached = self.__dict__.get(_INDEX_CACHE)
        if cached is None or cached[0] is not classes:
            cached = (classes, pd.Index(classes))
            self.__dict__[_INDEX_CACHE] = cached
        return cached[1]

    @_item_index_.setter
    def _item_index_(self, index):
        # recommenders written for older versions set it in fit; honour it
        # for the current classes_
        self.__dict__[_INDEX_CACHE] = (self.__dict__.get("classes_"), pd.Index(index))

    # -- pickling: plain containers (skops), no cache ----------------------
    def __getstate__(self):
        state = super().__getstate__()
        if _INDEX_CACHE in state:
            state = {k: v for k, v in state.items() if k != _INDEX_CACHE}
        return plain_state(state)

    def __setstate__(self, state):
        super().__setstate__(rich_state(state))

    def _count_items(self, queries, y_codes):
        """``item_counts_``: occurrences of each item in the training sequences."""
        seqs = self._training_sequences(queries, y_codes)
        self.item_counts_ = np.bincount(
            np.concatenate(seqs) if seqs else np.empty(0, np.int64), minlength=len(self.classes_)
        ).astype(np.int64)

    def _training_sequences(self, queries, y_codes):
        """Each training row's full sequence (history + target), as codes.

        Several rows of one user built from successive cut points of the same
        log (``queries_from_log(n_last>1)``) are prefixes of each other; when
        ``X`` has a ``user_id`` column, a row that is a prefix of a longer row
        of the same user is skipped, so no event is counted twice.
        """
        return [
            np.append(queries.row(i), y_codes[i])
            for i in self._training_rows(queries, y_codes)
        ]

    @classmethod
    def _training_rows(cls, queries, y_codes):
        """Row numbers kept by :meth:`_training_sequences`, in row order.

        Computed once per ``queries`` (kept in ``queries.training_rows``):
        ``y_codes`` must be the targets of those rows, as ``_fit_queries``
        returns them.
        """
        if queries.training_rows is None:
            queries.training_rows = cls._prefix_free_rows(queries, y_codes)
        return queries.training_rows

    @staticmethod
    def _prefix_free_rows(queries, y_codes):
        n = len(queries)
        frame = queries.frame
        if frame is None or "user_id" not in frame.columns or n < 2:
            return np.arange(n)
        users = frame["user_id"].to_numpy()
        lengths = queries.lengths() + 1
        order = np.lexsort((-lengths, pd.factorize(users)[0]))
        keep = np.ones(n, dtype=bool)
        longest = None
        for pos, i in enumerate(order):
            seq = np.append(queries.row(i), y_codes[i])
            if pos and users[i] == users[order[pos - 1]]:
                if len(seq) <= len(longest) and np.array_equal(seq, longest[: len(seq)]):
                    keep[i] = False
            else:
                longest = seq
        return np.flatnonzero(keep)

    def _encode_queries(self, X):
        """Validate ``X`` after fit; unknown history items are dropped."""
        check_is_fitted(self)
        histories, frame = check_histories(X)
        indptr, flat = flatten_histories(histories)
        flat_ids, _ = check_item_ids(flat, what="item ids in X's histories", kind=self._item_kind_)
        codes = self._item_index_.get_indexer(flat_ids).astype(np.int64)
        known = codes >= 0
        if not known.all():
            row_of = np.repeat(np.arange(len(histories)), np.diff(indptr))
            indptr = np.zeros_like(indptr)
            np.cumsum(np.bincount(row_of[known], minlength=len(histories)), out=indptr[1:])
            codes = codes[known]
        return Queries(indptr, codes, frame)

    def _encode_items(self, ids, *, what="item ids"):
        """Codes of raw ids; unknown ids get -1."""
        arr, _ = check_item_ids(np.asarray(ids, dtype=object if self._item_kind_ == "str" else None), what=what, kind=self._item_kind_)
        return self._item_index_.get_indexer(arr).astype(np.int64)

    # -- ranking ---------------------------------------------------------
    def _fallback_scores(self):
        """Scores for rows with no known history item: training popularity."""
        return self.item_counts_.astype(np.float32)

    def _score_chunk(self, queries):  # pragma: no cover - abstract
        raise NotImplementedError

    def _chunk_rows(self):
        """Rows per chunk of ``_dense`` (and of ranking, by default)."""
        return max(1, _CHUNK_SCORES // max(1, len(self.classes_)))

    def _rank_rows(self):
        """Rows per chunk of ``recommend``."""
        return self._chunk_rows()

    def _topk_chunk(self, queries, k, exclude_seen, allowed):
        """Top-``k`` codes and scores of a chunk of queries."""
        empty = queries.lengths() == 0
        return top_k(
            self._score_chunk(queries), k,
            seen=(queries.row_ids(), queries.codes) if exclude_seen else None,
            allowed=allowed, empty=empty,
            # an (n_items,) array: only made for chunks that need it
            fallback=self._fallback_scores() if empty.any() else None,
            copy=False,  # the chunk's own score block
        )

    def _candidate_mask(self, candidates):
        if candidates is None:
            return None
        # object for lists: np.asarray would read [True, 2] as [1, 2]
        cand = np.asarray(candidates, dtype=object if isinstance(candidates, (list, tuple)) else None)
        if cand.ndim != 1 or cand.size == 0:
            raise ValueError(
                f"candidates must be a non-empty 1-D array of item ids; got shape {cand.shape}."
            )
        codes = self._encode_items(cand, what="candidates")
        if (codes < 0).any():
            bad = cand[codes < 0]
            raise ValueError(
                f"candidates holds {len(bad)} item id(s) unknown to the fitted model "
                f"(first: {bad[0]!r}); only items in classes_ can be ranked."
            )
        mask = np.zeros(len(self.classes_), dtype=bool)
        mask[codes] = True
        return mask

    def _row_lists(self, lists, n_rows, what):
        """Per-row item lists as a CSR ``(n_rows, n_items)`` bool matrix of
        codes, or None when ``lists`` is one global list (or None).

        Per-row forms: a sequence of ``n_rows`` sequences of item ids, a 2-D
        array of shape ``(n_rows, m)``, or a sparse matrix of shape
        ``(n_rows, n_items)`` whose non-zero columns (``classes_`` order) are
        the row's items. Unknown ids raise for candidates and are dropped
        for ``exclude`` (they cannot be recommended anyway).
        """
        if lists is None:
            return None
        n_items = len(self.classes_)
        if sp.issparse(lists):
            if lists.shape != (n_rows, n_items):
                raise ValueError(
                    f"{what} as a sparse matrix must have shape (n_rows, n_items) = "
                    f"({n_rows}, {n_items}), columns in classes_ order; got {lists.shape}."
                )
            m = sp.csr_matrix(lists, copy=True)
            m.eliminate_zeros()
            m.data = np.ones_like(m.data, dtype=bool)
            return m
        if isinstance(lists, np.ndarray) and lists.ndim == 2:
            rows = list(lists)
        elif isinstance(lists, (list, tuple, np.ndarray, pd.Series)) and len(lists) and any(
            isinstance(e, (list, tuple, np.ndarray, pd.Series)) for e in lists
        ):
            rows = list(lists)
            bad = [i for i, e in enumerate(rows) if not isinstance(e, (list, tuple, np.ndarray, pd.Series))]
            if bad:
                raise ValueError(
                    f"{what} mixes item ids and lists of item ids (row {bad[0]} holds "
                    f"{rows[bad[0]]!r}); give one list for every row, or one flat list for all rows."
                )
        else:
            return None
        if len(rows) != n_rows:
            raise ValueError(
                f"{what} has {len(rows)} per-row lists for {n_rows} rows of X; give one list per row."
            )
        indptr, flat = flatten_histories([np.asarray(r).ravel() if isinstance(r, np.ndarray) else list(r) for r in rows])
        codes = self._encode_items(flat, what=what) if len(flat) else np.empty(0, dtype=np.int64)
        row_of = np.repeat(np.arange(n_rows), np.diff(indptr))
        known = codes >= 0
        if what == "candidates" and not known.all():
            first = int(np.flatnonzero(~known)[0])
            raise ValueError(
                f"candidates holds {int((~known).sum())} item id(s) unknown to the fitted model "
                f"(first: {flat[first]!r} in row {row_of[first]}); only items in classes_ can be ranked."
            )
        m = sp.csr_matrix(
            (np.ones(int(known.sum()), dtype=bool), (row_of[known], codes[known])),
            shape=(n_rows, n_items),
        )
        m.sum_duplicates()
        return m

    def _topk_chunk_filtered(self, queries, k, exclude_seen, allowed, cand, excl, blocked=None):
        """Top-``k`` of a chunk with per-row candidates and/or excluded items:
        the dense scores of the chunk, masked row by row."""
        s = self._score_chunk(queries)
        s = s.float().cpu().numpy() if _is_tensor(s) else np.array(s, dtype=np.float32)
        empty = queries.lengths() == 0
        if empty.any():
            s[empty] = self._fallback_scores()
        if allowed is not None:
            s[:, ~allowed] = -np.inf
        if cand is not None:
            s[~cand.toarray()] = -np.inf
        rows, codes = [], []
        if exclude_seen:
            rows.append(queries.row_ids())
            codes.append(queries.codes)
        if excl is not None:
            coo = excl.tocoo()
            rows.append(coo.row.astype(np.int64))
            codes.append(coo.col.astype(np.int64))
        if blocked is not None and len(blocked):
            rows.append(np.repeat(np.arange(len(queries)), len(blocked)))
            codes.append(np.tile(blocked, len(queries)))
        seen = (np.concatenate(rows), np.concatenate(codes)) if rows else None
        return top_k(s, k, seen=seen, copy=False)

    def recommend(self, X, k=10, *, exclude_seen=True, candidates=None, exclude=None,
                  return_scores=False):
        """Rank the catalogue for each query and return the top ``k`` items.

        Parameters
        ----------
        X : DataFrame with a ``history`` column, or sequence of sequences
            Queries; histories of item ids, oldest first. Unknown items are
            ignored; a row with no known item gets the most popular items.
        k : int, default=10
            Number of items per row.
        exclude_seen : bool, default=True
            Leave the items of each row's history out of its list.
        candidates : array-like of item ids, per-row lists or sparse matrix, default=None
            Rank only these items (all must be known); None ranks every item
            in ``classes_``. One flat list applies to every row. Per row: a
            sequence of ``n_rows`` lists of item ids, a 2-D array of shape
            ``(n_rows, m)``, or a sparse matrix of shape ``(n_rows, n_items)``
            whose non-zero columns (``classes_`` order) are the row's
            candidates; ``k`` must not exceed any row's number of candidates.
        exclude : array-like of item ids, per-row lists or sparse matrix, default=None
            Items to leave out besides the row's own history (a blocklist),
            in the same forms as ``candidates``; unknown ids are ignored.
            They follow the rule of seen items: listed, scored ``-inf``, only
            when a list runs out of other items.
        return_scores : bool, default=False
            Also return the scores of the listed items.

        Returns
        -------
        items : ndarray of shape (n_rows, k)
            Item ids, best first.
        scores : ndarray of shape (n_rows, k), float32
            Only when ``return_scores=True``. Excluded items that had to fill
            a list score ``-inf``.

        Notes
        -----
        Per-row candidates and ``exclude`` rank each chunk of rows from its
        dense scores (``n_rows x n_items`` work, in blocks of bounded
        memory), not through a model's large-catalogue path.
        """
        check_is_fitted(self)
        if not isinstance(exclude_seen, (bool, np.bool_)):
            raise TypeError(f"exclude_seen must be a bool; got {exclude_seen!r}.")
        if not isinstance(return_scores, (bool, np.bool_)):
            raise TypeError(f"return_scores must be a bool; got {return_scores!r}.")
        queries = self._encode_queries(X)
        n = len(queries)
        cand = self._row_lists(candidates, n, "candidates")
        allowed = self._candidate_mask(candidates) if cand is None else None
        excl = self._row_lists(exclude, n, "exclude")
        blocked = None
        if exclude is not None and excl is None:  # one blocklist for every row
            flat = np.asarray(exclude, dtype=object if self._item_kind_ == "str" else None)
            if flat.ndim != 1:
                raise ValueError(f"exclude must be a 1-D list of item ids or per-row lists; got shape {flat.shape}.")
            blocked = self._encode_items(flat, what="exclude") if flat.size else np.empty(0, np.int64)
            blocked = np.unique(blocked[blocked >= 0])
        k = check_k(k, len(self.classes_) if allowed is None else int(allowed.sum()))
        if cand is not None and n:
            per_row = np.diff(cand.indptr)
            if k > per_row.min():
                r = int(np.argmin(per_row))
                raise ValueError(
                    f"k={k} is larger than the number of candidates of row {r} "
                    f"({per_row[r]}); give every row at least k candidates."
                )
        codes = np.empty((n, k), dtype=np.int64)
        scores = np.empty((n, k), dtype=np.float32)
        filtered = cand is not None or excl is not None or blocked is not None
        step = self._chunk_rows() if filtered else self._rank_rows()
        for start in range(0, n, step):
            chunk = slice(start, min(n, start + step))
            if filtered:
                c, s = self._topk_chunk_filtered(
                    queries[chunk], k, bool(exclude_seen), allowed,
                    None if cand is None else cand[chunk],
                    None if excl is None else excl[chunk],
                    blocked,
                )
            else:
                c, s = self._topk_chunk(queries[chunk], k, bool(exclude_seen), allowed)
            codes[chunk], scores[chunk] = c, s
        scores[scores == SEEN] = -np.inf
        items = self.classes_[codes]
        return (items, scores) if return_scores else items

    # How ``similar_items`` scores: "history" ranks the one-item history
    # [item] with ``_score_chunk``; a model with item vectors overrides
    # ``_similar_scorer``; None: no item-item relation (no similar_items).
    _similar_by = "history"

    def _similar_scorer(self):
        """A function ``codes -> (len(codes), n_items)`` scores of items similar to each code."""

        def scores(codes):
            return self._score_chunk(Queries(np.arange(len(codes) + 1), codes))

        return scores

    @available_if(_has_similar_items)
    def similar_items(self, items, k=10, *, candidates=None, return_scores=False):
        """The ``k`` items most similar to each of ``items``.

        Similar means what the model's item-item relation says: the ranking
        of a history holding only that item for the linear models (EASE's
        weight row, ItemKNN's similarity row, Transition's next-item row,
        TF-IDF cosine), the cosine of the item vectors for
        :class:`~sklearn_recsys.intent.IntentRecommender` (with an
        ``item_encoder``: the content-aware vectors, catalogue items never
        trained on included). The item itself is never listed above another
        item; ties and lists that run out follow ``recommend``'s rules.

        Parameters
        ----------
        items : array-like of shape (n_items_query,)
            Item ids, all known to the fitted model (in ``classes_``).
        k : int, default=10
            Number of items per row.
        candidates : array-like of item ids, default=None
            Rank only these items (all must be known).
        return_scores : bool, default=False
            Also return the similarity scores.

        Returns
        -------
        similar : ndarray of shape (n_items_query, k)
            Item ids, most similar first.
        scores : ndarray of shape (n_items_query, k), float32
            Only when ``return_scores=True``. The item itself, when it had
            to fill a list, scores ``-inf``.

        Examples
        --------
        >>> from sklearn_recsys.baselines import EASE
        >>> model = EASE(l2=1.0).fit([[1, 2], [1, 2], [2, 3], [3, 4]], [3, 3, 4, 1])
        >>> model.similar_items([2], k=2)   # coef_[1] (item 2's row), ranked
        array([[3, 1]])
        """
        check_is_fitted(self)
        if not isinstance(return_scores, (bool, np.bool_)):
            raise TypeError(f"return_scores must be a bool; got {return_scores!r}.")
        ids = np.asarray(items, dtype=object if self._item_kind_ == "str" else None)
        if ids.ndim != 1:
            raise ValueError(
                f"items must be a 1-D array-like of item ids; got shape {ids.shape}."
            )
        codes = self._encode_items(ids, what="items")
        if (codes < 0).any():
            bad = ids[codes < 0]
            raise ValueError(
                f"items holds {len(bad)} item id(s) unknown to the fitted model "
                f"(first: {bad[0]!r}); similar_items takes items in classes_."
            )
        allowed = self._candidate_mask(candidates)
        k = check_k(k, len(self.classes_) if allowed is None else int(allowed.sum()))
        n = len(codes)
        out_codes = np.empty((n, k), dtype=np.int64)
        out_scores = np.empty((n, k), dtype=np.float32)
        scorer = self._similar_scorer()
        step = self._chunk_rows()
        for start in range(0, n, step):
            chunk = slice(start, min(n, start + step))
            c = codes[chunk]
            out_codes[chunk], out_scores[chunk] = top_k(
                scorer(c), k, seen=(np.arange(len(c)), c), allowed=allowed, copy=False
            )
        out_scores[out_scores == SEEN] = -np.inf
        similar = self.classes_[out_codes]
        return (similar, out_scores) if return_scores else similar

    def explain(self, X, items=None, k=10):
        """Why each item was recommended: the contribution of each history item.

        For the models whose score is a sum over the history (EASE, ItemKNN,
        Transition, TF-IDF, Popularity) the contributions are that sum,
        exactly: per row and item they add up to ``score``. Other models (the
        networks) are explained by occlusion: a history item's contribution is
        the drop of the explained item's score when that one history entry is
        removed (and ``source="query"``: when the free-text query is
        emptied), measured by scoring the edited histories; these need not add
        up to the score. A row with no known history item is ranked by
        popularity, and says so (``source="popularity"``).

        Parameters
        ----------
        X : DataFrame with a ``history`` column, or sequence of sequences
            Queries.
        items : array-like of item ids, per-row lists or sparse matrix, default=None
            Items to explain (known to the model): one list for every row, or
            one list per row (as ``recommend``'s ``candidates``). None
            explains each row's ``recommend(X, k)``.
        k : int, default=10
            Items per row when ``items`` is None.

        Returns
        -------
        explanation : DataFrame
            One row per (query row, explained item, source), sorted by row,
            rank and decreasing contribution, with columns ``row`` (position
            in ``X``), ``rank`` (1 = best; the position in ``items`` when
            given), ``item``, ``score`` (the model's score of the item),
            ``source`` ("history", "popularity" or "query"), ``position``
            (index in the row's history as given; -1 for other sources),
            ``source_item`` (the history item id) and ``contribution``.

        Examples
        --------
        >>> from sklearn_recsys.baselines import ItemKNN
        >>> model = ItemKNN(shrinkage=0.0).fit([[1, 2], [1, 3], [2, 3]], [3, 2, 1])
        >>> table = model.explain([[1, 2]], k=1)   # item 3: similar to 1 and to 2
        >>> table[["item", "source_item", "contribution"]]
           item source_item  contribution
        0     3           1           1.0
        1     3           2           1.0
        """
        from ._explain import explain

        check_is_fitted(self)
        return explain(self, X, items=items, k=k)

    def predict(self, X):
        """Top-1 item per row, seen items excluded.

        Parameters
        ----------
        X : DataFrame with a ``history`` column, or sequence of sequences
            Queries.

        Returns
        -------
        y_pred : ndarray of shape (n_rows,)
        """
        return self.recommend(X, k=1)[:, 0]

    def decision_function(self, X):
        """Scores of every item for every row, columns in ``classes_`` order.

        Meant for small catalogues: the result is dense ``(n_rows, n_items)``.
        Seen items are not masked. A row with no known item gets the
        training popularity.

        Parameters
        ----------
        X : DataFrame with a ``history`` column, or sequence of sequences
            Queries.

        Returns
        -------
        scores : ndarray of shape (n_rows, n_items), float32
            Higher is better.
        """
        check_is_fitted(self)
        return self._dense(self._encode_queries(X), self._score_chunk, self._fallback_scores())

    def _dense(self, queries, score_chunk, fallback):
        """Dense ``(n_rows, n_items)`` float32 of ``score_chunk`` over row
        chunks; rows with no known item get ``fallback``."""
        out = np.empty((len(queries), len(self.classes_)), dtype=np.float32)
        step = self._chunk_rows()
        for start in range(0, len(queries), step):
            chunk = slice(start, min(len(queries), start + step))
            q = queries[chunk]
            s = score_chunk(q)
            s = s.cpu().numpy() if _is_tensor(s) else np.asarray(s, dtype=np.float32)
            empty = q.lengths() == 0
            if empty.any():
                s[empty] = fallback
            out[chunk] = s
        return out

    def score(self, X, y, sample_weight=None):
        """NDCG@10 of the true next items in ``recommend(X, k=10)``.

        Lists hold at most the number of known items when the catalogue is
        smaller than 10. Targets unknown to the model score 0.

        Parameters
        ----------
        X : DataFrame with a ``history`` column, or sequence of sequences
            Queries.
        y : array-like of shape (n_rows,)
            The true next item of each row.
        sample_weight : None
            Not supported; present for sklearn's API.

        Returns
        -------
        score : float
        """
        if sample_weight is not None:
            raise ValueError("score does not support sample_weight.")
        check_is_fitted(self)
        k = min(10, len(self.classes_))
        y = y.to_numpy() if isinstance(y, (pd.Series, pd.Index)) else y
        n_x, n_y = _num_samples(X), _num_samples(y)
        if n_x != n_y:
            raise ValueError(f"X has {n_x} rows but y has {n_y}; y must hold the true next item of each row of X.")
        return ndcg_at_k(y, self.recommend(X, k=k), k=k)
