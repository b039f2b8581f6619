"""Bad inputs of issue 13: each class gets a clear error (what was expected,
what came) at the input layer, or a documented behaviour.

One test per rule; each example is one the issue found returning a silently
wrong result or an unhelpful error.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from sklearn_recsys.baselines import EASE, Popularity
from sklearn_recsys.intent import IntentRecommender
from sklearn_recsys.metrics import (
    average_precision_at_k,
    hit_rate_at_k,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)
from sklearn_recsys.model_selection import ColdItemSplit, cold_item_split
from sklearn_recsys.preprocessing import SequenceEncoder

METRICS = [average_precision_at_k, hit_rate_at_k, mrr_at_k, ndcg_at_k, precision_at_k, recall_at_k]

X = [[1, 2, 3], [2, 3, 4], [3, 4, 5], [1, 3, 5]] * 5
Y = [4, 5, 1, 2] * 5
TINY = dict(max_epochs=2, batch_size=8, module__d_model=8, module__n_heads=1,
            module__n_layers=1, max_len=4, random_state=0, verbose=0)


# -- booleans are not item ids ---------------------------------------------
@pytest.mark.parametrize("call", [
    lambda: Popularity().fit([[True, 2], [2]], [3, 1]),
    lambda: Popularity().fit([[1, 2], [2]], [True, 1]),
    lambda: Popularity().fit([[1, 2], [2]], [3, 1]).recommend([[1]], k=1, candidates=[True, 2]),
    lambda: SequenceEncoder().fit([[True, 2]]),
    lambda: Popularity().fit([[1, 2], [2]], np.array([True, False])),
], ids=["history", "y", "candidates", "SequenceEncoder", "bool-array-y"])
def test_booleans_are_refused_as_item_ids(call):
    with pytest.raises(TypeError, match="Booleans are not item ids"):
        call()


# -- integer ids live in int64 ---------------------------------------------
@pytest.mark.parametrize("call, where", [
    (lambda: Popularity().fit([[1], [2]], np.array([2**63, 1], dtype=np.uint64)), "y"),
    (lambda: Popularity().fit([[2**63], [2]], [3, 1]), "histories"),
    (lambda: Popularity().fit([[2**70], [2]], [3, 1]), "histories"),
    (lambda: Popularity().fit([[2**63, 1, 2], [2]], [3, 1]), "histories"),
    (lambda: Popularity().fit([[1], [2]], [3, 1]).recommend([[1]], k=1, candidates=[2**64]), "candidates"),
], ids=["uint64-y", "2**63", "2**70", "2**63-with-small", "candidates"])
def test_ids_outside_int64_raise_and_suggest_strings(call, where):
    with pytest.raises(ValueError, match=rf"(?s){where}.*int64 range.*as strings"):
        call()


def test_ids_at_the_int64_edges_round_trip():
    lo, hi = -(2**63), 2**63 - 1
    model = Popularity().fit([[lo], [hi], [hi]], [hi, lo, hi])
    assert model.classes_.dtype == np.int64
    assert model.recommend([[]], k=2).tolist() == [[hi, lo]]


def test_uint64_ids_in_range_are_accepted():
    y = np.array([3, 1, 3], dtype=np.uint64)
    model = Popularity().fit([[1], [2], [3]], y)
    assert model.recommend([[]], k=1).tolist() == [[3]]


def test_nested_histories_raise_a_clear_error():
    with pytest.raises(TypeError, match="flat sequence of item ids"):
        Popularity().fit([[[1, 2], 3], [2]], [3, 1])


# -- context must be finite and in range -----------------------------------
def _ctx_frame(values):
    return pd.DataFrame({"history": X, "ctx": values})


@pytest.mark.parametrize("bad, match", [
    (np.inf, "finite numbers; column 'ctx' holds inf at row 0"),
    (-np.inf, "finite numbers; column 'ctx' holds -inf at row 0"),
    (1e300, "cannot be standardised|standard deviations"),
    (np.nan, "missing values"),
])
def test_non_finite_or_huge_context_raises_at_fit(bad, match):
    frame = _ctx_frame([bad] + [1.0] * (len(X) - 1))
    with pytest.raises(ValueError, match=match):
        IntentRecommender(**TINY, context_columns=["ctx"]).fit(frame, Y)


def test_non_finite_or_huge_context_raises_at_recommend():
    good = _ctx_frame(np.linspace(0, 1, len(X)))
    model = IntentRecommender(**TINY, context_columns=["ctx"]).fit(good, Y)
    assert np.isfinite(model.decision_function(good)).all()
    for bad, match in [(np.inf, "finite numbers; column 'ctx' holds inf at row 2"),
                       (1e300, "column 'ctx' holds 1e\\+300 at row 2.*standard deviations")]:
        frame = good.copy()
        frame.loc[2, "ctx"] = bad
        for call in (lambda f: model.recommend(f, k=2, exclude_seen=False),
                     model.decision_function, model.transform):
            with pytest.raises(ValueError, match=match):
                call(frame)
        assert frame.loc[2, "ctx"] == bad  # the caller's frame is untouched
    # a large but plausible value is scored
    frame = good.copy()
    frame.loc[2, "ctx"] = 50.0
    assert np.isfinite(model.decision_function(frame)).all()


def test_scoring_refuses_nan_from_a_broken_network():
    model = IntentRecommender(**TINY)
    model.fit(X, Y)
    with torch.no_grad():
        for p in model.module_.parameters():
            p.data.fill_(float("nan"))
    with pytest.raises(ValueError, match="non-finite intent vectors for 20 of 20 rows"):
        model.recommend(X, k=2, exclude_seen=False)


def test_nan_training_loss_warns():
    model = IntentRecommender(**{**TINY, "max_epochs": 1})
    model.initialize_module = _nan_module(model.initialize_module, model)
    with pytest.warns(RuntimeWarning, match="training loss became nan at epoch 1"):
        model.fit(X, Y)


def _nan_module(initialize_module, model):
    def init():
        out = initialize_module()
        for p in model.module_.parameters():
            p.data.fill_(float("nan"))
        return out
    return init


# -- metrics on malformed lists --------------------------------------------
@pytest.mark.parametrize("metric", METRICS, ids=lambda f: f.__name__)
def test_metrics_refuse_repeated_items_in_a_list(metric):
    with pytest.raises(ValueError, match="row 1 repeats item 2"):
        metric([1, 2], [[1, 3, 4], [2, 2, 2]], k=3)
    with pytest.raises(ValueError, match="row 0 repeats item 'a'"):
        metric(["a"], [["a", "b", "a"]], k=3)
    # a repeat beyond the first k entries does not matter
    assert metric([1], [[1, 2, 1]], k=2) == metric([1], [[1, 2]], k=2)


@pytest.mark.parametrize("metric", METRICS, ids=lambda f: f.__name__)
def test_metrics_refuse_ragged_lists(metric):
    with pytest.raises(ValueError, match="row 0 has 3 items but row 1 has 1"):
        metric([1, 2], [[1, 2, 3], [2]], k=1)


def test_metric_values_with_valid_lists_are_unchanged():
    # NDCG@3 of hits at ranks 1 and 2: (1 + 1/log2(3)) / 2
    assert ndcg_at_k([1, 2], [[1, 3, 4], [3, 2, 4]], k=3) == pytest.approx((1 + 1 / np.log2(3)) / 2)
    assert precision_at_k([1, 2], [[1, 3, 4], [3, 2, 4]], k=3) == pytest.approx(1 / 3)


# -- cold splitters ----------------------------------------------------------
@pytest.mark.parametrize("split", [
    lambda X, y: cold_item_split(X, y, test_size=1, random_state=0),
    lambda X, y: list(ColdItemSplit(n_splits=1, test_size=1, random_state=0).split(X, y)),
], ids=["cold_item_split", "ColdItemSplit"])
def test_cold_splitters_refuse_mixed_int_and_str_targets(split):
    with pytest.raises(TypeError, match="all integers or all strings.*(cold_item_split|ColdItemSplit)"):
        split([[1], [2], [3], [4]], [1, "a", 2, "b"])


@pytest.mark.parametrize("split, who", [
    (lambda X, y: cold_item_split(X, y, test_size=1, random_state=0), "cold_item_split"),
    (lambda X, y: list(ColdItemSplit(n_splits=1, test_size=1, random_state=0).split(X, y)), "ColdItemSplit"),
], ids=["cold_item_split", "ColdItemSplit"])
def test_cold_split_with_an_empty_training_fold_raises(split, who):
    # whichever item is held out, the other row has it in its history
    with pytest.raises(ValueError, match=rf"{who}: the training fold is empty"):
        split([[2], [1]], [1, 2])


# -- unchecked parameters ------------------------------------------------------
def test_negative_max_epochs_raises():
    with pytest.raises(ValueError, match="max_epochs.*range \\[0, inf\\).*Got -1"):
        IntentRecommender(max_epochs=-1).fit(X, Y)


@pytest.mark.parametrize("model", [Popularity(), EASE()], ids=["Popularity", "EASE"])
def test_return_scores_must_be_a_bool(model):
    model.fit(X, Y)
    with pytest.raises(TypeError, match="return_scores must be a bool; got 'no'"):
        model.recommend([[1]], k=2, return_scores="no")
    with pytest.raises(TypeError, match="exclude_seen must be a bool"):
        model.recommend([[1]], k=2, exclude_seen="yes")
    items = model.recommend([[1]], k=2, return_scores=False)
    assert isinstance(items, np.ndarray)


def test_cuda_without_a_gpu_says_so():
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present: device='cuda' is valid here")
    with pytest.raises(ValueError, match="device='cuda' needs a CUDA GPU.*device='auto'"):
        IntentRecommender(**{**TINY, "device": "cuda"}).fit(X, Y)
    with pytest.raises(ValueError, match="device='cuda:3' needs a CUDA GPU"):
        IntentRecommender(**{**TINY, "device": "cuda:3"}).fit(X, Y)


def test_unknown_device_is_a_parameter_error():
    with pytest.raises(ValueError, match="device"):
        IntentRecommender(**{**TINY, "device": "gpu0"}).fit(X, Y)


def test_fit_does_not_mutate_the_callers_data():
    X_ = [list(h) for h in X]
    y_ = list(Y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        IntentRecommender(**TINY).fit(X_, y_)
    assert X_ == X and y_ == Y


def test_metrics_refuse_missing_relevant_items():
    with pytest.raises(ValueError, match="missing value.*at row 1"):
        ndcg_at_k([1, np.nan], [[1], [2]], k=1)
    with pytest.raises(ValueError, match="missing value.*at row 0"):
        hit_rate_at_k(np.array([None, "a"], dtype=object), [["a"], ["a"]], k=1)
    with pytest.raises(ValueError, match="Row 0 of y_true holds a missing value"):
        recall_at_k([[1, None]], [[1, 2]], k=2)


def test_score_checks_that_X_and_y_match():
    model = EASE().fit(X, Y)
    with pytest.raises(ValueError, match="X has 20 rows but y has 3"):
        model.score(X, Y[:3])
