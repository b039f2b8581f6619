"""
============================================================
Next-item recommendation: tune a network, beat the baselines
============================================================

:class:`~sklearn_recsys.intent.IntentRecommender` reads a history in order
(a SASRec-style transformer by default) and scores every item as the next
one. This example tunes it with :class:`~sklearn.model_selection.GridSearchCV`
on a leak-free validation fold, watches it train, and compares it with the
classical baselines at every list length ``k``.

A network is only worth its training time if it beats strong baselines
measured the same way, so the baselines run on exactly the same rows.
"""

# %%
# Data and a leak-free protocol
# -----------------------------
# ``queries_from_log(n_last=3)`` cuts every user's log before each of the
# last three events. :class:`~sklearn_recsys.model_selection.LeaveLastOut`
# with two folds gives a *tuning* fold (train on the third-last cut, validate
# on the second-last item) and a *test* fold (train on the second-last cut,
# test on the last item): the test items are never seen while tuning.
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.model_selection import GridSearchCV

from sklearn_recsys.baselines import EASE, ItemKNN, Popularity, Transition
from sklearn_recsys.datasets import load_movielens, make_sessions, queries_from_log
from sklearn_recsys.intent import IntentRecommender, RankingEarlyStopping
from sklearn_recsys.metrics import ndcg_at_k
from sklearn_recsys.model_selection import LeaveLastOut

QUICK = os.environ.get("SKLEARN_RECSYS_QUICK") == "1"
DATA = os.environ.get("SKLEARN_RECSYS_DATA")

log = make_sessions(n_users=300 if QUICK else 2000, random_state=0).interactions
X, y = queries_from_log(log, n_last=3, max_len=50)
tune_fold, test_fold = LeaveLastOut(n_splits=2).split(X, y)
train, test = test_fold
X_train, y_train, X_test, y_test = X.iloc[train], y[train], X.iloc[test], y[test]
print(f"{len(X)} queries; test fold: {len(train)} training rows, {len(test)} test rows")

# %%
# Tune with GridSearchCV
# ----------------------
# The network's sizes are ``module__*`` parameters and skorch's training
# parameters (``lr``, ``max_epochs``, ``batch_size``) are ordinary ones, so
# a grid over them is a plain dict. ``cv=[tune_fold]`` validates on the
# second-last items only; ``refit=False`` because refitting on all of ``X``
# would train on the test items. The estimator's own ``score`` is NDCG@10.
network = IntentRecommender(
    max_epochs=10 if QUICK else 60,
    lr=1e-2 if QUICK else 3e-3,
    max_len=50,
    module__d_model=32 if QUICK else 64,
    verbose=0,
    random_state=0,
)
grid = {"module__n_layers": [1, 2]} if QUICK else {
    "module__n_layers": [1, 2],
    "module__dropout": [0.2, 0.5],
}
search = GridSearchCV(network, grid, cv=[tune_fold], refit=False)
search.fit(X, y)
print(pd.DataFrame(search.cv_results_)[["params", "mean_test_score"]])
print("best:", search.best_params_)

# %%
# Train the chosen network and watch it learn
# -------------------------------------------
# ``validation=0.1`` holds out the last item of 10% of the training
# sequences and records its NDCG@10 after every epoch;
# :class:`~sklearn_recsys.intent.RankingEarlyStopping` stops when it stops
# improving and keeps the best epoch. Everything skorch records is in
# ``history_``.
model = network.set_params(
    **search.best_params_,
    max_epochs=25 if QUICK else 200,
    validation=0.1,
    callbacks=[RankingEarlyStopping(patience=5 if QUICK else 10)],
)
model.fit(X_train, y_train)

history = model.history_
epochs = history[:, "epoch"]
fig, (ax_loss, ax_ndcg) = plt.subplots(1, 2, figsize=(8, 3))
ax_loss.plot(epochs, history[:, "train_loss"], label="training sequences")
ax_loss.plot(epochs, history[:, "valid_loss"], label="held-out last items")
ax_loss.set_xlabel("epoch")
ax_loss.set_ylabel("cross-entropy")
ax_loss.legend()
ax_ndcg.plot(epochs, history[:, "valid_ndcg"], color="C2")
best = int(np.argmax(history[:, "valid_ndcg"]))
ax_ndcg.axvline(epochs[best], color="grey", linestyle=":", label=f"best epoch ({epochs[best]})")
ax_ndcg.set_xlabel("epoch")
ax_ndcg.set_ylabel("NDCG@10, held-out items")
ax_ndcg.legend()
fig.suptitle("IntentRecommender training curves (from history_)")
fig.tight_layout()

# %%
# The held-out NDCG@10 climbs fast and levels off after about ten epochs
# while the training loss keeps falling. With more epochs (quick mode off),
# :class:`~sklearn_recsys.intent.RankingEarlyStopping` ends training once
# the held-out score has not improved for ``patience`` epochs and restores
# the best epoch's weights. The held-out loss is lower than the training
# loss because it is measured at the end of each sequence only, where the
# network has the most history to read; the training loss averages over
# every position, the first ones included.

# %%
# Against the baselines, at every list length
# -------------------------------------------
# Same training rows, same test rows, every item ranked, the user's own
# items excluded. NDCG@k rewards a hit more the higher it is in the list.
models = {
    "IntentRecommender": model,
    "Transition": Transition().fit(X_train, y_train),
    "EASE": EASE().fit(X_train, y_train),
    "ItemKNN": ItemKNN().fit(X_train, y_train),
    "Popularity": Popularity().fit(X_train, y_train),
}
ks = np.arange(1, 21)
curves = {}
for name, fitted in models.items():
    recs = fitted.recommend(X_test, k=ks[-1])
    curves[name] = [ndcg_at_k(y_test, recs, k=k) for k in ks]

fig, ax = plt.subplots(figsize=(6, 4))
for name, values in curves.items():
    ax.plot(ks, values, marker="o", markersize=3, label=name)
ax.set_xlabel("k (length of the recommendation list)")
ax.set_ylabel("NDCG@k on each user's last item")
ax.set_xticks([1, 5, 10, 15, 20])
ax.legend()
ax.set_title("Next-item recommendation (synthetic sessions)")
fig.tight_layout()
print(pd.Series({name: values[9] for name, values in curves.items()}, name="NDCG@10").round(3))
# sphinx_gallery_thumbnail_number = 2

# %%
# Order matters in these sessions, so the two models that read it, the
# network and the Markov chain (Transition), are far above the models that
# treat a history as a bag of items. With a few seconds of training the
# network matches the Markov chain here; on real data check it the same
# way before paying for a GPU (see :ref:`benchmarks`).

# %%
# On MovieLens
# ------------
# With ``SKLEARN_RECSYS_DATA`` set and quick mode off, the same comparison
# runs on MovieLens 100K. The full run of this example, MovieLens included,
# took about 10 minutes on 2 shared CPU cores (with ``OMP_NUM_THREADS=1``).
if DATA is None or QUICK:
    print("MovieLens part skipped (needs SKLEARN_RECSYS_DATA and SKLEARN_RECSYS_QUICK unset).")
else:
    ml = load_movielens("100k", data_home=DATA)
    X, y = queries_from_log(ml.interactions, n_last=2, max_len=200)
    train, test = list(LeaveLastOut(n_splits=1).split(X, y))[0]
    ml_models = {
        "IntentRecommender": IntentRecommender(
            max_len=200, max_epochs=200, validation=0.1, verbose=0, random_state=0,
            callbacks=[RankingEarlyStopping(patience=10)]),
        "Transition": Transition(),
        "EASE": EASE(l2=100.0),
        "Popularity": Popularity(),
    }
    for name, m in ml_models.items():
        m.fit(X.iloc[train], y[train])
        print(f"{name:18s} NDCG@10 = {m.score(X.iloc[test], y[test]):.4f}")
