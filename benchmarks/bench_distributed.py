"""Data-parallel IntentRecommender: one process against a 2-process launch (CPU, gloo).

The same model, hyper-parameters and seed are fitted on MovieLens 100K
(the split and scoring of ``bench_intent.py``: per user, the second-to-last
item is the training target, the last one the test target, every item
ranked, seen items excluded) once in a single process and once under
``python -m torch.distributed.run --nproc_per_node 2`` (gloo), where each
process trains on half of the windows per step and the gradients are
averaged. ``batch_size`` is the global batch in both (64 windows per process
per step under the launch), so both take the same number of steps per
epoch with the same learning rate. Both hold out the last training item of
every user (``validation=1.0``) for early stopping, restoring the best
epoch. Each run has one torch thread per process.

Usage::

    python benchmarks/bench_distributed.py --data-home ../shared/data

``--module gru`` is faster; ``--seeds 3`` averages over random states.
The script exits with a message (status 0) when ml-100k is not there.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def worker(args):
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, HERE)
    from bench_intent import SASREC, split

    from sklearn_recsys.intent import IntentRecommender, RankingEarlyStopping
    from sklearn_recsys.metrics import hit_rate_at_k, ndcg_at_k

    Xtr, ytr, Xte, yte = split("100k", args.data_home)
    params = dict(SASREC)
    if args.module != "transformer":
        params["module__n_layers"] = 1
    rows = []
    for seed in range(args.seeds):
        rec = IntentRecommender(
            module=args.module, max_epochs=args.epochs, validation=1.0,
            callbacks=[RankingEarlyStopping(patience=args.patience)],
            random_state=seed, verbose=0, device="cpu", **params,
        )
        t = time.perf_counter()
        rec.fit(Xtr, ytr)
        fit_s = time.perf_counter() - t
        top = rec.recommend(Xte, k=10)
        ndcg = rec.history_[:, "valid_ndcg"]
        rows.append({
            "seed": seed, "NDCG@10": ndcg_at_k(yte, top, k=10), "HR@10": hit_rate_at_k(yte, top, k=10),
            "epochs": len(rec.history_), "best epoch": ndcg.index(max(ndcg)) + 1,
            "fit s": fit_s,
        })
    # every process holds the same model; rank 0 writes (the rule for saving, too)
    if int(os.environ.get("RANK", "0")) == 0:
        with open(args.result, "w") as f:
            json.dump(rows, f)


def run(args, n_proc, result):
    cmd = [sys.executable]
    if n_proc > 1:
        cmd += ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(n_proc)]
    cmd += [os.path.abspath(__file__), "--worker", "--result", result,
            "--data-home", args.data_home, "--module", args.module, "--epochs", str(args.epochs),
            "--patience", str(args.patience), "--seeds", str(args.seeds)]
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True)
    wall = time.perf_counter() - t
    with open(result) as f:
        return json.load(f), wall


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-home", default=os.environ.get("SKLEARN_RECSYS_DATA", "../shared/data"))
    p.add_argument("--module", default="transformer", choices=["transformer", "gru", "lstm"])
    p.add_argument("--epochs", type=int, default=20, help="at most this many epochs")
    p.add_argument("--patience", type=int, default=5)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not os.path.isfile(os.path.join(args.data_home, "ml-100k", "u.data")):
        print(f"ml-100k not found under {args.data_home!r} (--data-home or "
              "SKLEARN_RECSYS_DATA): nothing to benchmark.")
        return None
    if args.worker:
        return worker(args)
    import torch

    if not (torch.distributed.is_available() and torch.distributed.is_gloo_available()):
        print("torch.distributed with gloo is not available: nothing to benchmark.")
        return None
    print(f"ml-100k, {args.module}, at most {args.epochs} epochs (patience {args.patience}), "
          f"{args.seeds} seed(s), CPU, 1 torch thread per process", flush=True)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n_proc in (1, 2):
            rows, wall = run(args, n_proc, os.path.join(tmp, f"{n_proc}.json"))
            out[n_proc] = rows
            for r in rows:
                print(f"  {n_proc} process(es), seed {r['seed']}: NDCG@10={r['NDCG@10']:.4f} "
                      f"HR@10={r['HR@10']:.4f} epochs={r['epochs']} (best {r['best epoch']}) "
                      f"fit={r['fit s']:.1f}s", flush=True)
            print(f"  {n_proc} process(es): {wall:.1f}s wall in all", flush=True)
    mean = {n: sum(r["NDCG@10"] for r in rows) / len(rows) for n, rows in out.items()}
    diff = mean[2] - mean[1]
    print(f"NDCG@10 1 process {mean[1]:.4f}, 2 processes {mean[2]:.4f}, "
          f"difference {diff:+.4f} ({'within' if abs(diff) <= 0.005 else 'outside'} 0.005)")
    return out


if __name__ == "__main__":
    main()
