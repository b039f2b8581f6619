"""EASE fit time: ours against the straightforward float64 NumPy version.

Both get the same input: the training data of the leave-one-out protocol of
``bench_baselines.py`` on MovieLens latest-small (each user's events but the
last; 610 users, ~9.7k items). The straightforward version is Steck's formula
written literally::

    G = X.T @ X                      # dense float64
    P = np.linalg.inv(G + l2 * I)
    B = -P / np.diag(P); B[diag] = 0

timed from the dense float64 matrix (so its input preparation is free). Ours
is ``EASE(l2).fit(X, y)`` end to end (query parsing and vocabulary included),
which takes the Woodbury route here (fewer users than items), and its
Cholesky route (``spotrf`` + ``spotri`` on the items x items system) forced
on the same matrix. The runs are interleaved, a few repeats each, with the
BLAS libraries' default number of threads and with one thread; the median
times are compared. Both ``B`` are then compared entry-wise, and on ranking
quality (test NDCG@10 of the protocol with each ``B``).

Run ``python benchmarks/bench_ease_speed.py [--data-home DIR]``; it prints a
table and writes ``docs/benchmarks/ease_speed.rst``.
"""

import argparse
import gc
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the checkout's package, installed or not
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_baselines import (  # noqa: E402
    default_data_home,
    load_queries,
    machine_info,
    rst_table,
)

from sklearn_recsys.baselines import EASE  # noqa: E402
from sklearn_recsys.baselines._ease import _ease_primal  # noqa: E402
from sklearn_recsys.baselines._knn import _interaction_matrix  # noqa: E402
from sklearn_recsys.metrics import ndcg_at_k  # noqa: E402


def straightforward_ease(dense, l2):
    """Steck (2019) as written, float64."""
    gram = dense.T @ dense
    gram[np.diag_indices_from(gram)] += l2
    p = np.linalg.inv(gram)
    b = -p / np.diag(p)
    b[np.diag_indices_from(b)] = 0.0
    return b


def timed(fn):
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", type=Path, default=default_data_home(),
                        help="folder holding ml-latest-small/ "
                             "(default: $SKLEARN_RECSYS_DATA or ../shared/data)")
    parser.add_argument("--l2", type=float, default=50.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads; default: the library default, then 1")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks" / "ease_speed.rst")
    args = parser.parse_args(argv)

    X, y, _, (train, test), log = load_queries("latest-small", args.data_home)
    X_train, y_train = X.iloc[train], y[train]
    # the same binary user x item matrix every variant starts from
    probe = EASE(l2=args.l2)
    queries, y_codes = probe._fit_queries(X_train, y_train)
    ui = _interaction_matrix(probe._training_sequences(queries, y_codes), len(probe.classes_))
    dense = ui.toarray().astype(np.float64)
    print(f"input: {ui.shape[0]} users x {ui.shape[1]} items, {ui.nnz} interactions, "
          f"l2={args.l2:g}", flush=True)

    # BLAS threads: the library default, then 1 (less sensitive to other jobs)
    settings = [None, 1] if args.threads is None else [args.threads]
    results = {}
    b_ref = b_chol = ours = None
    for threads in settings:
        times = results[threads] = {"ours": [], "ours_cholesky": [], "straightforward": []}
        with threadpool_limits(threads):
            for r in range(args.repeats):
                t, ours = timed(lambda: EASE(l2=args.l2).fit(X_train, y_train))
                times["ours"].append(t)
                t, b_chol = timed(lambda: _ease_primal(ui, args.l2))
                times["ours_cholesky"].append(t)
                b_ref = None  # free the previous repeat's matrix before timing
                t, b_ref = timed(lambda: straightforward_ease(dense, args.l2))
                times["straightforward"].append(t)
                print(f"BLAS threads {_threads_label(threads)}, repeat {r + 1}: "
                      + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()), flush=True)

    scale = np.abs(b_ref).max()
    err = {
        "ours": float(np.abs(ours.coef_ - b_ref).max()),
        "ours_cholesky": float(np.abs(b_chol - b_ref).max()),
    }
    # ranking quality on the protocol's test rows, each B plugged in the same model
    ndcg = {}
    for name, b in (("ours", ours.coef_), ("ours_cholesky", b_chol),
                    ("straightforward", b_ref.astype(np.float32))):
        rec = _with_coef(ours, b).recommend(X.iloc[test], k=10)
        ndcg[name] = ndcg_at_k(y[test], rec, k=10)
    same_lists = float(np.mean(
        ours.recommend(X.iloc[test], k=10) == _with_coef(ours, b_ref.astype(np.float32)).recommend(X.iloc[test], k=10)
    ))

    labels = {
        "ours": "EASE.fit (auto: Woodbury, float32)",
        "ours_cholesky": "Cholesky route (spotrf+spotri, float32)",
        "straightforward": "straightforward (float64, np.linalg.inv)",
    }
    rows, checks = [], []
    for threads, times in results.items():
        med = {k: float(np.median(v)) for k, v in times.items()}
        for k in times:
            rows.append([
                _threads_label(threads),
                labels[k],
                " ".join(f"{t:.2f}" for t in times[k]),
                f"{med[k]:.2f}",
                f"{med[k] / med['straightforward']:.3f}",
                f"{err[k]:.1e}" if k in err else "-",
                f"{ndcg[k]:.4f}",
            ])
        for k in ("ours", "ours_cholesky"):
            ratio = med[k] / med["straightforward"]
            checks.append((ratio < 1 / 3, f"{labels[k]}, BLAS threads {_threads_label(threads)}: "
                                          f"time ratio {ratio:.3f} < 1/3"))
    header = ["BLAS threads", "variant", "times (s)", "median (s)", "time ratio",
              "max abs(B - B_ref)", "test NDCG@10"]
    table = rst_table(header, rows)
    checks += [
        (max(err.values()) <= 1e-4 * max(1.0, scale),
         f"max abs(B - B_ref) = {max(err.values()):.1e} (max abs(B_ref) = {scale:.3f})"),
        (abs(ndcg["ours"] - ndcg["straightforward"]) < 5e-4,
         f"test NDCG@10 ours {ndcg['ours']:.4f} vs straightforward {ndcg['straightforward']:.4f}; "
         f"{same_lists:.2%} of top-10 entries identical"),
    ]
    machine = machine_info()
    command = "python benchmarks/bench_ease_speed.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print()
    print(table)
    print()
    for ok, line in checks:
        print(f"{line}: {'PASS' if ok else 'FAIL'}")
    print("machine: " + "; ".join(f"{k} {v}" for k, v in machine.items()))

    page = [
        "EASE fit speed",
        "==============",
        "",
        "Our :class:`~sklearn_recsys.baselines.EASE` against Steck's formula",
        "written literally in float64 NumPy (``X.T @ X``, ``np.linalg.inv``,",
        "divide, zero the diagonal), on the same binary matrix: the training data",
        "of the leave-one-out protocol on MovieLens latest-small",
        f"({ui.shape[0]} users x {ui.shape[1]} items, {ui.nnz} interactions),",
        f"``l2={args.l2:g}``. The straightforward version is timed from the dense",
        "float64 matrix; ``EASE.fit`` from the raw queries (parsing included).",
        "With fewer users than items ``EASE.fit`` solves the users x users system",
        "and applies the Woodbury identity; the Cholesky route (float32",
        "``spotrf`` + ``spotri`` on the items x items system, what ``fit`` uses",
        "when users outnumber items) is timed on its own too. Runs are",
        "interleaved; the ratio compares medians, with the BLAS libraries'",
        "default number of threads and with 1 thread (``threadpoolctl``): on a",
        "machine shared with other jobs, multi-threaded BLAS suffers most from",
        "the contention. \"test NDCG@10\" plugs each ``B`` into the same model",
        "and scores the protocol's test rows.",
        "",
        table,
        "",
        *[f"* {line}: {'PASS' if ok else 'FAIL'}" for ok, line in checks],
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


def _threads_label(threads):
    if threads is not None:
        return str(threads)
    from threadpoolctl import threadpool_info

    found = {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
    return f"default ({', '.join(map(str, sorted(found)))})"


def _with_coef(model, coef):
    """A copy of a fitted EASE whose weights are ``coef``."""
    import copy

    other = copy.copy(model)
    other.coef_ = np.ascontiguousarray(coef, dtype=np.float32)
    return other


if __name__ == "__main__":
    sys.exit(main())
