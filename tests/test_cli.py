"""The main job: ``python -m sklearn_recsys``."""

import io
import re
import subprocess
import sys

import joblib
import numpy as np
import pandas as pd
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


# -- score: a file of histories -> a file of recommendations -----------------------


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    log = make_sessions(n_users=40, random_state=1).interactions
    X, y = queries_from_log(log)
    model = Transition().fit(X, y)
    path = tmp_path_factory.mktemp("model") / "model.joblib"
    joblib.dump(model, path)
    return model, path, log


def _histories(log):
    # each user's whole history, oldest first (the log is in time order)
    return log.groupby("user_id", sort=True)["item_id"].agg(list)


def test_score_histories_csv_in_batches_matches_recommend(saved_model, tmp_path, capsys):
    model, path, log = saved_model
    hist = _histories(log)
    rows = pd.DataFrame({"user_id": hist.index, "history": [" ".join(map(str, h)) for h in hist]})
    rows.loc[3, "history"] = ""  # an empty history: the popularity fallback
    rows.to_csv(tmp_path / "in.csv", index=False)
    out = tmp_path / "out.csv"
    # 40 users in batches of 7: six batches, the last one short
    assert _cli.main(["score", str(path), str(tmp_path / "in.csv"), str(out),
                      "--k", "4", "--batch-size", "7"]) == 0
    got = pd.read_csv(out)
    assert list(got.columns) == ["user", "rank", "item", "score"]
    assert len(got) == 40 * 4
    queries = [list(h) for h in hist]
    queries[3] = []
    items, scores = model.recommend(queries, k=4, return_scores=True)
    np.testing.assert_array_equal(got["user"].to_numpy(), np.repeat(hist.index, 4))
    np.testing.assert_array_equal(got["rank"].to_numpy(), np.tile([1, 2, 3, 4], 40))
    np.testing.assert_array_equal(got["item"].to_numpy().reshape(40, 4), items)
    np.testing.assert_allclose(got["score"].to_numpy().reshape(40, 4), scores, rtol=1e-6)
    assert "40/40" in capsys.readouterr().err  # the progress bar's last state


def test_score_log_layout_groups_events_by_user_in_time_order(saved_model, tmp_path):
    model, path, log = saved_model
    # the events shuffled: the time column restores each user's order
    log.sample(frac=1.0, random_state=0).to_csv(tmp_path / "log.tsv", sep="\t", index=False)
    out = tmp_path / "out.csv"
    assert _cli.main(["score", str(path), str(tmp_path / "log.tsv"), str(out), "--k", "3", "--quiet"]) == 0
    got = pd.read_csv(out)
    hist = _histories(log)
    expected = model.recommend([list(h) for h in hist], k=3)
    np.testing.assert_array_equal(got["item"].to_numpy().reshape(-1, 3), expected)
    np.testing.assert_array_equal(got["user"].to_numpy()[::3], hist.index)


def test_score_parquet_list_column_in_and_parquet_out(saved_model, tmp_path):
    pytest.importorskip("pyarrow", reason="Parquet needs the parquet extra (pyarrow)")
    model, path, log = saved_model
    hist = _histories(log)
    pd.DataFrame({"history": [list(h) for h in hist]}).to_parquet(tmp_path / "in.parquet")
    out = tmp_path / "out.parquet"
    assert _cli.main(["score", str(path), str(tmp_path / "in.parquet"), str(out),
                      "--k", "2", "--batch-size", "16", "--quiet"]) == 0
    got = pd.read_parquet(out)
    # no user column in the input: users are the row numbers
    np.testing.assert_array_equal(got["user"].to_numpy(), np.repeat(np.arange(40), 2))
    np.testing.assert_array_equal(got["item"].to_numpy().reshape(-1, 2),
                                  model.recommend([list(h) for h in hist], k=2))


def test_score_counts_on_stderr_without_tqdm(saved_model, tmp_path, monkeypatch, capsys):
    _, path, log = saved_model
    monkeypatch.setitem(sys.modules, "tqdm", None)  # "import tqdm" fails
    log.to_csv(tmp_path / "log.csv", index=False)
    assert _cli.main(["score", str(path), str(tmp_path / "log.csv"), str(tmp_path / "o.csv"),
                      "--batch-size", "30"]) == 0
    assert capsys.readouterr().err.strip().endswith("scored 40/40 rows")


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda d, m: [m, str(d / "missing.csv"), str(d / "o.csv")], "Input file not found: '"),
        (lambda d, m: [m, str(d / "log.csv"), str(d / "o.xlsx")],
         "Output file '.*o.xlsx' must end in .csv, .tsv, .txt, .parquet or .pq; got '.xlsx'"),
        (lambda d, m: [m, str(d / "log.csv"), str(d / "o.csv"), "--user-col", "user"],
         r"Input file has no column 'user' \(layout 'log'\); its columns are "
         r"\['user_id', 'item_id', 'timestamp'\]"),
        (lambda d, m: [m, str(d / "log.csv"), str(d / "o.csv"), "--layout", "histories"],
         "Input file has no column 'history' \\(layout 'histories'\\)"),
        (lambda d, m: [m, str(d / "other.csv"), str(d / "o.csv")],
         "neither a history column 'history' nor an item column 'item_id'; its columns are \\['a'\\]"),
        (lambda d, m: [str(d / "nomodel.joblib"), str(d / "log.csv"), str(d / "o.csv")],
         "Model file not found"),
        (lambda d, m: [str(d / "other.joblib"), str(d / "log.csv"), str(d / "o.csv")],
         "holds a dict, not a recommender"),
    ],
)
def test_score_bad_inputs_are_clear_errors(saved_model, tmp_path, capsys, make_args, message):
    _, path, log = saved_model
    log.to_csv(tmp_path / "log.csv", index=False)
    pd.DataFrame({"a": [1]}).to_csv(tmp_path / "other.csv", index=False)
    joblib.dump({"not": "a model"}, tmp_path / "other.joblib")
    with pytest.raises(SystemExit) as exc:
        _cli.main(["score", *make_args(tmp_path, str(path))])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("sklearn-recsys score: error: ")
    assert re.search(message, err), err


def test_score_rejects_nonpositive_k_and_batch_size(saved_model, tmp_path, capsys):
    _, path, _ = saved_model
    for flag in ("--k", "--batch-size"):
        with pytest.raises(SystemExit):
            _cli.main(["score", str(path), "in.csv", "out.csv", flag, "0"])
        assert f"{flag} must be a positive integer; got 0" in capsys.readouterr().err
