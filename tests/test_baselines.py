"""Model-specific known answers for the classical baselines.

The behaviour every recommender shares is in test_recommenders_common.py.
"""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_recsys._topk import _tied_columns, top_k_columns
from sklearn_recsys.baselines import EASE, ItemKNN, Popularity, Transition
from sklearn_recsys.baselines._ease import _ease_dual, _ease_primal, _gram_upper


def _random_sequences(n_users, n_items, density, seed):
    """Sequences (one per user) of distinct int items, and their binary matrix."""
    rng = np.random.default_rng(seed)
    dense = rng.random((n_users, n_items)) < density
    dense[:, 0] = True  # every user has >= 1 item
    dense[0] = True  # every item is seen
    seqs = [rng.permutation(np.flatnonzero(row)) for row in dense]
    return seqs, dense.astype(np.float64)


def _as_queries(seqs):
    """``X`` (history = all but the last item) and ``y`` (the last item)."""
    return [list(s[:-1]) for s in seqs], [int(s[-1]) for s in seqs]


def _reference_ease(dense, l2):
    """Steck (2019), literally, in float64."""
    gram = dense.T @ dense + l2 * np.eye(dense.shape[1])
    p = np.linalg.inv(gram)
    b = np.eye(dense.shape[1]) - p / np.diag(p)
    np.fill_diagonal(b, 0.0)
    return b


# -- EASE ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n_users, n_items", [(80, 30), (20, 50)], ids=["primal", "dual"]
)
@pytest.mark.parametrize("l2", [0.5, 20.0])
def test_ease_matches_float64_formula(n_users, n_items, l2):
    seqs, dense = _random_sequences(n_users, n_items, 0.2, seed=n_users)
    rec = EASE(l2=l2).fit(*_as_queries(seqs))
    assert_array_equal(rec.classes_, np.arange(n_items))
    ref = _reference_ease(dense, l2)
    assert rec.coef_.dtype == np.float32
    assert rec.coef_.flags.c_contiguous
    assert_allclose(rec.coef_, ref, atol=2e-6 * max(1.0, np.abs(ref).max()))
    assert (np.diag(rec.coef_) == 0).all()


@pytest.mark.parametrize("solver", [_ease_primal, _ease_dual])
def test_ease_both_solvers_agree(solver):
    seqs, dense = _random_sequences(40, 40, 0.3, seed=3)
    ui = sp.csr_matrix(dense.astype(np.float32))
    assert_allclose(solver(ui, 5.0), _reference_ease(dense, 5.0), atol=1e-6)


def test_ease_gram_dense_and_sparse_paths():
    rng = np.random.default_rng(0)
    many = sp.random(300, 20, density=0.5, random_state=rng, format="csr", dtype=np.float32)
    few = sp.random(300, 400, density=0.005, random_state=rng, format="csr", dtype=np.float32)
    for ui in (many, few):
        ui.data[:] = 1
        got = np.triu(_gram_upper(ui))
        assert_allclose(got, np.triu((ui.T @ ui).toarray()))


def test_ease_scores_are_history_times_b():
    seqs, _ = _random_sequences(30, 12, 0.4, seed=1)
    rec = EASE(l2=3.0).fit(*_as_queries(seqs))
    hist = [[0, 3, 3, 5], [7]]  # repeats count once
    h = np.zeros((2, 12), dtype=np.float32)
    h[0, [0, 3, 5]] = 1
    h[1, 7] = 1
    assert_allclose(rec.decision_function(hist), h @ rec.coef_, rtol=1e-5, atol=1e-7)


# -- ItemKNN -----------------------------------------------------------------------

# sequences a b | a b c | a c | b  ->  counts a=3 b=3 c=2; co(a,b)=2 co(a,c)=2 co(b,c)=1
KNN_X = [["a"], ["a", "b"], ["a"], []]
KNN_Y = ["b", "c", "c", "b"]


def test_itemknn_cosine_by_hand():
    rec = ItemKNN(shrinkage=1.0).fit(KNN_X, KNN_Y)
    r6 = np.sqrt(6.0)
    expected = np.array(
        [
            [0, 2 / (3 + 1), 2 / (r6 + 1)],
            [2 / (3 + 1), 0, 1 / (r6 + 1)],
            [2 / (r6 + 1), 1 / (r6 + 1), 0],
        ]
    )
    assert rec.similarity_.dtype == np.float32
    assert_allclose(rec.similarity_.toarray(), expected, rtol=1e-6)
    # a history scores each item by the sum of its similarities
    assert_allclose(
        rec.decision_function([["a", "b"]])[0], expected[0] + expected[1], rtol=1e-6
    )


def test_itemknn_jaccard_by_hand():
    rec = ItemKNN(shrinkage=0.0, similarity="jaccard").fit(KNN_X, KNN_Y)
    expected = np.array(
        [[0, 2 / 4, 2 / 3], [2 / 4, 0, 1 / 4], [2 / 3, 1 / 4, 0]]
    )
    assert_allclose(rec.similarity_.toarray(), expected, rtol=1e-6)


def test_itemknn_keeps_n_neighbors_per_item():
    rec = ItemKNN(n_neighbors=1, shrinkage=1.0).fit(KNN_X, KNN_Y)
    sim = rec.similarity_.toarray()
    # a: c (2/(sqrt6+1)=0.58) beats b (0.5); b: a (0.5) beats c (0.29); c: a
    assert_array_equal(sim > 0, [[0, 0, 1], [1, 0, 0], [1, 0, 0]])
    assert (np.diff(rec.similarity_.indptr) == 1).all()


def test_itemknn_neighbour_ties_go_to_lower_ids():
    # item 0 co-occurs once with each of 1..5, all of which have count 1
    X = [[0], [0], [0], [0], [0]]
    y = [1, 2, 3, 4, 5]
    rec = ItemKNN(n_neighbors=2, shrinkage=0.0).fit(X, y)
    assert rec.similarity_[0].indices.tolist() == [1, 2]


def test_itemknn_repeats_and_user_prefix_rows_count_once():
    # the same user, two cut points of one log; and a repeated item
    X = pd.DataFrame({"user_id": [1, 1, 2], "history": [["a"], ["a", "b"], ["a", "a"]]})
    y = ["b", "c", "b"]
    rec = ItemKNN(shrinkage=0.0).fit(X, y)
    # sequences: a b c | a a b  -> binary rows {a,b,c}, {a,b}; counts a=2 b=2 c=1
    assert_array_equal(rec.item_counts_, [3, 2, 1])  # occurrences, repeats counted
    assert_allclose(rec.similarity_[0, 1], 2 / 2, rtol=1e-6)
    assert_allclose(rec.similarity_[0, 2], 1 / np.sqrt(2), rtol=1e-6)


# -- Transition --------------------------------------------------------------------


def test_transition_counts_by_hand():
    # sequences a b c a b | b c | c
    X = [["a", "b", "c", "a"], ["b"], []]
    y = ["b", "c", "c"]
    rec = Transition().fit(X, y)
    # a->b twice, b->c twice, c->a once
    assert_array_equal(rec.transition_counts_.toarray(), [[0, 2, 0], [0, 0, 2], [1, 0, 0]])
    assert_array_equal(rec.item_counts_, [2, 3, 3])


def test_transition_scores_by_hand():
    X = [["a", "b", "c", "a"], ["b"], ["d"]]
    y = ["b", "c", "c"]
    rec = Transition(order=2, decay=0.5, smoothing=2.0).fit(X, y)
    # items a b c d; C: a->b 2, b->c 2, c->a 1, d->c 1; counts a2 b3 c3 d1
    pi = np.array([2, 3, 3, 1]) / 9
    p_a = (np.array([0, 2, 0, 0]) + 2 * pi) / (2 + 2)
    p_c = (np.array([1, 0, 0, 0]) + 2 * pi) / (1 + 2)
    # history ... c a: last a (weight 1), then c (weight 0.5)
    assert_allclose(rec.decision_function([["b", "c", "a"]])[0], p_a + 0.5 * p_c, rtol=1e-6)
    # order=2 uses only the last two items: b is ignored
    assert_allclose(
        rec.decision_function([["c", "a"]]), rec.decision_function([["b", "c", "a"]])
    )


def test_transition_item_never_followed_predicts_popularity():
    X = [["a", "b"], ["a", "b"], ["c"]]
    y = ["c", "c", "d"]
    for smoothing in (0.0, 1.0):
        rec = Transition(smoothing=smoothing).fit(X, y)
        # nothing ever follows d
        pi = rec.item_counts_ / rec.item_counts_.sum()
        assert_allclose(rec.decision_function([["d"]])[0], pi, rtol=1e-6)
    # without smoothing, a's distribution is exactly the observed one
    rec = Transition(smoothing=0.0).fit(X, y)
    assert_array_equal(rec.decision_function([["a"]])[0], [0, 1, 0, 0])


def test_transition_order_and_decay():
    X = [["a", "b"], ["c", "d"]]
    y = ["x", "y"]
    # last items d (followed by y), then a (followed by b)
    first = Transition(order=1, smoothing=0.0).fit(X, y)
    assert first.recommend([["a", "d"]], k=1)[0, 0] == "y"
    second = Transition(order=2, decay=1.0, smoothing=0.0).fit(X, y)
    scores = second.decision_function([["a", "d"]])[0]
    assert scores[list(second.classes_).index("b")] == scores[list(second.classes_).index("y")] == 1
    zero_decay = Transition(order=2, decay=0.0, smoothing=0.0).fit(X, y)
    assert zero_decay.decision_function([["a", "d"]])[0, 1] == 0  # b


# -- Popularity and shared ranking ----------------------------------------------


def test_popularity_ties_broken_by_id_even_at_the_cut():
    # 1000 items, every 7th twice as popular: the top 5 are 0, 7, 14, 21, 28
    items = np.arange(1000)
    y = np.concatenate([items, items[::7]])
    rec = Popularity().fit([[]] * len(y), y)
    assert rec.recommend([[]], k=5).tolist() == [[0, 7, 14, 21, 28]]


def test_top_k_columns_matches_a_full_sort():
    # the tie repair runs on NumPy views on the CPU and on tensors on other
    # devices: one code, both must pick the k best, ties to the lower columns
    rng = np.random.default_rng(0)
    for _ in range(200):
        n, m = rng.integers(1, 6), rng.integers(2, 40)
        k = int(rng.integers(1, m))
        scores = rng.integers(0, 4, size=(n, m)).astype(np.float32)
        scores[:, rng.integers(0, m, size=m // 3)] = -np.inf
        ref = np.lexsort((np.broadcast_to(np.arange(m), (n, m)), -scores), axis=1)[:, :k]
        assert_array_equal(np.sort(top_k_columns(scores, k), axis=1), np.sort(ref, axis=1))
        kth = np.take_along_axis(scores, ref[:, -1:], axis=1)
        assert_array_equal(_tied_columns(scores, kth, k), np.sort(ref, axis=1))
        tensor = _tied_columns(torch.from_numpy(scores), torch.from_numpy(kth), k)
        assert_array_equal(tensor.numpy(), np.sort(ref, axis=1))


@pytest.mark.parametrize(
    "est, msg",
    [
        (ItemKNN(n_neighbors=0), "n_neighbors"),
        (ItemKNN(similarity="pearson"), "similarity"),
        (ItemKNN(shrinkage=-1.0), "shrinkage"),
        (EASE(l2=0.0), "l2"),
        (Transition(order=0), "order"),
        (Transition(decay=1.5), "decay"),
        (Transition(smoothing=-0.1), "smoothing"),
    ],
)
def test_invalid_parameters_raise(est, msg):
    with pytest.raises(ValueError, match=f"'{msg}' parameter"):
        est.fit([["a"]], ["b"])
