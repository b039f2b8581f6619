"""Content-only recommender: TF-IDF cosine similarity to the history."""

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils._param_validation import RealNotInt, StrOptions

from ..base import RecommenderMixin
from ..utils._param_validation import NumberInterval
from ._text import check_catalogue, item_documents, resolve_columns

__all__ = ["TfidfRecommender"]

# Scores are cosine sums; training popularity only breaks ties below this.
_TIE = 1e-6


class TfidfRecommender(RecommenderMixin, BaseEstimator):
    """Recommend items whose text resembles the history's (TF-IDF, no training).

    Each catalogue item is one document: its text columns, then the values
    of its list columns (genres, tags), joined (:func:`item_documents`).
    scikit-learn's :class:`~sklearn.feature_extraction.text.TfidfVectorizer`
    turns documents into L2-normalised TF-IDF vectors ``v_i``. The score of
    item ``i`` for a history ``h_1 .. h_m`` (oldest first) is the
    recency-weighted sum of cosine similarities

    ``score(i) = sum_j recency_decay ** (m - j) * cos(v_i, v_{h_j})``

    over the last ``max_history`` items (all when None): the latest item
    weighs 1, the one before ``recency_decay``, and so on. Ties (items with
    no word in common with the history) are broken by training popularity.

    Every catalogue item is in ``classes_`` and can be recommended, whether
    or not it appears in the training queries: this is a cold-start
    baseline. Items of the training queries that are missing from the
    catalogue have no text: they score 0 (plus the popularity tie-break).
    Missing text is empty text; the catalogue rules are those of
    :class:`ContentEncoder` (unique item ids, str text, lists of str).

    Parameters
    ----------
    items : pandas.DataFrame
        The catalogue, indexed by item id (required).
    text_columns : list of str, str or None, default=None
        Text columns; None infers the string columns.
    list_columns : list of str, str or None, default=None
        Columns of lists of strings; None infers them.
    recency_decay : float, default=0.8
        Weight ratio between consecutive history items, in (0, 1]; 1 weighs
        the whole history equally.
    max_history : int or None, default=None
        Only the last ``max_history`` history items count.
    ngram_range : tuple (min_n, max_n), default=(1, 1)
        Word n-grams of the vectoriser.
    min_df : int or float, default=1
        Vectoriser's minimum document frequency.
    max_df : int or float, default=1.0
        Vectoriser's maximum document frequency.
    max_features : int or None, default=None
        Vectoriser's vocabulary size limit.
    sublinear_tf : bool, default=True
        ``1 + log(tf)`` term frequencies.
    stop_words : {"english"}, list or None, default=None
        Vectoriser's stop words.

    Attributes
    ----------
    classes_ : ndarray of shape (n_items,)
        Known item ids, sorted: the catalogue's plus those of the training
        queries.
    item_counts_ : ndarray of shape (n_items,)
        Training occurrences of each item (tie-break and empty histories).
    text_columns_ : list of str
        Text columns read.
    list_columns_ : list of str
        List columns read.
    vectorizer_ : TfidfVectorizer
        Fitted on the catalogue documents.
    item_vectors_ : scipy.sparse.csr_matrix of shape (n_items, n_terms)
        TF-IDF vector of each item in ``classes_`` order (zero rows for items
        absent from the catalogue).

    See Also
    --------
    ContentEncoder : Learned item embeddings from the same columns.
    ItemKNN : Collaborative item-item neighbours (no content).

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_recsys.content import TfidfRecommender
    >>> items = pd.DataFrame({
    ...     "title": ["Space war", "Space love", "Cooking pasta", "Cooking rice"],
    ... }, index=[10, 11, 12, 13])
    >>> rec = TfidfRecommender(items=items).fit([[10], [12]], [11, 10])
    >>> rec.recommend([[12]], k=2)   # item 13 was never seen in training
    array([[13, 10]])
    """

    _parameter_constraints = {
        "items": [None, "array-like"],
        "text_columns": [None, str, list, tuple],
        "list_columns": [None, str, list, tuple],
        "recency_decay": [NumberInterval(numbers.Real, 0, 1, closed="right")],
        "max_history": [None, NumberInterval(numbers.Integral, 1, None, closed="left")],
        "ngram_range": [tuple],
        "min_df": [NumberInterval(numbers.Integral, 1, None, closed="left"),
                   NumberInterval(RealNotInt, 0, 1, closed="both")],
        "max_df": [NumberInterval(numbers.Integral, 1, None, closed="left"),
                   NumberInterval(RealNotInt, 0, 1, closed="both")],
        "max_features": [None, NumberInterval(numbers.Integral, 1, None, closed="left")],
        "sublinear_tf": ["boolean"],
        "stop_words": [StrOptions({"english"}), list, None],
    }

    def __init__(self, *, items=None, text_columns=None, list_columns=None, recency_decay=0.8,
                 max_history=None, ngram_range=(1, 1), min_df=1, max_df=1.0, max_features=None,
                 sublinear_tf=True, stop_words=None):
        self.items = items
        self.text_columns = text_columns
        self.list_columns = list_columns
        self.recency_decay = recency_decay
        self.max_history = max_history
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.stop_words = stop_words

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Vectorise the catalogue and set the vocabulary.

        Parameters
        ----------
        X : DataFrame with a ``history`` column, or sequence of sequences
            Training queries (only their item ids and popularity are used).
        y : array-like of shape (n_rows,)
            Next item of each row.

        Returns
        -------
        self : TfidfRecommender
        """
        if self.items is None:
            raise ValueError(
                "TfidfRecommender needs the catalogue: pass items=<DataFrame indexed "
                "by item id with text columns>."
            )
        frame = check_catalogue(self.items)
        # locals until X and y are valid too: a fit that raises leaves no
        # fitted attribute behind (the model stays unfitted)
        text_columns, list_columns, _ = resolve_columns(
            frame, self.text_columns, self.list_columns, [], allow_numeric=False)
        docs = item_documents(frame, text_columns, list_columns)
        ids = frame.index.to_numpy()
        vectorizer = TfidfVectorizer(
            ngram_range=self.ngram_range, min_df=self.min_df, max_df=self.max_df,
            max_features=self.max_features, sublinear_tf=self.sublinear_tf,
            stop_words=self.stop_words, dtype=np.float32,
        )
        try:
            vectors = vectorizer.fit_transform(docs).tocsr()
        except ValueError as exc:  # empty vocabulary
            raise ValueError(
                f"The catalogue's text gives no term to vectorise ({exc}); check "
                f"text_columns={text_columns} and list_columns={list_columns}."
            ) from exc
        self._fit_queries(X, y, items=ids)
        self.text_columns_, self.list_columns_ = text_columns, list_columns
        self.vectorizer_ = vectorizer
        codes = self._encode_items(ids, what="catalogue item ids")
        place = sp.csr_matrix(
            (np.ones(len(codes), dtype=np.float32), (codes, np.arange(len(codes)))),
            shape=(len(self.classes_), len(codes)),
        )
        self.item_vectors_ = (place @ vectors).tocsr()
        return self

    def _chunk_rows(self):
        return 256  # the sparse profile product is the memory peak, not the dense scores

    def _explain_exact(self, queries, targets):
        # score = sum over history positions of weight * cosine(item, target),
        # plus the popularity tie-break (as in _score_chunk)
        codes = queries.codes
        from_end = len(codes) - 1 - np.arange(len(codes))
        weights = np.power(float(self.recency_decay), from_end, dtype=np.float64)
        if self.max_history is not None:
            weights[from_end >= self.max_history] = 0.0
        V = self.item_vectors_
        hist = (V[codes] @ V[targets].T).toarray().astype(np.float64) * weights[:, None]
        pop = self.item_counts_.astype(np.float64)
        return hist, {"popularity": _TIE * pop[targets] / max(1.0, float(pop.max(initial=0)))}

    def _score_chunk(self, queries):
        codes = queries.codes
        rows = queries.row_ids()
        from_end = queries.indptr[1:][rows] - np.arange(len(codes)) - 1
        weights = np.power(float(self.recency_decay), from_end, dtype=np.float64)
        if self.max_history is not None:
            weights[from_end >= self.max_history] = 0.0
        W = sp.csr_matrix(
            (weights.astype(np.float32), (rows, codes)),
            shape=(len(queries), len(self.classes_)),
        )
        profiles = W @ self.item_vectors_
        scores = (profiles @ self.item_vectors_.T).toarray().astype(np.float32, copy=False)
        pop = self.item_counts_.astype(np.float32)
        scores += _TIE * pop / max(1.0, float(pop.max(initial=0)))
        return scores
