"""The CLI's NumPy-only path for safe files of EASE and Popularity equals the estimators."""

import subprocess
import sys

import numpy as np
import pytest

from sklearn_recsys import _cli
from sklearn_recsys._fastpath import open_fast
from sklearn_recsys.baselines import EASE, ItemKNN, Popularity
from sklearn_recsys.datasets import make_sessions, queries_from_log
from sklearn_recsys.io import save

pytest.importorskip("safetensors", reason="sklearn_recsys.io needs the safe extra")


@pytest.fixture(scope="module")
def queries():
    log = make_sessions(n_users=150, n_items=60, random_state=0).interactions
    return queries_from_log(log, n_last=1, max_len=10)


def _histories(classes, rng, n=200):
    pool = np.concatenate([classes, [10**9, -(10**9)]])  # two unknown ids
    out = [[], [int(pool[-1])]]  # empty, only unknown
    for _ in range(n):
        out.append([int(v) for v in rng.choice(pool, size=rng.integers(1, 12))])
    return out


@pytest.mark.parametrize("make", [lambda: EASE(l2=10.0), lambda: Popularity()], ids=["EASE", "Popularity"])
def test_fast_path_equals_the_estimator(make, queries, tmp_path):
    X, y = queries
    model = make().fit(X, y)
    path = tmp_path / "m.zip"
    save(model, path)
    fast = open_fast(path)
    assert fast is not None
    rng = np.random.default_rng(0)
    hist = _histories(model.classes_, rng)
    for k in (1, 10, len(model.classes_)):  # k = n_items: seen items fill the lists
        items, scores = fast.recommend(hist, k=k)
        exp_items, exp_scores = model.recommend(hist, k=k, return_scores=True)
        np.testing.assert_array_equal(items, exp_items)
        np.testing.assert_array_equal(scores, exp_scores)
    with pytest.raises(ValueError, match="larger than the number of items"):
        fast.recommend(hist, k=len(model.classes_) + 1)


def test_fast_path_with_string_ids(tmp_path):
    X = [["a", "b"], ["b", "c"], ["c", "d"], ["a", "d"]] * 3
    y = ["c", "d", "a", "b"] * 3
    model = EASE(l2=1.0).fit(X, y)
    save(model, tmp_path / "s.zip")
    fast = open_fast(tmp_path / "s.zip")
    hist = [["a"], ["zz"], [], ["d", "a", "d"]]
    items, scores = fast.recommend(hist, k=3)
    exp_items, exp_scores = model.recommend(hist, k=3, return_scores=True)
    np.testing.assert_array_equal(items, exp_items)
    np.testing.assert_array_equal(scores, exp_scores)


def test_other_files_are_not_taken(queries, tmp_path):
    X, y = queries
    save(ItemKNN().fit(X, y), tmp_path / "knn.zip")
    assert open_fast(tmp_path / "knn.zip") is None
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    assert open_fast(tmp_path / "junk.zip") is None
    assert open_fast(tmp_path / "missing.zip") is None


def test_cli_recommend_uses_it_without_importing_sklearn(queries, tmp_path):
    X, y = queries
    model = EASE().fit(X, y)
    path = tmp_path / "ease.zip"
    save(model, path)
    history = [str(v) for v in X["history"].iloc[0]]
    code = (
        "import sys; from sklearn_recsys._cli import main; "
        f"main(['recommend', {str(path)!r}, *{history!r}, '--k', '5']); "
        "print('SKLEARN', 'sklearn' in sys.modules, 'TORCH', 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "SKLEARN False TORCH False" in out
    expected = model.recommend([X["history"].iloc[0]], k=5)[0]
    listed = [line.split()[1] for line in out.splitlines()[:5]]
    assert listed == [str(v) for v in expected]


def test_cli_falls_back_for_errors(queries, tmp_path, capsys):
    X, y = queries
    save(EASE().fit(X, y), tmp_path / "ease.zip")
    args = _cli.build_parser().parse_args(["recommend", str(tmp_path / "ease.zip"), "a", "b"])
    with pytest.raises(TypeError, match="strings but the estimator was fitted on integer"):
        _cli.recommend(args)
