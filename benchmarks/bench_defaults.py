"""Fits with defaults: what a user who changes nothing waits for, and gets.

ml-latest-small (9.7k items, 100k ratings), split as in the cold-start
benchmark (``bench_cold_intent``: every cut point, 10% of the target items
held out as cold, each user's last remaining row a warm query), and
``IntentRecommender`` fitted with its defaults (``random_state=0``,
``device="cpu"``, ``verbose=0`` aside): ID-only (``items=`` the catalogue
ids) and content-aware (``item_encoder=`` the cold-start benchmark's bag
tower). "loss" is what ``loss="auto"`` chose (``loss_``); "epoch" is the
median epoch time, "set-up" the fit time outside the epochs. Optional rows
with other settings (``--extra``) are labelled with them. NDCG@10 with the
standard error over queries, as on the cold-start page, whose full-softmax
rows (10 epochs, ``lr=5e-3``) are the reference: ID-only warm 0.0595 ±
0.0080; bag tower cold 0.0266 ± 0.0011, warm 0.0544 ± 0.0077.

Run ``python benchmarks/bench_defaults.py [--extra]``; it prints a table and
writes ``docs/benchmarks/defaults.rst``.
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

from bench_cold_intent import DATASETS, bag, fmt, ndcg_rows, split_dataset  # noqa: E402
from bench_cold_start import default_data_home, page_tail, rst_table  # noqa: E402

from sklearn_recsys.intent import IntentRecommender  # noqa: E402

# settings beside the defaults (--extra): the variants the scale guide
# compares the defaults with (fewer negatives, a lower learning rate, the
# full softmax, whose epoch time is what matters: 2 epochs measure it)
EXTRA = {
    "n_negatives=256": dict(n_negatives=256),
    "lr=1e-3": dict(lr=1e-3),
    "loss=ce, max_epochs=2": dict(loss="ce", max_epochs=2),
}


def run(label, items, text, lists, content, split, params):
    (X_fit, y_fit), (X_cold, y_cold), (X_warm, y_warm) = split
    extra = dict(item_encoder=bag(text, lists), items=items) if content else dict(
        items=items.index.to_numpy())
    start = time.perf_counter()
    model = IntentRecommender(verbose=0, random_state=0, device="cpu", **params, **extra)
    model.fit(X_fit, y_fit)
    fit_s = time.perf_counter() - start
    durs = [h["dur"] for h in model.history_]
    row = {
        "model": ("content-aware (bag tower)" if content else "ID-only"),
        "settings": label, "loss": model.loss_, "epochs": str(len(durs)),
        "epoch (s)": f"{np.median(durs):.1f}", "set-up (s)": f"{fit_s - sum(durs):.0f}",
        "fit (s)": f"{fit_s:.0f}",
        "cold NDCG@10": fmt(ndcg_rows(y_cold, model.recommend(X_cold, k=10))) if content else "n/a",
        "warm NDCG@10": fmt(ndcg_rows(y_warm, model.recommend(X_warm, k=10))),
    }
    print(row, flush=True)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=default_data_home())
    parser.add_argument("--extra", action="store_true", help="also the settings of EXTRA")
    parser.add_argument("--id-only", action="store_true", help="skip the content-aware rows of --extra")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "defaults.rst")
    args = parser.parse_args(argv)
    command = "python benchmarks/bench_defaults.py " + " ".join(argv if argv is not None else sys.argv[1:])
    torch.set_num_threads(args.threads)
    items, fit, cold, warm, _ = split_dataset("latest-small", args.data_home)
    text, lists, _ = DATASETS["latest-small"]
    split = (fit, cold, warm)
    rows = [run("defaults", items, text, lists, content, split, {}) for content in (False, True)]
    if args.extra:
        rows += [run(label, items, text, lists, content, split, params)
                 for label, params in EXTRA.items()
                 for content in ((False,) if args.id_only else (False, True))]
    table = rst_table(rows)
    print(table)
    title = "Fits with defaults"
    intro = __doc__.split("\n\n", 1)[1].split("Run ``python")[0].rstrip().splitlines()
    lines = [title, "=" * len(title), "", *intro, "", f"Torch threads: {args.threads}.", "",
             table, "", *page_tail(args.out, command)]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
