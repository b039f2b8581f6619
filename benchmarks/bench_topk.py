"""Top-k selection: the package's one engine against the NumPy engine it replaced.

Every recommender ranks through ``sklearn_recsys._topk.top_k``: wide CPU
rows are first narrowed to the items at or above a threshold drawn from a
sample of their columns, then selected exactly (a NumPy ``argpartition``
for NumPy scores, since the lazy imports: the baselines never load torch;
``torch.topk`` on the device for tensors, the networks' scores); only rows
whose (k+1)-th score ties the k-th are redone, in one pass. Until commit
9bce448 the baselines ranked with ``argpartition`` over whole rows plus an
exact tie repair, and the intent model with its own torch copy; that NumPy
engine is kept verbatim in the script (``numpy_engine``) so all run on the
same score blocks in one process. "top_k, tensor" is the same block as a
CPU tensor (what the networks rank).

Blocks are ``rows x items`` float32 scores drawn uniformly, "with ties"
rounded to two decimals (every row then has ties at the k-th score, as
count-based scores such as popularity or transitions have), with the row's
seen items and a candidate mask applied as ``recommend`` does; each engine
gets a fresh copy of the block and may write into it, as in ``recommend``.
Both engines must return the same items and scores (checked before timing);
runs are interleaved, medians compared as ratios.

Run ``python benchmarks/bench_topk.py [--threads 1]``; it prints a table and
writes ``docs/benchmarks/topk.rst``.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_cold_start import page_tail, rst_table  # noqa: E402

from sklearn_recsys._topk import top_k  # noqa: E402


def _top_k_codes(scores, k):
    """base._top_k_codes as of 9bce448: argpartition, then exact tie repair."""
    n, n_items = scores.shape
    if k >= n_items:
        return np.broadcast_to(np.arange(n_items), (n, n_items)).copy()
    neg = -scores
    top = np.argpartition(neg, k - 1, axis=1)[:, :k]
    kth = np.take_along_axis(neg, top, axis=1).max(axis=1, keepdims=True)
    ties = neg == kth
    n_tied = ties.sum(axis=1)
    top_tied = np.take_along_axis(ties, top, axis=1)
    bad = n_tied > top_tied.sum(axis=1)
    if bad.any():
        t = ties[bad]
        need = k - (neg[bad] < kth[bad]).sum(axis=1, keepdims=True)
        take = (neg[bad] < kth[bad]) | (t & (np.cumsum(t, axis=1, dtype=np.int32) <= need))
        top[bad] = np.nonzero(take)[1].reshape(-1, k)
    return top


def numpy_engine(scores, k, seen, allowed):
    """RecommenderMixin._topk_chunk as of 9bce448 (scores already computed, written in place)."""
    scores = np.asarray(scores, dtype=np.float32)
    if allowed is not None:
        scores[:, ~allowed] = -np.inf
    r, c = seen
    scores[r, c] = np.where(np.isneginf(scores[r, c]), -np.inf, np.finfo(np.float32).min)
    top = _top_k_codes(scores, k)
    top_scores = np.take_along_axis(scores, top, axis=1)
    order = np.lexsort((top, -top_scores), axis=1)
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(top_scores, order, axis=1)


def package_engine(scores, k, seen, allowed):
    """RecommenderMixin._topk_chunk now (the chunk's own block, written in place)."""
    return top_k(scores, k, seen=seen, allowed=allowed, copy=False)


def tensor_engine(scores, k, seen, allowed):
    """The same on a CPU tensor (the networks' scores): the torch path."""
    return top_k(torch.from_numpy(scores), k, seen=seen, allowed=allowed, copy=False)


NOW, TENSOR, BEFORE = "top_k (now)", "top_k, tensor", "NumPy argpartition (before)"
ENGINES = {NOW: package_engine, TENSOR: tensor_engine, BEFORE: numpy_engine}


def block(n_rows, n_items, ties, rng):
    scores = rng.random((n_rows, n_items), dtype=np.float32)
    if ties:
        scores = np.round(scores, 2)
    rows = np.repeat(np.arange(n_rows), 20)
    seen = (rows, rng.integers(0, n_items, size=len(rows)))
    allowed = rng.random(n_items) < 0.9
    return scores, seen, allowed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", default="1024x20000,256x200000,4096x1682")
    parser.add_argument("--ks", default="10,100")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "topk.rst")
    args = parser.parse_args(argv)
    command = "python benchmarks/bench_topk.py " + " ".join(argv if argv is not None else sys.argv[1:])
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    rows = []
    for spec in args.blocks.split(","):
        n_rows, n_items = (int(v) for v in spec.split("x"))
        for ties in (False, True):
            scores, seen, allowed = block(n_rows, n_items, ties, rng)
            for k in (int(v) for v in args.ks.split(",")):
                ref = numpy_engine(scores.copy(), k, seen, allowed)
                for engine in (package_engine, tensor_engine):
                    got = engine(scores.copy(), k, seen, allowed)
                    if not (np.array_equal(got[0], ref[0]) and np.array_equal(got[1], ref[1])):
                        raise SystemExit(f"{spec}, k={k}, ties={ties}: the engines disagree")
                times = {name: [] for name in ENGINES}
                for _ in range(args.repeats):  # interleaved
                    for name, engine in ENGINES.items():
                        block_copy = scores.copy()  # each engine gets a fresh block, as in recommend
                        start = time.perf_counter()
                        engine(block_copy, k, seen, allowed)
                        times[name].append(time.perf_counter() - start)
                now, tensor, before = (np.median(times[name]) for name in (NOW, TENSOR, BEFORE))
                rows.append({
                    "block": f"{n_rows} x {n_items}", "ties": "yes" if ties else "no", "k": str(k),
                    "top_k (s)": f"{now:.3f}", "top_k, tensor (s)": f"{tensor:.3f}",
                    "NumPy before (s)": f"{before:.3f}", "before / now": f"{before / now:.1f}x",
                })
                print(rows[-1], flush=True)
    table = rst_table(rows)
    print(table)
    title = "Top-k selection"
    intro = __doc__.split("\n\n", 1)[1].split("Run ``python")[0].rstrip().splitlines()
    lines = [title, "=" * len(title), "", *intro, "",
             f"Torch threads: {args.threads}.", "", table, "", *page_tail(args.out, command)]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
