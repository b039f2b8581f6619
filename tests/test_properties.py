"""Property-based tests (hypothesis) of the package's invariants.

Each property is checked against a direct formula or rule written here from
the documented contract (docstrings, ``docs/user_guide``), never against the
package's own code. Examples are bounded and drawn deterministically
(``derandomize=True``, no example database), so CI is reproducible and the
file stays fast.
"""

import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sklearn_recsys._topk import SEEN, top_k
from sklearn_recsys.baselines import EASE, ItemKNN, Popularity, Transition
from sklearn_recsys.datasets import queries_from_log
from sklearn_recsys.metrics import (
    average_precision_at_k,
    catalog_coverage,
    hit_rate_at_k,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)
from sklearn_recsys.model_selection import (
    ColdItemSplit,
    LeaveLastOut,
    TemporalSplit,
    cold_item_split,
    leave_last_out_split,
)


def bounded(n):
    """``n`` deterministic examples, no deadline, no example database."""
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ---------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------


def _dcg(hits):
    return sum(1.0 / math.log2(rank + 1) for rank, hit in enumerate(hits, 1) if hit)


def _direct(rec, rel, k):
    """Every metric of one row, from the definitions in the docstrings."""
    top = list(rec[:k])
    hits = [r in rel for r in top]
    n_hit = sum(hits)
    first = next((rank for rank, hit in enumerate(hits, 1) if hit), None)
    precisions = [sum(hits[:rank]) / rank for rank, hit in enumerate(hits, 1) if hit]
    return {
        hit_rate_at_k: float(n_hit > 0),
        recall_at_k: n_hit / len(rel),
        precision_at_k: n_hit / k,
        # IDCG: min(n_relevant, k) hits at the top
        ndcg_at_k: _dcg(hits) / _dcg([True] * min(len(rel), k)),
        mrr_at_k: 0.0 if first is None else 1.0 / first,
        average_precision_at_k: sum(precisions) / min(len(rel), k),
    }


METRICS = [
    hit_rate_at_k,
    recall_at_k,
    precision_at_k,
    ndcg_at_k,
    mrr_at_k,
    average_precision_at_k,
]


@st.composite
def ranking_rows(draw):
    """Duplicate-free lists of ``width >= k`` ids and relevant sets per row."""
    as_str = draw(st.booleans())
    n_items = draw(st.integers(2, 15))
    pool = [f"i{j}" for j in range(n_items)] if as_str else list(range(-3, n_items - 3))
    k = draw(st.integers(1, n_items))
    width = draw(st.integers(k, n_items))
    n_rows = draw(st.integers(1, 5))
    single = draw(st.booleans())
    recs, rels = [], []
    for _ in range(n_rows):
        recs.append(draw(st.permutations(pool))[:width])
        if single:
            rels.append(draw(st.sampled_from(pool)))
        else:
            rels.append(draw(st.sets(st.sampled_from(pool), min_size=1, max_size=n_items)))
    return pool, recs, rels, k, single


@bounded(80)
@given(ranking_rows())
def test_metrics_match_direct_formulas(case):
    pool, recs, rels, k, single = case
    y_true = list(rels) if single else [set(r) for r in rels]
    rows = [_direct(rec, {rel} if single else rel, k) for rec, rel in zip(recs, rels)]
    rec_arr = np.array(recs, dtype=object) if isinstance(pool[0], str) else np.array(recs)
    for metric in METRICS:
        got = metric(y_true, rec_arr, k=k)
        want = sum(row[metric] for row in rows) / len(rows)
        assert 0.0 <= got <= 1.0, (metric.__name__, got)
        assert got == pytest.approx(want, abs=1e-12), metric.__name__
    # the caller's data is not modified
    assert y_true == (list(rels) if single else [set(r) for r in rels])
    assert rec_arr.tolist() == [list(r) for r in recs]


@bounded(40)
@given(ranking_rows(), st.data())
def test_catalog_coverage_matches_direct_formula(case, data):
    pool, recs, _, k, _ = case
    rec_arr = np.array(recs, dtype=object) if isinstance(pool[0], str) else np.array(recs)
    catalogue = data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2 * len(pool)))
    shown = {r for rec in recs for r in rec[:k]}
    want = len(shown & set(catalogue)) / len(set(catalogue))
    got = catalog_coverage(rec_arr, catalogue, k=k)
    assert 0.0 <= got <= 1.0
    assert got == pytest.approx(want, abs=1e-12)
    # an int catalogue size: the shown ids out of that many
    n = len(pool)
    assert catalog_coverage(rec_arr, n, k=k) == pytest.approx(len(shown) / n, abs=1e-12)


# ---------------------------------------------------------------------------
# splitters
# ---------------------------------------------------------------------------


@st.composite
def event_logs(draw, min_events=1):
    """A log whose every event has its own item id (so events can be traced).

    Timestamps come from a few values, so ties within a user are frequent;
    the log's row order (which breaks the ties) interleaves the users.
    """
    n_users = draw(st.integers(1, 4))
    rows = []
    for u in range(n_users):
        n_events = draw(st.integers(min_events, 7))
        for _ in range(n_events):
            rows.append((10 * u + 100, draw(st.integers(0, 3))))
    order = draw(st.permutations(range(len(rows))))
    users = [rows[i][0] for i in order]
    times = [rows[i][1] for i in order]
    # item id = 1000 + log position: unique per event
    return pd.DataFrame(
        {"user_id": users, "item_id": [1000 + p for p in range(len(rows))], "timestamp": times}
    )


def _event_keys(log):
    """Item id -> (timestamp, log position): the time order, ties by log order."""
    return {
        item: (t, pos)
        for pos, (item, t) in enumerate(zip(log["item_id"].tolist(), log["timestamp"].tolist()))
    }


def _row_events(X, y, row):
    return list(X["history"].iloc[row]) + [y[row]]


def _shuffled(X, y, perm):
    perm = np.asarray(perm)
    return X.iloc[perm].reset_index(drop=True), np.asarray(y)[perm]


def _check_no_leak_per_user(X, y, train, test, keys):
    """No training event of a user at or after any of the user's test targets."""
    users = X["user_id"].to_numpy()
    for t in test:
        target = keys[y[t]]
        for r in train:
            if users[r] != users[t]:
                continue
            events = _row_events(X, y, r)
            assert y[t] not in events, f"test target {y[t]} in training row {r}"
            late = [e for e in events if keys[e] >= target]
            assert not late, f"training row {r} holds events {late} not before target {y[t]}"


def _ranks_from_latest(X):
    """Rank of each row within its user by offset, 0 = latest (direct)."""
    ranks = np.empty(len(X), dtype=int)
    for _, rows in X.groupby("user_id", sort=False).indices.items():
        latest_first = sorted(rows, key=lambda r: -X["offset"].iloc[r])
        for rank, r in enumerate(latest_first):
            ranks[r] = rank
    return ranks


@bounded(60)
@given(event_logs(min_events=2), st.integers(1, 3), st.data())
def test_leave_last_out_never_trains_on_the_target_or_later(log, n_splits, data):
    keys = _event_keys(log)
    X, y = queries_from_log(log, n_last=n_splits + 1)
    assume(len(X) and X.groupby("user_id").size().max() >= n_splits + 1)
    # rows in any order: the splitter must order them by offset, not by row
    X, y = _shuffled(X, y, data.draw(st.permutations(range(len(X)))))
    ranks = _ranks_from_latest(X)
    folds = list(LeaveLastOut(n_splits=n_splits).split(X, y))
    assert len(folds) == n_splits
    for i, (train, test) in enumerate(folds):
        np.testing.assert_array_equal(train, np.flatnonzero(ranks == n_splits - i))
        np.testing.assert_array_equal(test, np.flatnonzero(ranks == n_splits - 1 - i))
        _check_no_leak_per_user(X, y, train, test, keys)


@bounded(25)
@given(event_logs(min_events=2), st.integers(1, 2))
def test_leave_last_out_by_timestamp_in_row_order(log, n_splits):
    # without an offset column, ties in timestamp are broken by row order:
    # the rows of queries_from_log are in time order, so no leak either
    keys = _event_keys(log)
    X, y = queries_from_log(log, n_last=n_splits + 1)
    assume(len(X) and X.groupby("user_id").size().max() >= n_splits + 1)
    X = X.drop(columns="offset")
    for train, test in LeaveLastOut(n_splits=n_splits).split(X, y):
        _check_no_leak_per_user(X, y, train, test, keys)


@bounded(60)
@given(event_logs(min_events=2), st.integers(1, 2), st.sampled_from(["last", "all"]), st.data())
def test_leave_last_out_split_never_trains_on_the_targets_or_later(log, n_test, train_kind, data):
    keys = _event_keys(log)
    X, y = queries_from_log(log, n_last=None)
    assume(len(X) and X.groupby("user_id").size().max() >= n_test + 1)
    X, y = _shuffled(X, y, data.draw(st.permutations(range(len(X)))))
    X_before = X.copy()
    X_tr, X_te, y_tr, y_te = leave_last_out_split(X, y, n_test=n_test, train=train_kind)
    pd.testing.assert_frame_equal(X, X_before)
    ranks = _ranks_from_latest(X)
    want_train = np.flatnonzero(ranks == n_test if train_kind == "last" else ranks >= n_test)
    np.testing.assert_array_equal(X_tr.index.to_numpy(), want_train)
    np.testing.assert_array_equal(X_te.index.to_numpy(), np.flatnonzero(ranks < n_test))
    np.testing.assert_array_equal(y_tr, y[want_train])
    np.testing.assert_array_equal(y_te, y[ranks < n_test])
    _check_no_leak_per_user(X, y, want_train, np.flatnonzero(ranks < n_test), keys)


@bounded(60)
@given(event_logs(min_events=1), st.integers(1, 3), st.data())
def test_temporal_split_trains_strictly_before_every_test_query(log, n_splits, data):
    keys = _event_keys(log)
    X, y = queries_from_log(log, n_last=None, min_history=0)
    X, y = _shuffled(X, y, data.draw(st.permutations(range(len(X)))))
    times = X["timestamp"].to_numpy()
    explicit = data.draw(st.booleans())
    if explicit:
        cuts = sorted(data.draw(st.sets(st.integers(1, 3), min_size=1, max_size=3)))
        cv = TemporalSplit(cutoffs=cuts)
    else:
        cuts = None
        cv = TemporalSplit(n_splits=n_splits, test_size=data.draw(st.one_of(st.none(), st.integers(1, 3))))
    try:
        folds = list(cv.split(X, y))
    except ValueError as exc:  # documented: an empty fold or windows too large
        assert "empty" in str(exc) or "cannot make" in str(exc), str(exc)
        assume(False)
    for j, (train, test) in enumerate(folds):
        assert len(train) and len(test)
        assert not set(train) & set(test)
        latest_train_event = max(keys[e][0] for r in train for e in _row_events(X, y, r))
        assert latest_train_event < times[test].min()
        if explicit:
            c = cuts[j]
            np.testing.assert_array_equal(train, np.flatnonzero(times < c))
            upper = cuts[j + 1] if j + 1 < len(cuts) else np.inf
            np.testing.assert_array_equal(test, np.flatnonzero((times >= c) & (times < upper)))


@st.composite
def cold_data(draw):
    as_str = draw(st.booleans())
    n_items = draw(st.integers(2, 8))
    pool = [f"item{j}" for j in range(n_items)] if as_str else [7 * j - 5 for j in range(n_items)]
    ids = st.sampled_from(pool)
    n_rows = draw(st.integers(2, 12))
    X = [draw(st.lists(ids, max_size=4)) for _ in range(n_rows)]
    y = draw(st.lists(ids, min_size=n_rows, max_size=n_rows))
    assume(len(set(y)) >= 2)
    n_held = draw(st.integers(1, len(set(y)) - 1))
    return X, y, n_held


@bounded(40)
@given(cold_data(), st.booleans(), st.integers(0, 2**16))
def test_cold_item_split_keeps_test_items_out_of_training(case, strip, seed):
    X, y, n_held = case
    X_copy, y_copy = [list(h) for h in X], list(y)
    try:
        X_tr, X_te, y_tr, y_te = cold_item_split(
            X, y, test_size=n_held, random_state=seed, strip_history=strip
        )
    except ValueError as exc:  # documented: an empty training fold raises
        assert "training fold is empty" in str(exc), str(exc)
        assert X == X_copy and y == y_copy
        assume(False)
    assert X == X_copy and y == y_copy
    held = set(y_te)
    assert len(held) == n_held
    assert not held & set(y_tr)
    assert not held & {i for h in X_tr for i in h}
    # test rows: exactly the rows whose target is held out, in order
    assert y_te == [t for t in y if t in held]
    assert X_te == [h for h, t in zip(X, y) if t in held]
    if strip:
        assert y_tr == [t for t in y if t not in held]
        assert X_tr == [[i for i in h if i not in held] for h, t in zip(X, y) if t not in held]
    else:
        keep = [r for r, (h, t) in enumerate(zip(X, y)) if t not in held and not held & set(h)]
        assert y_tr == [y[r] for r in keep]
        assert X_tr == [X[r] for r in keep]


@bounded(30)
@given(cold_data(), st.integers(1, 3), st.integers(0, 2**16))
def test_cold_item_split_cv_keeps_test_items_out_of_training(case, n_splits, seed):
    X, y, n_held = case
    cv = ColdItemSplit(n_splits=n_splits, test_size=n_held, random_state=seed)
    try:
        folds = list(cv.split(X, y))
    except ValueError as exc:  # documented: an empty training fold raises
        assert "training fold is empty" in str(exc), str(exc)
        assume(False)
    held_per_fold = cv.held_out_items(X, y)
    assert len(folds) == len(held_per_fold) == n_splits
    for (train, test), held in zip(folds, held_per_fold):
        held = set(held.tolist())
        assert len(held) == n_held and held <= set(y)
        assert test.tolist() == [r for r, t in enumerate(y) if t in held]
        assert train.tolist() == [
            r for r, (h, t) in enumerate(zip(X, y)) if t not in held and not held & set(h)
        ]
        for r in train:
            assert y[r] not in held and not held & set(X[r])


# ---------------------------------------------------------------------------
# top-k ranking
# ---------------------------------------------------------------------------


def _reference_top_k(scores, k, seen, allowed, fallback, empty):
    """The documented rules, row by row in plain Python."""
    n, m = scores.shape
    seen_by_row = {}
    for r, c in zip(*seen):
        seen_by_row.setdefault(int(r), set()).add(int(c))
    out_codes, out_scores = [], []
    for r in range(n):
        row = [float(v) for v in (fallback if empty[r] else scores[r])]
        for c in range(m):
            if not allowed[c]:
                row[c] = -math.inf
            elif c in seen_by_row.get(r, ()):
                row[c] = SEEN
        order = sorted(range(m), key=lambda c: (-row[c], c))[: min(k, m)]
        out_codes.append(order)
        out_scores.append([row[c] for c in order])
    return np.array(out_codes), np.array(out_scores, dtype=np.float32)


@st.composite
def score_blocks(draw):
    n = draw(st.integers(1, 6))
    m = draw(st.integers(1, 12))
    # few distinct values: many ties
    values = st.sampled_from([0.0, 1.0, 1.0, 2.5, -3.0, 7.0])
    scores = np.array(draw(st.lists(values, min_size=n * m, max_size=n * m)), dtype=np.float32).reshape(n, m)
    k = draw(st.integers(1, m + 2))
    pairs = draw(st.sets(st.tuples(st.integers(0, n - 1), st.integers(0, m - 1)), max_size=n * m))
    pairs = sorted(pairs)
    seen = (np.array([p[0] for p in pairs], dtype=np.int64), np.array([p[1] for p in pairs], dtype=np.int64))
    allowed = np.array(draw(st.lists(st.booleans(), min_size=m, max_size=m)))
    assume(allowed.any())
    fallback = np.array(draw(st.lists(values, min_size=m, max_size=m)), dtype=np.float32)
    empty = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    return scores, k, seen, allowed, fallback, empty


@bounded(80)
@given(score_blocks())
def test_top_k_follows_the_ranking_rules(block):
    scores, k, seen, allowed, fallback, empty = block
    before = scores.copy()
    codes, vals = top_k(scores, k, seen=seen, allowed=allowed, fallback=fallback, empty=empty)
    np.testing.assert_array_equal(scores, before)  # copy=True: the caller's block is untouched
    want_codes, want_vals = _reference_top_k(scores, k, seen, allowed, fallback, empty)
    assert codes.shape == (scores.shape[0], min(k, scores.shape[1]))
    np.testing.assert_array_equal(codes, want_codes)
    np.testing.assert_array_equal(vals, want_vals)
    for row in codes:
        assert len(set(row.tolist())) == len(row)
    assert (vals[:, :-1] >= vals[:, 1:]).all()  # -inf - -inf is NaN: no np.diff


@st.composite
def fitted_data(draw):
    as_str = draw(st.booleans())
    n_items = draw(st.integers(3, 10))
    pool = [f"it{j:02d}" for j in range(n_items)] if as_str else [3 * j - 4 for j in range(n_items)]
    ids = st.sampled_from(pool)
    n_rows = draw(st.integers(1, 12))
    X = [draw(st.lists(ids, min_size=1, max_size=5)) for _ in range(n_rows)]
    y = draw(st.lists(ids, min_size=n_rows, max_size=n_rows))
    # queries: known items, unknown ones, empty histories
    unknown = "zz-unknown" if as_str else 10**6
    Q = [draw(st.lists(st.one_of(ids, st.just(unknown)), max_size=5)) for _ in range(draw(st.integers(1, 5)))]
    return X, y, Q


MODELS = {
    "Popularity": lambda: Popularity(),
    "ItemKNN": lambda: ItemKNN(n_neighbors=3),
    "EASE": lambda: EASE(l2=1.0),
    "Transition": lambda: Transition(),
}


@pytest.mark.parametrize("name", list(MODELS))
@bounded(40)
@given(fitted_data(), st.data())
def test_recommend_lists_follow_the_contract(name, case, data):
    X, y, Q = case
    model = MODELS[name]().fit(X, y)
    classes = model.classes_.tolist()
    # the vocabulary: every id of X and y, sorted
    assert classes == sorted({i for h in X for i in h} | set(y))
    exclude_seen = data.draw(st.booleans())
    use_candidates = data.draw(st.booleans())
    if use_candidates:
        candidates = data.draw(st.lists(st.sampled_from(classes), min_size=1, unique=True))
        available = set(candidates)
    else:
        candidates, available = None, set(classes)
    k = data.draw(st.integers(1, len(available) + 1))
    Q_copy = [list(h) for h in Q]
    if k > len(available):
        with pytest.raises(ValueError, match="k"):
            model.recommend(Q, k=k, exclude_seen=exclude_seen, candidates=candidates)
        return
    items, scores = model.recommend(
        Q, k=k, exclude_seen=exclude_seen, candidates=candidates, return_scores=True
    )
    assert Q == Q_copy
    assert items.shape == scores.shape == (len(Q), k)
    dense = model.decision_function(Q)
    position = {c: j for j, c in enumerate(classes)}
    for row, (hist, listed, s) in enumerate(zip(Q, items.tolist(), scores)):
        assert len(set(listed)) == k, f"duplicates in {listed}"
        assert set(listed) <= available
        assert (s[:-1] >= s[1:]).all(), f"scores not non-increasing: {s}"
        seen = set(hist) & set(classes)
        unseen = available - seen
        if exclude_seen:
            n_unseen = min(k, len(unseen))
            # unseen items first; seen ones only fill the rest, scored -inf
            assert set(listed[:n_unseen]) <= unseen
            assert set(listed[n_unseen:]) <= seen
            assert np.isneginf(s[n_unseen:]).all()
            ranked = listed[:n_unseen]
            pool = unseen
        else:
            ranked, pool = listed, available
        # listed scores are the model's dense scores, and nothing left out beats them
        want = np.array([dense[row, position[c]] for c in ranked], dtype=np.float32)
        np.testing.assert_allclose(s[: len(ranked)], want, rtol=1e-5, atol=1e-6)
        if ranked and len(ranked) < len(pool):
            left_out = [dense[row, position[c]] for c in pool - set(ranked)]
            assert max(left_out) <= want[-1] + 1e-5 * max(1.0, abs(float(want[-1])))


# ---------------------------------------------------------------------------
# ids of every allowed kind round-trip through fit / recommend
# ---------------------------------------------------------------------------

INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


@st.composite
def id_vocabularies(draw):
    kind = draw(st.sampled_from(["python-int", "numpy-int", "str"]))
    if kind == "python-int":
        edge = st.sampled_from([-(2**63), -(2**62), -1, 0, 1, 2**53 + 1, 2**62, 2**63 - 1])
        vocab = draw(st.lists(st.one_of(edge, st.integers(-(2**63), 2**63 - 1)), min_size=2, max_size=6, unique=True))
        return kind, vocab, None
    if kind == "numpy-int":
        dtype = draw(st.sampled_from(INT_DTYPES))
        info = np.iinfo(dtype)
        # ids at or above 2**63 are another engineer's area (uint64 wrap)
        hi = min(int(info.max), 2**63 - 1)
        vocab = draw(st.lists(st.integers(int(info.min), hi), min_size=2, max_size=6, unique=True))
        return kind, vocab, dtype
    alphabet = st.characters(blacklist_categories=("Cs",))
    vocab = draw(st.lists(st.text(alphabet, max_size=6), min_size=2, max_size=6, unique=True))
    return kind, vocab, None


@bounded(60)
@given(id_vocabularies(), st.data())
def test_ids_round_trip_through_fit_and_recommend(vocab_case, data):
    kind, vocab, dtype = vocab_case
    n = len(vocab)
    idx = st.integers(0, n - 1)
    n_rows = data.draw(st.integers(1, 8))
    X_idx = [data.draw(st.lists(idx, max_size=4)) for _ in range(n_rows)]
    y_idx = data.draw(st.lists(idx, min_size=n_rows, max_size=n_rows))
    if dtype is not None:
        X = [np.array([vocab[i] for i in h], dtype=dtype) for h in X_idx]
        y = np.array([vocab[i] for i in y_idx], dtype=dtype)
    else:
        X = [[vocab[i] for i in h] for h in X_idx]
        y = [vocab[i] for i in y_idx]
    used = sorted({i for h in X_idx for i in h} | set(y_idx), key=lambda i: vocab[i])
    model = Popularity().fit(X, y)
    assert model.classes_.tolist() == [vocab[i] for i in used]
    # known answer: counts of every history and target occurrence, ties by id order
    counts = Counter([i for h in X_idx for i in h] + list(y_idx))
    k = data.draw(st.integers(1, len(used)))
    want = sorted(used, key=lambda i: (-counts[i], vocab[i]))[:k]
    got = model.recommend([[]], k=k)[0].tolist()
    assert got == [vocab[i] for i in want]
    # exclude_seen with a history of raw ids of the same kind
    hist_idx = data.draw(st.lists(st.sampled_from(used), max_size=len(used) - 1))
    hist = np.array([vocab[i] for i in hist_idx], dtype=dtype) if dtype is not None else [vocab[i] for i in hist_idx]
    unseen = [i for i in sorted(used, key=lambda i: (-counts[i], vocab[i])) if i not in hist_idx]
    rec = model.recommend([hist], k=len(unseen))[0]
    assert rec.tolist() == [vocab[i] for i in unseen]
    for value in rec:
        if kind == "str":
            assert isinstance(value, str)
        else:
            assert isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    # candidates given as raw ids of the same kind
    cand_idx = data.draw(st.lists(st.sampled_from(used), min_size=1, unique=True))
    cand = np.array([vocab[i] for i in cand_idx], dtype=dtype) if dtype is not None else [vocab[i] for i in cand_idx]
    got = model.recommend([[]], k=len(cand_idx), candidates=cand)[0].tolist()
    assert got == [vocab[i] for i in sorted(cand_idx, key=lambda i: (-counts[i], vocab[i]))]
