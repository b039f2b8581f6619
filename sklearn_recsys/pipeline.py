"""Pipelines ending in a recommender: transform the queries, then rank.

scikit-learn's :class:`~sklearn.pipeline.Pipeline` forwards ``fit``,
``predict`` and ``score`` to its last step after running the transformers,
but it has no ``recommend``: ranking scorers
(:func:`~sklearn_recsys.metrics.make_ranking_scorer`) and users call
``recommend``. :class:`RecommenderPipeline` adds it (and
``decision_function``/``predict_proba`` through the transformers).
"""

from sklearn.pipeline import Pipeline, _name_estimators
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._doc_link import DocLinkMixin

__all__ = ["RecommenderPipeline", "make_recommender_pipeline"]


def _last_has(name):
    def check(self):
        return hasattr(self._final_estimator, name)
    return check


class RecommenderPipeline(DocLinkMixin, Pipeline):
    """A :class:`~sklearn.pipeline.Pipeline` whose last step is a recommender.

    Everything of ``Pipeline`` (nested ``step__param`` names, ``clone``,
    ``GridSearchCV``, pickling) plus :meth:`recommend`: the queries go
    through every transformer, then the last step ranks them. Put the
    history column through untouched, e.g. ``("history", "passthrough",
    ["history"])`` in a ``ColumnTransformer`` with
    ``verbose_feature_names_out=False`` (or let the recommender find a
    ``*__history`` column), and ``.set_output(transform="pandas")`` so the
    recommender receives a DataFrame.

    Parameters
    ----------
    steps : list of (str, estimator)
        As for ``Pipeline``; the last one must have ``recommend``.
    memory, transform_input, verbose
        As for ``Pipeline``.

    See Also
    --------
    make_recommender_pipeline : Build one with generated step names.

    Examples
    --------
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from sklearn_recsys.baselines import Popularity
    >>> from sklearn_recsys.pipeline import make_recommender_pipeline
    >>> pipe = make_recommender_pipeline(FunctionTransformer(), Popularity())
    >>> pipe.fit([[1, 2], [2, 3], [1]], [3, 4, 2]).recommend([[1]], k=2)
    array([[2, 3]])
    """

    def _transform_queries(self, X):
        check_is_fitted(self)
        Xt = X
        for _, _, transformer in self._iter(with_final=False):
            Xt = transformer.transform(Xt)
        return Xt

    @available_if(_last_has("recommend"))
    def recommend(self, X, k=10, **kwargs):
        """Transform ``X`` with every step but the last, then ``recommend``.

        Parameters
        ----------
        X : DataFrame or sequence of sequences
            Raw queries, as the first step expects them.
        k : int, default=10
            Number of items per row.
        **kwargs
            ``exclude_seen``, ``candidates``, ``return_scores`` of the last
            step's ``recommend``.

        Returns
        -------
        items : ndarray of shape (n_rows, k)
            (and scores with ``return_scores=True``).
        """
        return self._final_estimator.recommend(self._transform_queries(X), k=k, **kwargs)

    @available_if(_last_has("explain"))
    def explain(self, X, items=None, k=10):
        """Transform ``X`` with every step but the last, then the last step's ``explain``.

        Parameters
        ----------
        X : DataFrame or sequence of sequences
            Raw queries, as the first step expects them.
        items : array-like of item ids or per-row lists, default=None
        k : int, default=10

        Returns
        -------
        explanation : DataFrame
            See :meth:`sklearn_recsys.base.RecommenderMixin.explain`.
        """
        return self._final_estimator.explain(self._transform_queries(X), items=items, k=k)

    @available_if(_last_has("similar_items"))
    def similar_items(self, items, k=10, **kwargs):
        """The last step's ``similar_items`` (item ids need no transform).

        Parameters
        ----------
        items : array-like of item ids
        k : int, default=10
        **kwargs
            ``candidates``, ``return_scores`` of the last step.

        Returns
        -------
        similar : ndarray of shape (n_items_query, k)
            (and scores with ``return_scores=True``).
        """
        return self._final_estimator.similar_items(items, k=k, **kwargs)

    @available_if(_last_has("decision_function"))
    def decision_function(self, X, **params):
        """Scores of every item: transform ``X``, then the last step's ``decision_function``."""
        return self._final_estimator.decision_function(self._transform_queries(X), **params)

    @property
    def classes_(self):
        """Item ids of the last step."""
        return self._final_estimator.classes_


def make_recommender_pipeline(*steps, memory=None, verbose=False):
    """Build a :class:`RecommenderPipeline` from estimators; names are generated.

    Like :func:`sklearn.pipeline.make_pipeline`: each step is named after its
    class in lower case (``"columntransformer"``, ``"intentrecommender"``).

    Parameters
    ----------
    *steps : estimators
        Transformers, then a recommender.
    memory : str, object with the joblib.Memory interface or None, default=None
        Caches the fitted transformers.
    verbose : bool, default=False
        Print the time of each step's fit.

    Returns
    -------
    pipeline : RecommenderPipeline
    """
    return RecommenderPipeline(_name_estimators(steps), memory=memory, verbose=verbose)
