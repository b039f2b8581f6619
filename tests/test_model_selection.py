"""Tests for the leak-free splitters."""

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import BaseEstimator
from sklearn.model_selection import GridSearchCV, check_cv, cross_validate

from sklearn_recsys.model_selection import (
    ColdItemSplit,
    LeaveLastOut,
    TemporalSplit,
    cold_item_split,
    leave_last_out_split,
)

# A hand-made log. Item ids carry their user and position ("u1-2" = user 1's
# 3rd event) so "contains a later item" is a plain membership test. Users
# interleave in time, so per-user and global order differ.
LOG = pd.DataFrame(
    [
        # user, position, time
        (1, 0, 10), (1, 1, 20), (1, 2, 30), (1, 3, 40), (1, 4, 95),
        (2, 0, 15), (2, 1, 50), (2, 2, 60), (2, 3, 70),
        (3, 0, 5), (3, 1, 80), (3, 2, 90),
        (4, 0, 35), (4, 1, 45),
    ],
    columns=["user_id", "position", "timestamp"],
)  # fmt: skip
LOG["item_id"] = [f"u{u}-{p}" for u, p in zip(LOG.user_id, LOG.position)]


def make_queries(log, n_last):
    """Log -> (X, y): one row per user per cut point, the last n_last cut points.

    Written here (not datasets.queries_from_log) so these tests stand alone.
    """
    rows, targets = [], []
    for user, events in log.sort_values(["user_id", "timestamp"]).groupby("user_id"):
        items = events["item_id"].tolist()
        times = events["timestamp"].tolist()
        for offset in range(max(1, len(items) - n_last), len(items)):
            rows.append(
                {
                    "user_id": user,
                    "offset": offset,
                    "timestamp": times[offset],
                    "prev_timestamp": times[offset - 1],
                    "history": items[:offset],
                }
            )
            targets.append(items[offset])
    # shuffle rows: splitters must not rely on row order
    order = np.random.RandomState(0).permutation(len(rows))
    X = pd.DataFrame([rows[i] for i in order], index=np.arange(len(rows)) * 10)
    return X, np.array([targets[i] for i in order], dtype=object)


def _position(item):
    return int(item.split("-")[1])


def _user(item):
    return int(item.split("-")[0][1:])


def assert_no_leak_per_user(X, y, train, test):
    """No training row of a user holds that user's test target or anything later."""
    first_test = {}
    for i in test:
        u = X["user_id"].iloc[i]
        first_test[u] = min(first_test.get(u, np.inf), _position(y[i]))
    assert first_test, "empty test set"
    for i in train:
        u = X["user_id"].iloc[i]
        if u not in first_test:
            continue
        seen = list(X["history"].iloc[i]) + [y[i]]
        assert all(_user(v) == u for v in seen)
        assert max(_position(v) for v in seen) < first_test[u], (u, seen)


def assert_no_leak_in_time(X, y, train, test, log=LOG):
    time_of = dict(zip(log["item_id"], log["timestamp"]))
    t_train, t_test = X["timestamp"].iloc[train], X["timestamp"].iloc[test]
    assert t_train.max() < t_test.min()
    # and nothing a training row holds happened at or after the first test query
    for i in train:
        for v in list(X["history"].iloc[i]) + [y[i]]:
            assert time_of[v] < t_test.min()


# -- LeaveLastOut -------------------------------------------------------------


def test_leave_last_out_known_folds():
    X, y = make_queries(LOG, n_last=3)
    folds = list(LeaveLastOut(n_splits=2).split(X, y))
    assert len(folds) == 2
    got = [
        (sorted(zip(X["user_id"].iloc[tr], X["offset"].iloc[tr])),
         sorted(zip(X["user_id"].iloc[te], X["offset"].iloc[te])))
        for tr, te in folds
    ]  # fmt: skip
    # user 4 has a single cut point (offset 1): tested in the last fold only,
    # and never trained on
    assert got[0] == ([(1, 2), (2, 1)], [(1, 3), (2, 2), (3, 1)])
    assert got[1] == ([(1, 3), (2, 2), (3, 1)], [(1, 4), (2, 3), (3, 2), (4, 1)])
    for train, test in folds:
        assert train.dtype.kind == "i" and test.dtype.kind == "i"
        assert not set(train) & set(test)


@pytest.mark.parametrize("n_splits", [1, 2, 3])
def test_leave_last_out_is_leak_free(n_splits):
    X, y = make_queries(LOG, n_last=4)
    n_folds = 0
    for train, test in LeaveLastOut(n_splits=n_splits).split(X, y):
        assert_no_leak_per_user(X, y, train, test)
        # one training row per user: the full prefix before the test target
        assert max(Counter(X["user_id"].iloc[train]).values()) == 1
        n_folds += 1
    assert n_folds == n_splits


def test_leave_last_out_last_fold_holds_each_users_last_item():
    X, y = make_queries(LOG, n_last=2)
    ((train, test),) = LeaveLastOut().split(X)
    last = LOG.sort_values("timestamp").groupby("user_id")["item_id"].last()
    assert sorted(y[test]) == sorted(last)
    # user 4 has a single cut point: tested, never trained on
    assert sorted(X["user_id"].iloc[train]) == [1, 2, 3]
    # the training row's history + target is the test row's history
    for i in test:
        u = X["user_id"].iloc[i]
        if u == 4:
            continue
        (j,) = [j for j in train if X["user_id"].iloc[j] == u]
        assert list(X["history"].iloc[j]) + [y[j]] == list(X["history"].iloc[i])


def test_leave_last_out_falls_back_to_timestamp():
    X, y = make_queries(LOG, n_last=3)
    with_offset = list(LeaveLastOut(n_splits=2).split(X))
    without = list(LeaveLastOut(n_splits=2).split(X.drop(columns="offset")))
    for (a, b), (c, d) in zip(with_offset, without):
        assert_array_equal(a, c)
        assert_array_equal(b, d)


def test_leave_last_out_datetime_timestamps():
    X, y = make_queries(LOG, n_last=2)
    X = X.drop(columns="offset").assign(
        timestamp=pd.to_datetime(X["timestamp"], unit="D")
    )
    ((train, test),) = LeaveLastOut().split(X)
    assert_no_leak_per_user(X, y, train, test)


def test_leave_last_out_needs_enough_cut_points():
    X, y = make_queries(LOG, n_last=1)
    with pytest.raises(
        ValueError, match=r"needs at least 2 queries.*most any user has in X is 1"
    ):
        next(LeaveLastOut().split(X, y))
    X, y = make_queries(LOG, n_last=3)
    with pytest.raises(
        ValueError, match=r"LeaveLastOut\(n_splits=3\) needs at least 4"
    ):
        list(LeaveLastOut(n_splits=3).split(X, y))


@pytest.mark.parametrize(
    "X, err, match",
    [
        (pd.DataFrame({"offset": [1, 2]}), ValueError, "'user_id' column"),
        (
            pd.DataFrame({"user_id": [1, 1], "history": [[], [1]]}),
            ValueError,
            "'offset'",
        ),
        (pd.DataFrame({"user_id": [1, None], "offset": [1, 2]}), ValueError, "missing"),
        (
            pd.DataFrame({"user_id": [1, 1], "offset": ["a", "b"]}),
            TypeError,
            "numbers or datetimes",
        ),
        ([[1, 2], [3]], TypeError, "DataFrame of queries"),
        (pd.DataFrame({"user_id": [], "offset": []}), ValueError, "0 rows"),
    ],
)
def test_leave_last_out_rejects_bad_X(X, err, match):
    with pytest.raises(err, match=match):
        next(LeaveLastOut().split(X))


@pytest.mark.parametrize("n_splits", [0, -1, 1.5, True, "2"])
def test_leave_last_out_rejects_bad_n_splits(n_splits):
    with pytest.raises(
        ValueError,
        match=r"The 'n_splits' parameter of LeaveLastOut must be an int in the range "
        r"\[1, inf\)",
    ):
        LeaveLastOut(n_splits=n_splits).get_n_splits()


def test_leave_last_out_api():
    cv = LeaveLastOut(n_splits=2)
    assert repr(cv) == "LeaveLastOut(n_splits=2)"
    assert cv.get_n_splits() == 2
    assert check_cv(cv) is cv


# -- with sklearn's model selection tools -----------------------------------


class MostPopular(BaseEstimator):
    """Recommend the most frequent item of the training histories and targets.

    ``score`` = hit rate of that single item. ``fit`` records which users it
    saw so the test can check what GridSearchCV / cross_validate handed over.
    """

    def __init__(self, use_histories=True):
        self.use_histories = use_histories

    def fit(self, X, y):
        counts = Counter(y)
        if self.use_histories:
            counts.update(v for h in X["history"] for v in h)
        self.top_ = min(counts, key=lambda v: (-counts[v], v))
        self.fit_offsets_ = sorted(zip(X["user_id"], X["offset"]))
        return self

    def predict(self, X):
        return np.full(len(X), self.top_, dtype=object)

    def score(self, X, y):
        return float(np.mean(self.predict(X) == np.asarray(y, dtype=object)))


def _popularity_log():
    # three users share items; item "b" dominates histories, "c" the last events
    seqs = {1: ["a", "b", "b", "c"], 2: ["b", "b", "c", "c"], 3: ["b", "a", "c", "c"]}
    rows = [(u, p, 10 * p + u, v) for u, s in seqs.items() for p, v in enumerate(s)]
    return pd.DataFrame(rows, columns=["user_id", "position", "timestamp", "item_id"])


def test_cross_validate_and_grid_search_use_the_folds():
    X, y = make_queries(_popularity_log(), n_last=3)
    cv = LeaveLastOut(n_splits=2)
    result = cross_validate(
        MostPopular(), X, y, cv=cv, return_estimator=True, return_indices=True
    )
    for (train, test), est, tr, te in zip(
        cv.split(X),
        result["estimator"],
        result["indices"]["train"],
        result["indices"]["test"],
    ):
        assert_array_equal(train, tr)
        assert_array_equal(test, te)
        assert est.fit_offsets_ == sorted(
            zip(X["user_id"].iloc[train], X["offset"].iloc[train])
        )
    # fold 0 trains on offset 1 (histories [a], [b], [b] + targets b, b, a): top "b";
    # tests on offset 2 (targets b, c, c). Fold 1 trains on offset 2: top "b";
    # tests on offset 3 (targets c, c, c).
    assert [est.top_ for est in result["estimator"]] == ["b", "b"]
    assert_array_equal(result["test_score"], [1 / 3, 0.0])

    search = GridSearchCV(MostPopular(), {"use_histories": [True, False]}, cv=cv)
    search.fit(X, y)
    # without histories: fold 0 top of (b, b, a) = "b"; fold 1 top of (b, c, c) = "c"
    assert_array_equal(search.cv_results_["mean_test_score"], [1 / 6, (1 / 3 + 1) / 2])
    assert search.best_params_ == {"use_histories": False}
    assert search.n_splits_ == 2


# -- TemporalSplit ------------------------------------------------------------


def test_temporal_split_known_windows():
    X = pd.DataFrame(
        {"user_id": [1, 2, 1, 3, 2, 3], "timestamp": [10, 20, 30, 40, 50, 60]}
    )
    X = X.iloc[[5, 0, 3, 1, 4, 2]]  # shuffled rows; positions are returned
    folds = list(TemporalSplit(n_splits=2, test_size=2).split(X))
    times = X["timestamp"].to_numpy()
    assert [(sorted(times[a]), sorted(times[b])) for a, b in folds] == [
        ([10, 20], [30, 40]),
        ([10, 20, 30, 40], [50, 60]),
    ]
    # fraction, and explicit cut-offs
    ((train, test),) = TemporalSplit(test_size=0.5).split(X)
    assert sorted(times[test]) == [40, 50, 60]
    folds = list(TemporalSplit(cutoffs=[25, 55]).split(X))
    assert [(sorted(times[a]), sorted(times[b])) for a, b in folds] == [
        ([10, 20], [30, 40, 50]),
        ([10, 20, 30, 40, 50], [60]),
    ]


def test_temporal_split_default_is_last_20_percent():
    X = pd.DataFrame({"timestamp": np.arange(100.0)})
    ((train, test),) = TemporalSplit().split(X)
    assert_array_equal(test, np.arange(80, 100))
    assert_array_equal(train, np.arange(80))
    folds = list(TemporalSplit(n_splits=4).split(X))
    assert [f[1].tolist() for f in folds] == [
        list(range(s, s + 5)) for s in (80, 85, 90, 95)
    ]
    assert TemporalSplit(n_splits=4).get_n_splits() == 4


@pytest.mark.parametrize(
    "kwargs", [{"n_splits": 1}, {"n_splits": 3}, {"cutoffs": [40, 62, 85]}]
)
def test_temporal_split_is_leak_free(kwargs):
    X, y = make_queries(LOG, n_last=4)
    folds = list(TemporalSplit(**kwargs).split(X, y))
    assert len(folds) == TemporalSplit(**kwargs).get_n_splits()
    for train, test in folds:
        assert len(train) and len(test)
        assert_no_leak_in_time(X, y, train, test)


def test_temporal_split_ties_go_to_test():
    X = pd.DataFrame({"timestamp": [1, 2, 3, 3, 3, 4]})
    ((train, test),) = TemporalSplit(test_size=2).split(X)
    # the window starts at the time of the 5th query (3): all three 3s are test
    assert_array_equal(train, [0, 1])
    assert_array_equal(test, [2, 3, 4, 5])


def test_temporal_split_datetime_column_and_string_cutoffs():
    X = pd.DataFrame(
        {
            "when": pd.to_datetime(
                ["2024-01-01", "2024-01-05", "2024-02-01", "2024-03-01"]
            )
        }
    )
    cv = TemporalSplit(cutoffs=["2024-01-10", "2024-02-15"], time_column="when")
    folds = [(a.tolist(), b.tolist()) for a, b in cv.split(X)]
    assert folds == [([0, 1], [2]), ([0, 1, 2], [3])]
    tz = X.assign(when=X["when"].dt.tz_localize("UTC"))
    assert [(a.tolist(), b.tolist()) for a, b in cv.split(tz)] == folds


@pytest.mark.parametrize(
    "cv, X, err, match",
    [
        (
            TemporalSplit(),
            pd.DataFrame({"time": [1, 2]}),
            ValueError,
            "time column 'timestamp'",
        ),
        (
            TemporalSplit(),
            pd.DataFrame({"timestamp": [1, None, 3]}),
            ValueError,
            "missing",
        ),
        (
            TemporalSplit(),
            pd.DataFrame({"timestamp": ["a", "b"]}),
            TypeError,
            "numbers or datetimes",
        ),
        (TemporalSplit(cutoffs=[5, 3]), None, ValueError, "strictly increasing"),
        (
            TemporalSplit(cutoffs=[3], test_size=2),
            None,
            ValueError,
            "test_size must be None",
        ),
        (TemporalSplit(n_splits=2, cutoffs=[3, 4, 5]), None, ValueError, "disagrees"),
        (TemporalSplit(cutoffs=[]), None, ValueError, "at least one"),
        (TemporalSplit(cutoffs=["x"]), None, TypeError, "cutoffs must be numbers"),
        (
            TemporalSplit(n_splits=5, test_size=2),
            None,
            ValueError,
            "cannot make test windows",
        ),
        (
            TemporalSplit(test_size=0),
            None,
            ValueError,
            r"'test_size' parameter of TemporalSplit must be an int in the range "
            r"\[1, inf\)",
        ),
        (
            TemporalSplit(test_size=1.5),
            None,
            ValueError,
            r"'test_size' parameter of TemporalSplit must be .*a float in the "
            r"range \(0.0, 1.0\)",
        ),
        (TemporalSplit(cutoffs=[0]), None, ValueError, "empty training set"),
        (TemporalSplit(cutoffs=[3.2, 3.5]), None, ValueError, "empty test set"),
        (
            TemporalSplit(n_splits=0),
            None,
            ValueError,
            r"'n_splits' parameter of TemporalSplit must be an int in the range "
            r"\[1, inf\)",
        ),
        (TemporalSplit(), [[1], [2]], TypeError, "DataFrame"),
    ],
)
def test_temporal_split_errors(cv, X, err, match):
    X = pd.DataFrame({"timestamp": [1, 2, 3, 4, 5, 6]}) if X is None else X
    with pytest.raises(err, match=match):
        list(cv.split(X))


def test_temporal_split_api():
    cv = TemporalSplit(n_splits=2, test_size=3)
    assert repr(cv) == (
        "TemporalSplit(cutoffs=None, n_splits=2, test_size=3, time_column='timestamp')"
    )
    assert check_cv(cv) is cv
    assert TemporalSplit(cutoffs=[1, 2, 3]).get_n_splits() == 3


def test_temporal_split_with_cross_validate():
    X, y = make_queries(_popularity_log(), n_last=3)
    result = cross_validate(
        MostPopular(), X, y, cv=TemporalSplit(n_splits=2, test_size=2)
    )
    assert len(result["test_score"]) == 2


# -- leave_last_out_split ------------------------------------------------------


def test_leave_last_out_split_matches_last_fold():
    X, y = make_queries(LOG, n_last=3)
    X_train, X_test, y_train, y_test = leave_last_out_split(X, y)
    *_, (train, test) = LeaveLastOut(n_splits=2).split(X, y)
    pd.testing.assert_frame_equal(X_train, X.iloc[train])
    pd.testing.assert_frame_equal(X_test, X.iloc[test])
    assert_array_equal(y_train, y[train])
    assert_array_equal(y_test, y[test])


def test_leave_last_out_split_n_test_is_leak_free():
    X, y = make_queries(LOG, n_last=4)
    X_train, X_test, y_train, y_test = leave_last_out_split(X, list(y), n_test=2)
    assert isinstance(y_train, list) and isinstance(y_test, list)
    # users 1, 2 have >= 3 cut points: 2 test rows and 1 training row each;
    # user 3 has 2 and user 4 has 1: test rows only
    assert Counter(X_test["user_id"]) == {1: 2, 2: 2, 3: 2, 4: 1}
    assert Counter(X_train["user_id"]) == {1: 1, 2: 1}
    Xc = pd.concat([X_train, X_test])
    yc = np.array(y_train + y_test, dtype=object)
    n = len(X_train)
    assert_no_leak_per_user(Xc, yc, np.arange(n), np.arange(n, len(Xc)))


def test_leave_last_out_split_train_all_keeps_every_earlier_row():
    X, y = make_queries(LOG, n_last=10)
    X_last, X_test, _, _ = leave_last_out_split(X, y)
    X_all, X_test_all, y_all, y_test = leave_last_out_split(X, y, train="all")
    pd.testing.assert_frame_equal(X_test_all, X_test)
    # every row that is not a test row trains, the "last" rows among them
    assert len(X_all) + len(X_test) == len(X)
    assert set(X_last.index) < set(X_all.index)
    Xc = pd.concat([X_all, X_test])
    yc = np.concatenate([np.asarray(y_all, dtype=object), np.asarray(y_test, dtype=object)])
    n = len(X_all)
    assert_no_leak_per_user(Xc, yc, np.arange(n), np.arange(n, len(Xc)))
    with pytest.raises(
        ValueError,
        match="'train' parameter of leave_last_out_split must be a str among",
    ):
        leave_last_out_split(X, y, train="every")


def test_leave_last_out_split_y_types_and_errors():
    X, y = make_queries(LOG, n_last=2)
    _, _, y_train, y_test = leave_last_out_split(X, pd.Series(y, index=X.index))
    assert isinstance(y_train, pd.Series) and y_train.index.isin(X.index).all()
    *_, none_train, none_test = leave_last_out_split(X, None)
    assert none_train is None and none_test is None
    with pytest.raises(ValueError, match="different numbers of rows"):
        leave_last_out_split(X, y[:-1])
    with pytest.raises(ValueError, match=r"needs at least 3 queries"):
        leave_last_out_split(X, y, n_test=2)
    with pytest.raises(
        ValueError,
        match="must be an instance of 'pandas.core.frame.DataFrame'|DataFrame",
    ):
        leave_last_out_split([[1]], [1])
    with pytest.raises(ValueError, match="n_test"):
        leave_last_out_split(X, y, n_test=0)


def test_leak_checks_catch_leaky_splits():
    # the checks above must be able to fail: shuffled K-fold leaks both ways
    from sklearn.model_selection import KFold

    X, y = make_queries(LOG, n_last=4)
    train, test = next(KFold(3, shuffle=True, random_state=0).split(X))
    with pytest.raises(AssertionError):
        assert_no_leak_per_user(X, y, train, test)
    with pytest.raises(AssertionError):
        assert_no_leak_in_time(X, y, train, test)
    # and LeaveLastOut is not leak-free on the global clock (the documented trap)
    ((train, test),) = LeaveLastOut().split(X)
    with pytest.raises(AssertionError):
        assert_no_leak_in_time(X, y, train, test)


# -- cold-item splits: known answers (mutants of _cold.py, docs/benchmarks/mutation.rst) --

# item 4 is the one held out with test_size=1, random_state=0 (the draw of
# cold_item_split's docstring example); row 3 holds it in its history and
# row 4's history is empty
COLD_X = [[1, 2], [2, 3], [1], [4], []]
COLD_Y = [3, 4, 2, 5, 2]
COLD_TRAIN = [[1, 2], [1], [], []]  # rows 0, 2, 3, 4 with item 4 stripped


def test_cold_item_split_strips_the_held_out_item_from_every_history_form():
    X_tr, X_te, y_tr, y_te = cold_item_split(COLD_X, COLD_Y, test_size=1, random_state=0,
                                             strip_history=True)
    assert (X_tr, X_te, y_tr, y_te) == (COLD_TRAIN, [[2, 3]], [3, 2, 5, 2], [4])
    arrays = [np.asarray(h, dtype=np.int64) for h in COLD_X]
    X_tr, X_te, _, _ = cold_item_split(arrays, COLD_Y, test_size=1, random_state=0,
                                       strip_history=True)
    assert all(isinstance(h, np.ndarray) for h in X_tr)  # the empty one too
    assert [h.tolist() for h in X_tr] == COLD_TRAIN
    frame = pd.DataFrame({"history": COLD_X, "user_id": [7, 7, 8, 8, 9]})
    X_tr, X_te, _, _ = cold_item_split(frame, COLD_Y, test_size=1, random_state=0,
                                       strip_history=True)
    assert X_tr["history"].tolist() == COLD_TRAIN and X_tr.index.tolist() == [0, 2, 3, 4]
    assert X_tr["user_id"].tolist() == [7, 8, 8, 9]
    assert frame["history"].tolist() == COLD_X  # the caller's frame is untouched
    series = pd.Series(COLD_X, index=list("abcde"), name="h")
    X_tr, X_te, _, _ = cold_item_split(series, COLD_Y, test_size=1, random_state=0,
                                       strip_history=True)
    assert isinstance(X_tr, pd.Series) and X_tr.name == "h"
    assert X_tr.tolist() == COLD_TRAIN and X_tr.index.tolist() == list("acde")


def test_cold_item_split_cv_known_draws():
    cv = ColdItemSplit(test_size=1, random_state=0)
    assert cv.get_n_splits() == 1
    # strict: row 3 has the held-out item in its history, so it is in neither fold
    assert [(tr.tolist(), te.tolist()) for tr, te in cv.split(COLD_X, COLD_Y)] == [([0, 2, 4], [1])]
    cv = ColdItemSplit(n_splits=3, test_size=1, random_state=0)
    held = cv.held_out_items(COLD_X, COLD_Y)
    assert len(held) == 3 and all(len(h) == 1 and set(h) <= {2, 3, 4, 5} for h in held)
    y = np.asarray(COLD_Y)
    for items, (train, test) in zip(held, cv.split(COLD_X, COLD_Y)):
        assert set(y[test]) == set(items) and not set(y[train]) & set(items)


def test_cold_item_split_defaults_and_string_ids():
    # strip_history=False by default: row 3 (item 4 in its history) is dropped
    X_tr, X_te, y_tr, y_te = cold_item_split(COLD_X, COLD_Y, test_size=1, random_state=0)
    assert (X_tr, X_te, y_tr, y_te) == ([[1, 2], [1], []], [[2, 3]], [3, 2, 2], [4])
    # a share too small for one item still holds one out (1e-10 of 4 items rounds to 0)
    assert [len(h) for h in ColdItemSplit(test_size=1e-10).held_out_items(COLD_X, COLD_Y)] == [1]
    # the same log with string ids: "d" plays item 4
    names = {1: "a", 2: "b", 3: "c", 4: "d", 5: "e"}
    X = [[names[i] for i in h] for h in COLD_X]
    X_tr, X_te, y_tr, y_te = cold_item_split(X, [names[i] for i in COLD_Y], test_size=1,
                                             random_state=0, strip_history=True)
    assert X_tr == [[names[i] for i in h] for h in COLD_TRAIN] and y_te == ["d"]
