"""The main job: ``python -m sklearn_recsys``."""

import io
import subprocess
import sys

import joblib
import pytest

from sklearn_recsys import _cli
from sklearn_recsys.baselines import Transition
from sklearn_recsys.datasets import make_sessions, queries_from_log


def test_evaluate_quick_prints_table_and_writes_report(tmp_path):
    out = io.StringIO()
    args = _cli.build_parser().parse_args(
        ["evaluate", "--quick", "--models", "popularity,transition", "--report", str(tmp_path)]
    )
    args.models = ["popularity", "transition"]
    results = _cli.evaluate(args, out=out)
    text = out.getvalue()
    assert "0/2 popularity (Popularity): fitting" in text
    assert "] 2/2 transition: NDCG@10 warm " in text
    assert "NDCG@10" in text
    # the planted sequential structure: the Markov model wins by far
    assert results["transition"]["NDCG@10"] > 3 * results["popularity"]["NDCG@10"]
    report = (tmp_path / "report.md").read_text()
    assert "transition" in report
    pytest.importorskip("matplotlib")
    assert (tmp_path / "ndcg_at_k.png").stat().st_size > 1000


def test_quick_run_is_the_four_baselines_without_report(tmp_path, monkeypatch):
    # --quick keeps the old smoke run: baselines only, no cold rows, no files
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    args = _cli.build_parser().parse_args(["evaluate", "--quick"])
    results = _cli.evaluate(args, out=out)
    assert list(results) == ["popularity", "itemknn", "ease", "transition"]
    assert not any(key.startswith("cold ") for key in results["transition"])
    assert "Cold rows" not in out.getvalue()
    assert list(tmp_path.iterdir()) == []


def test_default_is_the_whole_chain_on_synthetic_data():
    parser = _cli.build_parser()
    args = parser.parse_args(["evaluate"])
    assert _cli.resolve_models(args) == [
        "popularity", "itemknn", "ease", "transition", "tfidf", "intent-content"
    ]
    assert _cli._cold_share(args, _cli.resolve_models(args)) == 0.1
    assert _cli._size(args, "n_users") == 3000 and _cli._size(args, "epochs") == 30
    # on a log file (no catalogue) the default stays the four baselines
    args = parser.parse_args(["evaluate", "--data", "log.csv"])
    assert _cli.resolve_models(args) == ["popularity", "itemknn", "ease", "transition"]
    assert _cli._cold_share(args, _cli.resolve_models(args)) == 0.0


def test_full_chain_scores_cold_rows_and_writes_report(tmp_path):
    # the default chain on reduced sizes: 300 users, 3 epochs (1.5 s of CPU)
    out = io.StringIO()
    args = _cli.build_parser().parse_args(
        ["evaluate", "--n-users", "300", "--epochs", "3", "--device", "cpu",
         "--report", str(tmp_path / "report")]
    )
    results = _cli.evaluate(args, out=out)
    text = out.getvalue()
    assert "Preprocessing:" in text and "20 new items" in text
    assert "intent-content epoch   3/3  train loss" in text
    assert "Cold rows: the target is a new item" in text
    assert "id-based models (popularity, itemknn, ease, transition) never saw the 20" in text
    # the id-based baselines cannot rank an item they never saw
    for name in ("popularity", "itemknn", "ease", "transition"):
        assert results[name]["cold NDCG@10"] == 0.0
        assert results[name]["new in lists"] == 0.0
    # measured: intent-content cold 0.248, tfidf 0.106; warm 0.205, transition
    # 0.343, ease 0.152 (the network has had 3 epochs on 300 users here)
    intent = results["intent-content"]
    assert intent["cold NDCG@10"] > 0.15
    assert intent["cold NDCG@10"] > 1.5 * results["tfidf"]["cold NDCG@10"]
    assert intent["NDCG@10"] > 0.5 * results["transition"]["NDCG@10"]
    assert intent["NDCG@10"] > results["ease"]["NDCG@10"]
    report = (tmp_path / "report" / "report.md").read_text()
    assert "Cold rows" in report and "intent-content" in report
    pytest.importorskip("matplotlib", reason="the report's plots need matplotlib")
    for plot in ("ndcg_at_k.png", "warm_cold.png", "training.png"):
        assert (tmp_path / "report" / plot).stat().st_size > 1000
        assert f"]({plot})" in report


def test_content_models_need_a_catalogue(capsys):
    with pytest.raises(SystemExit):
        _cli.main(["--data", "log.csv", "--models", "tfidf"])
    assert "read the item catalogue" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _cli.main(["--cold-items", "1.5"])
    assert "--cold-items must be a share in [0, 1)" in capsys.readouterr().err


def test_module_entry_point_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "sklearn_recsys", "--quick", "--models", "popularity"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "popularity" in proc.stdout


def test_bad_arguments_exit_with_message(capsys):
    with pytest.raises(SystemExit):
        _cli.main(["--models", "nope"])
    assert "unknown model" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _cli.main(["--k", "0"])
    assert "--k must be a positive integer" in capsys.readouterr().err


def test_missing_log_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        _cli.main(["--data", str(tmp_path / "missing.csv")])


def test_recommend_subcommand(tmp_path, capsys):
    X, y = queries_from_log(make_sessions(n_users=50, random_state=0).interactions)
    model = Transition().fit(X, y)
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    history = [str(v) for v in X["history"].iloc[0]]
    assert _cli.main(["recommend", str(path), *history, "--k", "3"]) == 0
    printed = capsys.readouterr().out.split()
    expected = model.recommend([[int(v) for v in history]], k=3)[0]
    assert printed[1::2] == [str(v) for v in expected]
