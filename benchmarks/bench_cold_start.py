"""Cold-start bar: the content-only TF-IDF baseline on held-out items.

Protocol:

* ``X, y = queries_from_log(log, n_last=1)``: one query per user, the whole
  history before the user's last event -> the last event;
* ``ColdItemSplit(n_splits=5, test_size=0.1, random_state=0)``: in each of 5
  independent draws, 10% of the distinct target items are held out as if
  released later; test rows = the queries whose target is held out;
  training rows = the queries in which no held-out item appears (target or
  history; the splitter's leak-free rule);
* every item of the catalogue is ranked (held-out items included, as they
  are in the catalogue), the user's own history excluded; NDCG@10 and HR@10
  of the target, averaged over the test rows of a draw, then mean +- std
  over the draws.

ml-latest-small uses titles, genres and tags; ml-1m-sas-trunc titles and
genres. These numbers are the bar a content-aware recommender must beat on
cold items. Popularity shows what a model without content gets: held-out
items never occur in training, so it never recommends them (0).

The strict training rows are few (a long history almost always contains
some held-out item); TF-IDF barely uses them (popularity tie-break only),
and the "stripped" row shows it: training on every row whose target is not
held out, with the held-out items removed from the histories
(``cold_item_split(..., strip_history=True)``), gives the same scores.

Run ``python benchmarks/bench_cold_start.py [--data-home DIR]``; it prints a
table and writes ``docs/benchmarks/cold_start.rst``.
"""

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the checkout's package, installed or not

from sklearn_recsys.baselines import Popularity  # noqa: E402
from sklearn_recsys.content import TfidfRecommender  # noqa: E402
from sklearn_recsys.datasets import load_movielens, queries_from_log  # noqa: E402
from sklearn_recsys.metrics import hit_rate_at_k, ndcg_at_k  # noqa: E402
from sklearn_recsys.model_selection._cold import ColdItemSplit, _strip  # noqa: E402

DATASETS = [
    # (variant, text columns, list columns)
    ("latest-small", ["title"], ["genres", "tags"]),
    ("1m-sas-trunc", ["title"], ["genres"]),
]
N_SPLITS, TEST_SIZE, SEED = 5, 0.1, 0


def models(items, text, lists):
    """(label, estimator factory, training rows) of the compared models."""
    def tfidf(**kw):
        return lambda: TfidfRecommender(items=items, text_columns=text, list_columns=lists, **kw)

    return [
        ("TfidfRecommender (default, recency_decay=0.8)", tfidf(), "strict"),
        ("TfidfRecommender, stripped-history training rows", tfidf(), "stripped"),
        ("TfidfRecommender recency_decay=1.0", tfidf(recency_decay=1.0), "strict"),
        ("TfidfRecommender recency_decay=0.5", tfidf(recency_decay=0.5), "strict"),
        ("Popularity (no content)", Popularity, "strict"),
    ]


def default_data_home():
    env = os.environ.get("SKLEARN_RECSYS_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


def machine_info():
    import pandas
    import scipy
    import sklearn
    import torch

    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "CPU": cpu,
        "cores": str(cores),
        "Python": platform.python_version(),
        "NumPy": np.__version__,
        "SciPy": scipy.__version__,
        "pandas": pandas.__version__,
        "scikit-learn": sklearn.__version__,
        "torch": torch.__version__,
        "date": datetime.date.today().isoformat(),
        "commit": git_commit(),
    }


def git_commit():
    """The checkout's commit (short), ``+ local changes`` when the tree differs from it."""
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


def cold_splits(variant, data_home):
    """The benchmark's queries and splits: ``(data, X, y, [(train, test, held), ...])``."""
    data = load_movielens(variant, data_home=data_home)
    X, y = queries_from_log(data.interactions, n_last=1)
    y = np.asarray(y)
    cv = ColdItemSplit(n_splits=N_SPLITS, test_size=TEST_SIZE, random_state=SEED)
    held = cv.held_out_items(X, y)
    return data, X, y, [(tr, te, h) for (tr, te), h in zip(cv.split(X, y), held)]


def run_dataset(variant, text, lists, data_home):
    data, X, y, splits = cold_splits(variant, data_home)
    rows = []
    for label, make, train_rows in models(data.items, text, lists):
        ndcg, hr, n_train, seconds = [], [], [], []
        for train, test, held in splits:
            if train_rows == "stripped":
                train = np.setdiff1d(np.arange(len(y)), test)
                X_train = _strip(X, train, held)
            else:
                X_train = X.iloc[train]
            start = time.perf_counter()
            model = make().fit(X_train, y[train])
            top = model.recommend(X.iloc[test], k=10)
            seconds.append(time.perf_counter() - start)
            ndcg.append(ndcg_at_k(y[test], top, k=10))
            hr.append(hit_rate_at_k(y[test], top, k=10))
            n_train.append(len(train))
        rows.append({
            "dataset": f"ml-{variant}",
            "model": label,
            "NDCG@10": f"{np.mean(ndcg):.4f} +- {np.std(ndcg):.4f}",
            "HR@10": f"{np.mean(hr):.4f} +- {np.std(hr):.4f}",
            "train rows": f"{int(np.mean(n_train))}",
            "test rows": f"{sum(len(te) for _, te, _ in splits)}",
            "fit+rank (s)": f"{np.mean(seconds):.2f}",
        })
    info = (
        f"ml-{variant}: {len(y)} queries, {len(data.items)} catalogue items, "
        f"{len(np.unique(y))} distinct targets, {len(splits[0][2])} held out per draw; "
        f"text {text}, lists {lists}."
    )
    return rows, info


def rst_table(rows):
    cols = list(rows[0])
    widths = [max(len(c), *(len(r[c]) for r in rows)) for c in cols]
    rule = "  ".join("=" * w for w in widths)
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()  # noqa: E731
    return "\n".join([rule, line(cols), rule, *(line([r[c] for c in cols]) for r in rows), rule])


# The first line of the note that fences a hand-written "Findings" section.
FINDINGS_NOTE = ".. note:: Findings written by hand from the run of "


def _machine_field(lines, key):
    """The value of ``* key: value`` in the "Machine" section of a page, or None."""
    for line in lines:
        if line.startswith(f"* {key}: "):
            return line.split(": ", 1)[1].strip()
    return None


def _findings(path):
    """The hand-written "Findings" section of an earlier output, fenced and dated.

    A rerun keeps the section but does not update it: the note that heads it
    names the run it was written from (the date and commit of the page it was
    read from, when the note is not there yet), so findings copied forward
    never pass for the new run's.
    """
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    if "Findings" not in lines or "Reproduce" not in lines:
        return []
    start, stop = lines.index("Findings"), lines.index("Reproduce")
    if start >= stop:
        return []
    block = lines[start:stop]
    if not any(line.startswith(FINDINGS_NOTE) for line in block):
        date = _machine_field(lines, "date") or "unknown date"
        commit = _machine_field(lines, "commit") or "commit not recorded"
        body = block[2:]
        while body and not body[0].strip():
            body = body[1:]
        block = [*block[:2], "", *findings_note(date, commit), "", *body]
    print(f"kept the hand-written findings of {path} unchanged: check them against the "
          "new tables and rewrite or drop them (and their note)", file=sys.stderr)
    return block


def findings_note(date, commit):
    """The note heading a hand-written findings section: the run it comes from."""
    return [f"{FINDINGS_NOTE}{date} ({commit});",
            "   a rerun of the script keeps them as they are and does not update them."]


def page_tail(out, command):
    """The end of a results page: the kept findings, how to reproduce it, the machine."""
    return [*_findings(out), "Reproduce", "---------", "", ".. code-block:: console", "",
            f"   $ {command.strip()}", "", "Machine", "-------", "",
            *[f"* {k}: {v}" for k, v in machine_info().items()], ""]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", type=Path, default=default_data_home())
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "cold_start.rst")
    args = parser.parse_args(argv)
    command = "python benchmarks/bench_cold_start.py " + " ".join(argv if argv is not None else sys.argv[1:])
    machine = machine_info()
    rows, infos = [], []
    for variant, text, lists in DATASETS:
        r, info = run_dataset(variant, text, lists, args.data_home)
        rows += r
        infos.append(info)
        print(info, flush=True)
    table = rst_table(rows)
    print(table)
    print("machine: " + "; ".join(f"{k} {v}" for k, v in machine.items()))
    text = [
        "Cold-start bar: TF-IDF content baseline",
        "=======================================",
        "",
        "Ranking items that were never seen in training, from their content",
        "only. ``X, y = queries_from_log(log, n_last=1)`` (one query per user:",
        "the history before the last event -> the last event);",
        f"``ColdItemSplit(n_splits={N_SPLITS}, test_size={TEST_SIZE}, random_state={SEED})``",
        "holds out 10% of the distinct target items in each of 5 independent",
        "draws. Test rows: queries whose target is held out. Training rows:",
        "queries in which no held-out item appears (the splitter's leak-free",
        "rule; \"stripped\": every query whose target is not held out, with the",
        "held-out items removed from its history). Every catalogue item is",
        "ranked, the user's history excluded. Scores: mean +- std over the",
        "draws; \"test rows\" is the total over the draws.",
        "",
        *[f"* {info}" for info in infos],
        "",
        table,
        "",
        "The default ``TfidfRecommender`` rows are the bar a content-aware",
        "recommender must beat (by 1.2x) on the same splits. The recency_decay",
        "rows were read on the test rows: they show sensitivity, they are not a",
        "tuned result. Popularity never recommends a held-out item (they do not",
        "occur in training), so it scores 0. With few test rows per draw",
        "(ml-latest-small), differences below a few thousandths are noise.",
        "",
        *page_tail(args.out, command),
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(text))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
