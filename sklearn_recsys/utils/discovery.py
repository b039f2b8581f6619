"""Find the estimators of this package, as :mod:`sklearn.utils.discovery` does for sklearn's."""

import inspect
import pkgutil
from importlib import import_module
from operator import itemgetter
from pathlib import Path

from sklearn.utils._param_validation import StrOptions, validate_params

__all__ = ["all_estimators"]

# Not walked: test code, the command line entry point (importing it would
# be harmless today, but it is a script, not a library module) and the
# checks, whose helpers are not estimators of the package.
_MODULES_TO_IGNORE = {"tests", "conftest", "__main__", "estimator_checks"}
_TYPES = ("recommender", "transformer")


@validate_params(
    {"type_filter": [StrOptions(set(_TYPES)), list, None]},
    prefer_skip_nested_validation=True,
)
def all_estimators(type_filter=None):
    """List the estimators of sklearn_recsys.

    Walks every module of the package, private ones (``_ease``, ...)
    included since that is where the classes are defined, and keeps the
    public (not ``_``-prefixed), non-abstract subclasses of
    :class:`~sklearn.base.BaseEstimator` defined in sklearn_recsys (not
    those it imports, such as scikit-learn's ``Pipeline``). Test modules
    are skipped.

    Parameters
    ----------
    type_filter : {"recommender", "transformer"}, list of those or None, \
            default=None
        Keep only recommenders (subclasses of
        :class:`~sklearn_recsys.base.RecommenderMixin`), transformers
        (subclasses of :class:`~sklearn.base.TransformerMixin`), or the
        estimators of any type in the list. None keeps every estimator.

    Returns
    -------
    estimators : list of (str, type)
        ``(class name, class)`` pairs, sorted by name.

    See Also
    --------
    sklearn.utils.discovery.all_estimators : The same for scikit-learn.
    sklearn_recsys.utils.estimator_checks.check_recommender : Check one
        recommender against the contract.

    Examples
    --------
    >>> from sklearn_recsys.utils.discovery import all_estimators
    >>> [name for name, _ in all_estimators(type_filter="recommender")]
    ['ApproximateRecommender', 'EASE', 'IntentRecommender', 'ItemKNN', 'Popularity', 'TfidfRecommender', 'Transition']
    >>> "SequenceEncoder" in dict(all_estimators(type_filter="transformer"))
    True
    """
    from sklearn.base import BaseEstimator, TransformerMixin

    from ..base import RecommenderMixin

    filters = {"recommender": RecommenderMixin, "transformer": TransformerMixin}
    wanted = None if type_filter is None else (
        [type_filter] if isinstance(type_filter, str) else list(type_filter))
    if wanted is not None and not set(wanted) <= set(_TYPES):
        raise ValueError(f"type_filter lists must hold {list(_TYPES)} only; got {type_filter!r}.")

    package = Path(__file__).resolve().parents[1]
    classes = set()
    for _, module_name, _ in pkgutil.walk_packages([str(package)], prefix="sklearn_recsys."):
        if any(part in _MODULES_TO_IGNORE for part in module_name.split(".")):
            continue
        module = import_module(module_name)
        classes.update(
            (name, cls)
            for name, cls in inspect.getmembers(module, inspect.isclass)
            if not name.startswith("_") and cls.__module__.startswith("sklearn_recsys.")
        )

    estimators = [
        (name, cls) for name, cls in classes
        if issubclass(cls, BaseEstimator) and not inspect.isabstract(cls)
    ]
    if wanted is not None:
        estimators = [
            (name, cls) for name, cls in estimators
            if any(issubclass(cls, filters[t]) for t in wanted)
        ]
    return sorted(estimators, key=itemgetter(0))
