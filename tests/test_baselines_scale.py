"""The baselines at catalogue scale: sparse ranking, sparse ItemKNN fit, memory guards.

Each fast path is checked against the dense computation it replaces, on
small random data full of ties: the lists and scores must be identical.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from sklearn.exceptions import NotFittedError

from sklearn_recsys import _topk
from sklearn_recsys._topk import SEEN, _first_free, top_k, top_k_columns, top_k_sparse
from sklearn_recsys.base import RecommenderMixin
from sklearn_recsys.baselines import (
    EASE,
    ItemKNN,
    Popularity,
    Transition,
    _knn,
    _memory,
    _ranking,
)
from sklearn_recsys.baselines._knn import _interaction_matrix

MODELS = {
    "popularity": lambda: Popularity(),
    "knn": lambda: ItemKNN(n_neighbors=3, shrinkage=0.0),
    "knn-jaccard": lambda: ItemKNN(n_neighbors=50, shrinkage=2.0, similarity="jaccard"),
    "transition": lambda: Transition(),
    "transition-unsmoothed": lambda: Transition(smoothing=0.0),
    "transition-order3": lambda: Transition(order=3, decay=0.5, smoothing=2.0),
    # weights so small that every popularity score rounds to 0 in float32
    "transition-tiny-prior": lambda: Transition(order=2, decay=0.0, smoothing=1e-300),
}


def _random_log(seed):
    """Few items, skewed and repeated: many equal counts and scores."""
    rng = np.random.default_rng(seed)
    n_items = int(rng.integers(3, 40))
    y = rng.integers(0, n_items, size=int(rng.integers(n_items, 4 * n_items)))
    y[:n_items] = np.arange(n_items)  # every item known
    top = max(2, n_items // 3) if seed % 2 else n_items
    X = [list(rng.integers(0, top, size=int(rng.integers(0, 5)))) for _ in y]
    # queries: unknown items (>= n_items), repeats, empty histories
    Q = [list(rng.integers(0, n_items + 3, size=int(rng.integers(0, 6)))) for _ in range(25)]
    return X, y, Q, n_items, rng


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("seed", range(8))
def test_sparse_ranking_equals_the_dense_engine(model, seed):
    X, y, Q, n_items, rng = _random_log(seed)
    rec = MODELS[model]().fit(X, y)
    queries = rec._encode_queries(Q)
    assert (queries.lengths() == 0).any() and (queries.lengths() > 0).any()
    for exclude_seen in (True, False):
        for allowed in (None, rng.random(n_items) < 0.4):
            if allowed is not None and not allowed.any():
                continue
            n_allowed = n_items if allowed is None else int(allowed.sum())
            # k up to every allowed item: seen items must fill the lists
            for k in sorted({1, min(n_allowed, 3), min(n_allowed, 7), n_allowed}):
                codes, scores = rec._topk_chunk(queries, k, exclude_seen, allowed)
                ref_codes, ref_scores = RecommenderMixin._topk_chunk(
                    rec, queries, k, exclude_seen, allowed
                )
                assert_array_equal(codes, ref_codes)
                assert_array_equal(scores, ref_scores)
                assert scores.dtype == np.float32


@pytest.mark.parametrize("model", ["popularity", "knn", "transition-order3"])
def test_recommend_over_several_chunks(model, monkeypatch):
    X, y, Q, n_items, _ = _random_log(3)
    rec = MODELS[model]().fit(X, y)
    items, scores = rec.recommend(Q, k=min(5, n_items), return_scores=True)
    monkeypatch.setattr(_ranking, "_RANK_ROWS", 4)
    monkeypatch.setattr(type(rec), "_rank_rows", lambda self: 4)
    chunked = rec.recommend(Q, k=min(5, n_items), return_scores=True)
    assert_array_equal(chunked[0], items)
    assert_array_equal(chunked[1], scores)
    # the dense scores, ranked by the dense engine, give the same lists
    monkeypatch.setattr(type(rec), "_topk_chunk", RecommenderMixin._topk_chunk)
    dense = rec.recommend(Q, k=min(5, n_items), return_scores=True)
    assert_array_equal(dense[0], items)
    assert_array_equal(dense[1], scores)


def test_popularity_scores_are_the_counts():
    X, y, Q, n_items, _ = _random_log(5)
    rec = Popularity().fit(X, y)
    items, scores = rec.recommend(Q, k=n_items, exclude_seen=False, return_scores=True)
    codes = rec._encode_items(items.ravel()).reshape(items.shape)
    assert_array_equal(scores, rec.item_counts_[codes].astype(np.float32))


def test_float32_ties_between_different_counts_are_ranked_densely(monkeypatch):
    # counts 2**24 + 1 and 2**24 are one float32: the dense engine ties them
    # and lists the lower code first, against the order of the counts
    counts = np.array([2**24, 2**24 + 1, 3, 3, 1])
    calls = []
    monkeypatch.setattr(_topk, "top_k", lambda *a, **kw: calls.append(1) or top_k(*a, **kw))
    empty = sp.csr_matrix((2, 5), dtype=np.float32)
    seen = (np.array([1]), np.array([0]))
    for k in (1, 2, 4):
        codes, scores = top_k_sparse(
            empty, k, row_weights=np.ones(2), item_scores=counts, seen=seen
        )
        ref = top_k(np.broadcast_to(counts.astype(np.float32), (2, 5)), k, seen=seen)
        assert_array_equal(codes, ref[0])
        assert_array_equal(scores, ref[1])
    assert calls  # the rows with a cross-count tie went dense
    assert codes[0, :2].tolist() == [0, 1]


def test_top_k_sparse_zero_weights_rank_in_code_order():
    scores = sp.csr_matrix(np.array([[0, 0.5, 0, 0, 0.5, 0], [0, 0, 0, 0, 0, 0.25]]))
    codes, vals = top_k_sparse(
        scores, 4, row_weights=np.zeros(2), item_scores=np.array([1, 9, 9, 2, 0, 5])
    )
    assert_array_equal(codes, [[1, 4, 0, 2], [5, 0, 1, 2]])
    assert_array_equal(vals, np.float32([[0.5, 0.5, 0, 0], [0.25, 0, 0, 0]]))


def test_top_k_sparse_does_not_modify_its_input():
    scores = sp.csr_matrix(
        (np.array([1.0, 0.0, 2.0, 3.0]), np.array([2, 0, 1, 2]), np.array([0, 3, 4])),
        shape=(2, 3),
    )
    before = [a.copy() for a in (scores.data, scores.indices, scores.indptr)]
    top_k_sparse(scores, 2, seen=(np.array([0]), np.array([2])))
    for a, b in zip(before, (scores.data, scores.indices, scores.indptr)):
        assert_array_equal(a, b)


def test_first_free_positions():
    rng = np.random.default_rng(0)
    for _ in range(50):
        n, size, k = int(rng.integers(1, 5)), int(rng.integers(1, 12)), int(rng.integers(1, 6))
        excluded = sp.csr_matrix((rng.random((n, size)) < 0.5).astype(np.int32))
        r, c = excluded.nonzero()
        rows, pos = _first_free(np.concatenate([r, r]), np.concatenate([c, c]), n, size, k)
        for r in range(n):
            free = np.flatnonzero(excluded[r].toarray()[0] == 0)[:k]
            assert_array_equal(pos[rows == r], free)


def test_seen_fill_short_lists_with_seen_scores():
    rec = Transition().fit([["a", "b"], ["b", "c"]], ["c", "a"])
    items, scores = rec.recommend([["a", "b"]], k=3, return_scores=True)
    assert items.tolist() == [["c", "a", "b"]]  # a and b (seen) in id order
    assert scores[0, 0] > 0 and np.isneginf(scores[0, 1:]).all()
    assert SEEN < 0


# -- ItemKNN fit ----------------------------------------------------------------------


def _reference_similarity(rec, X, y):
    """ItemKNN.fit's similarity before the sparse fit: dense co-occurrence blocks."""
    queries, y_codes = rec._fit_queries(X, y)
    n_items = len(rec.classes_)
    ui = _interaction_matrix(rec._training_sequences(queries, y_codes), n_items)
    iu = ui.T.tocsr()
    counts = np.asarray(ui.sum(axis=0), dtype=np.float32).ravel()
    norms = np.sqrt(counts)
    n_keep = min(rec.n_neighbors, n_items - 1)
    rows, cols, vals = [], [], []
    step = max(1, (1 << 24) // n_items)
    for start in range(0, n_items, step):
        stop = min(n_items, start + step)
        co = (iu[start:stop] @ ui).toarray()
        if rec.similarity == "cosine":
            den = np.multiply.outer(norms[start:stop], norms)
        else:
            den = np.add.outer(counts[start:stop], counts)
            den -= co
        den += rec.shrinkage
        co /= den
        co[np.arange(stop - start), np.arange(start, stop)] = 0
        many = (co > 0).sum(axis=1) > n_keep
        r, c = np.nonzero(co[~many] > 0)
        r = np.flatnonzero(~many)[r]
        if many.any():
            top = top_k_columns(co[many], n_keep)
            r = np.concatenate([r, np.repeat(np.flatnonzero(many), n_keep)])
            c = np.concatenate([c, top.ravel()])
        rows.append(r + start)
        cols.append(c)
        vals.append(co[r, c])
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_items, n_items),
        dtype=np.float32,
    )


@pytest.mark.parametrize("similarity", ["cosine", "jaccard"])
@pytest.mark.parametrize("n_neighbors, shrinkage", [(1, 0.0), (3, 1.0), (100, 10.0)])
@pytest.mark.parametrize("seed", range(4))
def test_itemknn_sparse_fit_equals_the_dense_fit(similarity, n_neighbors, shrinkage, seed, monkeypatch):
    X, y, _, _, _ = _random_log(seed)
    params = dict(n_neighbors=n_neighbors, shrinkage=shrinkage, similarity=similarity)
    ref = _reference_similarity(ItemKNN(**params), X, y)
    if seed % 2:  # many small blocks of item rows
        monkeypatch.setattr(_knn, "_BLOCK_VALUES", 7)
    got = ItemKNN(**params).fit(X, y).similarity_
    assert got.dtype == np.float32
    assert_array_equal(got.indptr, ref.indptr)
    assert_array_equal(got.indices, ref.indices)
    assert_array_equal(got.data, ref.data)


# -- memory guards ----------------------------------------------------------------------


def test_available_memory_is_known_here():
    available = _memory._available_memory()
    assert available is None or available > 0


def test_ease_refuses_a_catalogue_that_does_not_fit(monkeypatch):
    monkeypatch.setattr(_memory, "_available_memory", lambda: 1000)
    rec = EASE()
    X = [[i, i + 1] for i in range(0, 40, 2)]
    with pytest.raises(MemoryError) as info:
        rec.fit(X, list(range(40, 60)))
    msg = str(info.value)
    # items, bytes needed (2 float32 matrices of 60 x 60), bytes available, alternatives
    for part in ("60 items", f"{2 * 4 * 60**2:,} bytes", "1,000 bytes", "ItemKNN", 'loss="sampled_softmax"'):
        assert part in msg, (part, msg)
    with pytest.raises(NotFittedError):  # no half-fitted model left behind
        rec.recommend([[0]])
    monkeypatch.setattr(_memory, "_available_memory", lambda: None)  # unknown: no guard
    assert EASE().fit(X, list(range(40, 60))).coef_.shape == (60, 60)


def test_itemknn_refuses_neighbours_that_do_not_fit(monkeypatch):
    monkeypatch.setattr(_memory, "_available_memory", lambda: 10)
    with pytest.raises(MemoryError, match="ItemKNN with 4 items and n_neighbors=100.*10 bytes"):
        ItemKNN().fit([["a", "b"], ["c"]], ["c", "d"])
