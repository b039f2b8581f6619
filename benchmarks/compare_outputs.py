"""Do two versions of the package give the same models? Digests of what they return.

For refactors that must change no behaviour: the same models are fitted on
the same synthetic data with this checkout's code and with another revision's
(a temporary ``git worktree``), each in its own process, and digests of what
they return are compared:

* the intent model with full softmax + validation holdout + early stopping,
  sampled softmax + context, BCE with a GRU, content + free-text query,
  content + sampled softmax; then ``update_items``, warm start +
  ``partial_fit`` and a pickle round trip;
* the baselines, ``TfidfRecommender`` and a ``ContentEncoder``;

each through ``recommend`` (plain and with candidates), the scores and, for
the networks, ``transform``, ``predict_proba`` and the per-epoch
``train_loss``/``valid_ndcg``/``valid_loss``. ContentEncoders are seeded with
``RandomState`` instances.

Run ``python benchmarks/compare_outputs.py --ref 9bce448``; it prints both
digest lists and exits 1 when they differ.
"""

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def digest(*arrays):
    import numpy as np

    h = hashlib.sha1()
    for a in arrays:
        a = np.asarray(a)
        h.update(a.astype(str).tobytes() if a.dtype == object else a.tobytes())
    return h.hexdigest()[:12]


def outputs():
    """``name digest score`` lines of every model, fitted with the importable package."""
    import pickle

    import numpy as np
    import pandas as pd
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    np.random.seed(0)
    from sklearn_recsys.baselines import EASE, ItemKNN, Popularity, Transition
    from sklearn_recsys.content import ContentEncoder, TfidfRecommender
    from sklearn_recsys.datasets import make_sessions, queries_from_log
    from sklearn_recsys.intent import IntentRecommender, RankingEarlyStopping

    data = make_sessions(n_users=150, random_state=0, with_queries=True)
    X, y = queries_from_log(data.interactions, n_last=2, context_columns=["query"])
    X["ctx"] = np.arange(len(X)) % 7 * 1.5
    tr, te = X.iloc[::2], X.iloc[1::2]
    ytr, yte = np.asarray(y)[::2], np.asarray(y)[1::2]
    common = dict(max_epochs=3, batch_size=32, max_len=20, module__d_model=16, random_state=0,
                  verbose=0, device="cpu")

    def encoder(**params):
        return ContentEncoder(module__d_model=16, random_state=np.random.RandomState(0), **params)

    models = {
        "ce+valid": IntentRecommender(**common, validation=0.5,
                                      callbacks=[RankingEarlyStopping(patience=2)]),
        "sampled+ctx": IntentRecommender(**common, loss="sampled_softmax", n_negatives=32,
                                         context_columns=["ctx"]),
        "bce-gru": IntentRecommender(**{**common, "module": "gru"}, loss="bce", n_negatives=8),
        "content+query": IntentRecommender(**common, validation=1.0, item_encoder=encoder(max_epochs=1),
                                           items=data.items, query_column="query"),
        "content-sampled": IntentRecommender(**common, loss="sampled_softmax", n_negatives=32,
                                             item_encoder=encoder(max_epochs=0), items=data.items),
        "Popularity": Popularity(), "ItemKNN": ItemKNN(n_neighbors=20), "EASE": EASE(l2=10.0),
        "Transition": Transition(order=2), "Tfidf": TfidfRecommender(items=data.items),
    }
    lines = []
    for name, model in models.items():
        model.fit(tr, ytr)
        items, scores = model.recommend(te, k=10, return_scores=True)
        cands = model.recommend(te, k=5, candidates=model.classes_[::3], return_scores=True)
        extra = ()
        if isinstance(model, IntentRecommender):
            extra = (model.transform(te), model.predict_proba(te[:5]),
                     np.asarray(model.history[:, "train_loss"]))
            if model.validation is not None:
                extra += (np.asarray(model.history[:, "valid_ndcg"]),
                          np.asarray(model.history[:, "valid_loss"]))
        lines.append(f"{name} {digest(items, *cands, np.round(scores, 5), *[np.round(e, 5) for e in extra])}"
                     f" {model.score(te, yte):.5f}")
    enc = encoder(max_epochs=2).fit(data.items)
    lines.append(f"ContentEncoder {digest(np.round(enc.transform(data.items), 5))}")
    model = models["content+query"]
    grown = data.items.iloc[:5].copy()
    grown.index = grown.index + 10_000
    model.update_items(pd.concat([data.items, grown]))
    items, scores = model.recommend(te, k=10, return_scores=True)
    lines.append(f"update_items {digest(items, np.round(scores, 5))}")
    warm = IntentRecommender(**common, warm_start=True).fit(tr, ytr)
    warm.fit(te, yte)
    warm.partial_fit(tr, ytr)
    lines.append(f"warm {digest(warm.recommend(te, k=10), np.asarray(warm.history[:, 'train_loss']).round(5))}")
    lines.append(f"pickle {digest(pickle.loads(pickle.dumps(models['sampled+ctx'])).recommend(te, k=10))}")
    return lines


def run_in(tree):
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1")
    code = "import sys; sys.path.insert(0, sys.argv[1]); import compare_outputs as c; print('\\n'.join(c.outputs()))"
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "benchmarks")], env=env,
                         cwd=tempfile.gettempdir(), capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", required=True, help="git revision to compare with")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        ref_tree = Path(tmp) / "ref"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(ref_tree), args.ref],
                       check=True, capture_output=True)
        try:
            ref = run_in(ref_tree)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(ref_tree)],
                           check=True, capture_output=True)
    now = run_in(ROOT)
    width = max(len(line) for line in ref + now)
    print(f"{args.ref:<{width}}  this checkout")
    for a, b in zip(ref, now):
        print(f"{a:<{width}}  {b}{'' if a == b else '   <- differs'}")
    same = ref == now
    print("same outputs" if same else "outputs differ")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
