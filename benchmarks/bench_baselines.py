"""Reference protocol for the classical baselines on MovieLens.

Protocol (leave-one-out, full ranking):

* users with >= 5 interactions; every rating counts as an interaction;
* each user's events in time order, ties kept in file order;
* last event = test, second-to-last = validation, the rest = training;
* hyper-parameters are picked on validation (model fitted on the training
  events), then the model is refitted on training + validation;
* every known item is ranked, the user's own items excluded;
* NDCG@10 and HR@10 of the test item, averaged over users.

In the package's terms: ``queries_from_log(log, n_last=3)`` gives per user the
rows ``s[:-3] -> s[-3]``, ``s[:-2] -> s[-2]`` and ``s[:-1] -> s[-1]``;
``LeaveLastOut(n_splits=2)`` over them yields the tuning fold (fit on the
first, validate on the second) and the test fold (fit on the second, test on
the third). A row's history is the user's whole prefix, so fitting on one row
per user is fitting on all their earlier events.

Run ``python benchmarks/bench_baselines.py [--data-home DIR]``; it prints a
table and writes ``docs/benchmarks/baselines.rst``.
"""

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the checkout's package, installed or not

from sklearn_recsys.baselines import EASE, ItemKNN, Popularity, Transition  # noqa: E402
from sklearn_recsys.datasets import load_movielens, queries_from_log  # noqa: E402
from sklearn_recsys.metrics import (  # noqa: E402
    hit_rate_at_k,
    make_ranking_scorer,
    ndcg_at_k,
)
from sklearn_recsys.model_selection import LeaveLastOut  # noqa: E402

# Test NDCG@10 of an independent implementation of the same protocol
# (its EASE used l2=50).
REFERENCE = {
    "100k": {"Popularity": 0.0439, "EASE (l2=50)": 0.0695},
    "latest-small": {"Popularity": 0.0194, "EASE (l2=50)": 0.0411},
}
# What this benchmark must reach: (model, low, high) on test NDCG@10.
REQUIRED = {
    "100k": [("Popularity", 0.0419, 0.0459), ("EASE", 0.068, None),
             ("EASE (l2=50)", 0.068, None)],
    "latest-small": [("Popularity", 0.0174, 0.0214), ("EASE", 0.040, None),
                     ("EASE (l2=50)", 0.040, None)],
}

# (label, estimator, grid searched on validation)
MODELS = [
    ("Popularity", Popularity(), [{}]),
    ("ItemKNN", ItemKNN(), {"n_neighbors": [50, 200, 1000], "shrinkage": [0.0, 10.0, 100.0]}),
    ("EASE", EASE(), {"l2": [10.0, 50.0, 100.0, 200.0, 500.0, 1000.0]}),
    ("EASE (l2=50)", EASE(l2=50.0), [{}]),
    (
        "Transition",
        Transition(),
        {"order": [1, 2, 3, 5], "decay": [0.3, 0.6, 0.9], "smoothing": [1.0, 20.0, 100.0]},
    ),
]


def default_data_home():
    env = os.environ.get("SKLEARN_RECSYS_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


def machine_info():
    """CPU, cores, library versions and date, for the results pages."""
    import scipy
    import sklearn

    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:  # pragma: no cover
        torch_version = "not installed"
    return {
        "CPU": cpu,
        "cores": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()),
        "Python": platform.python_version(),
        "NumPy": np.__version__,
        "SciPy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "torch": torch_version,
        "date": datetime.date.today().isoformat(),
        "commit": _git_commit(),
    }


def _git_commit():
    """The checkout's commit (short), ``+ local changes`` when the package or scripts differ."""
    import subprocess

    def git(*args):
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                              check=True).stdout.strip()

    try:
        sha = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", "sklearn_recsys",
                    "benchmarks")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return sha + (" + local changes" if dirty else "")


def rst_table(header, rows):
    """A ``list-table``-free simple RST grid table."""
    cells = [header] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    rule = "  ".join("=" * w for w in widths)
    fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([rule, fmt(cells[0]), rule, *map(fmt, cells[1:]), rule])


def load_queries(variant, data_home, min_interactions=5):
    log = load_movielens(variant, data_home=data_home).interactions
    n_per_user = log["user_id"].map(log["user_id"].value_counts())
    log = log[n_per_user >= min_interactions]
    X, y = queries_from_log(log, n_last=3)
    (tune_train, tune_val), (train, test) = LeaveLastOut(n_splits=2).split(X)
    return X, y, (tune_train, tune_val), (train, test), log


def run_model(est, grid, X, y, tune, final):
    """Tune on validation, refit on train + validation, score on test."""
    t0 = time.perf_counter()
    search = GridSearchCV(
        clone(est), grid, cv=[tune], scoring=make_ranking_scorer("ndcg", k=10),
        refit=False, n_jobs=1,
    ).fit(X, y)
    tune_s = time.perf_counter() - t0
    best = clone(est).set_params(**search.best_params_)
    train, test = final
    t0 = time.perf_counter()
    best.fit(X.iloc[train], y[train])
    fit_s = time.perf_counter() - t0
    rec = best.recommend(X.iloc[test], k=10)
    return {
        "params": search.best_params_,
        "val_ndcg": search.best_score_,
        "test_ndcg": ndcg_at_k(y[test], rec, k=10),
        "test_hr": hit_rate_at_k(y[test], rec, k=10),
        "fit_s": fit_s,
        "tune_s": tune_s,
    }


def fmt_params(params):
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()) or "-"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", type=Path, default=default_data_home(),
                        help="folder holding ml-100k/ and ml-latest-small/ "
                             "(default: $SKLEARN_RECSYS_DATA or ../shared/data)")
    parser.add_argument("--datasets", nargs="+", default=["100k", "latest-small"],
                        choices=["100k", "latest-small"])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks" / "baselines.rst")
    args = parser.parse_args(argv)

    header = ["dataset", "model", "chosen parameters", "val NDCG@10", "test NDCG@10",
              "reference", "test HR@10", "refit (s)", "tuning (s)"]
    rows, checks, notes = [], [], []
    for variant in args.datasets:
        X, y, tune, final, log = load_queries(variant, args.data_home)
        n_items = log["item_id"].nunique()
        notes.append(
            f"ml-{variant}: {log['user_id'].nunique()} users with >= 5 interactions, "
            f"{n_items} items, {len(log)} interactions; {len(final[1])} test users."
        )
        print(notes[-1], flush=True)
        results = {}
        for name, est, grid in MODELS:
            res = results[name] = run_model(est, grid, X, y, tune, final)
            ref = REFERENCE[variant].get(name)
            rows.append([
                f"ml-{variant}", name, fmt_params(res["params"]), f"{res['val_ndcg']:.4f}",
                f"{res['test_ndcg']:.4f}", f"{ref:.4f}" if ref is not None else "-",
                f"{res['test_hr']:.4f}", f"{res['fit_s']:.2f}", f"{res['tune_s']:.1f}",
            ])
            print("  ".join(rows[-1]), flush=True)
        for name, low, high in REQUIRED[variant]:
            got = results[name]["test_ndcg"]
            ok = got >= low and (high is None or got <= high)
            want = f">= {low}" if high is None else f"in [{low:.4f}, {high:.4f}]"
            checks.append((ok, f"ml-{variant} {name} test NDCG@10 = {got:.4f}, required {want}: "
                               f"{'PASS' if ok else 'FAIL'}"))

    table = rst_table(header, rows)
    machine = machine_info()
    command = "python benchmarks/bench_baselines.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print()
    print(table)
    print()
    for _, line in checks:
        print(line)
    print("machine: " + "; ".join(f"{k} {v}" for k, v in machine.items()))

    page = [
        "Classical baselines on MovieLens",
        "================================",
        "",
        "Leave-one-out with full ranking, the standard protocol of the",
        "sequential-recommendation literature: users with at least 5",
        "interactions (every rating is an interaction); each user's events in",
        "time order, ties in file order; last event for test, the one before",
        "for validation, the rest for training. Hyper-parameters are picked by",
        "validation NDCG@10 over a small grid (model fitted on the training",
        "events), then the model is refitted on training + validation and",
        "scored on the test events, ranking every known item with the user's",
        "own items excluded. \"reference\" is the test NDCG@10 of an independent",
        "implementation of the same protocol.",
        "",
        "In this package's terms: ``X, y = queries_from_log(log, n_last=3)``;",
        "``LeaveLastOut(n_splits=2).split(X)`` yields the tuning fold and the",
        "test fold; ``GridSearchCV(..., cv=[tuning_fold], scoring=",
        "make_ranking_scorer(\"ndcg\", k=10))`` picks the parameters.",
        "",
        *notes,
        "",
        table,
        "",
        "Checks",
        "------",
        "",
        *[f"* {line}" for _, line in checks],
        "",
        "Grids",
        "-----",
        "",
        *[f"* {name}: ``{grid if grid != [{}] else 'none'}``" for name, _, grid in MODELS],
        "",
        "Notes",
        "-----",
        "",
        "* Popularity on ml-100k: Return of the Jedi (item 181) and Contact",
        "  (item 258) both have 501 training + validation interactions, ranks 3",
        "  and 4 of the popularity list. This package breaks ties by item id",
        "  (181 first) and gets 0.0449; putting 258 first gives the reference's",
        "  0.0439 exactly (checked by hand). On ml-latest-small, id order",
        "  matches the reference and reversed ties would give 0.0189: no",
        "  fixed id order reproduces both references, while an unstable",
        "  ``np.argsort`` of the counts over items numbered in order of first",
        "  appearance does, i.e. the reference's ties are arbitrary. Users,",
        "  ordering, splits and exclusion agree: EASE with the reference's",
        "  ``l2=50`` gives its numbers to 4 digits.",
        "* Transition and ItemKNN picked values at the edge of their grids; a",
        "  wider search may gain a little.",
        "",
        "Times are wall-clock seconds of the final refit and of the whole",
        "grid search (fits + scoring), on a machine shared with other jobs.",
        "",
        "Reproduce",
        "---------",
        "",
        ".. code-block:: console",
        "",
        f"   $ {command.strip()}",
        "",
        "Machine",
        "-------",
        "",
        *[f"* {k}: {v}" for k, v in machine.items()],
        "",
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(page))
    print(f"wrote {args.output}")
    return 0 if all(ok for ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
