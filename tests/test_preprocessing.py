"""Tests for SequenceEncoder and TimeFeatures (beyond sklearn's common checks)."""

import copy
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import make_pipeline

from sklearn_recsys.preprocessing import SequenceEncoder, TimeFeatures

# -- SequenceEncoder ---------------------------------------------------------


def _reference_encode(enc, histories):
    """Row-by-row encoding, the obvious (slow) way, to check the vectorised one."""
    out = np.zeros((len(histories), enc.max_len), dtype=np.int64)
    unknown = enc.n_items_ + 1
    for i, h in enumerate(histories):
        codes = [enc.vocabulary_.get(v, unknown) for v in h]
        if enc.handle_unknown == "ignore":
            codes = [c for c in codes if c != unknown]
        codes = codes[len(codes) - enc.max_len :] if len(codes) > enc.max_len else codes
        if codes:
            if enc.padding == "left":
                out[i, enc.max_len - len(codes) :] = codes
            else:
                out[i, : len(codes)] = codes
    return out


def test_sequence_encoder_known_answer():
    X = [["b", "a"], ["a", "c", "b"], ["c"]]
    enc = SequenceEncoder(max_len=4).fit(X)
    assert enc.vocabulary_ == {"a": 1, "b": 2, "c": 3}
    assert enc.items_.tolist() == ["a", "b", "c"]
    assert enc.items_.dtype == object
    assert enc.n_items_ == 3
    out = enc.transform([["c", "a"], [], ["a", "b", "c", "a", "b"]])
    assert out.dtype == np.int64
    assert_array_equal(out, [[0, 0, 3, 1], [0, 0, 0, 0], [2, 3, 1, 2]])


def test_sequence_encoder_int_ids_sorted_codes():
    enc = SequenceEncoder(max_len=3).fit([[30, 10], [20, 30]])
    assert enc.items_.tolist() == [10, 20, 30]
    assert enc.items_.dtype == np.int64
    assert enc.vocabulary_ == {10: 1, 20: 2, 30: 3}
    # numpy arrays and tuples are histories too
    out = enc.transform([np.array([20, 10]), (30,)])
    assert_array_equal(out, [[0, 2, 1], [0, 0, 3]])


def test_sequence_encoder_right_padding_keeps_latest():
    enc = SequenceEncoder(max_len=3, padding="right").fit([[1, 2, 3, 4, 5]])
    assert_array_equal(enc.transform([[1, 2], [1, 2, 3, 4, 5]]), [[1, 2, 0], [3, 4, 5]])


def test_sequence_encoder_unknown_ignore_drops_before_truncation():
    enc = SequenceEncoder(max_len=2).fit([["a", "b", "c"]])
    # "z" is dropped first, so the row still holds the 2 latest *known* items
    assert_array_equal(enc.transform([["a", "b", "z"]]), [[1, 2]])
    assert_array_equal(enc.transform([["z", "y"]]), [[0, 0]])


def test_sequence_encoder_unknown_encode():
    enc = SequenceEncoder(max_len=3, handle_unknown="encode").fit([["a", "b", "c"]])
    assert_array_equal(
        enc.transform([["a", "z", "b"], ["b", "a", "z"]]), [[1, 4, 2], [2, 1, 4]]
    )
    # the unknown code is dropped by inverse_transform
    assert enc.inverse_transform([[1, 4, 2]]) == [["a", "b"]]


def test_sequence_encoder_min_frequency():
    X = [["a", "b"], ["a", "c"], ["a", "b"]]
    enc = SequenceEncoder(max_len=3, min_frequency=2).fit(X)
    assert enc.items_.tolist() == ["a", "b"]
    assert_array_equal(enc.transform([["a", "c", "b"]]), [[0, 1, 2]])
    enc_unk = SequenceEncoder(max_len=3, min_frequency=2, handle_unknown="encode").fit(
        X
    )
    assert_array_equal(enc_unk.transform([["a", "c", "b"]]), [[1, 3, 2]])
    with pytest.raises(
        ValueError, match="min_frequency=4.*most frequent item occurs 3"
    ):
        SequenceEncoder(min_frequency=4).fit(X)


@pytest.mark.parametrize("handle_unknown", ["ignore", "encode"])
@pytest.mark.parametrize("padding", ["left", "right"])
@pytest.mark.parametrize("kind", ["int", "str"])
def test_sequence_encoder_matches_row_by_row_reference(handle_unknown, padding, kind):
    rng = np.random.RandomState(0)

    def make(n):
        hs = [rng.randint(0, 40, size=rng.randint(0, 12)).tolist() for _ in range(n)]
        return hs if kind == "int" else [[f"i{v}" for v in h] for h in hs]

    enc = SequenceEncoder(
        max_len=5, min_frequency=3, handle_unknown=handle_unknown, padding=padding
    ).fit(make(60))
    # ids >= 30 never appear in fit -> unknown; rare ones too
    test = make(80)
    assert_array_equal(enc.transform(test), _reference_encode(enc, test))


def test_sequence_encoder_inverse_transform_round_trip():
    X = [[3, 1, 2], [2], [], [1, 1, 3, 2, 2]]
    enc = SequenceEncoder(max_len=10).fit(X)
    assert enc.inverse_transform(enc.transform(X)) == X
    enc_short = SequenceEncoder(max_len=2).fit(X)
    assert enc_short.inverse_transform(enc_short.transform(X)) == [
        [1, 2],
        [2],
        [],
        [2, 2],
    ]
    # padded DataFrame output works too
    frame = enc.set_output(transform="pandas").transform(X)
    assert enc.inverse_transform(frame) == X


def test_sequence_encoder_inverse_transform_rejects_bad_codes():
    enc = SequenceEncoder(max_len=2).fit([[1, 2]])
    with pytest.raises(ValueError, match=r"Codes must lie in \[0, 3\]"):
        enc.inverse_transform([[0, 4]])
    with pytest.raises(ValueError, match="Codes must be integers"):
        enc.inverse_transform([[0, 1.5]])


def test_sequence_encoder_dataframe_inputs_and_feature_names():
    X = pd.DataFrame(
        {"user_id": [1, 2], "history": [["a", "b"], ["c"]], "hour": [3, 4]}
    )
    enc = SequenceEncoder(max_len=3).fit(X)
    # only the history column counts as input
    assert enc.n_features_in_ == 1
    assert enc.feature_names_in_.tolist() == ["history"]
    assert enc.get_feature_names_out().tolist() == [
        "history_0",
        "history_1",
        "history_2",
    ]
    # the same encoder reads the history column alone, or a list
    assert_array_equal(enc.transform(X), enc.transform(X[["history"]]))
    assert_array_equal(enc.transform(X), enc.transform([["a", "b"], ["c"]]))
    out = enc.set_output(transform="pandas").transform(X)
    assert list(out.columns) == ["history_0", "history_1", "history_2"]
    assert out.index.equals(X.index)
    assert out.iloc[0].tolist() == [0, 1, 2]


def test_sequence_encoder_lone_sequence_column_and_column_transformer():
    X = pd.DataFrame({"items": [["a", "b"], ["b"]], "price": [1.0, 2.0]})
    ct = ColumnTransformer(
        [("seq", SequenceEncoder(max_len=2), ["items"])], remainder="passthrough"
    ).set_output(transform="pandas")
    out = ct.fit_transform(X)
    assert list(out.columns) == ["seq__items_0", "seq__items_1", "remainder__price"]
    assert out["seq__items_1"].tolist() == [2, 2]
    assert out["seq__items_0"].tolist() == [1, 0]


def test_sequence_encoder_object_column_of_sequences():
    # what a passthrough history column becomes in a numpy ColumnTransformer output
    ct = ColumnTransformer([("h", "passthrough", ["history"])])
    arr = ct.fit_transform(pd.DataFrame({"history": [[1, 2], [2]], "x": [0, 1]}))
    assert arr.shape == (2, 1) and arr.dtype == object
    enc = SequenceEncoder(max_len=2).fit(arr)
    assert_array_equal(enc.transform(arr), [[1, 2], [0, 2]])


def test_sequence_encoder_history_column_from_column_transformer_names():
    # a passthrough history column comes out as "remainder__history"
    X = pd.DataFrame({"remainder__history": [[5, 6], [6]]})
    enc = SequenceEncoder(max_len=2).fit(X)
    assert enc.get_feature_names_out().tolist() == [
        "remainder__history_0",
        "remainder__history_1",
    ]


def test_sequence_encoder_2d_table():
    X = np.array([[1, 2, 3], [3, 3, 4]])
    enc = SequenceEncoder(max_len=4).fit(X)
    assert enc.n_features_in_ == 3
    assert enc.items_.tolist() == [1, 2, 3, 4]
    assert_array_equal(enc.transform(X), [[0, 1, 2, 3], [0, 3, 3, 4]])
    # floats holding integers are read as integer ids
    assert_array_equal(enc.transform(X.astype(float)), enc.transform(X))
    with pytest.raises(TypeError, match="non-integer float 1.5"):
        enc.transform(np.array([[1.5, 2.0, 3.0]]))
    with pytest.raises(
        ValueError, match="X has 2 features, but SequenceEncoder is expecting 3"
    ):
        enc.transform(np.array([[1, 2]]))
    # a string table
    enc_s = SequenceEncoder(max_len=2).fit(
        pd.DataFrame({"a": ["x", "y"], "b": ["y", "z"]})
    )
    assert enc_s.get_feature_names_out().tolist() == ["history_0", "history_1"]
    assert_array_equal(
        enc_s.transform(pd.DataFrame({"a": ["z"], "b": ["x"]})), [[3, 1]]
    )


def test_sequence_encoder_fit_on_list_transform_frame_without_warning():
    enc = SequenceEncoder(max_len=2).fit([[1, 2], [3]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = enc.transform(pd.DataFrame({"history": [[3, 1]], "user_id": [7]}))
    assert_array_equal(out, [[3, 1]])


def test_sequence_encoder_refit_on_list_forgets_columns():
    enc = SequenceEncoder(max_len=2).fit(pd.DataFrame({"history": [[1, 2]]}))
    assert hasattr(enc, "feature_names_in_")
    enc.fit([[1, 2]])
    assert not hasattr(enc, "feature_names_in_")
    assert not hasattr(enc, "n_features_in_")
    assert enc.get_feature_names_out().tolist() == ["history_0", "history_1"]


def test_sequence_encoder_does_not_mutate_input():
    X = pd.DataFrame({"history": [[3, 1], [2, 2, 9]], "user_id": [1, 2]})
    hist = [np.array([3, 1]), [2, 2, 9]]
    before_X, before_hist = X.copy(deep=True), copy.deepcopy(hist)
    enc = SequenceEncoder(max_len=2, min_frequency=1).fit(X)
    enc.transform(X)
    enc.fit(hist).transform(hist)
    pd.testing.assert_frame_equal(X, before_X)
    assert X["history"].tolist() == before_X["history"].tolist()
    assert_array_equal(hist[0], before_hist[0])
    assert hist[1] == before_hist[1]


@pytest.mark.parametrize(
    "X, err, match",
    [
        ([["a", None]], ValueError, "missing values"),
        ([[1.0, float("nan")]], ValueError, "missing values"),
        ([[1, "a"]], TypeError, "all integers or all strings"),
        ([[1.0, 2.0]], TypeError, "all integers or all strings"),
        ([[]], ValueError, "no item ids"),
        ([], ValueError, "0 rows"),
        (["abc"], TypeError, "is a string"),
        ([None], ValueError, "missing history"),
        (np.array([1, 2, 3]), ValueError, "Reshape your data"),
        (42, TypeError, "got int"),
    ],
)
def test_sequence_encoder_fit_rejects_bad_input(X, err, match):
    with pytest.raises(err, match=match):
        SequenceEncoder().fit(X)


def test_sequence_encoder_transform_rejects_other_id_kind():
    enc = SequenceEncoder().fit([[1, 2]])
    with pytest.raises(TypeError, match="fitted on integer item ids"):
        enc.transform([["a"]])
    enc = SequenceEncoder().fit([["a"]])
    with pytest.raises(TypeError, match="fitted on string item ids"):
        enc.transform([[1]])


def test_sequence_encoder_pickle_round_trip():
    enc = SequenceEncoder(max_len=3).fit([["a", "b"], ["c"]])
    enc2 = pickle.loads(pickle.dumps(enc))
    assert_array_equal(
        enc2.transform([["c", "a", "q"]]), enc.transform([["c", "a", "q"]])
    )


def test_sequence_encoder_string_dtype_history_values():
    # pandas 3 infers the "str" dtype; histories built from such columns hold str
    log = pd.DataFrame({"user_id": [1, 1, 2], "item_id": ["x", "y", "x"]})
    histories = log.groupby("user_id")["item_id"].agg(list)
    enc = SequenceEncoder(max_len=2).fit(histories)
    assert enc.items_.tolist() == ["x", "y"]
    assert_array_equal(enc.transform(histories), [[1, 2], [0, 1]])
    # a Series of arrays of the str dtype
    arrays = log.groupby("user_id")["item_id"].agg(lambda s: s.to_numpy())
    assert_array_equal(enc.transform(arrays), [[1, 2], [0, 1]])


# -- TimeFeatures ------------------------------------------------------------


def _times_frame():
    return pd.DataFrame(
        {
            # 2024-01-01 is a Monday
            "prev_timestamp": pd.to_datetime(["2024-01-01 06:00", "2024-01-06 00:00"]),
            "timestamp": pd.to_datetime(["2024-01-01 18:00", "2024-01-08 12:00"]),
        }
    )


def test_time_features_known_answer():
    X = _times_frame()
    tf = TimeFeatures().fit(X)
    assert tf.reference_ == pd.Timestamp("2024-01-08 12:00").timestamp()
    names = tf.get_feature_names_out().tolist()
    assert names == [
        "prev_timestamp_hour_sin", "prev_timestamp_hour_cos",
        "prev_timestamp_weekday_sin", "prev_timestamp_weekday_cos",
        "prev_timestamp_recency",
        "timestamp_hour_sin", "timestamp_hour_cos",
        "timestamp_weekday_sin", "timestamp_weekday_cos",
        "timestamp_recency",
        "prev_timestamp_to_timestamp_gap",
    ]  # fmt: skip
    out = pd.DataFrame(tf.transform(X), columns=names)
    # 06:00 -> a quarter turn; 18:00 -> three quarters; 00:00 -> start
    assert_allclose(out["prev_timestamp_hour_sin"], [1, 0], atol=1e-12)
    assert_allclose(out["prev_timestamp_hour_cos"], [0, 1], atol=1e-12)
    assert_allclose(out["timestamp_hour_sin"], [-1, 0], atol=1e-12)
    assert_allclose(out["timestamp_hour_cos"], [0, -1], atol=1e-12)
    # Monday = 0, Saturday = 5
    assert_allclose(
        out["prev_timestamp_weekday_sin"], [0, np.sin(2 * np.pi * 5 / 7)], atol=1e-12
    )
    assert_allclose(
        out["prev_timestamp_weekday_cos"], [1, np.cos(2 * np.pi * 5 / 7)], atol=1e-12
    )
    assert_allclose(out["timestamp_weekday_cos"], [1, 1], atol=1e-12)  # both Mondays
    assert_allclose(out["prev_timestamp_recency"], np.log1p([7.25, 2.5]))
    assert_allclose(out["timestamp_recency"], np.log1p([6.75, 0.0]))
    assert_allclose(out["prev_timestamp_to_timestamp_gap"], np.log1p([0.5, 2.5]))


@pytest.mark.parametrize("unit, scale", [("s", 1), ("ms", 1e3), ("D", 1 / 86400)])
def test_time_features_numeric_units_match_datetimes(unit, scale):
    X = _times_frame()
    numeric = X.apply(lambda c: c.map(pd.Timestamp.timestamp) * scale)
    expected = TimeFeatures().fit(X).transform(X)
    got = TimeFeatures(unit=unit).fit(numeric).transform(numeric)
    assert_allclose(got, expected, atol=1e-9)
    # plain 2-D arrays too, with x0, x1 names
    tf = TimeFeatures(unit=unit, features=("recency",)).fit(numeric.to_numpy())
    assert tf.get_feature_names_out().tolist() == [
        "x0_recency",
        "x1_recency",
        "x0_to_x1_gap",
    ]


def test_time_features_timezone_aware_uses_local_clock():
    utc = pd.DataFrame(
        {"timestamp": pd.to_datetime(["2024-01-01 06:00"]).tz_localize("UTC")}
    )
    paris = utc.apply(lambda c: c.dt.tz_convert("Europe/Paris"))  # 07:00 local
    tf = TimeFeatures(features=("hour", "recency")).fit(paris)
    assert tf.reference_ == pd.Timestamp("2024-01-01 06:00").timestamp()
    out = tf.transform(paris)
    angle = 2 * np.pi * 7 / 24
    assert_allclose(out[0, :2], [np.sin(angle), np.cos(angle)])
    assert out[0, 2] == 0.0


def test_time_features_missing_values_propagate():
    X = _times_frame()
    X.loc[0, "prev_timestamp"] = pd.NaT
    out = TimeFeatures().fit(X).transform(X)
    assert np.isnan(out[0, :5]).all() and np.isnan(out[0, -1])
    assert not np.isnan(out[0, 5:10]).any()
    assert not np.isnan(out[1]).any()
    num = pd.DataFrame(
        {"prev_timestamp": [np.nan, 0.0], "timestamp": [86400.0, 86400.0]}
    )
    out = TimeFeatures(features=("recency",)).fit(num).transform(num)
    assert_allclose(out, [[np.nan, 0, np.nan], [np.log1p(1), 0, np.log1p(1)]])


def test_time_features_future_and_reversed_gaps_are_negative():
    tf = TimeFeatures(features=("recency",)).fit(np.array([[0.0, 86400.0]]))
    out = tf.transform(np.array([[3 * 86400.0, 86400.0]]))
    assert_allclose(out, [[-np.log1p(2), 0, -np.log1p(2)]])


def test_time_features_options_and_names():
    X = _times_frame()
    tf = TimeFeatures(features=("weekday",), gaps=False).fit(X)
    assert tf.get_feature_names_out().tolist() == [
        "prev_timestamp_weekday_sin", "prev_timestamp_weekday_cos",
        "timestamp_weekday_sin", "timestamp_weekday_cos",
    ]  # fmt: skip
    assert tf.transform(X).shape == (2, 4)
    # gaps alone
    gap = TimeFeatures(features=()).fit(X)
    assert gap.get_feature_names_out().tolist() == ["prev_timestamp_to_timestamp_gap"]
    # one column: no gap even with gaps=True
    one = TimeFeatures(features=("recency",)).fit(X[["timestamp"]])
    assert one.get_feature_names_out().tolist() == ["timestamp_recency"]
    out = TimeFeatures().set_output(transform="pandas").fit_transform(X)
    assert out.columns[0] == "prev_timestamp_hour_sin"
    assert out.shape == (2, 11)


def test_time_features_in_pipeline_does_not_mutate():
    X = _times_frame()
    before = X.copy()
    make_pipeline(TimeFeatures()).fit_transform(X)
    pd.testing.assert_frame_equal(X, before)


@pytest.mark.parametrize(
    "params, X, err, match",
    [
        ({"features": ("hour", "minute")}, None, ValueError, "must be distinct values"),
        ({"features": ("hour", "hour")}, None, ValueError, "must be distinct values"),
        ({"features": ()}, "one", ValueError, "nothing to compute"),
        ({"features": (), "gaps": False}, None, ValueError, "nothing to compute"),
        ({}, "text", TypeError, "Convert text with pandas.to_datetime"),
        ({}, "allnan", ValueError, "no time at all"),
        ({}, "inf", ValueError, "infinity"),
        ({}, "empty", ValueError, "at least 1 row"),
    ],
)
def test_time_features_rejects_bad_input(params, X, err, match):
    frames = {
        None: _times_frame(),
        "one": _times_frame()[["timestamp"]],
        "text": pd.DataFrame({"timestamp": ["2024-01-01"]}),
        "allnan": pd.DataFrame({"timestamp": [np.nan, np.nan]}),
        "inf": pd.DataFrame({"timestamp": [1.0, np.inf]}),
        "empty": pd.DataFrame({"timestamp": []}, dtype=float),
    }
    with pytest.raises(err, match=match):
        TimeFeatures(**params).fit(frames[X])


def test_time_features_transform_checks_columns():
    X = _times_frame()
    tf = TimeFeatures().fit(X)
    with pytest.raises(ValueError, match="feature names"):
        tf.transform(X.rename(columns={"timestamp": "ts"}))
