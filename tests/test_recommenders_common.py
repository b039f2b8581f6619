"""One shared suite run against every recommender.

Toy data with a known answer: users follow the chains ``a b c d``,
``e f g h`` (and a few ``i j k l``, ``m n o w``); the group ``p q r s`` (plus
``p t u v``) makes ``p`` the most popular item. After ``[a, b, c]`` every personalised model must put
``d`` first (it follows ``c``, and it is the only unseen item that ever
co-occurs with ``a``, ``b``, ``c``), whereas popularity says ``p``.
"""

import copy
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_param_validation,
    check_parameters_default_constructible,
    check_set_params,
)

from sklearn_recsys.baselines import EASE, ItemKNN, Popularity, Transition
from sklearn_recsys.metrics import make_ranking_scorer

try:  # written by another part of the project; the suite runs without it
    from sklearn_recsys.intent import IntentRecommender
except ImportError:  # pragma: no cover
    IntentRecommender = None

try:
    from sklearn_recsys.model_selection import LeaveLastOut
except ImportError:  # pragma: no cover
    LeaveLastOut = None


def _recommenders():
    recs = [
        Popularity(),
        ItemKNN(n_neighbors=5, shrinkage=1.0),
        EASE(l2=1.0),
        Transition(order=2),
    ]
    if IntentRecommender is not None:
        recs.append(
            IntentRecommender(
                max_epochs=3, batch_size=32, max_len=10, module__d_model=16,
                random_state=0, verbose=0,
            )
        )
    return recs


RECOMMENDERS = _recommenders()
# A small grid per recommender for the GridSearchCV test.
GRIDS = {
    "Popularity": [{}],
    "ItemKNN": {"n_neighbors": [2, 5]},
    "EASE": {"l2": [1.0, 10.0]},
    "Transition": {"order": [1, 2]},
    "IntentRecommender": {"max_epochs": [1, 2]},
}
# The neural model needs more passes over the tiny toy data to learn it.
KNOWN_ANSWER_PARAMS = {"IntentRecommender": {"max_epochs": 20, "lr": 0.01}}

CHAINS = (
    [list("abcd")] * 8 + [list("efgh")] * 8 + [list("pqrs")] * 12 + [list("ptuv")] * 6
    # more items, so that even the first LeaveLastOut fold knows 10
    + [list("ijkl")] * 4 + [list("mnow")] * 4
)


def _name(est):
    return type(est).__name__


def _ids(estimators):
    return [_name(e) for e in estimators]


def _toy(to_int=False):
    """Queries (every cut point of every user) with user_id and offset columns."""
    users, offsets, hist, y = [], [], [], []
    for u, seq in enumerate(CHAINS):
        if to_int:
            seq = [_INT[v] for v in seq]
        for p in range(1, len(seq)):
            users.append(u)
            offsets.append(p)
            hist.append(list(seq[:p]))
            y.append(seq[p])
    X = pd.DataFrame({"user_id": users, "offset": offsets, "history": hist})
    return X, np.array(y, dtype=object if not to_int else np.int64)


# integer ids in the same order as the letters, so tie-breaking matches
_INT = {c: 100 + i for i, c in enumerate(sorted(set("".join("".join(c) for c in CHAINS))))}
N_ITEMS = len(_INT)


def _fit(est, to_int=False, **params):
    X, y = _toy(to_int)
    return clone(est).set_params(**params).fit(X, y)


@pytest.fixture(scope="module")
def fitted():
    """Each recommender fitted once on the string-id toy data."""
    return {_name(e): _fit(e, **KNOWN_ANSWER_PARAMS.get(_name(e), {})) for e in RECOMMENDERS}


# -- known answers -----------------------------------------------------------


@pytest.mark.parametrize("est", RECOMMENDERS, ids=_ids(RECOMMENDERS))
def test_known_answer(est, fitted):
    rec = fitted[_name(est)]
    got = rec.recommend([list("abc"), list("efg")], k=3)
    if isinstance(rec, Popularity):
        # p: 18 occurrences, q r s: 12, the rest fewer
        assert got.tolist() == [["p", "q", "r"], ["p", "q", "r"]]
    else:
        assert got[:, 0].tolist() == ["d", "h"]
        # not vacuous: popularity alone gets it wrong
        assert Popularity().fit(*_toy()).predict([list("abc")])[0] != "d"
    assert rec.predict([list("abc"), list("efg")]).tolist() == got[:, 0].tolist()


@pytest.mark.parametrize("est", RECOMMENDERS, ids=_ids(RECOMMENDERS))
def test_unknown_history_items_are_ignored(est, fitted):
    rec = fitted[_name(est)]
    clean, s_clean = rec.recommend([list("abc")], k=5, return_scores=True)
    noisy, s_noisy = rec.recommend([["zz", "a", "b", "zz", "c", "yy"]], k=5, return_scores=True)
    np.testing.assert_array_equal(noisy, clean)
    np.testing.assert_allclose(s_noisy, s_clean, rtol=1e-6)


@pytest.mark.parametrize("est", RECOMMENDERS, ids=_ids(RECOMMENDERS))
def test_empty_history_gets_popularity(est, fitted):
    rec = fitted[_name(est)]
    counts = rec.item_counts_
    expected = rec.classes_[np.lexsort((np.arange(len(counts)), -counts))][:5]
    got = rec.recommend([[], ["only-unknown"]], k=5)
    assert got.tolist() == [expected.tolist()] * 2
    assert expected[0] == "p"


@pytest.mark.parametrize("est", RECOMMENDERS, ids=_ids(RECOMMENDERS))
def test_exclude_seen(est, fitted):
    rec = fitted[_name(est)]
    seen = list("abcp")
    n_unseen = N_ITEMS - len(seen)
    items, scores = rec.recommend([seen], k=N_ITEMS, return_scores=True)
    # every unseen item before every seen one; seen ones only fill, at -inf
    assert set(items[0, :n_unseen]) == set(_INT) - set(seen)
    assert set(items[0, n_unseen:]) == set(seen)
    assert np.isneginf(scores[0, n_unseen:]).all()
    assert np.isfinite(scores[0, :n_unseen]).all()
    assert (scores[0, :-1] >= scores[0, 1:]).all()
    # exclude_seen=False ranks seen items by their own scores
    items, scores = rec.recommend([seen], k=N_ITEMS, exclude_seen=False, return_scores=True)
    assert np.isfinite(scores).all()
    assert sorted(items[0]) == sorted(_INT)
    if isinstance(rec, Popularity):
        assert items[0, 0] == "p"


@pytest.mark.parametrize("est", RECOMMENDERS, ids=_ids(RECOMMENDERS))
def test_candidates_restrict_the_list(est, fitted):
    rec = fitted[_name(est)]
    cands = ["q", "d", "h", "a"]
    got = rec.recommend([list("abc"), []], k=3, candidates=cands)
    assert set(got.ravel()) <= set(cands)
    assert "a" not in got[0]  # seen
    if not isinstance(rec, Popularity):
        assert got[0, 0] == "d"
    assert got[1, 0] == "q"  # popularity among the candidates
    with pytest.raises(ValueError, match="k=5"):
        rec.recommend([list("abc")], k=5, candidates=cands)
    with pytest.raises(ValueError, match="unknown"):
        rec.recommend([list("abc")], k=1, candidates=["d", "nope"])


@pytest.mark.parametrize("est", RECOMMENDERS, ids=_ids(RECOMMENDERS))
def test_string_and_int_ids_give_the_same_ranking(est):
    rec_s = _fit(est)
    rec_i = _fit(est, to_int=True)
    assert rec_i.classes_.dtype == np.int64
    assert rec_s.classes_.dtype == object
    queries = [list("abc"), list("ef"), [], list("pq")]
    got_s = rec_s.recommend(queries, k=6)
    got_i = rec_i.recommend([[_INT[v] for v in q] for q in queries], k=6)
    assert got_i.dtype == np.int64
    np.testing.assert_array_equal(np.vectorize(_INT.get)(got_s), got_i)


@pytest.mark.parametrize("est", RECOMMENDERS, ids=_ids(RECOMMENDERS))
def test_output_shapes_and_dtypes(est, fitted):
    rec = fitted[_name(est)]
    X, y = _toy()
    items, scores = rec.recommend(X, k=4, return_scores=True)
    assert items.shape == scores.shape == (len(X), 4)
    assert items.dtype == rec.classes_.dtype
    assert scores.dtype == np.float32
    assert (scores[:, :-1] >= scores[:, 1:]).all()
    assert rec.predict(X).shape == (len(X),)
    dec = rec.decision_function(X.iloc[:3])
    assert dec.shape == (3, N_ITEMS) and dec.dtype == np.float32
    # decision_function agrees with recommend(exclude_seen=False)
    best = rec.recommend(X.iloc[:3], k=1, exclude_seen=False, return_scores=True)[1][:, 0]
    np.testing.assert_allclose(dec.max(axis=1), best, rtol=1e-5)
    score = rec.score(X, y)
    assert isinstance(score, float) and 0.0 <= score <= 1.0
    # a list of sequences works like the DataFrame
    np.testing.assert_array_equal(rec.recommend(X["history"].tolist(), k=4), items)


@pytest.mark.parametrize("est", RECOMMENDERS, ids=_ids(RECOMMENDERS))
def test_deterministic(est):
    X, _ = _toy()
    a = _fit(est).recommend(X, k=5, return_scores=True)
    b = _fit(est).recommend(X, k=5, return_scores=True)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("est", RECOMMENDERS, ids=_ids(RECOMMENDERS))
def test_clone_and_params(est, fitted):
    rec = fitted[_name(est)]
    fresh = clone(rec)
    assert _plain(fresh.get_params()) == _plain(rec.get_params())
    with pytest.raises(NotFittedError):
        fresh.recommend([list("abc")])
    params = est.get_params()
    same = clone(est).set_params(**params)
    assert _plain(same.get_params()) == _plain(params)
    grid = GRIDS[_name(est)]
    for key, values in grid.items() if isinstance(grid, dict) else []:
        assert clone(est).set_params(**{key: values[-1]}).get_params()[key] == values[-1]


def _plain(params):
    """Parameters that compare by value (skorch's callback objects compare by identity)."""
    kinds = (int, float, str, bool, type(None), type, tuple)
    return {k: v for k, v in params.items() if isinstance(v, kinds)}


@pytest.mark.parametrize(
    "est", [e for e in RECOMMENDERS if hasattr(e, "_parameter_constraints")],
    ids=_ids([e for e in RECOMMENDERS if hasattr(e, "_parameter_constraints")]),
)
def test_sklearn_parameter_checks(est):
    name = _name(est)
    check_parameters_default_constructible(name, est)
    check_get_params_invariance(name, est)
    check_set_params(name, est)
    check_param_validation(name, est)


@pytest.mark.parametrize("est", RECOMMENDERS, ids=_ids(RECOMMENDERS))
def test_pickle_and_joblib_round_trip(est, fitted, tmp_path):
    rec = fitted[_name(est)]
    X, _ = _toy()
    expected, exp_scores = rec.recommend(X, k=5, return_scores=True)
    for loaded in (
        pickle.loads(pickle.dumps(rec)),
        joblib.load(joblib.dump(rec, tmp_path / "rec.joblib")[0]),
    ):
        got, scores = loaded.recommend(X, k=5, return_scores=True)
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(scores, exp_scores)


@pytest.mark.skipif(LeaveLastOut is None, reason="model_selection not available")
@pytest.mark.parametrize("est", RECOMMENDERS, ids=_ids(RECOMMENDERS))
def test_grid_search_and_cross_validate(est):
    X, y = _toy()
    search = GridSearchCV(
        clone(est), GRIDS[_name(est)], cv=LeaveLastOut(n_splits=2),
        scoring=make_ranking_scorer("ndcg", k=10),
    )
    search.fit(X, y)
    assert 0.0 <= search.best_score_ <= 1.0
    assert search.best_estimator_.recommend([list("abc")], k=2).shape == (1, 2)
    cv = cross_validate(
        clone(est), X, y, cv=LeaveLastOut(n_splits=2),
        scoring={"ndcg": make_ranking_scorer("ndcg", k=10),
                 "hr": make_ranking_scorer("hit_rate", k=10)},
    )
    assert cv["test_ndcg"].shape == cv["test_hr"].shape == (2,)
    assert ((cv["test_hr"] >= cv["test_ndcg"]) & (cv["test_ndcg"] >= 0)).all()
    # default scoring is the estimator's score: NDCG@10
    default = cross_validate(clone(est), X, y, cv=LeaveLastOut(n_splits=2))
    np.testing.assert_allclose(default["test_score"], cv["test_ndcg"])


# -- bad input ------------------------------------------------------------------


@pytest.mark.parametrize("est", RECOMMENDERS, ids=_ids(RECOMMENDERS))
def test_bad_input_raises_clearly(est, fitted):
    X, y = _toy()
    fresh = clone(est)
    with pytest.raises(TypeError, match="DataFrame with a 'history' column"):
        fresh.fit(5, y)
    with pytest.raises(ValueError, match="'history' column"):
        fresh.fit(X.rename(columns={"history": "items"}), y)
    with pytest.raises(ValueError, match="missing values"):
        fresh.fit([[1, np.nan]], [2])
    with pytest.raises(ValueError, match="missing values"):
        fresh.fit([["a"]], ["b", None][1:])
    with pytest.raises(ValueError, match="missing values"):
        fresh.fit([["a", None]], ["b"])
    with pytest.raises(ValueError, match="missing history"):
        fresh.fit([["a"], None], ["b", "c"])
    with pytest.raises(ValueError, match="y must hold"):
        fresh.fit(X, y[:-1])
    with pytest.raises(TypeError, match="all integers or all strings"):
        fresh.fit([["a"], ["b"]], ["c", 1])
    with pytest.raises(TypeError, match="fitted on integer item ids"):
        fresh.fit([["a"]], [1])
    with pytest.raises(TypeError, match="floating"):
        fresh.fit([[1.0, 2.0]], [3])
    with pytest.raises(NotFittedError):
        fresh.recommend([list("abc")])
    rec = fitted[_name(est)]
    for k in (0, -1, 2.5):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            rec.recommend([list("abc")], k=k)
    with pytest.raises(ValueError, match="larger than the number of items"):
        rec.recommend([list("abc")], k=N_ITEMS + 1)
    with pytest.raises(TypeError, match="fitted on string item ids"):
        rec.recommend([[1, 2]])
    with pytest.raises(TypeError, match="exclude_seen must be a bool"):
        rec.recommend([list("abc")], exclude_seen="yes")


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


@pytest.mark.parametrize("est", RECOMMENDERS, ids=_ids(RECOMMENDERS))
def test_input_not_mutated(est):
    X, y = _toy()
    X_copy, y_copy = copy.deepcopy(X), y.copy()
    rec = clone(est).fit(X, y)
    rec.recommend(X, k=3)
    rec.score(X, y)
    pd.testing.assert_frame_equal(X, X_copy)
    assert X["history"].tolist() == X_copy["history"].tolist()
    np.testing.assert_array_equal(y, y_copy)


@pytest.mark.parametrize("est", RECOMMENDERS, ids=_ids(RECOMMENDERS))
def test_documented_attributes_match_fitted(est, fitted):
    """Every fitted public attribute is listed under Attributes, and vice versa."""
    rec = fitted[_name(est)]
    doc = type(rec).__doc__
    section = doc.split("Attributes\n    ----------\n")[1].split("\n\n    ")[0]
    documented = {
        line.split(" : ")[0].strip()
        for line in section.splitlines()
        if " : " in line and not line.startswith("        ")
    }
    found = {a for a in vars(rec) if a.endswith("_") and not a.startswith("_")}
    if IntentRecommender is not None and isinstance(rec, IntentRecommender):
        # skorch's own fitted state (module_, history_, ...) is documented by skorch
        assert documented <= found
    else:
        assert found == documented


@pytest.mark.parametrize("est", RECOMMENDERS, ids=_ids(RECOMMENDERS))
def test_prefix_deduplication_runs_once_per_fit(est, monkeypatch):
    # the user-prefix de-duplication is a Python loop over the rows: fit
    # must not redo it for the item counts and again for the model
    from sklearn_recsys.base import RecommenderMixin

    calls = []
    original = RecommenderMixin._prefix_free_rows

    def counting(queries, y_codes):
        calls.append(len(queries))
        return original(queries, y_codes)

    monkeypatch.setattr(RecommenderMixin, "_prefix_free_rows", staticmethod(counting))
    X, y = _toy()
    fitted = clone(est).fit(X, y)
    assert calls == [len(X)]
    # the toy users' rows are prefixes of each other: one sequence per user
    assert fitted.item_counts_.sum() == sum(len(c) for c in CHAINS)
