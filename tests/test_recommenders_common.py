"""The recommender contract, run against every recommender of the package.

The checks live in :mod:`sklearn_recsys.utils.estimator_checks` (so users
can run them on their own recommenders); this file runs them on every
recommender :func:`~sklearn_recsys.utils.discovery.all_estimators` finds,
and checks that the checks can fail.
"""

from numbers import Real

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.exceptions import SkipTestWarning
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils._param_validation import Interval

from sklearn_recsys.base import RecommenderMixin
from sklearn_recsys.baselines import EASE, Popularity
from sklearn_recsys.intent import IntentRecommender
from sklearn_recsys.pipeline import make_recommender_pipeline
from sklearn_recsys.retrieval._backends import AUTO_ORDER, available
from sklearn_recsys.utils.discovery import all_estimators
from sklearn_recsys.utils.estimator_checks import (
    check_exclude_seen,
    check_input_not_mutated,
    check_known_answer,
    check_output_shapes_and_dtypes,
    check_parameter_constraints,
    check_recommender,
    parametrize_with_checks,
)

# Cheap constructor parameters; a recommender missing here runs with its
# defaults. The catalogue (items=) is set by the checks themselves.
INIT_PARAMS = {
    "ItemKNN": dict(n_neighbors=5, shrinkage=1.0),
    "EASE": dict(l2=1.0),
    "Transition": dict(order=2),
    # 20 epochs: fewer do not learn the toy chains (the known answer). On
    # the CPU everywhere: check_deterministic compares two fits exactly,
    # which the docs promise on the CPU only (CUDA kernels may round
    # differently); the CUDA tests are in test_intent.py
    "IntentRecommender": dict(
        max_epochs=20, lr=0.01, batch_size=32, max_len=10, module__d_model=16,
        random_state=0, verbose=0, device="cpu",
    ),
}
# the meta-estimator over the same network; on the 23 toy items its index is
# exhaustive (faiss: one list; HNSW: ef_search above the catalogue)
INIT_PARAMS["ApproximateRecommender"] = dict(
    estimator=IntentRecommender(**INIT_PARAMS["IntentRecommender"]))

# {class name: {check name: reason}}: real bugs, reported, not yet fixed.
# {class name: {check name: reason}}: real bugs, reported, not yet fixed.
EXPECTED_FAILED_CHECKS: dict = {}

KNOWN_RECOMMENDERS = {
    "Popularity", "ItemKNN", "EASE", "Transition", "IntentRecommender", "TfidfRecommender",
    "ApproximateRecommender",
}
# ApproximateRecommender needs an index library (the ann extra; faiss-cpu is
# in the test extra): without one it is found but not run
_NEEDS_INDEX = {"ApproximateRecommender"}


def _runnable(name):
    return name not in _NEEDS_INDEX or any(available(b) for b in AUTO_ORDER)


def _tested_recommenders():
    for name, cls in all_estimators(type_filter="recommender"):
        if _runnable(name):
            yield cls(**INIT_PARAMS.get(name, {}))


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


@parametrize_with_checks(list(_tested_recommenders()), expected_failed_checks=_expected_failed_checks)
def test_recommender_contract(estimator, check):
    check(estimator)


def test_no_recommender_is_dropped_silently():
    # a recommender left out of the contract above shows as a skip with its reason
    skipped = sorted(name for name, _ in all_estimators(type_filter="recommender")
                     if not _runnable(name))
    assert set(skipped) <= _NEEDS_INDEX
    if skipped:
        pytest.skip(f"{skipped} not run through the contract: no index library installed "
                    "(faiss-cpu, hnswlib or usearch: the ann extra)")


def test_all_recommenders_are_found():
    found = dict(all_estimators(type_filter="recommender"))
    assert KNOWN_RECOMMENDERS <= set(found)
    assert all(issubclass(cls, RecommenderMixin) for cls in found.values())
    everything = dict(all_estimators())
    # a pipeline is an estimator, not a RecommenderMixin; sklearn's own
    # classes imported by our modules (Pipeline, TfidfVectorizer) are not ours
    assert "RecommenderPipeline" in everything and "RecommenderPipeline" not in found
    assert not {"Pipeline", "TfidfVectorizer", "BaseEstimator"} & set(everything)
    transformers = dict(all_estimators(type_filter="transformer"))
    assert {"SequenceEncoder", "TimeFeatures", "ContentEncoder"} <= set(transformers)
    both = dict(all_estimators(type_filter=["recommender", "transformer"]))
    assert set(both) == set(found) | set(transformers)
    with pytest.raises(ValueError, match="type_filter"):
        all_estimators(type_filter="classifier")


def test_check_recommender_on_a_pipeline():
    # users' compositions are checked the same way; item_counts_ is read
    # from the pipeline's last step
    pipe = make_recommender_pipeline(FunctionTransformer(), EASE(l2=1.0))
    with pytest.warns(SkipTestWarning, match="check_documented_attributes"):
        check_recommender(pipe, expected_failed_checks={
            "check_documented_attributes": (
                "RecommenderPipeline has no fitted attributes of its own to document: "
                "its fitted state is its steps'."
            ),
        })


@pytest.mark.parametrize(
    "history",
    [
        ["a", np.nan],
        ["a", 1],
        [1, "a"],
        pytest.param(
            [True, 2],
            marks=pytest.mark.xfail(
                strict=True, reason="flatten_histories: np.asarray([True, 2]) is int64"
            ),
        ),
    ],
)
def test_bad_ids_inside_one_history_raise(history):
    # numpy alone would turn ["a", 1] into ["a", "1"] and ["a", nan] into ["a", "nan"]
    with pytest.raises((TypeError, ValueError), match="missing values|all integers or all strings"):
        Popularity().fit([history], ["b"] if isinstance(history[0], str) else [3])


# -- the checks can fail ---------------------------------------------------------


class LastItem(RecommenderMixin, BaseEstimator):
    """Score each item by how often it followed the history's last item.

    Attributes
    ----------
    classes_ : ndarray of shape (n_items,)
        Known item ids, sorted.
    item_counts_ : ndarray of shape (n_items,)
        Training occurrences of each item.
    transitions_ : ndarray of shape (n_items, n_items)
        ``transitions_[i, j]``: how often ``j`` followed ``i``.
    """

    def fit(self, X, y):
        queries, y_codes = self._fit_queries(X, y)
        self.transitions_ = np.zeros((len(self.classes_),) * 2)
        for i in range(len(queries)):
            if len(queries.row(i)):
                self.transitions_[queries.row(i)[-1], y_codes[i]] += 1
        return self

    def _score_chunk(self, queries):
        scores = np.zeros((len(queries), len(self.classes_)))
        for i in range(len(queries)):
            if len(queries.row(i)):
                scores[i] = self.transitions_[queries.row(i)[-1]]
        return scores


class IgnoresExcludeSeen(LastItem):
    # Broken: ranks seen items like any other.

    def recommend(self, X, k=10, *, exclude_seen=True, candidates=None, return_scores=False):
        return super().recommend(
            X, k, exclude_seen=False, candidates=candidates, return_scores=return_scores
        )


class Duplicates(LastItem):
    # Broken: repeats its best item down the list.

    def _topk_chunk(self, queries, k, exclude_seen, allowed):
        top, scores = super()._topk_chunk(queries, k, exclude_seen, allowed)
        return top[:, :1].repeat(k, axis=1), scores[:, :1].repeat(k, axis=1)


class MutatesX(LastItem):
    # Broken: writes a column into the caller's DataFrame.

    def fit(self, X, y):
        if isinstance(X, pd.DataFrame):
            X["n_items"] = X["history"].map(len)
        return super().fit(X, y)


class Alphabetical(LastItem):
    # Broken popularity-like model: ignores the history but not by counts.

    def _score_chunk(self, queries):
        return np.broadcast_to(-np.arange(len(self.classes_), dtype=np.float32),
                               (len(queries), len(self.classes_))).copy()


class Unvalidated(LastItem):
    # Broken: declares constraints that fit never checks.

    _parameter_constraints = {"alpha": [Interval(Real, 0, None, closed="left")]}

    def __init__(self, alpha=1.0):
        self.alpha = alpha


def test_a_correct_recommender_passes():
    with pytest.warns(SkipTestWarning, match="no _parameter_constraints"):
        check_recommender(LastItem())


@pytest.mark.parametrize(
    "broken, check, match",
    [
        pytest.param(broken, check, match, id=type(broken).__name__)
        for broken, check, match in [
            (IgnoresExcludeSeen(), check_exclude_seen, "unseen items must come first"),
            (Duplicates(), check_output_shapes_and_dtypes, "holds an item twice"),
            (MutatesX(), check_input_not_mutated, "X after MutatesX"),
            (Alphabetical(), check_known_answer, "must rank by popularity"),
            (Unvalidated(), check_parameter_constraints,
             "alpha=.* did not raise InvalidParameterError"),
        ]
    ],
)
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_a_broken_recommender_fails(broken, check, match):
    name = type(broken).__name__
    with pytest.raises(AssertionError, match=match):
        check(name, broken)
    with pytest.raises(AssertionError):
        check_recommender(broken)


def test_expected_failed_checks_are_skipped_with_a_warning():
    expected = {
        "check_exclude_seen": "ranks seen items",
        "check_candidates": "ranks seen candidates",
        "check_per_row_candidates_and_exclude": "its recommend takes no exclude",
        "check_bad_input_raises": "drops the exclude_seen argument unchecked",
    }
    with pytest.warns(SkipTestWarning) as record:
        check_recommender(IgnoresExcludeSeen(), expected_failed_checks=expected)
    messages = {str(w.message) for w in record}
    assert messages == {
        *(f"Skipping {check} for IgnoresExcludeSeen: {why}" for check, why in expected.items()),
        # a check that does not apply is skipped the same way
        "Skipping check_parameter_constraints for IgnoresExcludeSeen: "
        "IgnoresExcludeSeen has no _parameter_constraints.",
    }


def test_parametrize_with_checks_ids_and_marks():
    mark = parametrize_with_checks(
        [LastItem()], expected_failed_checks=lambda est: {"check_exclude_seen": "why"}
    )
    params = mark.args[1]
    ids = [p.id for p in params]
    assert "LastItem-check_known_answer" in ids
    xfails = [p for p in params if p.marks]
    assert [p.id for p in xfails] == ["LastItem-check_exclude_seen"]
    assert xfails[0].marks[0].kwargs["reason"] == "why"
    with pytest.raises(TypeError, match="instances"):
        parametrize_with_checks([LastItem])
