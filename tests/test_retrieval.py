"""ApproximateRecommender: the ranking contract on top of an ANN index.

A small IntentRecommender (200 items, d=16, a few epochs) on
``make_sessions``; with exhaustive index settings the approximate lists
must equal the model's own ``recommend``. Each backend's tests skip when
its library is not installed (faiss-cpu is in the ``test`` extra).
"""

import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator

from sklearn_recsys.content import ContentEncoder
from sklearn_recsys.datasets import make_sessions, queries_from_log
from sklearn_recsys.intent import IntentRecommender
from sklearn_recsys.model_selection import cold_item_split
from sklearn_recsys.retrieval import ApproximateRecommender, _backends, retrieval_recall

N_ITEMS = 200
# settings that search every item of a 200-item catalogue
EXHAUSTIVE = {
    "faiss": dict(n_lists=4, n_probe=4),
    "hnswlib": dict(ef_search=256, ef_construction=200),
    "usearch": dict(ef_search=256, ef_construction=200),
}


def _backend_param(name):
    module = _backends.PACKAGES[name][0]
    return pytest.param(name, marks=pytest.mark.skipif(
        not _backends.available(name), reason=f"{module} is not installed"))


BACKENDS = [_backend_param(name) for name in EXHAUSTIVE]


def net(**kw):
    params = dict(max_epochs=3, lr=1e-2, max_len=20, verbose=0, random_state=0, device="cpu",
                  module__d_model=16, module__n_layers=1)
    params.update(kw)
    return IntentRecommender(**params)


@pytest.fixture(scope="module")
def data():
    return make_sessions(n_users=150, n_items=N_ITEMS, random_state=0)


@pytest.fixture(scope="module")
def Xy(data):
    return queries_from_log(data.interactions, n_last=1)


@pytest.fixture(scope="module")
def fitted(Xy):
    return net().fit(*Xy)


@pytest.fixture(scope="module")
def queries(Xy):
    X, _ = Xy
    rows = X["history"].tolist()[:40]
    # no known item (fallback), an unknown one among known ones, a long history
    return rows + [[], [10 ** 6], [10 ** 6, 3, 4], list(range(0, N_ITEMS, 2))]


def approx(fitted, backend, **kw):
    params = dict(EXHAUSTIVE[backend], backend=backend)
    params.update(kw)
    return ApproximateRecommender(FrozenEstimator(fitted), **params).fit(None, None)


def assert_same_lists(a, b):
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1], rtol=1e-5, atol=1e-6)


# -- item vectors ----------------------------------------------------------------


def test_item_vectors_score_like_decision_function(fitted, queries):
    vectors = fitted.item_vectors()
    assert vectors.dtype == np.float32 and vectors.shape == (len(fitted.classes_), 16)
    known = queries[:40]
    np.testing.assert_allclose(
        fitted.transform(known) @ vectors.T, fitted.decision_function(known),
        rtol=1e-5, atol=1e-6)
    vectors[:] = 0  # a copy: the model is untouched
    assert np.abs(fitted.item_vectors()).sum() > 0


def test_item_vectors_of_a_content_model_include_cold_items():
    data = make_sessions(n_users=150, n_items=N_ITEMS, random_state=1)
    X, y = queries_from_log(data.interactions, n_last=1)
    X_train, X_test, y_train, _ = cold_item_split(
        X, y, test_size=0.15, random_state=0, strip_history=True)
    encoder = ContentEncoder(text_columns=["title"], char_ngram_range=None, module__d_model=16,
                             max_epochs=0, random_state=0)
    model = net(item_encoder=encoder, items=data.items, max_epochs=2).fit(X_train, y_train)
    cold = model.item_counts_ == 0
    assert cold.any()
    vectors = model.item_vectors()
    rows = X_test["history"].tolist()[:20]
    np.testing.assert_allclose(model.transform(rows) @ vectors.T, model.decision_function(rows),
                               rtol=1e-5, atol=1e-5)
    # the table in eval mode: the cold items' neighbour vectors, not content alone
    assert not model.module_.training
    if _backends.available("faiss"):  # and an index over it ranks cold items as recommend
        rec = ApproximateRecommender(FrozenEstimator(model), **EXHAUSTIVE["faiss"]).fit(None, None)
        assert_same_lists(rec.recommend(rows, k=20, return_scores=True),
                          model.recommend(rows, k=20, return_scores=True))


# -- exhaustive settings give the exact lists --------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("exclude_seen", [True, False])
def test_exhaustive_index_equals_exact(fitted, queries, backend, exclude_seen):
    rec = approx(fitted, backend)
    for k in (1, 10, N_ITEMS):
        assert_same_lists(
            rec.recommend(queries, k=k, exclude_seen=exclude_seen, return_scores=True),
            fitted.recommend(queries, k=k, exclude_seen=exclude_seen, return_scores=True))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("exact_candidates", [0, 10_000])  # through the index, or exact
def test_candidates_equal_exact(fitted, queries, backend, exact_candidates):
    rec = approx(fitted, backend, exact_candidates=exact_candidates)
    rng = np.random.default_rng(0)
    for n_cand in (12, 120):
        cands = rng.choice(fitted.classes_, n_cand, replace=False)
        for k in (5, 12):
            assert_same_lists(
                rec.recommend(queries, k=k, candidates=cands, return_scores=True),
                fitted.recommend(queries, k=k, candidates=cands, return_scores=True))


def test_short_rows_are_retried_then_ranked_exactly(fitted, queries):
    pytest.importorskip("faiss")
    # 50 lists of ~4 items, one probed: the index finds fewer items than asked
    rec = approx(fitted, "faiss", n_lists=50, n_probe=1)
    assert_same_lists(rec.recommend(queries, k=10, return_scores=True),
                      fitted.recommend(queries, k=10, return_scores=True))


# -- an approximate setting keeps the contract -----------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_approximate_setting_keeps_the_rules(fitted, queries, backend):
    params = {"faiss": dict(n_lists=20, n_probe=2),
              "hnswlib": dict(ef_search=1, hnsw_m=2, ef_construction=4),
              "usearch": dict(ef_search=1, hnsw_m=2, ef_construction=4)}[backend]
    rec = approx(fitted, backend, **params)
    k = 10
    items, scores = rec.recommend(queries, k=k, return_scores=True)
    exact_items = fitted.recommend(queries, k=k)
    assert items.shape == (len(queries), k) and scores.dtype == np.float32
    for row, history, got in zip(items, queries, scores):
        assert len(set(row)) == k
        assert not set(row) & set(history)  # seen items excluded
        assert (got[:-1] >= got[1:]).all()
    # the scores are the model's exact dot products of the listed items
    codes = np.searchsorted(fitted.classes_, items)
    dense = fitted.decision_function(queries)
    np.testing.assert_allclose(scores, np.take_along_axis(dense, codes, axis=1),
                               rtol=1e-5, atol=1e-6)
    # fallback rows (no known item) are exact: popularity
    np.testing.assert_array_equal(items[40:42], exact_items[40:42])
    assert 0.0 < retrieval_recall(exact_items, items) <= 1.0


def test_ties_go_to_the_lower_code(Xy):
    pytest.importorskip("faiss")
    model = net().fit(*Xy)
    emb = model.module_.item_embedding.weight
    with __import__("torch").no_grad():  # items 5..9 share one vector: tied scores
        emb[6:11] = emb[6]
    rec = ApproximateRecommender(FrozenEstimator(model), **EXHAUSTIVE["faiss"]).fit(None, None)
    rows = [[1, 2, 3], [30, 31]]
    got = rec.recommend(rows, k=N_ITEMS - 3, return_scores=True)
    assert_same_lists(got, model.recommend(rows, k=N_ITEMS - 3, return_scores=True))
    pos = [list(r).index(5) for r in got[0]]
    for i, p in enumerate(pos):
        assert got[0][i, p:p + 5].tolist() == [5, 6, 7, 8, 9]


# -- fitting, persistence, errors -------------------------------------------------


def test_fit_fits_a_clone_and_frozen_estimator_is_kept(Xy, fitted, queries):
    pytest.importorskip("faiss")
    X, y = Xy
    unfitted = net()
    rec = ApproximateRecommender(unfitted, **EXHAUSTIVE["faiss"]).fit(X, y)
    assert not hasattr(unfitted, "classes_")  # a clone was fitted
    assert_same_lists(rec.recommend(queries, return_scores=True),
                      fitted.recommend(queries, return_scores=True))
    frozen = FrozenEstimator(fitted)
    rec = ApproximateRecommender(frozen, **EXHAUSTIVE["faiss"]).fit(X, y)
    assert rec.estimator_ is frozen and rec.estimator_.estimator is fitted
    np.testing.assert_array_equal(rec.classes_, fitted.classes_)
    np.testing.assert_array_equal(rec.item_counts_, fitted.item_counts_)
    np.testing.assert_allclose(rec.decision_function(queries[:3]),
                               fitted.decision_function(queries[:3]))
    assert clone(rec).estimator is frozen  # FrozenEstimator clones to itself
    assert 0.0 <= rec.score(X.iloc[:50], y[:50]) <= 1.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_pickle_and_joblib_keep_the_index(fitted, queries, backend, tmp_path):
    rec = approx(fitted, backend, **{"faiss": dict(n_lists=20, n_probe=2)}.get(backend, {}))
    expected = rec.recommend(queries, k=10, return_scores=True)
    for loaded in (pickle.loads(pickle.dumps(rec)),
                   joblib.load(joblib.dump(rec, tmp_path / "rec.joblib")[0])):
        assert type(loaded.index_) is type(rec.index_)
        got = loaded.recommend(queries, k=10, return_scores=True)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])


def test_missing_backend_names_the_extra(fitted, monkeypatch):
    monkeypatch.setattr(_backends, "available", lambda name: False)
    with pytest.raises(ImportError, match=r"pip install hnswlib .*sklearn-recsys\[ann\]"):
        ApproximateRecommender(FrozenEstimator(fitted), backend="hnswlib").fit(None, None)
    with pytest.raises(ImportError, match=r"sklearn-recsys\[ann\]"):
        ApproximateRecommender(FrozenEstimator(fitted)).fit(None, None)


def test_auto_backend_and_bad_estimator(fitted):
    if not any(_backends.available(b) for b in _backends.AUTO_ORDER):
        pytest.skip("no index library installed")
    rec = ApproximateRecommender(FrozenEstimator(fitted)).fit(None, None)
    assert rec.backend_ == next(b for b in _backends.AUTO_ORDER if _backends.available(b))
    from sklearn.utils._param_validation import InvalidParameterError

    from sklearn_recsys.baselines import Popularity
    with pytest.raises(InvalidParameterError, match="item_vectors"):
        ApproximateRecommender(Popularity()).fit([[1]], [2])


def test_retrieval_recall():
    assert retrieval_recall([[1, 2], [3, 4]], [[2, 1], [3, 5]]) == 0.75
    assert retrieval_recall(np.array([["a", "b"]]), np.array([["c", "d"]])) == 0.0
    with pytest.raises(ValueError, match="same shape"):
        retrieval_recall([[1, 2]], [[1]])
