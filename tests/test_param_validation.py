"""Declared parameter rules, across the package.

Every public function declares each of its arguments with sklearn's
``validate_params``, and every splitter, transformer, skorch estimator and the tokeniser
its constructor parameters in ``_parameter_constraints``: an invalid value
(of no accepted type, ``True`` for a count, just outside a range or an
option set) raises ``InvalidParameterError`` naming the parameter, before
any data is read. Recommenders are covered by the contract suite
(``check_parameter_constraints`` in ``sklearn_recsys.utils.estimator_checks``).
"""

import inspect

import pandas as pd
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_recsys import content, datasets, metrics, model_selection, preprocessing
from sklearn_recsys.utils._param_validation import invalid_param_values

# Valid values of the required arguments of every public function.
REQUIRED = {
    "load_interactions": {"data": pd.DataFrame()},
    "load_movielens": {},
    "make_sessions": {},
    "queries_from_log": {"log": pd.DataFrame()},
    "average_precision_at_k": {"y_true": [1], "y_rec": [[1]]},
    "catalog_coverage": {"y_rec": [[1]], "items": 3},
    "hit_rate_at_k": {"y_true": [1], "y_rec": [[1]]},
    "make_ranking_scorer": {},
    "mrr_at_k": {"y_true": [1], "y_rec": [[1]]},
    "ndcg_at_k": {"y_true": [1], "y_rec": [[1]]},
    "precision_at_k": {"y_true": [1], "y_rec": [[1]]},
    "recall_at_k": {"y_true": [1], "y_rec": [[1]]},
    "cold_item_split": {"X": [[1]], "y": [2]},
    "leave_last_out_split": {"X": pd.DataFrame(), "y": None},
}
PUBLIC = {
    name: getattr(module, name)
    for module in (datasets, metrics, model_selection, preprocessing)
    for name in module.__all__
}
FUNCTIONS = {name: obj for name, obj in PUBLIC.items() if inspect.isfunction(obj)}
SPLITTERS = {name: obj for name, obj in PUBLIC.items() if name in model_selection.__all__
             and inspect.isclass(obj)}
ESTIMATORS = {**{name: getattr(preprocessing, name) for name in preprocessing.__all__},
              "ContentEncoder": content.ContentEncoder, "TextTokenizer": content.TextTokenizer}


def test_tables_cover_every_public_name():
    assert set(FUNCTIONS) == set(REQUIRED)
    assert len(SPLITTERS) == 3 and len(ESTIMATORS) == 4


@pytest.mark.parametrize("name", FUNCTIONS)
def test_public_functions_declare_every_parameter(name):
    func = FUNCTIONS[name]
    assert set(func._skl_parameter_constraints) == set(inspect.signature(func).parameters)


@pytest.mark.parametrize(
    "name, param",
    [(name, param) for name, func in FUNCTIONS.items() for param in func._skl_parameter_constraints],
)
def test_public_functions_reject_invalid_parameters(name, param):
    func = FUNCTIONS[name]
    for value in invalid_param_values(func._skl_parameter_constraints[param]):
        with pytest.raises(InvalidParameterError, match=f"The '{param}' parameter of {name} must be"):
            func(**{**REQUIRED[name], param: value})


@pytest.mark.parametrize("name", [*SPLITTERS, *ESTIMATORS])
def test_classes_declare_every_parameter(name):
    cls = {**SPLITTERS, **ESTIMATORS}[name]
    own = set(inspect.signature(cls).parameters) - {"kwargs"}
    assert own <= set(cls._parameter_constraints)
    if name != "ContentEncoder":  # also declares skorch's own lr, device, ...
        assert set(cls._parameter_constraints) == own


@pytest.mark.parametrize(
    "name, param",
    [(name, param) for name, cls in SPLITTERS.items() for param in cls._parameter_constraints],
)
def test_splitters_reject_invalid_parameters(name, param):
    Splitter = SPLITTERS[name]
    for value in invalid_param_values(Splitter._parameter_constraints[param]):
        cv = Splitter(**{param: value})
        # checked before X is read, as fit checks an estimator's parameters
        match = f"The '{param}' parameter of {name} must be"
        with pytest.raises(InvalidParameterError, match=match):
            cv.get_n_splits()
        with pytest.raises(InvalidParameterError, match=match):
            next(cv.split(None, None))


@pytest.mark.parametrize(
    "name, param",
    [(name, param) for name, cls in ESTIMATORS.items() for param in cls._parameter_constraints],
)
def test_estimators_reject_invalid_parameters(name, param):
    Estimator = ESTIMATORS[name]
    for value in invalid_param_values(Estimator._parameter_constraints[param]):
        # checked before X is read
        with pytest.raises(InvalidParameterError, match=f"The '{param}' parameter of {name} must be"):
            Estimator(**{param: value}).fit(None)
