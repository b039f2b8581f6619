"""similar_items: each model's item-item relation, ranked under recommend's rules."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from sklearn_recsys.baselines import EASE, ItemKNN, Popularity, Transition
from sklearn_recsys.content import ContentEncoder, TfidfRecommender
from sklearn_recsys.datasets import make_sessions, queries_from_log
from sklearn_recsys.intent import IntentRecommender
from sklearn_recsys.model_selection import cold_item_split
from sklearn_recsys.pipeline import RecommenderPipeline

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data():
    return make_sessions(n_users=300, random_state=0, with_queries=True)


@pytest.fixture(scope="module")
def Xy(data):
    return queries_from_log(data.interactions, n_last=2)


def _ranking(row, exclude):
    """Codes of ``row`` by decreasing value, ties by code, ``exclude`` last."""
    row = np.asarray(row, dtype=np.float64).copy()
    row[exclude] = -np.inf
    return np.lexsort((np.arange(len(row)), -row))


def test_ease_similar_items_is_the_ranking_of_its_weight_row(Xy):
    X, y = Xy
    model = EASE(l2=50.0).fit(X, y)
    items = model.classes_[[0, 5, 17, 42]]
    got, scores = model.similar_items(items, k=15, return_scores=True)
    for row, item in enumerate(items):
        i = np.searchsorted(model.classes_, item)
        want = _ranking(model.coef_[i], i)[:15]
        np.testing.assert_array_equal(got[row], model.classes_[want])
        np.testing.assert_allclose(scores[row], model.coef_[i, want], rtol=1e-5, atol=1e-6)
        assert item not in got[row]


def test_itemknn_similar_items_follow_the_similarity_row(Xy):
    X, y = Xy
    model = ItemKNN(n_neighbors=20).fit(X, y)
    sim = model.similarity_.toarray()
    for i in (0, 3, 11):
        got = model.similar_items(model.classes_[[i]], k=5)[0]
        codes = np.searchsorted(model.classes_, got)
        # the neighbours, by decreasing similarity (the popularity tie-break
        # only orders equal similarities)
        want = np.sort(sim[i][sim[i] > 0])[::-1][:5]
        np.testing.assert_allclose(sim[i, codes], want, rtol=1e-5)


def test_transition_similar_items_are_the_likeliest_next_items(Xy):
    X, y = Xy
    model = Transition(smoothing=0.0).fit(X, y)
    counts = model.transition_counts_
    counts = counts.toarray() if hasattr(counts, "toarray") else np.asarray(counts)
    i = int(np.argmax(counts.sum(axis=1)))  # the item with most successors
    got = model.similar_items(model.classes_[[i]], k=3)[0]
    codes = np.searchsorted(model.classes_, got)
    row = counts[i].astype(float)
    row[i] = -1
    assert set(row[codes]) == set(np.sort(row)[::-1][:3])


def test_popularity_has_no_similar_items(Xy):
    X, y = Xy
    model = Popularity().fit(X, y)
    assert not hasattr(model, "similar_items")
    with pytest.raises(AttributeError, match="similar_items"):
        model.similar_items([1])


def test_candidates_and_lists_that_run_out(Xy):
    X, y = Xy
    model = EASE(l2=50.0).fit(X, y)
    item = model.classes_[3]
    cand = model.classes_[[1, 3, 7, 9]]  # the item itself among them
    got, scores = model.similar_items([item], k=4, candidates=cand, return_scores=True)
    assert set(got[0]) == set(cand)
    assert got[0, -1] == item and scores[0, -1] == -np.inf  # itself fills the list last
    assert np.isfinite(scores[0, :3]).all()
    with pytest.raises(ValueError, match=r"can be recommended \(4\)"):
        model.similar_items([item], k=5, candidates=cand)


def test_similar_items_input_errors(Xy):
    X, y = Xy
    model = EASE(l2=50.0).fit(X, y)
    with pytest.raises(ValueError, match="unknown to the fitted model.*-5"):
        model.similar_items([model.classes_[0], -5])
    with pytest.raises(ValueError, match="1-D"):
        model.similar_items([[model.classes_[0]]])
    with pytest.raises(TypeError, match="return_scores must be a bool"):
        model.similar_items([model.classes_[0]], return_scores="no")


def test_intent_similar_items_are_the_cosine_of_item_vectors(Xy):
    X, y = Xy
    model = IntentRecommender(max_epochs=2, module__d_model=16, random_state=0,
                              device="cpu", verbose=0).fit(X, y)
    V = model.item_vectors().astype(np.float64)
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    items = model.classes_[[2, 30]]
    got, scores = model.similar_items(items, k=8, return_scores=True)
    for row, item in enumerate(items):
        i = np.searchsorted(model.classes_, item)
        cos = V @ V[i]
        codes = np.searchsorted(model.classes_, got[row])
        np.testing.assert_allclose(scores[row], cos[codes], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(np.sort(cos[np.arange(len(cos)) != i])[::-1][:8],
                                   scores[row], rtol=1e-4, atol=1e-5)


def test_content_similar_items_reach_items_never_trained_on(data):
    X, y = queries_from_log(data.interactions, n_last=1)
    X_train, _, y_train, y_test = cold_item_split(X, y, test_size=0.15, random_state=0,
                                                  strip_history=True)
    encoder = ContentEncoder(text_columns=["title", "description"],
                             list_columns=["tags", "genres"], char_ngram_range=None,
                             module__d_model=16, max_epochs=0, random_state=0)
    model = IntentRecommender(item_encoder=encoder, items=data.items, max_epochs=15,
                              lr=1e-2, max_len=20, module__d_model=16,
                              module__n_layers=1, verbose=0, random_state=0,
                              device="cpu").fit(X_train, y_train)
    cold = np.unique(y_test)
    assert (model.item_counts_[np.searchsorted(model.classes_, cold)] == 0).all()
    topic = data.items["topic"]
    got = model.similar_items(cold, k=5)
    same = (topic.loc[got.ravel()].to_numpy() == np.repeat(topic.loc[cold].to_numpy(), 5))
    chance = (topic.value_counts(normalize=True) ** 2).sum()
    # a cold item's neighbours share its topic far more often than chance
    assert same.mean() > 3 * chance, (same.mean(), chance)


def test_tfidf_similar_items_for_cold_catalogue_items(data):
    X, y = queries_from_log(data.interactions, n_last=1)
    X_train, _, y_train, y_test = cold_item_split(X, y, test_size=0.15, random_state=0,
                                                  strip_history=True)
    model = TfidfRecommender(text_columns=["description"], items=data.items).fit(X_train, y_train)
    cold = np.unique(y_test)
    got = model.similar_items(cold, k=5)
    topic = data.items["topic"]
    same = (topic.loc[got.ravel()].to_numpy() == np.repeat(topic.loc[cold].to_numpy(), 5))
    chance = (topic.value_counts(normalize=True) ** 2).sum()
    assert same.mean() > 3 * chance, (same.mean(), chance)


def test_pipeline_delegates_similar_items(Xy):
    X, y = Xy
    model = EASE(l2=50.0)
    pipe = RecommenderPipeline([("model", clone(model))]).fit(X, y)
    direct = clone(model).fit(X, y)
    items = direct.classes_[:5]
    np.testing.assert_array_equal(pipe.similar_items(items, k=4),
                                  direct.similar_items(items, k=4))


def test_pipeline_passes_per_row_candidates_and_exclude(Xy):
    X, y = Xy
    pipe = RecommenderPipeline([("model", EASE(l2=50.0))]).fit(X, y)
    items = pipe.classes_
    rows = X.iloc[:3]
    cand = [items[:10], items[5:20], items[::7]]
    full = pipe.recommend(rows, k=len(items))
    got = pipe.recommend(rows, k=4, candidates=cand, exclude=[[], [items[6]], []])
    for r in range(3):
        want = [v for v in full[r] if v in set(cand[r]) and not (r == 1 and v == items[6])][:4]
        assert got[r].tolist() == want
