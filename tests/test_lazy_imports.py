"""Lazy imports: torch loads only with the networks; every import path works.

Each check runs in a fresh interpreter (the test session has torch
imported already), so what ``sys.modules`` holds afterwards is what the
import alone pulled in.
"""

import importlib
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest

import sklearn_recsys
from sklearn_recsys._topk import SEEN, top_k, top_k_columns


def _run(code):
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_baselines_pipeline_and_content_baseline_do_not_import_torch(tmp_path):
    from sklearn.preprocessing import FunctionTransformer

    from sklearn_recsys.baselines import EASE
    from sklearn_recsys.datasets import make_sessions, queries_from_log
    from sklearn_recsys.pipeline import make_recommender_pipeline

    X, y = queries_from_log(make_sessions(n_users=60, random_state=0).interactions)
    model = make_recommender_pipeline(FunctionTransformer(), EASE()).fit(X, y)
    path = tmp_path / "ease.joblib"
    joblib.dump(model, path)
    expected = model.recommend(X.head(3), k=5)
    out = _run(
        f"""
        import sys
        import joblib
        import sklearn_recsys
        from sklearn_recsys import datasets, metrics, model_selection, preprocessing
        from sklearn_recsys.baselines import EASE, ItemKNN, Popularity, Transition
        from sklearn_recsys.content import TextTokenizer, TfidfRecommender
        from sklearn_recsys.retrieval import ApproximateRecommender
        import sklearn_recsys.intent
        from sklearn_recsys.datasets import make_sessions, queries_from_log

        X, _ = queries_from_log(make_sessions(n_users=60, random_state=0).interactions)
        model = joblib.load({str(path)!r})
        print(model.recommend(X.head(3), k=5).tolist())
        from sklearn_recsys import _cli  # the CLI's recommend, as sklearn-recsys runs it
        _cli.main(["recommend", {str(path)!r}, "1", "2", "--k", "2"])
        print("torch" in sys.modules, "skorch" in sys.modules)
        from sklearn_recsys.intent import IntentRecommender
        print("torch" in sys.modules)
        """
    ).splitlines()
    assert out[0] == str(expected.tolist())
    assert out[1].split() == ["1", str(model.recommend([[1, 2]], k=2)[0, 0])]
    assert out[3] == "False False"
    assert out[4] == "True"  # a network class imports torch


@pytest.mark.parametrize("sub", ["content", "intent"])
def test_lazy_subpackages_keep_all_and_dir(sub):
    module = importlib.import_module(f"sklearn_recsys.{sub}")
    assert set(module.__all__) <= set(dir(module))
    for name in module.__all__:
        obj = getattr(module, name)
        assert obj.__name__ == name
        assert obj.__module__.startswith(f"sklearn_recsys.{sub}._")
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        module.nope  # noqa: B018


def test_subpackages_are_attributes_of_the_package():
    assert set(sklearn_recsys.__all__) <= set(dir(sklearn_recsys))
    for name in sklearn_recsys.__all__[1:]:
        assert getattr(sklearn_recsys, name).__name__ == f"sklearn_recsys.{name}"
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        sklearn_recsys.nope  # noqa: B018


def _reference(scores, k):
    """Best first, ties to the lower code: a full sort of each row."""
    codes = np.stack([np.lexsort((np.arange(len(r)), -r))[:k] for r in scores])
    return codes, np.take_along_axis(scores, codes, axis=1)


@pytest.mark.parametrize("seed", range(6))
def test_numpy_ranking_equals_a_full_sort_and_the_tensor_path(seed):
    # NumPy scores are ranked without torch; the answer is the torch path's
    torch = pytest.importorskip("torch", reason="the tensor path is the reference")
    rng = np.random.default_rng(seed)
    n, m = 7, [5, 40, 300, 3000, 5000, 9000][seed]
    k = [1, 3, 10, 50, 100, 10][seed]
    # few distinct values: many ties at the k-th score
    scores = rng.integers(0, 4, size=(n, m)).astype(np.float32)
    scores[0] = rng.standard_normal(m)
    allowed = rng.random(m) < 0.9
    allowed[:k] = True
    seen = (rng.integers(0, n, 20), rng.integers(0, m, 20))
    masked = scores.copy()
    masked[:, ~allowed] = -np.inf
    cur = masked[seen]
    masked[seen] = np.where(np.isneginf(cur), cur, SEEN)
    codes, vals = top_k(scores, k, seen=seen, allowed=allowed)
    ref_codes, ref_vals = _reference(masked, k)
    np.testing.assert_array_equal(codes, ref_codes)
    np.testing.assert_array_equal(vals, ref_vals)
    t_codes, t_vals = top_k(torch.from_numpy(scores), k, seen=seen, allowed=allowed)
    np.testing.assert_array_equal(codes, t_codes)
    np.testing.assert_array_equal(vals, t_vals)
    np.testing.assert_array_equal(np.sort(top_k_columns(scores, k), axis=1),
                                  np.sort(_reference(scores, k)[0], axis=1))


def test_numpy_ranking_puts_nan_first_as_torch_does():
    scores = np.array([[1, np.nan, 3, np.nan, 0]], dtype=np.float32)
    codes, vals = top_k(scores, 3)
    assert codes.tolist() == [[1, 3, 2]]
    assert np.isnan(vals[0, :2]).all() and vals[0, 2] == 3
