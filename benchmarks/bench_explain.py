"""Attribution check of explain() for the networks on MovieLens-100k.

For each network tower (transformer, GRU) fitted on ml-100k (leave-last-out:
the last event of every user held out), ``explain(X_test, k=1)`` gives the
occlusion contribution of every history item to the top recommended item.
The check of issue 14: removing the top-contributing history item must
lower that item's score more than removing a random history item, on
average over many rows. The removal is re-measured here with
``decision_function`` on the edited histories (not read from the table),
next to two references: removing the most recent item, and the table's own
claim. Writes ``docs/benchmarks/explain.rst``; every number on the page is
printed by this script.

Usage: ``python benchmarks/bench_explain.py [--rows 300] [--epochs 10]``
(needs ml-100k under ``$SKLEARN_RECSYS_DATA`` or ``../shared/data``).
"""

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sklearn_recsys.datasets import load_movielens, queries_from_log  # noqa: E402
from sklearn_recsys.intent import IntentRecommender  # noqa: E402
from sklearn_recsys.model_selection import leave_last_out_split  # noqa: E402


def machine():
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    return {"CPU": f"{cpu}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}",
            "Python": platform.python_version(), "torch": torch.__version__,
            "commit": commit, "date": time.strftime("%Y-%m-%d")}


def check(model, X, n_rows, rng):
    rows = [list(h) for h in X["history"] if len(h) >= 3][:n_rows]
    t0 = time.perf_counter()
    table = model.explain(rows, k=1)
    seconds = time.perf_counter() - t0
    top, rand, last, claimed = [], [], [], []
    for r, h in enumerate(rows):
        part = table[table.row == r]
        j = np.searchsorted(model.classes_, part["item"].iloc[0])
        full = model.decision_function([h])[0, j]
        p_top = int(part["position"].iloc[0])
        p_rand = int(rng.integers(len(h)))
        edited = [h[:p] + h[p + 1:] for p in (p_top, p_rand, len(h) - 1)]
        drop = full - model.decision_function(edited)[:, j]
        top.append(drop[0])
        rand.append(drop[1])
        last.append(drop[2])
        claimed.append(part["contribution"].iloc[0])
    top, rand, last = map(np.asarray, (top, rand, last))
    return {
        "rows": len(rows),
        "top": top.mean(), "random": rand.mean(), "last": last.mean(),
        "share": (top > rand).mean(),
        "agree": np.abs(np.asarray(claimed) - top).max(),
        "seconds": seconds / len(rows),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "explain.rst")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    env = os.environ.get("SKLEARN_RECSYS_DATA")
    data = load_movielens("100k", data_home=Path(env) if env else ROOT.parent / "shared" / "data")
    X, y = queries_from_log(data.interactions, n_last=2)
    X_train, X_test, y_train, y_test = leave_last_out_split(X, y)
    results = []
    for module in ("transformer", "gru"):
        model = IntentRecommender(module=module, max_epochs=args.epochs, random_state=0,
                                  device="cpu", verbose=0)
        t0 = time.perf_counter()
        model.fit(X_train, y_train)
        fit_s = time.perf_counter() - t0
        res = check(model, X_test, args.rows, np.random.default_rng(0))
        res.update(module=module, fit=fit_s, ndcg=model.score(X_test, y_test))
        print(res, flush=True)
        results.append(res)
    info = machine()
    cols = ["tower", "NDCG@10", "rows", "top removed", "random removed", "last removed",
            "top > random", "table vs measured", "explain s/row"]
    body = [[r["module"], f"{r['ndcg']:.4f}", str(r["rows"]), f"{r['top']:.3f}",
             f"{r['random']:.3f}", f"{r['last']:.3f}", f"{r['share']:.1%}",
             f"{r['agree']:.1e}", f"{r['seconds']:.3f}"] for r in results]
    widths = [max(len(c), *(len(b[i]) for b in body)) for i, c in enumerate(cols)]
    rule = "  ".join("=" * w for w in widths)
    fmt = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()  # noqa: E731
    command = "python benchmarks/bench_explain.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [
        ".. _bench_explain:", "", "Explanations: does the top contributor matter?",
        "==============================================", "",
        "``IntentRecommender.explain`` attributes a recommendation to the history by "
        "occlusion. On MovieLens-100k (leave-last-out; each tower fitted with its "
        f"defaults for {args.epochs} epochs), for test rows with at least 3 history items, "
        "the top-1 item's score drop (mean over rows) when the table's top-contributing "
        "history item is removed, when a random history item is removed and when the "
        "most recent item is removed, re-measured with ``decision_function``; "
        "\"top > random\" is the share of rows where the top removal drops more; "
        "\"table vs measured\" the largest gap between the table's contribution and the "
        "measured drop.", "",
        rule, fmt(cols), rule, *(fmt(b) for b in body), rule, "",
        "Occlusion is the removal effect itself, so \"top removed\" is the largest drop "
        "by construction; the page shows how much larger than a random or the most "
        "recent removal it is, and that the table reports what a user measures.", "",
        "Reproduce", "---------", "", ".. code-block:: console", "", f"   $ {command.strip()}", "",
        "Machine", "-------", "", *[f"* {k}: {v}" for k, v in info.items()], "",
    ]
    args.out.write_text("\n".join(lines))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
