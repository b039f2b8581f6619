"""Torch intra-op threads on busy cores: a small network's fit time with 1 and 2 threads.

The user guide (gpu.rst) advises one torch thread per job on a shared
machine. This script measures the claim: the next-item example's network
(``IntentRecommender``, transformer, ``d_model=64``, 2 layers, ``max_len=50``)
fitted for a few epochs on ``make_sessions(n_users=2000)``, each fit in a
fresh process with ``torch.set_num_threads(t)``, while ``--busy`` other
processes spin on the CPU (the "busy cores" condition; 0 measures an idle
machine). Runs of the two settings alternate; the ratio compares medians.

Run ``python benchmarks/bench_threads.py [--epochs 3] [--repeats 3] [--busy 2]``;
it prints a table and writes ``docs/benchmarks/threads.rst``.
"""

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_baselines import machine_info, rst_table  # noqa: E402

CHILD = """
import sys, time, torch
torch.set_num_threads({threads})
from sklearn_recsys.datasets import make_sessions, queries_from_log
from sklearn_recsys.intent import IntentRecommender
log = make_sessions(n_users=2000, random_state=0).interactions
X, y = queries_from_log(log, n_last=3, max_len=50)
model = IntentRecommender(max_epochs={epochs}, lr=3e-3, max_len=50, module__d_model=64,
                          module__n_layers=2, verbose=0, random_state=0, device="cpu")
start = time.perf_counter()
model.fit(X, y)
print(time.perf_counter() - start)
"""


def _spin(stop):
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


def fit_seconds(threads, epochs):
    out = subprocess.run(
        [sys.executable, "-c", CHILD.format(threads=threads, epochs=epochs)],
        capture_output=True, text=True, check=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--busy", type=int, default=2, help="spinning processes beside the fit")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "threads.rst"))
    args = parser.parse_args(argv)

    stop = mp.Event()
    spinners = [mp.Process(target=_spin, args=(stop,), daemon=True) for _ in range(args.busy)]
    for p in spinners:
        p.start()
    times = {1: [], 2: []}
    load_start = os.getloadavg()[0]
    try:
        for r in range(args.repeats):
            for t in (1, 2):
                times[t].append(fit_seconds(t, args.epochs))
                print(f"repeat {r + 1}: {t} thread(s) {times[t][-1]:.1f} s", flush=True)
    finally:
        stop.set()
        for p in spinners:
            p.join()
    load_end = os.getloadavg()[0]
    med = {t: float(np.median(v)) for t, v in times.items()}
    rows = [[str(t), " ".join(f"{s:.1f}" for s in times[t]), f"{med[t]:.1f}", f"{med[t] / med[1]:.2f}"]
            for t in (1, 2)]
    table = rst_table(["torch threads", "fit times (s)", "median (s)", "ratio to 1 thread"], rows)
    print(table)
    info = machine_info()
    machine = "\n".join(f"* {k}: {v}" for k, v in info.items())
    page = f"""Torch threads on busy cores
===========================

The next-item example's network (``IntentRecommender``, transformer,
``d_model=64``, 2 layers, ``max_len=50``, {args.epochs} epochs) on
``make_sessions(n_users=2000)``, each fit in a fresh process with
``torch.set_num_threads(t)``, while {args.busy} other processes spin on the
CPU (other jobs of the machine aside: its 1-minute load average was
{load_start:.1f} at the start and {load_end:.1f} at the end). Runs alternate
between the settings; the ratio compares medians. Written by ``python benchmarks/bench_threads.py --epochs {args.epochs}
--repeats {args.repeats} --busy {args.busy}``.

{table}

Machine
-------

{machine}
"""
    Path(args.out).write_text(page)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
