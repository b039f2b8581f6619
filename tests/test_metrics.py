
import numpy as np
import pytest
from sklearn.metrics import ndcg_score

from sklearn_recsys.metrics import (
    average_precision_at_k,
    catalog_coverage,
    hit_rate_at_k,
    make_ranking_scorer,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)

REC = np.array([[5, 3, 9, 1], [2, 4, 6, 8], [7, 1, 3, 5]])


def test_single_relevant_hand_computed():
    y = [3, 8, 0]  # rank 2, rank 4, miss
    assert hit_rate_at_k(y, REC, k=4) == pytest.approx(2 / 3)
    assert hit_rate_at_k(y, REC, k=2) == pytest.approx(1 / 3)
    assert recall_at_k(y, REC, k=4) == pytest.approx(2 / 3)
    assert precision_at_k(y, REC, k=4) == pytest.approx(2 / 12)
    assert mrr_at_k(y, REC, k=4) == pytest.approx((1 / 2 + 1 / 4) / 3)
    assert ndcg_at_k(y, REC, k=4) == pytest.approx((1 / np.log2(3) + 1 / np.log2(5)) / 3)
    assert average_precision_at_k(y, REC, k=4) == pytest.approx((1 / 2 + 1 / 4) / 3)


def test_multi_relevant_hand_computed():
    y = [{5, 9, 100}, [8], np.array([1, 7])]
    disc = 1 / np.log2(np.arange(2, 6))
    # row 0: hits at ranks 1 and 3 of 3 relevant; row 1: rank 4; row 2: ranks 1, 2
    ndcg0 = (disc[0] + disc[2]) / disc[:3].sum()
    ndcg1 = disc[3] / disc[0]
    ndcg2 = 1.0
    assert ndcg_at_k(y, REC, k=4) == pytest.approx((ndcg0 + ndcg1 + ndcg2) / 3)
    assert recall_at_k(y, REC, k=4) == pytest.approx((2 / 3 + 1 + 1) / 3)
    assert precision_at_k(y, REC, k=4) == pytest.approx((2 + 1 + 2) / 12)
    ap0 = (1 / 1 + 2 / 3) / 3
    ap1 = (1 / 4) / 1
    ap2 = (1 + 1) / 2
    assert average_precision_at_k(y, REC, k=4) == pytest.approx((ap0 + ap1 + ap2) / 3)
    assert mrr_at_k(y, REC, k=4) == pytest.approx((1 + 1 / 4 + 1) / 3)
    assert hit_rate_at_k(y, REC, k=1) == pytest.approx(2 / 3)


def test_ndcg_matches_sklearn_when_lists_are_full():
    rng = np.random.RandomState(0)
    n, n_items = 20, 8
    scores = rng.rand(n, n_items)
    relevant = [set(rng.choice(n_items, size=rng.randint(1, 4), replace=False)) for _ in range(n)]
    rec = np.argsort(-scores, axis=1)
    truth = np.zeros((n, n_items))
    for i, rel in enumerate(relevant):
        truth[i, list(rel)] = 1
    for k in (3, n_items):
        expected = ndcg_score(truth, scores, k=k)
        assert ndcg_at_k(relevant, rec, k=k) == pytest.approx(expected)


def test_string_ids_and_unknown_targets_score_zero():
    rec = np.array([["a", "b"], ["c", "d"]], dtype=object)
    assert hit_rate_at_k(["b", "zzz"], rec, k=2) == 0.5
    assert ndcg_at_k(["b", "zzz"], rec, k=1) == 0.0


def test_coverage():
    assert catalog_coverage(REC, items=20) == pytest.approx(len(np.unique(REC)) / 20)
    assert catalog_coverage(REC, items=np.arange(10), k=1) == pytest.approx(3 / 10)
    with pytest.raises(ValueError, match="2-D"):
        catalog_coverage([1, 2], items=3)


@pytest.mark.parametrize(
    "y, rec, k, match",
    [
        ([1, 2], REC, 2, "rows"),
        (
            [1, 2, 3],
            REC,
            0,
            r"'k' parameter of ndcg_at_k must be an int in the range \[1, inf\)",
        ),
        ([1, 2, 3], REC, 5, "fewer than k=5"),
        ([1, 2, 3], REC[0], 2, "2-D"),
        ([[1], [], [2]], REC, 2, "no relevant item"),
    ],
)
def test_bad_input(y, rec, k, match):
    with pytest.raises(ValueError, match=match):
        ndcg_at_k(y, rec, k=k)


def test_make_ranking_scorer_calls_recommend():
    class Fixed:
        def recommend(self, X, k=10, exclude_seen=True):
            self.seen = exclude_seen
            return np.array([[1, 2, 3]] * len(X))[:, :k]

    est = Fixed()
    scorer = make_ranking_scorer("mrr", k=3, exclude_seen=False)
    assert scorer(est, [[0], [0]], [2, 9]) == pytest.approx(0.25)
    assert est.seen is False
    with pytest.raises(
        ValueError, match="'metric' parameter of make_ranking_scorer must be a str among"
    ):
        make_ranking_scorer("auc")
    with pytest.raises(TypeError, match="no recommend method"):
        make_ranking_scorer()(object(), [[1]], [1])


def test_make_ranking_scorer_caps_k_at_the_known_items():
    # a fold whose model knows 3 items: the scorer ranks all 3, as score() does
    from sklearn_recsys.baselines import Popularity

    X, y = [[1], [2], [1, 3]], [2, 3, 2]
    model = Popularity().fit(X, y)
    assert len(model.classes_) == 3
    scorer = make_ranking_scorer("ndcg", k=10)
    assert scorer(model, X, y) == pytest.approx(model.score(X, y))
    assert make_ranking_scorer("hit_rate", k=10)(model, [[1]], [2]) == 1.0
