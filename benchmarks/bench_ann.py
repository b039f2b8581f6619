"""Approximate retrieval: ApproximateRecommender against exact ranking.

Two set-ups:

* **Synthetic, 10^6 items x d=64, 10,000 queries.** Item vectors are drawn
  around 1,024 cluster centres (cluster sizes Zipf-like, exponent 0.8), unit
  length times a norm that grows with the item's Zipf popularity (1 to 1.5,
  as trained embeddings of popular items are longer). The model is
  ``MeanVectors``: a query's vector is the mean vector of its history's
  items (5 items: 4 from one cluster, 1 from anywhere), scores are its
  inner products with the item vectors, so the exact ``recommend`` is the
  package's blocked top-k over the whole catalogue. Seen items are excluded
  (the index is asked for 16 items per row). Exact time and recall are
  measured on the first 2,000 queries (the exact time is scaled to 10,000);
  the approximate ``recommend`` runs on all 10,000.
* **A fitted IntentRecommender** (transformer, d=64, sampled softmax, 2
  epochs) on ``make_sessions(n_users=10000, n_items=50000)``: its own
  ``recommend`` against ``ApproximateRecommender(FrozenEstimator(model))``
  on the 10,000 training queries (its real vector geometry; the query
  vectors come from the network in both).

``recommend`` times include everything the call does (encoding the queries,
``transform``, the index search, exact re-scoring, ordering). Index build
times are for ``fit`` with a ``FrozenEstimator`` (the model is not refitted).
recall@10 is :func:`~sklearn_recsys.retrieval.retrieval_recall` against the
exact lists. Torch and the index libraries run one thread unless a row says
otherwise.

Run ``python benchmarks/bench_ann.py [--quick] [--cache DIR]``; it prints the
tables and writes ``docs/benchmarks/ann.rst``. Without ``--cache`` every row
is measured by this run; with it, the exact lists and the rows of earlier
runs kept in ``DIR`` are reused and merged, and the page names the run
(date, commit) of each row group.
"""

import argparse
import datetime
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.frozen import FrozenEstimator

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sklearn_recsys.base import RecommenderMixin  # noqa: E402
from sklearn_recsys.retrieval import (  # noqa: E402
    ApproximateRecommender,
    _backends,  # noqa: E402
    retrieval_recall,
)
from sklearn_recsys.retrieval._backends import available  # noqa: E402

OUT = ROOT / "docs" / "benchmarks" / "ann.rst"


class MeanVectors(RecommenderMixin, BaseEstimator):
    """A vector model over given item vectors: a query is its history's mean vector."""

    def __init__(self, vectors=None, counts=None):
        self.vectors = vectors
        self.counts = counts

    def fit(self, X=None, y=None):
        self.classes_ = np.arange(len(self.vectors))
        self.item_counts_ = np.asarray(self.counts, dtype=np.int64)
        self._item_kind_ = "int"
        self._item_index_ = pd.Index(self.classes_)
        return self

    def item_vectors(self):
        return self.vectors

    def _mean(self, queries):
        out = np.zeros((len(queries), self.vectors.shape[1]), dtype=np.float32)
        lengths = queries.lengths()
        full = lengths > 0
        if full.any():
            sums = np.add.reduceat(self.vectors[queries.codes], queries.indptr[:-1][full], axis=0)
            out[full] = sums / lengths[full, None]
        return out

    def transform(self, X):
        return self._mean(self._encode_queries(X))

    def _score_chunk(self, queries):
        return torch.from_numpy(self._mean(queries)) @ torch.from_numpy(self.vectors).T


def synthetic(n_items, n_queries, d=64, n_clusters=1024, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, d)).astype(np.float32)
    sizes = 1.0 / np.arange(1, n_clusters + 1) ** 0.8
    sizes /= sizes.sum()
    cluster = rng.choice(n_clusters, n_items, p=sizes)
    vectors = centres[cluster] + 0.7 * rng.standard_normal((n_items, d)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rank = rng.permutation(n_items) + 1
    pop = 1.0 / rank ** 0.7
    vectors *= (1 + 0.5 * np.log(pop / pop.min()) / np.log(pop.max() / pop.min()))[:, None]
    counts = np.maximum(1, (1e6 * pop / pop.sum()).astype(np.int64))
    members = pd.Series(np.arange(n_items)).groupby(cluster).apply(np.asarray)
    home = rng.choice(members.index.to_numpy(), n_queries, p=sizes[members.index] / sizes[members.index].sum())
    histories = [
        rng.choice(members[h], 4).tolist() + [int(rng.integers(n_items))] for h in home
    ]
    return vectors.astype(np.float32), counts, histories


def timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t


def cpu_timed(fn, *args, **kw):
    """Result, wall seconds and this process's CPU seconds (all threads)."""
    c, t = time.process_time(), time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t, time.process_time() - c


def prebuilt(backend, path):
    """``_backends.build`` replaced by loading a saved index (a long build, run once)."""
    import hnswlib

    original = _backends.build

    def load(name, vectors, params, threads):
        if name != backend:
            return original(name, vectors, params, threads)
        index = hnswlib.Index(space="ip", dim=vectors.shape[1])
        index.load_index(str(path), max_elements=len(vectors))
        return index

    return load


def rst_table(header, rows):
    cols = list(zip(header, *rows))
    widths = [max(len(str(v)) for v in col) for col in cols]
    line = "  ".join("=" * w for w in widths)
    fmt = lambda r: "  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line, fmt(header), line, *map(fmt, rows), line])


SETTINGS = {
    "faiss": ("n_probe", [32, 64, None, 160], {}),
    "hnswlib": ("ef_search", [16, 32, 64, 96], {}),
    "usearch": ("ef_search", [16, 32, 64, 128], {}),
}


def run_backend(model, backend, queries, exact, n_eval, build_jobs, k=10, quick=False,
                prebuilt_seconds=None, graph=None):
    key, values, fixed = SETTINGS[backend]
    fixed = dict(fixed, **(graph if backend != "faiss" else {}))
    prefix = "".join(f"{name}={value} " for name, value in sorted(fixed.items()))
    if quick:
        values = values[1:3]
    rec, build = timed(ApproximateRecommender(FrozenEstimator(model), backend=backend,
                                              n_jobs=build_jobs, **fixed).fit, None, None)
    shown_build = f"{build:.1f}"
    if prebuilt_seconds is not None and backend == "hnswlib":
        shown_build = f"{prebuilt_seconds:.0f} (earlier run)"
    rows = []
    for value in values:
        rec.set_params(**{key: value}, n_jobs=None)
        items, t, cpu = cpu_timed(rec.recommend, queries, k=k)
        shown = value if value is not None else f"None ({_backends.default_n_probe(rec.index_.nlist)})"
        rows.append([backend, f"{prefix}{key}={shown}", "1", shown_build if not rows else "",
                     f"{t:.2f}", f"{cpu:.2f}", f"{retrieval_recall(exact, items[:n_eval]):.3f}"])
        print(*rows[-1], flush=True)
    # with both cores: the best recall within 2 CPU seconds (else the
    # fastest setting); wall times on this shared machine vary with its load
    timed_rows = list(zip(values, rows))
    good = [vr for vr in timed_rows if float(vr[1][5]) <= 2.0] or timed_rows[:1]
    value, row = max(good, key=lambda vr: float(vr[1][6]))
    rec.set_params(**{key: value}, n_jobs=2)
    items, t, cpu = cpu_timed(rec.recommend, queries, k=k)
    rows.append([backend, row[1], "2", "", f"{t:.2f}", f"{cpu:.2f}",
                 f"{retrieval_recall(exact, items[:n_eval]):.3f}"])
    print(*rows[-1], flush=True)
    return rows


def bench_synthetic(args, backends):
    (vectors, counts, histories), t_gen = timed(synthetic, args.n_items, args.n_queries)
    print(f"data: {args.n_items} x {vectors.shape[1]} in {t_gen:.1f}s", flush=True)
    model = MeanVectors(vectors, counts).fit()
    cache = Path(args.cache) / f"exact_{args.n_items}_{args.n_queries}_{args.n_eval}.npz"
    if cache.exists():
        got = np.load(cache)
        exact, t_exact = got["exact"], float(got["seconds"])
    else:
        exact, t_exact = timed(model.recommend, histories[:args.n_eval], k=10)
        np.savez(cache, exact=exact, seconds=t_exact)
    per = t_exact * args.n_queries / args.n_eval
    print(f"exact: {t_exact:.1f}s for {args.n_eval} -> {per:.1f}s per {args.n_queries}", flush=True)
    rows = {"exact": [["exact (blocked top-k)", "", "1", "", f"{per:.1f} (scaled)", "",
                       "1.000"]]}
    for backend in backends:
        rows[backend] = run_backend(model, backend, histories, exact, args.n_eval,
                                    args.build_jobs, quick=args.quick,
                                    prebuilt_seconds=args.prebuilt_seconds, graph=_graph(args))
    title = (f"Synthetic: {args.n_items:,} items x d=64, {args.n_queries:,} queries "
             f"(recall on the first {args.n_eval:,})")
    return title, rows


def bench_intent(args, backends, n_items=50_000, n_users=10_000):
    from sklearn_recsys.datasets import make_sessions, queries_from_log
    from sklearn_recsys.intent import IntentRecommender

    data = make_sessions(n_users=n_users, n_items=n_items, n_topics=50, random_state=0)
    X, y = queries_from_log(data.interactions, n_last=1)
    model, t_fit = timed(IntentRecommender(
        loss="sampled_softmax", max_epochs=2, batch_size=256, max_len=20, module__d_model=64,
        lr=1e-3, verbose=0, random_state=0, device="cpu").fit, X, y)
    print(f"intent model: {len(model.classes_)} items, fit {t_fit:.0f}s", flush=True)
    exact, t_exact, cpu_exact = cpu_timed(model.recommend, X, k=10)
    _, t_transform = timed(model.transform, X)
    print(f"exact recommend {t_exact:.1f}s (transform alone {t_transform:.1f}s)", flush=True)
    rows = {"exact": [["exact (IntentRecommender.recommend)", "", "1", "", f"{t_exact:.2f}",
                       f"{cpu_exact:.2f}", "1.000"]]}
    for backend in backends:
        rows[backend] = run_backend(model, backend, X, exact, len(X), args.build_jobs,
                                    quick=args.quick, graph=_graph(args))
    title = (f"IntentRecommender: {len(model.classes_):,} items, {len(X):,} queries "
             f"(transform alone: {t_transform:.1f} s)")
    return title, rows


def _graph(args):
    return {"hnsw_m": args.hnsw_m, "ef_construction": args.ef_construction}


HEADER = ["method", "setting", "query threads", "build (s)", "recommend (s)", "CPU (s)",
          "recall@10"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-items", type=int, default=1_000_000)
    parser.add_argument("--n-queries", type=int, default=10_000)
    parser.add_argument("--n-eval", type=int, default=2_000)
    parser.add_argument("--backends", nargs="*", default=["faiss", "hnswlib"])
    parser.add_argument("--build-jobs", type=int, default=2)
    parser.add_argument("--parts", nargs="*", default=["synthetic", "intent"],
                        choices=["synthetic", "intent"])
    parser.add_argument("--quick", action="store_true", help="two settings per backend")
    parser.add_argument("--cache", default=None,
                        help="folder for the exact lists and the results of earlier runs, "
                             "reused and merged into the page; default: a fresh temporary "
                             "folder (every row measured by this run)")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--hnsw-m", type=int, default=32)
    parser.add_argument("--ef-construction", type=int, default=100)
    parser.add_argument("--prebuilt-hnswlib", type=Path, default=None,
                        help="load this saved hnswlib index instead of building it")
    parser.add_argument("--prebuilt-seconds", type=float, default=None,
                        help="build time of that index, as measured when it was built")
    args = parser.parse_args()
    torch.set_num_threads(1)
    backends = [b for b in args.backends if available(b)]
    if args.prebuilt_hnswlib is not None:
        _backends.build = prebuilt("hnswlib", args.prebuilt_hnswlib)
    # results of earlier runs (other parts or backends) are kept: each run
    # replaces only what it measured, so the parts can run one at a time
    args.command = "python benchmarks/bench_ann.py " + " ".join(sys.argv[1:])
    if args.cache is None:
        args.cache = tempfile.mkdtemp(prefix="bench_ann_")
    store = Path(args.cache) / "bench_ann_results.json"
    results = json.loads(store.read_text()) if store.exists() else {}
    runs = {"synthetic": bench_synthetic, "intent": bench_intent}
    from bench_cold_start import git_commit

    this_run = f"{datetime.date.today().isoformat()}, commit {git_commit()}"
    for part in args.parts:
        title, rows = runs[part](args, backends)
        old = results.get(part, {})
        results[part] = {"title": title, "rows": {**old.get("rows", {}), **rows},
                         "runs": {**old.get("runs", {}), **dict.fromkeys(rows, this_run)}}
    store.write_text(json.dumps(results, indent=1))
    for part in results.values():
        print(f"\n{part['title']}\n{rst_table(HEADER, _rows(part))}")
    if not args.no_write:
        write(results, args)


def _rows(part):
    rows = part["rows"]
    order = ["exact", *[b for b in SETTINGS if b in rows]]
    return [r for name in order for r in rows[name]]


# What the tables of the 2026-12-02 run say (rewrite when the numbers change,
# and date the note to the run they are read from).
FINDINGS = """\
What the numbers say
--------------------

.. note:: Findings written by hand from the run of 2026-12-02 (results committed
   in 46bad0e); a rerun of the script keeps them as they are and does not update
   them.

* **Wall times are 3-5x the CPU times**: the machine ran other jobs (load
  average 6 to 10 on 2 cores). With one query thread, the CPU column is close
  to what the call takes on an idle core; on a busy one, use the wall column.
* **The target is met in CPU time by hnswlib, not in wall time.** At 10^6
  synthetic items, ``ef_search=64`` found 96.2% of the exact top 10 for 1.6
  CPU seconds per 10,000 queries (exact: about 155 s); the wall time was 6-7 s
  on the loaded machine, and a second query thread did not shorten it there.
  The graph took 571 s to build with 2 threads on the loaded machine
  (``hnsw_m=16``; the default 32 builds about 20% slower on 14k items and was
  not built at 10^6 for lack of time). That build alone is longer than one
  benchmark run may take here, so the table's hnswlib rows load the graph an
  earlier ``fit`` on the same data built and saved (``--prebuilt-hnswlib``).
* **faiss's inverted file** builds 4x faster (136 s) but needs 5.5 CPU s for
  97.2% (``n_probe`` 100 of 4,000 lists) and 3.8 CPU s for 94.7%.
* **On a fitted IntentRecommender the index is harder**: its item vectors
  have similar norms and its query vectors share a direction, and with
  ``exclude_seen`` the index must find the top 10 plus the history (up to 50
  items, so ``ef_search`` below 64 changes nothing). hnswlib reached 95.8% at
  ``ef_search=96``; faiss stayed below 80% even at 160 of 876 lists. On 48k
  items the exact ranking (3.3 CPU s) was as fast as the index: approximate
  retrieval pays only for catalogues of a few 10^5 items and more.
* **usearch** was not run at 10^6: on 5x10^4 synthetic items (``hnsw_m=16``)
  it built in 24 s against 14 s for hnswlib, at the same recall (0.99 at
  ``ef_search=64``) for twice the query time.

"""


def write(results, args):
    intro = __doc__.split("\n\n", 1)[1].rsplit("\n\nRun ", 1)[0]
    text = [
        "Approximate retrieval (ANN)", "===========================", "",
        "``ApproximateRecommender`` ranks a vector model through an approximate",
        "nearest-neighbour index (faiss IVF, hnswlib or usearch HNSW; inner product),",
        "re-scoring the proposed items exactly. Target of the scale issue: 10^6 items",
        "(d=64), 10,000 queries, ``recommend`` within 2 s at recall@10 >= 0.95.", "",
        intro, "",
        f"Machine: {platform.machine()} 2-core AMD EPYC (shared with other jobs), "
        f"torch {torch.__version__}; index builds with {args.build_jobs} threads, "
        "queries with the threads in the table.", "",
    ]
    for key in ("synthetic", "intent"):
        if key in results:
            title = results[key]["title"]
            runs = results[key].get("runs", {})
            text += [title, "-" * len(title), "", rst_table(HEADER, _rows(results[key])), "",
                     "Measured by the runs of: " + "; ".join(
                         f"{name}: {runs.get(name, 'run not recorded')}"
                         for name in results[key]["rows"]) + ".", ""]
    text += FINDINGS.splitlines()
    text += ["Reproduce", "---------", "", ".. code-block:: bash", "",
             f"   {args.command.strip()}", "",
             "Each part can run alone (``--parts synthetic --backends faiss --cache DIR``);",
             "results of earlier runs kept in ``--cache`` are merged into the page, under",
             "the run that measured them. Without ``--cache`` every row is this run's.", ""]
    OUT.write_text("\n".join(text))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
