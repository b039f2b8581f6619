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
    "fetch_movielens": {},
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


@pytest.mark.parametrize("name", [*SPLITTERS, *ESTIMATORS])
def test_classes_declare_every_parameter(name):
    cls = {**SPLITTERS, **ESTIMATORS}[name]
    own = set(inspect.signature(cls).parameters) - {"kwargs"}
    assert own <= set(cls._parameter_constraints)
    if name != "ContentEncoder":  # also declares skorch's own lr, device, ...
        assert set(cls._parameter_constraints) == own


# What must raise for an invalid value, per kind of public name: each
# returns the calls that read the parameter (before any data is read).
def _function_calls(name, param, value):
    return [lambda: FUNCTIONS[name](**{**REQUIRED[name], param: value})]


def _splitter_calls(name, param, value):
    cv = SPLITTERS[name](**{param: value})
    return [cv.get_n_splits, lambda: next(cv.split(None, None))]


def _estimator_calls(name, param, value):
    return [lambda: ESTIMATORS[name](**{param: value}).fit(None)]


CASES = [
    (name, param, constraints, calls)
    for table, attribute, calls in [
        (FUNCTIONS, "_skl_parameter_constraints", _function_calls),
        (SPLITTERS, "_parameter_constraints", _splitter_calls),
        (ESTIMATORS, "_parameter_constraints", _estimator_calls),
    ]
    for name, obj in table.items()
    for param, constraints in getattr(obj, attribute).items()
]


@pytest.mark.parametrize(
    "name, param, constraints, calls", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES],
)
def test_invalid_parameters_raise_naming_them(name, param, constraints, calls):
    for value in invalid_param_values(constraints):
        for call in calls(name, param, value):
            with pytest.raises(InvalidParameterError, match=f"The '{param}' parameter of {name} must be"):
                call()
