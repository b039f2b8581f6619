"""Serving latency: single-query ``recommend`` (p50/p99), batch throughput, CLI wall time.

Protocol:

* data: MovieLens 100K (``$SKLEARN_RECSYS_DATA/ml-100k``; 943 users, 1,682
  items) or, with ``--data synthetic`` or when the folder is absent,
  ``make_sessions(n_users=943, n_items=1682)``; ``queries_from_log(log,
  n_last=1)``: one query per user (the history before its last event);
  every model is fitted on all of them (latency only, no accuracy here);
* single query: ``model.recommend([history], k=10)`` for ``--queries``
  histories drawn from the queries (same draw for every model), one call
  at a time after 10 warm-up calls; p50, p99 and mean of the wall time of
  a call;
* batch: ``model.recommend(X_1000, k=10)`` on 1,000 histories (the
  queries, repeated to 1,000), median of 3; rows per second;
* CLI: ``python -m sklearn_recsys recommend ease.joblib <3 items>`` on an
  EASE fitted on the same queries and saved with joblib, in a fresh
  interpreter each time, the tree before the lazy imports (``--old-ref``,
  extracted with ``git archive``) and this checkout interleaved, both
  byte-compiled first (as an installed package is; the environment sets
  ``PYTHONDONTWRITEBYTECODE``); wall time and CPU time (user + system) of
  the child; "floor": ``python -c "import sklearn.base, joblib"`` (what
  unpickling any scikit-learn estimator costs at least). The two trees must
  print the same list.

``torch.set_num_threads(1)``. The machine is shared: the load average is
printed before and after.

Run ``python benchmarks/bench_latency.py [--data synthetic] [--queries 300]``;
it prints a table and writes ``docs/benchmarks/latency.rst``.
"""

import argparse
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the checkout's package, installed or not
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_cold_start import default_data_home, git_commit, machine_info, page_tail  # noqa: E402

# the commit before the lazy imports (issue 14, item 5): "old" of the CLI rows
OLD_REF = "91c658a"
K = 10


def load_queries(data, data_home):
    from sklearn_recsys.datasets import load_movielens, make_sessions, queries_from_log

    if data == "ml-100k" and (Path(data_home) / "ml-100k").is_dir():
        bunch = load_movielens("100k", data_home=data_home)
        items = bunch.items.reset_index()
        text, lists = ["title"], ["genres"]
        name = "MovieLens 100K"
    else:
        bunch = make_sessions(n_users=943, n_items=1682, random_state=0)
        items, text, lists = bunch.items, None, None
        name = "synthetic make_sessions(n_users=943, n_items=1682, random_state=0)"
    X, y = queries_from_log(bunch.interactions, n_last=1)
    return name, X, y, items, text, lists


def models(items, text, lists, epochs):
    """(label, estimator factory) of every model timed; a factory gets the
    models fitted so far (ApproximateRecommender indexes the transformer)."""
    from sklearn.frozen import FrozenEstimator

    from sklearn_recsys.baselines import EASE, ItemKNN, Popularity, Transition
    from sklearn_recsys.content import TfidfRecommender
    from sklearn_recsys.intent import IntentRecommender
    from sklearn_recsys.retrieval import ApproximateRecommender, _backends

    def intent(module):
        return lambda done: IntentRecommender(module=module, max_epochs=epochs, random_state=0,
                                              device="cpu", verbose=0)

    out = [
        ("Popularity", lambda done: Popularity()),
        ("ItemKNN", lambda done: ItemKNN()),
        ("EASE", lambda done: EASE()),
        ("Transition", lambda done: Transition()),
        ("TfidfRecommender", lambda done: TfidfRecommender(
            items=items, text_columns=text, list_columns=lists)),
        ("IntentRecommender (transformer)", intent("transformer")),
        ("IntentRecommender (GRU)", intent("gru")),
    ]
    if any(_backends.available(b) for b in _backends.AUTO_ORDER):
        backend = _backends.resolve("auto")
        out.append((f"ApproximateRecommender (transformer, {backend})", lambda done:
                    ApproximateRecommender(FrozenEstimator(done["IntentRecommender (transformer)"]))))
    return out


def percentile_ms(times, q):
    return 1e3 * float(np.percentile(times, q))


def time_model(model, X, picks):
    histories = [list(h) for h in X["history"].iloc[picks]]
    for h in histories[:10]:  # warm-up: lazy state, caches, allocator
        model.recommend([h], k=K)
    times = []
    for h in histories:
        t0 = time.perf_counter()
        model.recommend([h], k=K)
        times.append(time.perf_counter() - t0)
    batch = X.iloc[np.resize(np.arange(len(X)), 1000)].reset_index(drop=True)
    batch_s = []
    for _ in range(3):
        t0 = time.perf_counter()
        model.recommend(batch, k=K)
        batch_s.append(time.perf_counter() - t0)
    t = np.array(times)
    return {"p50": percentile_ms(t, 50), "p99": percentile_ms(t, 99), "mean": 1e3 * t.mean(),
            "batch_s": float(np.median(batch_s)), "rows_s": 1000 / float(np.median(batch_s))}


def extract_old(ref, into):
    """``sklearn_recsys`` of ``ref`` under ``into`` (``git archive``, no worktree)."""
    into.mkdir(parents=True, exist_ok=True)
    archive = into / "old.tar"
    with open(archive, "wb") as f:
        subprocess.run(["git", "-C", str(ROOT), "archive", ref, "sklearn_recsys"], stdout=f,
                       check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    archive.unlink()
    return into


def compile_tree(tree):
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(tree) / "sklearn_recsys")],
                   check=True)


def run_child(cmd, pythonpath, cwd):
    """Wall and CPU (user + sys) seconds of one child, and its stdout."""
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise RuntimeError(f"{cmd} failed:\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def time_cli(ease, history, old_ref, repeats):
    """CLI ``recommend`` on a saved EASE: old tree, this checkout, the import floor."""
    import joblib

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = tmp / "ease.joblib"
        joblib.dump(ease, path)
        from sklearn_recsys.io import save

        safe = tmp / "ease.zip"
        save(ease, safe)
        old = extract_old(old_ref, tmp / "old")
        compile_tree(old)
        compile_tree(ROOT)
        # the old tree reads its own pickles (its EASE kept a pandas.Index in
        # its state): the same fitted arrays, pickled by the old tree
        np.savez(tmp / "ease.npz", coef_=ease.coef_, classes_=ease.classes_,
                 item_counts_=ease.item_counts_)
        old_path = tmp / "ease_old.joblib"
        run_child([sys.executable, "-c", (
            "import joblib, numpy as np, pandas as pd; from sklearn_recsys.baselines import EASE; "
            f"a = np.load({str(tmp / 'ease.npz')!r}); m = EASE(l2={ease.l2!r}); "
            "m.coef_, m.classes_, m.item_counts_ = a['coef_'], a['classes_'], a['item_counts_']; "
            f"m._item_kind_ = {ease._item_kind_!r}; m._item_index_ = pd.Index(m.classes_); "
            f"joblib.dump(m, {str(old_path)!r})")], old, tmp)
        cmd = [sys.executable, "-m", "sklearn_recsys", "recommend", str(path),
               *[str(v) for v in history], "--k", str(K)]
        floor = [sys.executable, "-c", "import sklearn.base, joblib"]
        safe_cmd = [*cmd[:4], str(safe), *cmd[5:]]
        old_cmd = [*cmd[:4], str(old_path), *cmd[5:]]
        runs = {"old": [], "new": [], "safe": [], "floor": []}
        outputs = {}
        for i in range(repeats + 1):  # the first round warms the page cache, not counted
            for label, tree, c in (("old", old, old_cmd), ("new", ROOT, cmd), ("safe", ROOT, safe_cmd),
                                   ("floor", ROOT, floor)):
                wall, cpu, out = run_child(c, tree, tmp)
                outputs[label] = out
                if i:
                    runs[label].append((wall, cpu))
        if not outputs["old"] == outputs["new"] == outputs["safe"]:
            raise RuntimeError(f"the CLI calls disagree:\n{outputs}")
    return runs, outputs["new"]


def rst_table(header, rows):
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    rule = "  ".join("=" * w for w in widths)
    fmt = lambda r: "  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([rule, fmt(header), rule, *map(fmt, rows), rule])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["ml-100k", "synthetic"], default="ml-100k")
    parser.add_argument("--data-home", type=Path, default=default_data_home())
    parser.add_argument("--queries", type=int, default=300, help="single-query calls per model")
    parser.add_argument("--epochs", type=int, default=2, help="IntentRecommender max_epochs")
    parser.add_argument("--cli-repeats", type=int, default=7)
    parser.add_argument("--old-ref", default=OLD_REF, help="git ref of the 'old' CLI tree")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "latency.rst")
    args = parser.parse_args(argv)
    command = "python benchmarks/bench_latency.py " + " ".join(argv if argv is not None else sys.argv[1:])
    import torch

    torch.set_num_threads(1)
    load_before = os.getloadavg()
    name, X, y, items, text, lists = load_queries(args.data, args.data_home)
    print(f"{name}: {len(X)} queries, {len(set(y))} distinct targets", flush=True)
    picks = np.random.default_rng(0).integers(0, len(X), args.queries)
    rows, fitted = [], {}
    for label, factory in models(items, text, lists, args.epochs):
        t0 = time.perf_counter()
        model = factory(fitted).fit(X, y)
        fit_s = time.perf_counter() - t0
        fitted[label] = model
        res = time_model(model, X, picks)
        print(f"{label}: fit {fit_s:.1f} s, p50 {res['p50']:.2f} ms, p99 {res['p99']:.2f} ms, "
              f"batch of 1000 {res['batch_s']:.3f} s", flush=True)
        rows.append([label, f"{res['p50']:.2f}", f"{res['p99']:.2f}", f"{res['mean']:.2f}",
                     f"{res['batch_s']:.3f}", f"{res['rows_s']:,.0f}", f"{fit_s:.1f}"])
    table = rst_table(["model", "p50 (ms)", "p99 (ms)", "mean (ms)", "batch 1000 (s)",
                       "rows/s", "fit (s)"], rows)
    print(table)
    history = list(X["history"].iloc[picks[0]])[-3:]
    runs, printed = time_cli(fitted["EASE"], history, args.old_ref, args.cli_repeats)
    labels = {"old": f"CLI recommend, before the lazy imports ({args.old_ref})",
              "new": f"CLI recommend, this checkout ({git_commit()})",
              "safe": "CLI recommend, this checkout, the model saved with sklearn_recsys.io.save",
              "floor": "floor: python -c \"import sklearn.base, joblib\""}
    cli_rows = []
    med = {}
    for key, label in labels.items():
        wall = np.array([w for w, _ in runs[key]])
        cpu = np.array([c for _, c in runs[key]])
        med[key] = (float(np.median(wall)), float(np.median(cpu)))
        cli_rows.append([label, " ".join(f"{w:.2f}" for w in wall), f"{med[key][0]:.2f}",
                         f"{np.min(wall):.2f}", f"{med[key][1]:.2f}"])
    cli_table = rst_table(["command", "wall times (s)", "median wall (s)", "min wall (s)",
                           "median CPU (s)"], cli_rows)
    print(cli_table)
    load_after = os.getloadavg()
    machine = machine_info()
    print("machine: " + "; ".join(f"{k} {v}" for k, v in machine.items()))
    load = (f"load average (1, 5, 15 min) {', '.join(f'{v:.1f}' for v in load_before)} before, "
            f"{', '.join(f'{v:.1f}' for v in load_after)} after")
    print(load)
    target = 0.5
    verdict = "PASS" if med["safe"][0] <= target else "FAIL"
    speedup = med["old"][0] / med["new"][0]
    text = [
        "Serving latency",
        "===============",
        "",
        f"Data: {name}; ``queries_from_log(log, n_last=1)`` ({len(X)} queries, one per",
        "user), every model fitted on all of them. Single query:",
        f"``model.recommend([history], k={K})`` for {args.queries} histories (the same draw for",
        "every model), one call at a time after 10 warm-up calls; batch:",
        "``recommend`` of 1,000 histories at once (median of 3). IntentRecommender:",
        f"package defaults, ``max_epochs={args.epochs}`` (latency does not depend on training",
        "length); ApproximateRecommender indexes that transformer model",
        "(``FrozenEstimator``) with the default settings of the first ANN library installed.",
        "One torch thread.",
        "",
        table,
        "",
        "CLI: ``python -m sklearn_recsys recommend ease.joblib <3 items>`` (what the",
        "``sklearn-recsys`` console script runs) on the EASE model above saved with",
        "joblib, a fresh interpreter per call, old and new trees interleaved, both",
        f"byte-compiled; {args.cli_repeats} timed calls each after one untimed round. The old tree is",
        f"``git archive {args.old_ref} sklearn_recsys``, the package before the lazy imports;",
        "all print the same list. CPU = user + system time of the child. The same model",
        "saved with ``sklearn_recsys.io.save`` (``ease.zip``) is timed in this checkout.",
        "",
        cli_table,
        "",
        f"* new / old median wall: {1 / speedup:.2f} (old {med['old'][0]:.2f} s, new "
        f"{med['new'][0]:.2f} s; CPU {med['old'][1]:.2f} s -> {med['new'][1]:.2f} s).",
        f"* target: CLI ``recommend`` on a saved EASE <= {target} s wall: {verdict} "
        f"(median {med['safe'][0]:.2f} s for the file of ``sklearn_recsys.io.save``, which the",
        "  CLI ranks from its arrays with NumPy alone, without importing scikit-learn;",
        f"  {med['new'][0]:.2f} s for the joblib file, which must import scikit-learn to unpickle).",
        f"* floor: importing ``sklearn.base`` and ``joblib`` alone takes {med['floor'][0]:.2f} s wall "
        f"({med['floor'][1]:.2f} s CPU) here: scikit-learn imports SciPy's stats and pandas",
        "  (with pyarrow) at start-up, and any pickled scikit-learn estimator needs it. The",
        "  package's own part of the CLI call is the rest (new minus floor):",
        f"  {med['new'][0] - med['floor'][0]:.2f} s wall, {med['new'][1] - med['floor'][1]:.2f} s CPU; "
        "torch is no longer imported.",
        f"* {load} (2 cores shared with other jobs: wall times",
        "  vary with the load; CPU times much less).",
        "",
        *page_tail(args.out, command),
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(text))
    print(f"wrote {args.out}")
    print(printed)


if __name__ == "__main__":
    main()
