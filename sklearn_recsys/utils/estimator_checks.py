"""The recommender contract as checks you can run on your own recommender.

Like :mod:`sklearn.utils.estimator_checks` for scikit-learn estimators: each
``check_*(name, estimator_orig)`` function takes an **unfitted**
recommender, clones it, fits the clone on a small toy data set with a known
right answer and raises :class:`AssertionError` with a message saying which
rule of the contract (:class:`~sklearn_recsys.base.RecommenderMixin`) is
broken; a check that does not apply raises :class:`unittest.SkipTest`. Run
them all with :func:`check_recommender`, or one test per check with
:func:`parametrize_with_checks` under pytest. The module itself needs no
test runner.

**The toy data.** Users follow the chains ``a b c d`` (8 users),
``e f g h`` (8), ``p q r s`` (12), ``p t u v`` (6), ``i j k l`` (4) and
``m n o w`` (4): 23 string item ids, ``p`` the most popular. ``X`` holds
every cut point of every user (``user_id``, ``offset`` and ``history``
columns), ``y`` the next item. After ``[a, b, c]`` a personalised model
must put ``d`` first (it follows ``c``, and it is the only unseen item that
ever co-occurs with ``a``, ``b``, ``c``), after ``[e, f, g]`` ``h``. The
integer-id variant maps the letters, in order, to ``100, 101, ...``, so
ties break the same way.

**The catalogue convention.** A recommender that takes a catalogue has an
``items`` parameter (inside a pipeline, a parameter ending in ``__items``).
The checks set it to a toy catalogue: a DataFrame indexed by the toy item
ids (strings, or the integers in the integer-id check) with one text
column, ``title``, whose words carry the chain structure: each item has a
word of its own (``"itema"``) and the word of each chain it belongs to
(``"chainabcd"``; ``p`` has two). A content model then gets the same known
answer as a collaborative one. A value you gave ``items`` is replaced: the
checks fit on their own data.

**Popularity models.** A recommender whose scores do not depend on the
history (equal ``decision_function`` rows for ``[a, b, c]`` and
``[e, f, g]``) is held to the popularity answer instead: ``p q r`` for
everyone, the items ranked by ``item_counts_``. This is decided from
behaviour, not from the class, so a user's own non-personalised model is
checked correctly too. The price: a model meant to be personalised that
ignores the history entirely is checked as a popularity model (it still
fails unless it ranks exactly by the counts).

**Pipelines.** The contract's fitted state (``item_counts_``) is read from
the last step of a :class:`~sklearn.pipeline.Pipeline`, so a
:class:`~sklearn_recsys.pipeline.RecommenderPipeline` whose transformers
keep the ``history`` column can be checked too.
"""

import copy
import functools
import inspect
import pickle
import re
import sys
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from unittest import SkipTest

import joblib
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import NotFittedError, SkipTestWarning
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import (
    HasMethods,
    InvalidParameterError,
    validate_params,
)
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_param_validation,
    check_parameters_default_constructible,
    check_set_params,
)

from ..base import RecommenderMixin
from ..metrics import make_ranking_scorer
from ..model_selection import LeaveLastOut
from ._param_validation import invalid_param_values

__all__ = ["check_recommender", "parametrize_with_checks"]

# -- toy data ----------------------------------------------------------------

_CHAINS = (
    [list("abcd")] * 8 + [list("efgh")] * 8 + [list("pqrs")] * 12 + [list("ptuv")] * 6
    # more items, so that even the first LeaveLastOut fold knows 10
    + [list("ijkl")] * 4 + [list("mnow")] * 4
)
# integer ids in the same order as the letters, so tie-breaking matches
_INT = {c: 100 + i for i, c in enumerate(sorted({v for chain in _CHAINS for v in chain}))}
_N_ITEMS = len(_INT)


def _toy_queries(int_ids=False):
    """Queries (every cut point of every user) with user_id and offset columns."""
    users, offsets, hist, y = [], [], [], []
    for u, seq in enumerate(_CHAINS):
        if int_ids:
            seq = [_INT[v] for v in seq]
        for p in range(1, len(seq)):
            users.append(u)
            offsets.append(p)
            hist.append(list(seq[:p]))
            y.append(seq[p])
    X = pd.DataFrame({"user_id": users, "offset": offsets, "history": hist})
    return X, np.array(y, dtype=np.int64 if int_ids else object)


def _toy_catalogue(int_ids=False):
    """Catalogue indexed by item id; ``title`` = the item's word + its chains' words."""
    words = {item: [f"item{item}"] for item in _INT}
    for chain in dict.fromkeys("".join(c) for c in _CHAINS):
        for item in chain:
            words[item].append(f"chain{chain}")
    ids = [_INT[v] for v in _INT] if int_ids else list(_INT)
    return pd.DataFrame({"title": [" ".join(words[v]) for v in _INT]}, index=ids)


def _with_catalogue(estimator, int_ids=False):
    """``estimator`` with every ``items`` parameter set to the toy catalogue."""
    keys = [k for k in estimator.get_params(deep=True) if k == "items" or k.endswith("__items")]
    if keys:
        catalogue = _toy_catalogue(int_ids)
        estimator.set_params(**{k: catalogue for k in keys})
    return estimator


def _fit(estimator, int_ids=False, **params):
    """A clone of ``estimator`` (toy catalogue set) fitted on the toy data."""
    X, y = _toy_queries(int_ids)
    return _with_catalogue(clone(estimator), int_ids).set_params(**params).fit(X, y)


# -- helpers -----------------------------------------------------------------


@contextmanager
def _raises(expected, match=None, err_msg=None):
    """Assert that the block raises ``expected`` with a message matching ``match``.

    Like :func:`pytest.raises`, without pytest: any other outcome becomes an
    AssertionError (chained to the exception actually raised).
    """
    what = getattr(expected, "__name__", None) or " or ".join(e.__name__ for e in expected)
    prefix = f"{err_msg}: " if err_msg else ""
    try:
        yield
    except expected as exc:
        if match is not None and not re.search(match, str(exc), flags=re.DOTALL):
            raise AssertionError(
                f"{prefix}{type(exc).__name__} raised, but its message {str(exc)!r} "
                f"does not match {match!r}."
            ) from exc
    except Exception as exc:
        raise AssertionError(
            f"{prefix}expected {what}, got {type(exc).__name__}: {exc}"
        ) from exc
    else:
        raise AssertionError(f"{prefix}{what} not raised.")


def _is_skorch_net(estimator):
    # skorch is a dependency, but importing it (and torch) only to answer
    # "no" would slow down every check of a plain estimator
    skorch = sys.modules.get("skorch")
    return skorch is not None and isinstance(estimator, skorch.NeuralNet)


def _recommender_of(estimator):
    """The recommender holding the contract's fitted state (a pipeline's last step)."""
    return estimator[-1] if isinstance(estimator, Pipeline) else estimator


def _popularity_order(rec):
    """``classes_`` ranked by ``item_counts_``, ties to the lower id."""
    counts = _recommender_of(rec).item_counts_
    return rec.classes_[np.lexsort((np.arange(len(counts)), -counts))]


def _ignores_history(rec):
    """Whether the fitted ``rec`` scores two unrelated histories the same."""
    scores = rec.decision_function([list("abc"), list("efg")])
    return bool(np.array_equal(scores[0], scores[1]))


def _plain(params):
    """Parameters that compare by value (skorch's callback objects compare by identity)."""
    kinds = (int, float, str, bool, type(None), type, tuple)
    return {k: v for k, v in params.items() if isinstance(v, kinds)}


def _small_grid(estimator):
    """A two-candidate grid over the first numeric parameter, at its current value.

    Both candidates are the estimator as given, so the search runs through
    ``set_params`` on clones without the checks knowing which values are
    valid, and equal parameters must score equally. ``[{}]`` (one
    candidate) when the estimator has no numeric parameter.
    """
    for key, value in sorted(estimator.get_params(deep=True).items()):
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
            value, (bool, np.bool_)
        ):
            return {key: [value, value]}
    return [{}]


# -- the checks: known answers ------------------------------------------------


def check_known_answer(name, estimator_orig):
    """After ``[a, b, c]``: ``d`` first (``h`` after ``[e, f, g]``), or ``p q r`` for a popularity model."""
    rec = _fit(estimator_orig)
    got = rec.recommend([list("abc"), list("efg")], k=3)
    if _ignores_history(rec):
        # p: 18 occurrences, q r s: 12, the rest fewer
        assert got.tolist() == [["p", "q", "r"], ["p", "q", "r"]], (
            f"{name} scores every history the same, so it must rank by popularity "
            f"(p q r for everyone); got {got.tolist()}."
        )
    else:
        assert got[:, 0].tolist() == ["d", "h"], (
            f"{name} should put 'd' first after [a, b, c] and 'h' after [e, f, g]; "
            f"got {got.tolist()}."
        )
        # not vacuous: popularity alone gets it wrong
        first_unseen = [v for v in _popularity_order(rec) if v not in "abc"][0]
        assert first_unseen != "d"
    pred = rec.predict([list("abc"), list("efg")])
    assert pred.tolist() == got[:, 0].tolist(), (
        f"{name}.predict must be the first item of recommend; got {pred.tolist()}."
    )


def check_unknown_history_items_ignored(name, estimator_orig):
    """Unknown items in a history are dropped: same items and scores as without them."""
    rec = _fit(estimator_orig)
    clean, s_clean = rec.recommend([list("abc")], k=5, return_scores=True)
    noisy, s_noisy = rec.recommend([["zz", "a", "b", "zz", "c", "yy"]], k=5, return_scores=True)
    np.testing.assert_array_equal(
        noisy, clean, err_msg=f"{name}: unknown history items changed the list."
    )
    np.testing.assert_allclose(
        s_noisy, s_clean, rtol=1e-6, err_msg=f"{name}: unknown history items changed the scores."
    )


def check_empty_history_gets_popularity(name, estimator_orig):
    """A history with no known item gets the most popular items (``item_counts_``)."""
    rec = _fit(estimator_orig)
    expected = _popularity_order(rec)[:5]
    got = rec.recommend([[], ["only-unknown"]], k=5)
    assert got.tolist() == [expected.tolist()] * 2, (
        f"{name}: empty and all-unknown histories must get the most popular items "
        f"{expected.tolist()}; got {got.tolist()}."
    )
    assert expected[0] == "p"


def check_exclude_seen(name, estimator_orig):
    """Seen items come after every unseen one, at ``-inf``; ``exclude_seen=False`` ranks them."""
    rec = _fit(estimator_orig)
    seen = list("abcp")
    n_unseen = _N_ITEMS - len(seen)
    items, scores = rec.recommend([seen], k=_N_ITEMS, return_scores=True)
    # every unseen item before every seen one; seen ones only fill, at -inf
    assert set(items[0, :n_unseen]) == set(_INT) - set(seen), (
        f"{name}: with exclude_seen=True the unseen items must come first; got {items[0].tolist()}."
    )
    assert set(items[0, n_unseen:]) == set(seen)
    assert np.isneginf(scores[0, n_unseen:]).all(), (
        f"{name}: seen items filling a list must score -inf; got {scores[0, n_unseen:]}."
    )
    assert np.isfinite(scores[0, :n_unseen]).all()
    assert (scores[0, :-1] >= scores[0, 1:]).all(), f"{name}: scores are not sorted, best first."
    # exclude_seen=False ranks seen items by their own scores
    items, scores = rec.recommend([seen], k=_N_ITEMS, exclude_seen=False, return_scores=True)
    assert np.isfinite(scores).all(), f"{name}: exclude_seen=False must not mask seen items."
    assert sorted(items[0]) == sorted(_INT)
    if _ignores_history(rec):
        assert items[0, 0] == "p"


def check_candidates(name, estimator_orig):
    """``candidates`` restricts the list; too few or unknown candidates raise."""
    rec = _fit(estimator_orig)
    cands = ["q", "d", "h", "a"]
    got = rec.recommend([list("abc"), []], k=3, candidates=cands)
    assert set(got.ravel()) <= set(cands), f"{name}: items outside candidates: {got.tolist()}."
    assert "a" not in got[0], f"{name}: a seen candidate was ranked: {got.tolist()}."
    if not _ignores_history(rec):
        assert got[0, 0] == "d"
    assert got[1, 0] == "q", f"{name}: popularity among the candidates should give 'q'; got {got.tolist()}."
    with _raises(ValueError, match="k=5", err_msg=f"{name}: k above the number of candidates"):
        rec.recommend([list("abc")], k=5, candidates=cands)
    with _raises(ValueError, match="unknown", err_msg=f"{name}: an unknown candidate"):
        rec.recommend([list("abc")], k=1, candidates=["d", "nope"])


def check_per_row_candidates_and_exclude(name, estimator_orig):
    """Per-row ``candidates`` and ``exclude`` give the full ranking, filtered row by row."""
    import scipy.sparse as sp

    rec = _fit(estimator_orig)
    X = [list("abc"), list("q"), []]
    full, full_scores = rec.recommend(X, k=_N_ITEMS, return_scores=True)
    per_row = [["q", "d", "h", "a"], list("abcde"), ["p", "q", "r"]]
    for exclude_seen in (True, False):
        full = rec.recommend(X, k=_N_ITEMS, exclude_seen=exclude_seen)
        got = rec.recommend(X, k=3, candidates=per_row, exclude_seen=exclude_seen)
        want = [[v for v in full[r] if v in per_row[r]][:3] for r in range(len(X))]
        assert got.tolist() == want, (
            f"{name}: per-row candidates (exclude_seen={exclude_seen}) must equal the "
            f"full ranking filtered to each row's list; got {got.tolist()}, expected {want}."
        )
    # the same lists as a sparse (n_rows, n_items) matrix in classes_ order
    mask = sp.csr_matrix(np.array([np.isin(rec.classes_, row) for row in per_row]))
    np.testing.assert_array_equal(rec.recommend(X, k=3, candidates=mask),
                                  rec.recommend(X, k=3, candidates=per_row))
    with _raises(ValueError, match="row 2", err_msg=f"{name}: k above a row's candidates"):
        rec.recommend(X, k=4, candidates=per_row)
    with _raises(ValueError, match="3 per-row lists for 2 rows", err_msg=f"{name}: per-row length"):
        rec.recommend(X[:2], k=1, candidates=per_row)
    # exclude: a blocklist for every row, or per row; it fills like seen items
    full = rec.recommend(X, k=_N_ITEMS)
    got, scores = rec.recommend(X, k=_N_ITEMS, exclude=["q", "d"], return_scores=True)
    for r in range(len(X)):
        kept = [v for v in full[r] if v not in ("q", "d") and np.isfinite(full_scores[r][list(full[r]).index(v)])]
        assert got[r, : len(kept)].tolist() == kept, (
            f"{name}: exclude must drop the items and keep the order; row {r}: {got[r].tolist()}."
        )
        assert np.isneginf(scores[r, len(kept):]).all()
        assert {"q", "d"} <= set(got[r, len(kept):])
    got = rec.recommend(X, k=3, exclude=[["d"], [], ["q", "nope"]])
    want = [[v for v in full[r] if v not in drop][:3]
            for r, drop in enumerate([["d"], [], ["q"]])]
    assert got.tolist() == want, f"{name}: per-row exclude; got {got.tolist()}, expected {want}."


def check_string_and_int_ids(name, estimator_orig):
    """String and integer item ids give the same ranking; ``classes_`` keeps their dtype."""
    rec_s = _fit(estimator_orig)
    rec_i = _fit(estimator_orig, int_ids=True)
    assert rec_i.classes_.dtype == np.int64, f"{name}: classes_ of int ids is {rec_i.classes_.dtype}."
    assert rec_s.classes_.dtype == object, f"{name}: classes_ of str ids is {rec_s.classes_.dtype}."
    queries = [list("abc"), list("ef"), [], list("pq")]
    got_s = rec_s.recommend(queries, k=6)
    got_i = rec_i.recommend([[_INT[v] for v in q] for q in queries], k=6)
    assert got_i.dtype == np.int64
    np.testing.assert_array_equal(
        np.vectorize(_INT.get)(got_s), got_i,
        err_msg=f"{name}: integer ids rank differently from the same ids as strings.",
    )


def check_output_shapes_and_dtypes(name, estimator_orig):
    """Shapes and dtypes of ``recommend``, ``predict``, ``decision_function``, ``score``."""
    rec = _fit(estimator_orig)
    X, y = _toy_queries()
    items, scores = rec.recommend(X, k=4, return_scores=True)
    assert items.shape == scores.shape == (len(X), 4), (
        f"{name}: recommend(k=4) shapes {items.shape}, {scores.shape}; expected {(len(X), 4)}."
    )
    assert items.dtype == rec.classes_.dtype
    assert scores.dtype == np.float32, f"{name}: scores are {scores.dtype}, not float32."
    assert (scores[:, :-1] >= scores[:, 1:]).all(), f"{name}: scores are not sorted, best first."
    dup = [row for row in items.tolist() if len(set(row)) < len(row)]
    assert not dup, f"{name}: a list holds an item twice, e.g. {dup[0]}."
    assert rec.predict(X).shape == (len(X),)
    dec = rec.decision_function(X.iloc[:3])
    assert dec.shape == (3, _N_ITEMS) and dec.dtype == np.float32, (
        f"{name}: decision_function gives {dec.shape} {dec.dtype}; expected (3, {_N_ITEMS}) float32."
    )
    # decision_function agrees with recommend(exclude_seen=False)
    best = rec.recommend(X.iloc[:3], k=1, exclude_seen=False, return_scores=True)[1][:, 0]
    np.testing.assert_allclose(
        dec.max(axis=1), best, rtol=1e-5,
        err_msg=f"{name}: decision_function disagrees with recommend(exclude_seen=False).",
    )
    score = rec.score(X, y)
    assert isinstance(score, float) and 0.0 <= score <= 1.0, f"{name}: score gave {score!r}."
    # a list of sequences works like the DataFrame
    np.testing.assert_array_equal(
        rec.recommend(X["history"].tolist(), k=4), items,
        err_msg=f"{name}: a list of histories ranks differently from the DataFrame.",
    )


def check_deterministic(name, estimator_orig):
    """Two fits of clones give the same items and scores."""
    X, _ = _toy_queries()
    a = _fit(estimator_orig).recommend(X, k=5, return_scores=True)
    b = _fit(estimator_orig).recommend(X, k=5, return_scores=True)
    msg = f"{name}: two fits of clones differ (set random_state in its parameters?)."
    np.testing.assert_array_equal(a[0], b[0], err_msg=msg)
    np.testing.assert_array_equal(a[1], b[1], err_msg=msg)


def check_clone_and_params(name, estimator_orig):
    """``clone`` gives an unfitted copy; ``set_params(**get_params())`` round-trips."""
    rec = _fit(estimator_orig)
    fresh = clone(rec)
    assert _plain(fresh.get_params()) == _plain(rec.get_params())
    with _raises(NotFittedError, err_msg=f"{name}: recommend on a clone of a fitted model"):
        fresh.recommend([list("abc")])
    params = estimator_orig.get_params()
    same = clone(estimator_orig).set_params(**params)
    assert _plain(same.get_params()) == _plain(params)
    grid = _small_grid(estimator_orig)
    for key, values in grid.items() if isinstance(grid, dict) else []:
        assert clone(estimator_orig).set_params(**{key: values[-1]}).get_params()[key] == values[-1]


def check_parameter_constraints(name, estimator_orig):
    """Each parameter of ``_parameter_constraints`` given an invalid value makes ``fit`` raise.

    The error must be sklearn's ``InvalidParameterError`` naming the
    parameter. The counterpart of sklearn's ``check_param_validation`` for
    estimators it cannot check (skorch nets, whose ``get_params`` lists
    ``module__*`` and skorch's own parameters too); skipped when the
    estimator has no ``_parameter_constraints``.
    """
    constraints = getattr(estimator_orig, "_parameter_constraints", None)
    if constraints is None:
        raise SkipTest(f"{name} has no _parameter_constraints.")
    unknown = set(constraints) - set(estimator_orig.get_params(deep=False))
    assert not unknown, f"{name}._parameter_constraints names unknown parameters {sorted(unknown)}."
    X, y = _toy_queries()
    for param, param_constraints in constraints.items():
        if param_constraints == "no_validation":
            continue
        for value in invalid_param_values(param_constraints):
            estimator = _with_catalogue(clone(estimator_orig))
            msg = f"{name}: {param}={value!r} (invalid) did not raise InvalidParameterError in fit"
            # set_params inside: skorch checks some parameters (callbacks) there
            with _raises(InvalidParameterError, match=rf"'{re.escape(param)}' parameter", err_msg=msg):
                estimator.set_params(**{param: value}).fit(X, y)


def check_pickle_round_trip(name, estimator_orig):
    """A model reloaded with pickle or joblib recommends the same items and scores."""
    rec = _fit(estimator_orig)
    X, _ = _toy_queries()
    expected, exp_scores = rec.recommend(X, k=5, return_scores=True)
    with tempfile.TemporaryDirectory() as tmp:
        reloaded = {
            "pickle": pickle.loads(pickle.dumps(rec)),
            "joblib": joblib.load(joblib.dump(rec, Path(tmp) / "rec.joblib")[0]),
        }
    for how, loaded in reloaded.items():
        got, scores = loaded.recommend(X, k=5, return_scores=True)
        np.testing.assert_array_equal(got, expected, err_msg=f"{name}: {how} round trip changed the items.")
        np.testing.assert_array_equal(scores, exp_scores, err_msg=f"{name}: {how} round trip changed the scores.")


def check_grid_search_and_cross_validate(name, estimator_orig):
    """``GridSearchCV`` and ``cross_validate`` with :class:`LeaveLastOut` and ranking scorers.

    The grid comes from the estimator (see ``_small_grid``): two candidates
    with its own value of its first numeric parameter.
    """
    X, y = _toy_queries()
    est = _with_catalogue(clone(estimator_orig))
    search = GridSearchCV(
        clone(est), _small_grid(est), cv=LeaveLastOut(n_splits=2),
        scoring=make_ranking_scorer("ndcg", k=10),
    )
    search.fit(X, y)
    assert 0.0 <= search.best_score_ <= 1.0
    means = search.cv_results_["mean_test_score"]
    assert np.allclose(means, means[0]), f"{name}: equal parameters scored differently: {means}."
    assert search.best_estimator_.recommend([list("abc")], k=2).shape == (1, 2)
    cv = cross_validate(
        clone(est), X, y, cv=LeaveLastOut(n_splits=2),
        scoring={"ndcg": make_ranking_scorer("ndcg", k=10),
                 "hr": make_ranking_scorer("hit_rate", k=10)},
    )
    assert cv["test_ndcg"].shape == cv["test_hr"].shape == (2,)
    assert ((cv["test_hr"] >= cv["test_ndcg"]) & (cv["test_ndcg"] >= 0)).all(), (
        f"{name}: hit rate {cv['test_hr']} below NDCG {cv['test_ndcg']}."
    )
    # default scoring is the estimator's score: NDCG@10
    default = cross_validate(clone(est), X, y, cv=LeaveLastOut(n_splits=2))
    np.testing.assert_allclose(
        default["test_score"], cv["test_ndcg"],
        err_msg=f"{name}.score is not NDCG@10 of recommend(X, 10).",
    )


# -- the checks: bad input and side effects -----------------------------------


def _bad_fit_data():
    """``(exception, message pattern, X, y)`` of malformed training data."""
    X, y = _toy_queries()
    return [
        (TypeError, "DataFrame with a 'history' column", 5, y),
        (ValueError, "'history' column", X.rename(columns={"history": "items"}), y),
        (ValueError, "missing values", [[1, np.nan]], [2]),
        (ValueError, "missing values", [["a"]], ["b", None][1:]),
        (ValueError, "missing values", [["a", None]], ["b"]),
        (ValueError, "missing history", [["a"], None], ["b", "c"]),
        (ValueError, "y must hold", X, y[:-1]),
        (TypeError, "all integers or all strings", [["a"], ["b"]], ["c", 1]),
        (TypeError, "fitted on integer item ids", [["a"]], [1]),
        (TypeError, "floating", [[1.0, 2.0]], [3]),
    ]


def check_bad_input_raises(name, estimator_orig):
    """Malformed queries, ids, ``k`` or ``exclude_seen`` raise clear errors;
    a failed ``fit`` leaves the model unfitted."""
    fresh = _with_catalogue(clone(estimator_orig))
    with _raises(NotFittedError, err_msg=f"{name}: recommend before fit"):
        fresh.recommend([list("abc")])
    for exc, match, X_bad, y_bad in _bad_fit_data():
        with _raises(exc, match=match, err_msg=f"{name}.fit({X_bad!r:.40}, {y_bad!r:.40})"):
            fresh.fit(X_bad, y_bad)
    # a fit that stopped half way leaves no fitted attribute behind (sklearn's
    # check_is_fitted looks for attributes ending in "_")
    with _raises(NotFittedError, err_msg=f"{name}: recommend after fit failed on bad input"):
        fresh.recommend([list("abc")])
    rec = _fit(estimator_orig)
    for k in (0, -1, 2.5):
        with _raises(ValueError, match="k must be a positive integer", err_msg=f"{name}: k={k}"):
            rec.recommend([list("abc")], k=k)
    with _raises(ValueError, match="larger than the number of items", err_msg=f"{name}: k > n_items"):
        rec.recommend([list("abc")], k=_N_ITEMS + 1)
    with _raises(TypeError, match="fitted on string item ids", err_msg=f"{name}: int ids after str"):
        rec.recommend([[1, 2]])
    with _raises(TypeError, match="exclude_seen must be a bool", err_msg=f"{name}: exclude_seen='yes'"):
        rec.recommend([list("abc")], exclude_seen="yes")


def check_input_not_mutated(name, estimator_orig):
    """``fit``, ``recommend`` and ``score`` leave ``X`` and ``y`` as they were."""
    X, y = _toy_queries()
    X_copy, y_copy = copy.deepcopy(X), y.copy()
    rec = _with_catalogue(clone(estimator_orig)).fit(X, y)
    rec.recommend(X, k=3)
    rec.score(X, y)
    pd.testing.assert_frame_equal(X, X_copy, obj=f"X after {name}.fit/recommend/score")
    assert X["history"].tolist() == X_copy["history"].tolist(), f"{name} changed the histories of X."
    np.testing.assert_array_equal(y, y_copy, err_msg=f"{name} changed y.")


def _documented_attributes(cls):
    """Names listed in the Attributes section of ``cls``'s numpydoc docstring.

    A class without a docstring of its own has its base class's
    (:func:`inspect.getdoc`).
    """
    doc = inspect.getdoc(cls) or ""
    parts = doc.split("Attributes\n----------\n")
    if len(parts) < 2:
        return None
    section = re.split(r"\n\n(?=\S)", parts[1])[0]
    return {
        line.split(" : ")[0].strip()
        for line in section.splitlines()
        if " : " in line and not line[:1].isspace()
    }


def check_documented_attributes(name, estimator_orig):
    """Every public fitted attribute (``name_``) is under Attributes in the docstring, and back.

    For skorch nets only ours must be there: skorch documents its own
    (``module_``, ``history_``, ...).
    """
    rec = _fit(estimator_orig)
    documented = _documented_attributes(type(rec))
    assert documented is not None, f"{name}'s docstring has no Attributes section."
    found = {a for a in vars(rec) if a.endswith("_") and not a.startswith("_")}
    if _is_skorch_net(rec):
        missing = documented - found
        assert not missing, f"{name} documents attributes it does not set: {sorted(missing)}."
    else:
        assert found == documented, (
            f"{name}: fitted but not documented {sorted(found - documented)}, "
            f"documented but not fitted {sorted(documented - found)}."
        )


def check_prefix_deduplication_once(name, estimator_orig):
    """``fit`` de-duplicates the users' prefix rows once, and counts each event once.

    Checks recommenders built on :class:`~sklearn_recsys.base.RecommenderMixin`
    (``_fit_queries``); skipped for others.
    """
    if not isinstance(_recommender_of(estimator_orig), RecommenderMixin):
        raise SkipTest(f"{name} is not a RecommenderMixin.")
    # the user-prefix de-duplication is a Python loop over the rows: fit
    # must not redo it for the item counts and again for the model
    calls = []
    original = RecommenderMixin.__dict__["_prefix_free_rows"]

    def counting(queries, y_codes):
        calls.append(len(queries))
        return original.__func__(queries, y_codes)

    X, y = _toy_queries()
    RecommenderMixin._prefix_free_rows = staticmethod(counting)
    try:
        fitted = _with_catalogue(clone(estimator_orig)).fit(X, y)
    finally:
        RecommenderMixin._prefix_free_rows = original
    assert calls == [len(X)], (
        f"{name}.fit de-duplicated prefix rows {len(calls)} times (rows: {calls}); expected once."
    )
    # the toy users' rows are prefixes of each other: one sequence per user
    counted = _recommender_of(fitted).item_counts_.sum()
    assert counted == sum(len(c) for c in _CHAINS), (
        f"{name}: item_counts_ sums to {counted}; each event must count once."
    )


# -- running them ----------------------------------------------------------------


def _yield_checks(estimator):
    """Every check that applies to ``estimator``, as ``check(name, estimator)`` functions."""
    yield check_known_answer
    yield check_unknown_history_items_ignored
    yield check_empty_history_gets_popularity
    yield check_exclude_seen
    yield check_candidates
    yield check_per_row_candidates_and_exclude
    yield check_string_and_int_ids
    yield check_output_shapes_and_dtypes
    yield check_deterministic
    yield check_clone_and_params
    # sklearn's parameter checks need _parameter_constraints, and cannot work
    # on skorch nets (their get_params lists module__* and skorch's own
    # parameters); check_parameter_constraints covers those
    if hasattr(estimator, "_parameter_constraints") and not _is_skorch_net(estimator):
        yield check_parameters_default_constructible
        yield check_get_params_invariance
        yield check_set_params
        yield check_param_validation
    yield check_parameter_constraints
    yield check_pickle_round_trip
    yield check_grid_search_and_cross_validate
    yield check_bad_input_raises
    yield check_input_not_mutated
    yield check_documented_attributes
    yield check_prefix_deduplication_once


@validate_params(
    {"estimator": [HasMethods(["fit", "recommend"])], "expected_failed_checks": [dict, None]},
    # False: the checks test the estimator's own validation inside
    prefer_skip_nested_validation=False,
)
def check_recommender(estimator, *, expected_failed_checks=None):
    """Check that a recommender follows the contract of this package.

    Runs every check of this module (and scikit-learn's parameter checks
    where they apply) on clones of ``estimator``, each fitted on the toy
    data described in :mod:`sklearn_recsys.utils.estimator_checks`, and
    raises on the first failure. A check that does not apply raises
    :class:`unittest.SkipTest` and is skipped with a warning.

    Recommenders taking a catalogue (an ``items`` parameter) get the toy
    catalogue. A recommender whose scores ignore the history is held to the
    popularity answer (``p q r`` for everyone); every other one must find
    the item that follows the history (``d`` after ``[a, b, c]``).

    Parameters
    ----------
    estimator : estimator object
        An unfitted recommender: ``fit(X, y)``, ``recommend``, ``predict``,
        ``decision_function``, ``score`` and the fitted ``classes_`` and
        ``item_counts_``, as given by
        :class:`~sklearn_recsys.base.RecommenderMixin`. Give it cheap
        parameters (few epochs) and a ``random_state``: the checks fit it
        about 25 times.
    expected_failed_checks : dict or None, default=None
        ``{check_name: reason}``: checks known to fail, skipped with a
        :class:`~sklearn.exceptions.SkipTestWarning` giving the reason.

    Raises
    ------
    AssertionError
        When a check fails; the message says which rule is broken.

    See Also
    --------
    parametrize_with_checks : One pytest test per check.
    sklearn.utils.estimator_checks.check_estimator : scikit-learn's checks.

    Examples
    --------
    >>> from sklearn_recsys.baselines import EASE, Popularity
    >>> from sklearn_recsys.utils.estimator_checks import check_recommender
    >>> check_recommender(EASE(l2=1.0))
    >>> check_recommender(Popularity())
    """
    expected_failed_checks = expected_failed_checks or {}
    name = type(estimator).__name__
    for check in _yield_checks(estimator):
        check_name = check.__name__
        if check_name in expected_failed_checks:
            warnings.warn(
                f"Skipping {check_name} for {name}: {expected_failed_checks[check_name]}",
                SkipTestWarning, stacklevel=2,
            )
            continue
        try:
            check(name, estimator)
        except SkipTest as exc:
            warnings.warn(f"Skipping {check_name} for {name}: {exc}", SkipTestWarning, stacklevel=2)


@validate_params(
    {"estimators": [list], "expected_failed_checks": [callable, None]},
    prefer_skip_nested_validation=False,
)
def parametrize_with_checks(estimators, *, expected_failed_checks=None):
    """Pytest decorator: one test per recommender and check.

    Parametrises the test's ``estimator`` and ``check`` arguments; the test
    body calls ``check(estimator)``. Test ids read
    ``<ClassName>-<check_name>``, so ``pytest -k check_exclude_seen`` selects
    one check. A check that does not apply is reported as skipped.

    Parameters
    ----------
    estimators : list of estimator objects
        Unfitted recommenders (instances, not classes), with cheap
        parameters; see :func:`check_recommender`.
    expected_failed_checks : callable or None, default=None
        ``estimator -> {check_name: reason}``; those checks are marked
        ``pytest.mark.xfail(reason=...)``.

    Returns
    -------
    decorator : pytest.mark.parametrize
        Parametrises ``"estimator, check"``.

    See Also
    --------
    check_recommender : Run every check, without pytest.

    Examples
    --------
    >>> from sklearn_recsys.baselines import EASE
    >>> from sklearn_recsys.utils.estimator_checks import parametrize_with_checks
    >>> @parametrize_with_checks([EASE(l2=1.0)])
    ... def test_recommender_contract(estimator, check):
    ...     check(estimator)
    """
    import pytest

    if any(isinstance(est, type) for est in estimators):
        raise TypeError("Pass recommender instances to parametrize_with_checks, not classes.")

    def params():
        for estimator in estimators:
            name = type(estimator).__name__
            expected = expected_failed_checks(estimator) if callable(expected_failed_checks) else {}
            for check in _yield_checks(estimator):
                marks = []
                if check.__name__ in expected:
                    marks.append(pytest.mark.xfail(reason=expected[check.__name__]))
                yield pytest.param(
                    estimator, functools.partial(check, name),
                    id=f"{name}-{check.__name__}", marks=marks,
                )

    return pytest.mark.parametrize("estimator, check", list(params()))
