"""Tests of sklearn_recsys.datasets: loaders, synthetic sessions, log -> queries."""

import itertools
import pickle
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from sklearn_recsys.datasets import (
    load_interactions,
    load_movielens,
    make_sessions,
    queries_from_log,
)

# --------------------------------------------------------------------------
# queries_from_log


@pytest.fixture
def tiny_log():
    # User 2 comes first in the file and user 1's rows are out of time order;
    # user 1 has two events at t=20, items 12 then 13 in file order.
    return pd.DataFrame(
        {
            "user_id": [2, 1, 1, 1, 2, 1, 3],
            "item_id": [20, 12, 10, 13, 21, 11, 30],
            "timestamp": [5, 20, 1, 20, 6, 10, 100],
            "query": ["q20", "q12", "q10", "q13", "q21", "q11", "q30"],
        }
    )


def test_queries_known_answer(tiny_log):
    original = tiny_log.copy(deep=True)
    X, y = queries_from_log(tiny_log, n_last=2)
    # user 1: 10 (t1), 11 (t10), 12 (t20), 13 (t20, after 12: file order)
    assert X.columns.tolist() == ["user_id", "offset", "timestamp", "prev_timestamp", "history"]
    assert X["user_id"].tolist() == [1, 1, 2]
    assert X["offset"].tolist() == [2, 3, 1]
    assert X["history"].tolist() == [[10, 11], [10, 11, 12], [20]]
    assert y.tolist() == [12, 13, 21]
    assert X["timestamp"].tolist() == [20, 20, 6]
    assert X["prev_timestamp"].tolist() == [10, 20, 5]
    assert isinstance(X["history"].iloc[0], list)
    assert isinstance(y, np.ndarray) and y.dtype == np.int64
    pd.testing.assert_frame_equal(tiny_log, original)  # input untouched


def test_queries_leave_one_out_protocol(tiny_log):
    X, y = queries_from_log(tiny_log, n_last=2)
    seq = [10, 11, 12, 13]
    val, test = X[X["user_id"] == 1].index
    assert X.loc[val, "history"] == seq[:-2] and y[val] == seq[-2]
    assert X.loc[test, "history"] == seq[:-1] and y[test] == seq[-1]


def test_queries_all_cut_points_and_min_history(tiny_log):
    X, y = queries_from_log(tiny_log, n_last=None)
    assert X["offset"].tolist() == [1, 2, 3, 1]  # user 3 has 1 event: no row
    assert y.tolist() == [11, 12, 13, 21]
    X, y = queries_from_log(tiny_log, n_last=None, min_history=0)
    assert X["offset"].tolist() == [0, 1, 2, 3, 0, 1, 0]
    assert X["history"].iloc[0] == [] and y[0] == 10
    # no previous event: missing prev_timestamp, the others stay integers
    assert X["prev_timestamp"].isna().tolist() == [True, False, False, False, True, False, True]
    assert X["prev_timestamp"].iloc[1] == 1
    X, y = queries_from_log(tiny_log, n_last=5, min_history=3)
    assert X["user_id"].tolist() == [1] and y.tolist() == [13]
    with pytest.raises(ValueError, match="fewer than min_history"):
        queries_from_log(tiny_log, min_history=4)


def test_queries_max_len(tiny_log):
    X, _ = queries_from_log(tiny_log, n_last=3, max_len=2)
    assert X["history"].tolist() == [[10], [10, 11], [11, 12], [20]]
    assert X["offset"].tolist() == [1, 2, 3, 1]


def test_queries_drop_repeats():
    log = pd.DataFrame(
        {"user_id": [1] * 7, "item_id": [5, 5, 6, 6, 6, 7, 5], "timestamp": range(7)}
    )
    X, y = queries_from_log(log, n_last=None, drop_repeats=True)
    assert X["history"].tolist() == [[5], [5, 6], [5, 6, 7]]
    assert y.tolist() == [6, 7, 5]
    assert X["offset"].tolist() == [1, 2, 3]
    assert X["timestamp"].tolist() == [2, 5, 6]  # first event of each run
    X, y = queries_from_log(log, n_last=None)
    assert len(X) == 6


def test_queries_context_and_user_features(tiny_log):
    feats = pd.DataFrame(
        {"age": [30, 40], "gender": ["F", "M"]}, index=pd.Index([1, 2], name="user_id")
    )
    X, y = queries_from_log(
        tiny_log, n_last=1, min_history=0, user_features=feats, context_columns="query"
    )
    assert X.columns.tolist()[-3:] == ["age", "gender", "query"]
    assert X["query"].tolist() == ["q13", "q21", "q30"]  # from the target rows
    assert X["age"].iloc[:2].tolist() == [30, 40] and np.isnan(X["age"].iloc[2])
    assert X["gender"].iloc[:2].tolist() == ["F", "M"]
    with pytest.raises(ValueError, match="No user of the log"):
        queries_from_log(tiny_log, user_features=feats.set_index(feats.index.astype(str)))
    with pytest.raises(ValueError, match="clash"):
        queries_from_log(tiny_log, user_features=feats.rename(columns={"age": "history"}))
    with pytest.raises(ValueError, match="one row per user"):
        queries_from_log(tiny_log, user_features=pd.concat([feats, feats]))


def test_queries_string_ids_datetimes_and_no_time():
    log = pd.DataFrame(
        {
            "u": ["b", "a", "a", "a"],
            "i": ["x", "y", "z", "w"],
            "t": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-01", "2024-01-02"]),
        }
    )
    X, y = queries_from_log(log, n_last=None, user_col="u", item_col="i", time_col="t")
    assert X["user_id"].tolist() == ["a", "a"]
    assert X["history"].tolist() == [["z"], ["z", "w"]]
    assert y.tolist() == ["w", "y"]
    assert X["timestamp"].iloc[1] == pd.Timestamp("2024-01-03")
    assert X["prev_timestamp"].iloc[1] == pd.Timestamp("2024-01-02")
    # time_col=None: the row order is the order, timestamp = offset
    X, y = queries_from_log(log, n_last=None, user_col="u", item_col="i", time_col=None)
    assert X["history"].tolist() == [["y"], ["y", "z"]]
    assert X["timestamp"].tolist() == [1, 2] and X["prev_timestamp"].tolist() == [0, 1]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            {"n_last": 0},
            ValueError,
            r"'n_last' parameter of queries_from_log must be an int in the range "
            r"\[1, inf\) or None",
        ),
        ({"n_last": 1.5}, ValueError, "n_last"),
        (
            {"min_history": -1},
            ValueError,
            r"'min_history' parameter of queries_from_log must be an int in the "
            r"range \[0, inf\)",
        ),
        ({"max_len": 0}, ValueError, "max_len"),
        ({"drop_repeats": "yes"}, TypeError, "drop_repeats"),
        ({"item_col": "movie"}, KeyError, r"no column\(s\) \['movie'\]; available columns"),
        ({"context_columns": ["nope"]}, KeyError, "nope"),
        ({"context_columns": ["offset"]}, ValueError, "must not be named"),
        (
            {"user_features": [1, 2]},
            TypeError,
            r"'user_features' parameter of queries_from_log must be an instance of "
            r"'pandas(\.core\.frame)?\.DataFrame'",
        ),
    ],
)
def test_queries_validation(tiny_log, kwargs, error, match):
    with pytest.raises(error, match=match):
        queries_from_log(tiny_log, **kwargs)


def test_queries_bad_logs(tiny_log):
    with pytest.raises(
        TypeError,
        match=r"'log' parameter of queries_from_log must be an instance of "
        r"'pandas(\.core\.frame)?\.DataFrame'",
    ):
        queries_from_log(tiny_log.to_numpy())
    with pytest.raises(ValueError, match="0 rows"):
        queries_from_log(tiny_log.iloc[:0])
    with pytest.raises(ValueError, match="'item_id' has 1 missing value"):
        queries_from_log(tiny_log.assign(item_id=[1, 2, None, 4, 5, 6, 7]))
    with pytest.raises(TypeError, match="Parse date strings with load_interactions"):
        queries_from_log(tiny_log.assign(timestamp="2020-01-01"))


# --------------------------------------------------------------------------
# load_interactions


@pytest.fixture
def raw_log():
    return pd.DataFrame(
        {
            "user": ["b", "a", "a", "b", "a"],
            "movie": [1, 2, 3, 4, 5],
            "when": [2, 3, 1, 1, 3],
            "stars": [4.0, 2.0, 5.0, 3.0, 4.5],
        }
    )


def _load(frame, **kwargs):
    kwargs = {"user_col": "user", "item_col": "movie", "time_col": "when", **kwargs}
    return load_interactions(frame, **kwargs)


def test_load_interactions_canonical_sorted_stable(raw_log):
    original = raw_log.copy(deep=True)
    log = _load(raw_log, rating_col="stars")
    assert log.columns.tolist() == ["user_id", "item_id", "timestamp", "rating"]
    assert log["user_id"].tolist() == ["a", "a", "a", "b", "b"]
    # a: movie 3 (t1), then 2 and 5 both at t3, kept in file order
    assert log["item_id"].tolist() == [3, 2, 5, 4, 1]
    assert log["timestamp"].tolist() == [1, 3, 3, 1, 2]
    assert log["rating"].tolist() == [5.0, 2.0, 4.5, 3.0, 4.0]
    assert log.index.tolist() == list(range(5))
    assert log["item_id"].dtype == np.int64
    pd.testing.assert_frame_equal(raw_log, original)
    assert _load(raw_log, rating_col="stars", min_rating=4)["item_id"].tolist() == [3, 5, 1]
    kept = _load(raw_log, keep_columns=["stars"])
    assert kept.columns.tolist() == ["user_id", "item_id", "timestamp", "stars"]
    assert kept["stars"].tolist() == [5.0, 2.0, 4.5, 3.0, 4.0]


def test_load_interactions_missing_columns(raw_log):
    with pytest.raises(KeyError, match=r"\['item_id'\]; available columns: \['user', 'movie'"):
        load_interactions(raw_log, user_col="user", time_col="when")


def test_load_interactions_missing_ids(raw_log):
    bad = raw_log.assign(user=["b", None, "a", None, "a"])
    with pytest.raises(ValueError, match=r"'user' has 2 missing value\(s\); the first is at row 1"):
        _load(bad)


def test_load_interactions_float_ids(raw_log):
    log = _load(raw_log.assign(movie=[1.0, 2.0, 3.0, 4.0, 5.0]))
    assert log["item_id"].dtype == np.int64
    assert log["item_id"].tolist() == [3, 2, 5, 4, 1]
    with pytest.raises(ValueError, match=r"row 1 \(index label 1\) is not an integer \(2.5\)"):
        _load(raw_log.assign(movie=[1.0, 2.5, 3.0, 4.0, 5.0]))
    with pytest.raises(ValueError, match="'movie' has 1 missing"):
        _load(raw_log.assign(movie=[1.0, np.nan, 3.0, 4.0, 5.0]))


def test_load_interactions_mixed_ids(raw_log):
    with pytest.raises(TypeError, match="all integers or all strings"):
        _load(raw_log.assign(movie=pd.Series([1, "x", 3, 4, 5], dtype=object)))
    with pytest.raises(TypeError, match="bool"):
        _load(raw_log.assign(movie=[True, False, True, True, False]))


def test_load_interactions_times(raw_log):
    dates = ["2024-01-02", "2024-01-03", "2024-01-01", "2024-01-01 12:00", "2024-01-03"]
    log = _load(raw_log.assign(when=dates))
    assert log["timestamp"].tolist() == [
        1704067200, 1704240000, 1704240000, 1704110400, 1704153600
    ]
    assert log["item_id"].tolist() == [3, 2, 5, 4, 1]
    aware = pd.to_datetime(dates, format="mixed").tz_localize("Europe/Paris")
    assert _load(raw_log.assign(when=aware))["timestamp"].iloc[0] == 1704067200 - 3600
    with pytest.raises(ValueError, match=r"'not a date' at row 3"):
        _load(raw_log.assign(when=dates[:3] + ["not a date", "2024-01-01"]))
    with pytest.raises(ValueError, match="'when' has 1 missing"):
        _load(raw_log.assign(when=[1, 2, None, 4, 5]))
    with pytest.raises(TypeError, match="booleans"):
        _load(raw_log.assign(when=[True] * 5))


def test_load_interactions_no_time_col(raw_log):
    log = _load(raw_log, time_col=None)
    assert log["item_id"].tolist() == [2, 3, 5, 1, 4]  # file order
    assert log["timestamp"].tolist() == [0, 1, 2, 0, 1]
    with pytest.raises(ValueError, match="needs a time_col"):
        _load(raw_log, time_col=None, duplicates="drop")


def test_load_interactions_duplicates(raw_log):
    dup = pd.concat([raw_log, raw_log.iloc[[1]].assign(stars=1.0)], ignore_index=True)
    assert len(_load(dup)) == 6
    dropped = _load(dup, duplicates="drop", rating_col="stars")
    assert len(dropped) == 5 and 1.0 not in dropped["rating"].tolist()  # first kept
    with pytest.raises(ValueError, match=r"1 duplicate .* row 5 .* user 'a', item 2"):
        _load(dup, duplicates="raise")


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            {"duplicates": "first"},
            ValueError,
            "'duplicates' parameter of load_interactions must be a str among",
        ),
        ({"min_rating": 3}, ValueError, "min_rating needs rating_col"),
        (
            {"rating_col": "stars", "min_rating": "3"},
            TypeError,
            "'min_rating' parameter of load_interactions must be an instance of "
            "'float' or None",
        ),
        ({"rating_col": "stars", "min_rating": 9}, ValueError, "No row has stars >= 9"),
        ({"rating_col": "user"}, ValueError, "must differ"),
        (
            {"user_col": ["user"]},
            TypeError,
            "'user_col' parameter of load_interactions must be an instance of "
            "'str' or an instance of 'int'",
        ),
        (
            {"sep": 1},
            TypeError,
            "'sep' parameter of load_interactions must be an instance of 'str' or None",
        ),
        ({"keep_columns": ["movie"]}, ValueError, "keep_columns must not repeat"),
    ],
)
def test_load_interactions_validation(raw_log, kwargs, error, match):
    with pytest.raises(error, match=match):
        _load(raw_log, **kwargs)


def test_load_interactions_bad_inputs(raw_log, tmp_path):
    with pytest.raises(
        TypeError,
        match=r"'data' parameter of load_interactions must be an instance of "
        r"'pandas(\.core\.frame)?\.DataFrame', an instance of 'str' or an "
        r"instance of 'os\.PathLike'",
    ):
        load_interactions(raw_log.to_numpy())
    with pytest.raises(ValueError, match="0 rows"):
        _load(raw_log.iloc[:0])
    with pytest.raises(TypeError, match="numeric ratings"):
        _load(raw_log.assign(stars=list("abcde")), rating_col="stars")
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        load_interactions(tmp_path / "nope.csv")


def test_load_interactions_files(raw_log, tmp_path):
    expected = _load(raw_log, rating_col="stars")
    raw_log.to_csv(tmp_path / "log.csv", index=False)
    raw_log.to_csv(tmp_path / "log.tsv", sep="\t", index=False)
    raw_log.to_csv(tmp_path / "log.txt", sep=";", index=False)
    raw_log.to_csv(tmp_path / "log.csv.gz", index=False)
    raw_log.to_parquet(tmp_path / "log.parquet")
    for name in ["log.csv", "log.tsv", "log.txt", "log.csv.gz", "log.parquet"]:
        got = _load(str(tmp_path / name), rating_col="stars")
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    # an empty id cell makes the column float: still an error, with the row
    (tmp_path / "gap.csv").write_text("user,movie,when\na,1,1\na,,2\nb,3,3\n")
    with pytest.raises(ValueError, match="'movie' has 1 missing value.*row 1"):
        _load(tmp_path / "gap.csv")
    (tmp_path / "semi.csv").write_text("user;movie;when\na;1;1\n")
    got = _load(tmp_path / "semi.csv", sep=";")
    assert got["item_id"].tolist() == [1]


# --------------------------------------------------------------------------
# make_sessions


def test_make_sessions_deterministic():
    a = make_sessions(50, 40, n_topics=4, with_queries=True, random_state=0)
    b = make_sessions(50, 40, n_topics=4, with_queries=True, random_state=np.random.RandomState(0))
    c = make_sessions(50, 40, n_topics=4, with_queries=True, random_state=1)
    for key in ["interactions", "items", "users"]:
        pd.testing.assert_frame_equal(a[key], b[key])
    assert not a.interactions["item_id"].equals(c.interactions["item_id"])
    assert a.items["title"].tolist() != c.items["title"].tolist()


def test_make_sessions_shapes_and_content():
    data = make_sessions(300, 60, n_topics=5, mean_length=20, min_length=4, random_state=0)
    log, items, users = data.interactions, data.items, data.users
    assert set(data) == {"interactions", "items", "users", "DESCR"}
    assert isinstance(data.items, pd.DataFrame)  # not dict.items
    assert log.columns.tolist() == ["user_id", "item_id", "timestamp"]
    assert log.dtypes.tolist() == [np.int64] * 3
    assert items.index.tolist() == list(range(60)) and items.index.name == "item_id"
    assert users.index.tolist() == list(range(300))
    assert set(log["item_id"]) <= set(items.index)
    sizes = log.groupby("user_id").size()
    assert len(sizes) == 300 and sizes.min() >= 4
    assert 15 < sizes.mean() < 25
    # sorted by user, strictly increasing times, sessions: minutes vs days
    assert log["user_id"].is_monotonic_increasing
    gaps = log.groupby("user_id")["timestamp"].diff().dropna()
    assert (gaps > 0).all()
    assert gaps.median() < 3600 and gaps.quantile(0.95) > 6 * 3600
    # text
    assert items["title"].str.split().map(len).between(2, 4).all()
    assert items["description"].str.split().map(len).between(8, 15).all()
    assert items["tags"].map(len).between(1, 3).all()
    assert items["topic"].nunique() == 5
    assert (items["genres"].map(lambda g: g[0]) == items["topic"]).all()
    assert items.groupby("topic").size().min() >= 2
    # every title has a word no other title has: the item is identifiable
    words = items["title"].str.lower().str.split()
    counts = pd.Series([w for ws in words for w in ws]).value_counts()
    assert all(any(counts[w] == 1 for w in ws) for ws in words)
    # topic words: titles of a topic share words, titles of two topics do not
    vocab = {t: words[items["topic"] == t].explode() for t in items["topic"].unique()}
    assert all(v.value_counts().max() > 1 for v in vocab.values())
    for s, t in itertools.combinations(vocab, 2):
        assert not set(vocab[s]) & set(vocab[t])
    assert users["age"].between(16, 70).all()
    assert set(users["segment"]) <= set(items["topic"])


def _rank_of(target, scores):
    """0-based rank of ``target`` when items are sorted by decreasing score."""
    return int(np.flatnonzero(np.argsort(-scores, kind="stable") == target)[0])


def test_make_sessions_planted_order():
    # Known answer: hit rate and NDCG @10 on each user's last event, models
    # counted on all other events. "successor" ranks the most frequent
    # followers of the previous item; order-blind baselines: popularity and
    # co-occurrence of the history's items (bag of items).
    log = make_sessions(500, 200, random_state=0).interactions
    last = log.groupby("user_id").cumcount(ascending=False) == 0
    train = log[~last]
    n = 200
    pop = np.bincount(train["item_id"], minlength=n).astype(float)
    same_user = train["user_id"].to_numpy()[1:] == train["user_id"].to_numpy()[:-1]
    src = train["item_id"].to_numpy()[:-1][same_user]
    dst = train["item_id"].to_numpy()[1:][same_user]
    follow = np.zeros((n, n))
    np.add.at(follow, (src, dst), 1)
    basket = np.zeros((500, n))
    basket[train["user_id"], train["item_id"]] = 1
    cooc = basket.T @ basket
    np.fill_diagonal(cooc, 0)

    seqs = log.groupby("user_id")["item_id"].agg(list)
    hr = {"pop": 0.0, "cooc": 0.0, "successor": 0.0}
    ndcg = dict(hr)
    for seq in seqs:
        prev, target, history = seq[-2], seq[-1], sorted(set(seq[:-1]))
        tie = 1e-6 * pop  # break ties by popularity
        for name, scores in [
            ("pop", pop),
            ("cooc", cooc[history].sum(axis=0) + tie),
            ("successor", follow[prev] + tie),
        ]:
            rank = _rank_of(target, scores)
            if rank < 10:
                hr[name] += 1 / len(seqs)
                ndcg[name] += 1 / np.log2(rank + 2) / len(seqs)
    # measured with random_state=0: HR@10 0.14 / 0.38 / 0.74,
    # NDCG@10 0.07 / 0.21 / 0.63 (pop / cooc / successor)
    assert hr["successor"] > 0.6 and ndcg["successor"] > 0.5
    assert hr["successor"] >= 4 * hr["pop"] and ndcg["successor"] >= 6 * ndcg["pop"]
    assert ndcg["successor"] >= 2.5 * ndcg["cooc"]


def test_make_sessions_queries_describe_target():
    data = make_sessions(200, 80, n_topics=4, with_queries=True, random_state=0)
    log, items = data.interactions, data.items
    assert log.columns.tolist() == ["user_id", "item_id", "timestamp", "query"]
    queries = log["query"].str.split()
    assert queries.map(len).between(1, 3).all()
    # A query-reading model: rank items by the TF-IDF similarity of the query
    # to their title (ties by popularity). It must beat popularity by far.
    vec = TfidfVectorizer().fit(items["title"])
    sim = (vec.transform(log["query"]) @ vec.transform(items["title"]).T).toarray()
    pop = np.bincount(log["item_id"], minlength=len(items)).astype(float)
    target = log["item_id"].to_numpy()
    ranks = np.array([_rank_of(t, o + 1e-6 * pop) for t, o in zip(target, sim)])
    pop_ranks = np.array([_rank_of(t, pop) for t in target])
    # measured: top-1 0.47 vs 0.03, HR@10 0.64 vs 0.26
    assert (ranks == 0).mean() > 0.35  # the unique title word names the target
    assert (ranks == 0).mean() > 8 * (pop_ranks == 0).mean()
    assert (ranks < 10).mean() > 2 * (pop_ranks < 10).mean()
    # query words come from the target's topic most of the time
    topic_words = {
        t: set(" ".join(items.loc[items["topic"] == t, "title"]).lower().split())
        | set(" ".join(items.loc[items["topic"] == t, "description"]).lower().split())
        for t in items["topic"].unique()
    }
    own = [
        np.mean([w in topic_words[t] for w in q])
        for q, t in zip(queries, items.loc[target, "topic"])
    ]
    assert np.mean(own) > 0.8


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            {"n_users": 0},
            r"'n_users' parameter of make_sessions must be an int in the range "
            r"\[1, inf\)",
        ),
        ({"n_items": 2.5}, "'n_items' parameter of make_sessions must be an int"),
        ({"n_items": 10, "n_topics": 6}, "at least 2 \\* n_topics = 12"),
        ({"mean_length": 3}, "mean_length must be a finite number >= min_length=5"),
        ({"min_length": 0}, "min_length"),
        (
            {"p_follow": 1.5},
            r"'p_follow' parameter of make_sessions must be a float in the range "
            r"\[0.0, 1.0\]",
        ),
        ({"p_stay": -0.1}, "p_stay"),
    ],
)
def test_make_sessions_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_sessions(**kwargs)
    with pytest.raises(TypeError, match="with_queries"):
        make_sessions(with_queries="yes")


def test_dataset_bunch_pickles():
    data = make_sessions(5, 20, n_topics=2, random_state=0)
    back = pickle.loads(pickle.dumps(data))
    assert type(back) is type(data)
    pd.testing.assert_frame_equal(back.items, data.items)
    assert back.DESCR == data.DESCR
    assert sorted(k for k, _ in dict.items(back)) == ["DESCR", "interactions", "items", "users"]


# --------------------------------------------------------------------------
# load_movielens: small fake copies (no real data needed)


def _fake_100k(root):
    d = root / "ml-100k"
    d.mkdir()
    # user 2's two events at t=50 are 7 then 3 in the file
    (d / "u.data").write_text("2\t7\t4\t50\n1\t3\t5\t90\n2\t3\t1\t50\n1\t7\t2\t10\n")
    flags = "|".join(["0"] * 19)
    (d / "u.item").write_bytes(
        (
            f"3|Caf\xe9 (1995)|01-Jan-1995||url|0|1|{'|'.join(['0'] * 16)}|1\n"
            f"7|unknown||||1|{'|'.join(['0'] * 18)}\n"
            f"8|No Year|01-Jan-1995||url|{flags}\n"
        ).encode("latin-1")
    )
    genres = ["unknown", "Action", "Adventure"] + [f"G{i}" for i in range(3, 18)] + ["Western"]
    (d / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(genres)) + "\n")
    (d / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|T8H1N\n")
    return d


def test_load_movielens_100k_fake(tmp_path):
    folder = _fake_100k(tmp_path)
    for home in (tmp_path, folder, str(folder)):
        data = load_movielens("100k", data_home=home)
        log = data.interactions
        assert log.columns.tolist() == ["user_id", "item_id", "timestamp", "rating"]
        assert log["user_id"].tolist() == [1, 1, 2, 2]
        assert log["item_id"].tolist() == [7, 3, 7, 3]  # ties in file order
        assert log["timestamp"].tolist() == [10, 90, 50, 50]
        assert log["rating"].tolist() == [2.0, 5.0, 4.0, 1.0]
    items = data.items
    assert items.index.tolist() == [3, 7, 8]
    assert items.loc[3, "title"] == "Caf\xe9 (1995)"
    assert items.loc[3, "genres"] == ["Action", "Western"]
    assert items.loc[7, "genres"] == ["unknown"] and items.loc[8, "genres"] == []
    assert items["year"].dtype == "Int64"
    assert items.loc[3, "year"] == 1995 and pd.isna(items.loc[8, "year"])
    assert data.users.loc[2, "zip"] == "T8H1N" and data.users.loc[1, "age"] == 24
    assert data.name == "ml-100k" and "MovieLens 100K" in data.DESCR


def test_load_movielens_env_var(tmp_path, monkeypatch):
    _fake_100k(tmp_path)
    monkeypatch.setenv("SKLEARN_RECSYS_DATA", str(tmp_path))
    assert len(load_movielens().interactions) == 4


def test_load_movielens_latest_small_fake(tmp_path):
    d = tmp_path / "ml-latest-small"
    d.mkdir()
    (d / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,5,4.0,30\n1,9,3.5,20\n1,2,1.0,30\n"
    )
    (d / "movies.csv").write_text(
        'movieId,title,genres\n2,"Heat, The (1995)",Action|Crime\n'
        "5,Babylon 5,(no genres listed)\n9,Death Note (2006\u20132007),Anime\n"
    )
    (d / "tags.csv").write_text(
        "userId,movieId,tag,timestamp\n1,2,Funny ,1\n2,2,funny,2\n2,2,Al Pacino,3\n"
    )
    data = load_movielens("latest-small", data_home=tmp_path)
    assert data.users is None
    assert data.interactions["item_id"].tolist() == [9, 5, 2]
    assert data.interactions["rating"].tolist() == [3.5, 4.0, 1.0]
    items = data.items
    assert items.loc[2, "title"] == "Heat, The (1995)"
    assert items.loc[2, "tags"] == ["al pacino", "funny"] and items.loc[9, "tags"] == []
    assert items.loc[5, "genres"] == [] and items.loc[2, "genres"] == ["Action", "Crime"]
    assert items["year"].tolist()[0] == 1995 and pd.isna(items.loc[5, "year"])
    assert items.loc[9, "year"] == 2006


def test_load_movielens_1m_sas_trunc_fake(tmp_path):
    d = tmp_path / "ml-1m-sas-trunc"
    d.mkdir()
    (d / "sequences.txt").write_text("1 2 3\n3 1\n")
    (d / "items.csv").write_text(
        'item_id,movielens_id,title,genres\n1,10,"Toy, The (1995)",Comedy\n'
        "2,20,B (1990),Drama|War\n3,30,C (2000),Drama\n"
    )
    (d / "users.csv").write_text(
        "user_id,movielens_id,gender,age,occupation,zip\n1,5,M,25,12,01234\n2,6,F,1,10,9\n"
    )
    data = load_movielens("1m-sas-trunc", data_home=d)
    log = data.interactions
    assert log.columns.tolist() == ["user_id", "item_id", "timestamp"]
    assert log["user_id"].tolist() == [1, 1, 1, 2, 2]
    assert log["item_id"].tolist() == [1, 2, 3, 3, 1]
    assert log["timestamp"].tolist() == [0, 1, 2, 0, 1]
    assert data.items.loc[2, "genres"] == ["Drama", "War"]
    assert data.users.columns.tolist() == ["gender", "age", "occupation", "zip"]
    assert data.users["occupation"].tolist() == ["programmer", "K-12 student"]
    assert data.users.loc[1, "zip"] == "01234"
    (d / "sequences.txt").write_text("1 2 x\n")
    with pytest.raises(ValueError, match="integer item ids"):
        load_movielens("1m-sas-trunc", data_home=d)


def _fake_1m(root):
    d = root / "ml-1m"
    d.mkdir()
    # user 2's events at t=50 are 20 then 10 in the file
    (d / "ratings.dat").write_text("2::20::4::50\n1::10::5::90\n2::10::1::50\n1::30::2::10\n")
    (d / "movies.dat").write_bytes(
        (
            '10::"Great Race, The" (1965)::Comedy|Western\n'
            "20::Mis\xe9rables, Les (1995)::Drama\n"
            "30::Time: The Movie (2000)::(no genres listed)\n"
        ).encode("latin-1")
    )
    (d / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n")
    return d


def test_load_movielens_1m_fake(tmp_path):
    _fake_1m(tmp_path)
    data = load_movielens("1m", data_home=tmp_path)
    log = data.interactions
    assert log.columns.tolist() == ["user_id", "item_id", "timestamp", "rating"]
    assert log["user_id"].tolist() == [1, 1, 2, 2]
    assert log["item_id"].tolist() == [30, 10, 20, 10]  # ties in file order
    assert log["timestamp"].tolist() == [10, 90, 50, 50]
    assert log["rating"].tolist() == [2.0, 5.0, 4.0, 1.0]
    assert (log.dtypes[["user_id", "item_id", "timestamp"]] == np.int64).all()
    items = data.items
    assert items.loc[10, "title"] == '"Great Race, The" (1965)'  # quotes kept
    assert items.loc[20, "title"] == "Mis\xe9rables, Les (1995)"  # latin-1
    assert items.loc[30, "title"] == "Time: The Movie (2000)"  # one ':' is no separator
    assert items.loc[10, "genres"] == ["Comedy", "Western"] and items.loc[30, "genres"] == []
    assert items["year"].tolist() == [1965, 1995, 2000]
    users = data.users
    assert users.columns.tolist() == ["gender", "age", "occupation", "zip"]
    assert users["occupation"].tolist() == ["K-12 student", "self-employed"]
    assert users.loc[2, "age"] == 56 and users.loc[1, "zip"] == "48067"
    assert data.name == "ml-1m" and "MovieLens 1M" in data.DESCR


def test_load_movielens_10m_fake(tmp_path):
    d = tmp_path / "ml-10M100K"  # the folder ml-10m.zip unpacks to
    d.mkdir()
    (d / "ratings.dat").write_text("1::122::5::838985046\n1::185::4.5::838983525\n")
    (d / "movies.dat").write_text(
        "122::Boomerang (1992)::Comedy|Romance\n185::Net, The (1995)::Action\n"
        "7::Caf\u00e9 (2001)::Drama\n",
        encoding="utf-8",
    )
    (d / "tags.dat").write_text(
        "15::185::Sandra Bullock::1138537770\n20::185::sandra bullock ::1\n"
        "20::185::NA::2\n"
    )
    data = load_movielens("10m", data_home=tmp_path)
    assert data.users is None and data.name == "ml-10M100K"
    assert data.interactions["item_id"].tolist() == [185, 122]
    assert data.interactions["rating"].tolist() == [4.5, 5.0]
    items = data.items
    assert items.loc[7, "title"] == "Caf\u00e9 (2001)"  # UTF-8
    assert items.loc[185, "tags"] == ["na", "sandra bullock"] and items.loc[122, "tags"] == []
    assert load_movielens("10m", data_home=d).interactions.equals(data.interactions)


@pytest.mark.parametrize("variant", ["20m", "25m", "32m"])
def test_load_movielens_csv_layouts_fake(tmp_path, variant):
    d = tmp_path / f"ml-{variant}"
    d.mkdir()
    (d / "ratings.csv").write_text("userId,movieId,rating,timestamp\n3,1,0.5,7\n3,2,5.0,6\n")
    (d / "movies.csv").write_text('movieId,title,genres\n1,"Toy Story (1995)",Adventure|Animation\n'
                                  "2,Jumanji (1995),(no genres listed)\n")
    (d / "tags.csv").write_text("userId,movieId,tag,timestamp\n3,1,Pixar,1\n")
    data = load_movielens(variant, data_home=tmp_path)
    assert data.interactions["item_id"].tolist() == [2, 1]
    assert data.items.loc[1, "tags"] == ["pixar"] and data.items.loc[2, "genres"] == []
    assert data.users is None and f"MovieLens {variant.upper()}" in data.DESCR


def test_load_movielens_missing(tmp_path, monkeypatch):
    monkeypatch.delenv("SKLEARN_RECSYS_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="SKLEARN_RECSYS_DATA"):
        load_movielens("100k")
    expected = re.escape(str(tmp_path / "ml-100k"))
    with pytest.raises(FileNotFoundError, match=f"{expected}.*SKLEARN_RECSYS_DATA"):
        load_movielens("100k", data_home=tmp_path)
    monkeypatch.setenv("SKLEARN_RECSYS_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=expected):
        load_movielens("100k")
    (tmp_path / "ml-100k").mkdir()
    (tmp_path / "ml-100k" / "u.data").write_text("1\t1\t1\t1\n")
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "ml-100k" / "u.item"))):
        load_movielens("100k", data_home=tmp_path)
    with pytest.raises(
        ValueError, match="'variant' parameter of load_movielens must be a str among"
    ):
        load_movielens("40m", data_home=tmp_path)


# --------------------------------------------------------------------------
# load_movielens: the real copies


@pytest.mark.parametrize(
    "variant, n_events, n_users, n_items, n_catalogue",
    [
        ("100k", 100_000, 943, 1_682, 1_682),
        ("latest-small", 100_836, 610, 9_724, 9_742),
        ("1m-sas-trunc", 987_531, 6_040, 3_416, 3_416),
    ],
)
def test_load_movielens_real(data_home, variant, n_events, n_users, n_items, n_catalogue):
    data = load_movielens(variant, data_home=data_home)
    log, items = data.interactions, data.items
    assert len(log) == n_events
    assert log["user_id"].nunique() == n_users
    assert log["item_id"].nunique() == n_items
    assert len(items) == n_catalogue and items.index.is_unique
    assert set(log["item_id"]) <= set(items.index)
    assert (log.dtypes[["user_id", "item_id", "timestamp"]] == np.int64).all()
    assert log["user_id"].is_monotonic_increasing
    assert (log.groupby("user_id")["timestamp"].diff().dropna() >= 0).all()
    assert items["genres"].map(lambda g: isinstance(g, list)).all()
    assert items["year"].notna().mean() > 0.99
    if data.users is not None:
        assert len(data.users) == n_users


def test_load_movielens_real_ties_in_file_order(data_home):
    log = load_movielens("100k", data_home=data_home).interactions
    raw = pd.read_csv(
        data_home / "ml-100k" / "u.data", sep="\t", names=["user_id", "item_id", "r", "timestamp"]
    )
    # groupby keeps the rows of each group in their order
    expected = raw.groupby(["user_id", "timestamp"])["item_id"].agg(tuple)
    got = log.groupby(["user_id", "timestamp"])["item_id"].agg(tuple)
    assert (raw.groupby(["user_id", "timestamp"]).size() > 1).sum() > 1000  # many ties
    pd.testing.assert_series_equal(got, expected)


def test_load_movielens_real_1m_order_and_queries(data_home):
    data = load_movielens("1m-sas-trunc", data_home=data_home)
    with open(data_home / "ml-1m-sas-trunc" / "sequences.txt") as f:
        first = [int(x) for x in f.readline().split()]
    log = data.interactions
    assert log.loc[log["user_id"] == 1, "item_id"].tolist() == first
    X, y = queries_from_log(log, n_last=3, user_features=data.users)
    assert len(X) == 3 * 6040
    row = X.iloc[2]
    assert row["user_id"] == 1 and row["history"] == first[:-1] and y[2] == first[-1]
    assert {"gender", "age", "occupation"} <= set(X.columns)


def test_load_movielens_real_latest_small_tags(data_home):
    items = load_movielens("latest-small", data_home=data_home).items
    tags = items["tags"].explode().dropna()
    assert (tags == tags.str.lower()).all()
    assert items["tags"].map(lambda t: len(t) == len(set(t))).all()
    assert (items["tags"].map(len) > 0).sum() > 1000
