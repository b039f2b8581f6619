"""How new items are scored: cold/warm trade-off of scoring rules on fitted models.

Fits the models of ``bench_cold_intent.py`` (same protocol, same split,
same parameters and seeds; from scratch unless ``--cache-dir`` names a
folder of models an earlier run of either script saved) and scores the held-out ("cold") items of a fitted
content-aware IntentRecommender in other ways, without refitting, to see
whether any rule buys held-out targets more cheaply than ``cold_scale``:

* ``cold_neighbors=k, cold_scale=s``: the library's rule (a new item takes
  the similarity-weighted mean vector of its ``k`` nearest trained items in
  the content tower's space, at ``s`` times their mean norm);
* two-group softmax: each query's scores are turned into log-probabilities
  within the trained items and, separately, within the new items (their
  scores at ``cold_neighbors=10, cold_scale=1``, multiplied by a
  temperature factor ``t`` first), and the
  two groups are merged with a prior share ``pi`` of new items:
  ``log(1 - pi) + log softmax_known`` against ``log(pi) + log softmax_new``.
  With calibrated groups, moving ``pi`` traces the best trade-off of the
  two metrics (sorting by probability maximises the expected DCG of any
  weighted mix of cold and warm queries); the new items' share of the
  lists then adapts to each query.

Columns as in ``docs/benchmarks/cold_intent.rst``; "warm vs ID-only" is the
paired relative change against the ID-only model. The issue's bar:
cold NDCG@10 >= 1.2x TF-IDF's with warm within 3% of ID-only.

Run ``python benchmarks/bench_cold_rules.py [--cache-dir DIR] [--datasets ...]
[--models bag,bag-d0,...]``; writes ``docs/benchmarks/cold_rules.rst``.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.special import log_softmax

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_cold_intent import (  # noqa: E402
    DATASETS,
    cache_path,
    fitted,
    loaded_note,
    models,
    ndcg_rows,
    relative,
    split_dataset,
)
from bench_cold_start import default_data_home, page_tail, rst_table  # noqa: E402

from sklearn_recsys._topk import top_k_columns  # noqa: E402


def _fit_all(variant, data_home, cache_dir, epochs, which):
    """The split of ``variant`` and its fitted ``"id"`` and ``which`` models.

    Fitted from scratch as ``bench_cold_intent.py`` fits them (same split,
    parameters and seeds); with ``cache_dir``, a model saved there by either
    script is loaded instead, and the page lists it.
    """
    split = split_dataset(variant, data_home)
    items, (X_fit, y_fit) = split[0], split[1]
    text, lists, _ = DATASETS[variant]
    out = {}
    for key, _, make in models(items, text, lists, epochs, ["id", *which]):
        out[key], _ = fitted(make, X_fit, y_fit, cache_path(cache_dir, variant, key, epochs))
    return split, out


def _scores(model, X):
    """Every item's score as ``recommend`` ranks it: ``decision_function``'s, seen items at -inf."""
    queries = model._encode_queries(X)
    out = model._dense(queries, model._score_chunk, model._fallback_scores())
    out[queries.row_ids(), queries.codes] = -np.inf
    return out


def _two_group(scores, cold, pi, t):
    out = np.empty_like(scores)
    out[:, ~cold] = np.log1p(-pi) + log_softmax(scores[:, ~cold], axis=1)
    out[:, cold] = np.log(pi) + log_softmax(t * scores[:, cold], axis=1)
    return out


def _top(scores, classes, k=10):
    """The ``k`` best items of each row, best first, ties to the lower code (as ``recommend``)."""
    top = top_k_columns(scores, k)
    order = np.lexsort((top, -np.take_along_axis(scores, top, axis=1)), axis=1)
    return classes[np.take_along_axis(top, order, axis=1)]


def run(variant, data_home, cache_dir, epochs, which, ks, scales, pis, temps):
    (_, _, (X_cold, y_cold), (X_warm, y_warm), held), fits = _fit_all(
        variant, data_home, cache_dir, epochs, which)
    id_model = fits["id"]
    id_warm = ndcg_rows(y_warm, id_model.recommend(X_warm, k=10))
    rows = []

    def row(label, rule, setting, cold_recs, warm_recs):
        gains = ndcg_rows(y_warm, warm_recs)
        rows.append({"dataset": f"ml-{variant}", "model": label, "rule": rule, "setting": setting,
                     "cold NDCG@10": f"{ndcg_rows(y_cold, cold_recs).mean():.4f}",
                     "warm NDCG@10": f"{gains.mean():.4f}",
                     "warm vs ID-only": relative(gains, id_warm),
                     "cold in warm top-10": f"{np.isin(warm_recs, held).mean():.3f}"})
        print(rows[-1], flush=True)

    for key in which:
        model = fits[key]
        label = key
        for k in ks:
            for s in scales:
                model.set_params(cold_neighbors=k, cold_scale=s)
                row(label, "cold_scale", f"k={k}, s={s:g}", model.recommend(X_cold, k=10),
                    model.recommend(X_warm, k=10))
        model.set_params(cold_neighbors=10, cold_scale=1.0)
        cold = model.item_counts_ == 0
        s_cold, s_warm = _scores(model, X_cold), _scores(model, X_warm)
        for pi in pis:
            for t in temps:
                row(label, "two-group softmax", f"pi={pi:g}, t={t:g}",
                    _top(_two_group(s_cold, cold, pi, t), model.classes_),
                    _top(_two_group(s_warm, cold, pi, t), model.classes_))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", "--cache", dest="cache_dir", type=Path, default=None,
                        help="folder of models saved by bench_cold_intent.py --cache-dir (or an "
                             "earlier run of this script): loaded instead of refitted, and listed "
                             "on the page; default: every model fitted from scratch")
    parser.add_argument("--data-home", type=Path, default=default_data_home())
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--datasets", default="latest-small,1m-sas-trunc")
    parser.add_argument("--models", default="bag,bag-d0,bag-slow")
    parser.add_argument("--neighbors", default="5,10,20")
    parser.add_argument("--scales", default="0.9,0.95,1.0")
    parser.add_argument("--pis", default="0.05,0.1,0.2")
    parser.add_argument("--temps", default="1.0,1.25,1.5")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "cold_rules.rst")
    args = parser.parse_args(argv)
    command = "python benchmarks/bench_cold_rules.py " + " ".join(argv if argv is not None else sys.argv[1:])
    torch.set_num_threads(1)

    def floats(text):
        return [float(v) for v in text.split(",") if v]

    rows = []
    for variant in filter(None, args.datasets.split(",")):
        rows += run(variant, args.data_home, args.cache_dir, args.epochs, args.models.split(","),
                    [int(k) for k in floats(args.neighbors)], floats(args.scales),
                    floats(args.pis), floats(args.temps))
    table = rst_table(rows)
    print(table)
    title = "How new items are scored: rules on the fitted models"
    lines = [".. _cold_rules:", "", title, "=" * len(title), "",
             *__doc__.split("\n\n", 1)[1].split("Run ``python")[0].rstrip().splitlines(), "",
             table, "", *loaded_note(), *page_tail(args.out, command)]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
