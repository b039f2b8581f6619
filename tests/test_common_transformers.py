"""sklearn's common estimator checks on the tabular transformers."""

import warnings

import pandas as pd
import pytest
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_global_output_transform_pandas,
    check_param_validation,
    check_set_output_transform,
    check_set_output_transform_pandas,
    check_transformer_get_feature_names_out,
    check_transformer_get_feature_names_out_pandas,
    parametrize_with_checks,
)

from sklearn_recsys.preprocessing import SequenceEncoder, TimeFeatures

# Cheap constructor arguments; a few non-default variants to cover other paths.
ESTIMATORS = [
    SequenceEncoder(max_len=5),
    SequenceEncoder(
        max_len=3, min_frequency=2, handle_unknown="encode", padding="right"
    ),
    TimeFeatures(),
    TimeFeatures(features=("hour",), gaps=False, unit="ms"),
]

# {check name: reason} per estimator. Every check currently passes on the
# tabular form (2-D arrays whose rows are fixed-length histories / columns of
# times), so these are empty; keep one reason next to each entry if one is
# ever added.
EXPECTED_FAILED_CHECKS = {
    "SequenceEncoder": {},
    "TimeFeatures": {},
}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS[type(estimator).__name__]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def _id(estimator):
    return f"{type(estimator).__name__}-{ESTIMATORS.index(estimator)}"


EXTRA_CHECKS = [
    check_param_validation,
    check_set_output_transform,
    check_set_output_transform_pandas,
    check_global_output_transform_pandas,
    check_transformer_get_feature_names_out,
    check_transformer_get_feature_names_out_pandas,
    check_dataframe_column_names_consistency,
]


@pytest.mark.parametrize("check", EXTRA_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_id)
def test_extra_sklearn_checks(estimator, check):
    with warnings.catch_warnings():
        # raised by the set_output checks themselves (they mix DataFrames and
        # arrays between fit and transform); sklearn's own scalers warn the same
        warnings.filterwarnings("ignore", "X (does not have valid|has) feature names")
        check(type(estimator).__name__, estimator)


def _documented_attributes(estimator):
    docscrape = pytest.importorskip("numpydoc.docscrape")
    doc = docscrape.ClassDoc(type(estimator))
    return {item.name.split(" ")[0] for item in doc["Attributes"]}


FIT_DATA = {
    "SequenceEncoder": pd.DataFrame(
        {"user_id": [1, 2, 3], "history": [["a", "b"], ["b", "c", "a"], []]}
    ),
    "TimeFeatures": pd.DataFrame(
        {"prev_timestamp": [0.0, 3600.0, 7200.0], "timestamp": [600.0, 4000.0, 9000.0]}
    ),
}


@pytest.mark.parametrize("estimator", ESTIMATORS[::2], ids=_id)
def test_documented_attributes_match_fitted_attributes(estimator):
    documented = _documented_attributes(estimator)
    fitted = estimator.fit(FIT_DATA[type(estimator).__name__])
    found = {
        name for name in vars(fitted) if name.endswith("_") and not name.startswith("_")
    }
    assert documented == found
