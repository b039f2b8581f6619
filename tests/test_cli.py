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
    assert "0/2 Popularity: fitting" in text and "] 2/2 Transition: NDCG@10=" in text
    assert "NDCG@10" in text
    # the planted sequential structure: the Markov model wins by far
    assert results["transition"]["NDCG@10"] > 3 * results["popularity"]["NDCG@10"]
    report = (tmp_path / "report.md").read_text()
    assert "transition" in report
    pytest.importorskip("matplotlib")
    assert (tmp_path / "ndcg_at_k.png").stat().st_size > 1000


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
