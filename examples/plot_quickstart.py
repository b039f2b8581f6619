"""
========================================
Quickstart: baselines and leave-last-out
========================================

The whole workflow in a minute: generate an interaction log, turn it into
queries, hold out every user's last item, fit the four classical baselines,
compare them on ranking metrics and recommend.

Every recommender here is a scikit-learn estimator: ``fit(X, y)``, then
``recommend(X, k)`` for item lists and ``score(X, y)`` for NDCG@10.
"""

# %%
# An interaction log and a catalogue
# ----------------------------------
# :func:`~sklearn_recsys.datasets.make_sessions` generates users' sessions
# over a catalogue of items with titles, descriptions and tags. Its users
# follow topics and items have typical successors, so the order of a history
# carries information (as in real browsing or viewing logs).
import os
import tempfile

import joblib
import matplotlib.pyplot as plt
import pandas as pd

from sklearn_recsys.baselines import EASE, ItemKNN, Popularity, Transition
from sklearn_recsys.datasets import load_movielens, make_sessions, queries_from_log
from sklearn_recsys.metrics import catalog_coverage, hit_rate_at_k, ndcg_at_k
from sklearn_recsys.model_selection import leave_last_out_split

QUICK = os.environ.get("SKLEARN_RECSYS_QUICK") == "1"
DATA = os.environ.get("SKLEARN_RECSYS_DATA")

data = make_sessions(n_users=300 if QUICK else 2000, random_state=0)
log, items = data.interactions, data.items
print(log.head())
print(f"{log['user_id'].nunique()} users, {len(items)} items, {len(log)} events")
items.head(3)

# %%
# From a log to queries
# ---------------------
# Estimators take queries ``X``, one row per "this user, having done this":
# a ``history`` of item ids (oldest first), and the next item ``y``.
# ``n_last=2`` makes two rows per user, cut before the user's last two
# events; :func:`~sklearn_recsys.model_selection.leave_last_out_split` keeps
# the last one for testing and the one before for training, so nothing a
# user did after a training row is in it.
X, y = queries_from_log(log, n_last=2)
X_train, X_test, y_train, y_test = leave_last_out_split(X, y)
print(X_test[["user_id", "history"]].head(3))
print("targets:", y_test[:3])

# %%
# Fit the baselines and score them
# --------------------------------
# ``recommend`` returns the top ``k`` item ids per row, best first, with the
# row's own history left out. The metrics of :mod:`sklearn_recsys.metrics`
# compare such lists with the held-out items.
models = {
    "Popularity": Popularity(),
    "ItemKNN": ItemKNN(),
    "EASE": EASE(),
    "Transition": Transition(),
}


def evaluate(models, X_train, y_train, X_test, y_test, catalogue):
    rows = []
    for name, model in models.items():
        model.fit(X_train, y_train)
        recs = model.recommend(X_test, k=10)
        rows.append({
            "model": name,
            "NDCG@10": ndcg_at_k(y_test, recs, k=10),
            "HR@10": hit_rate_at_k(y_test, recs, k=10),
            "coverage": catalog_coverage(recs, items=catalogue),
        })
    return pd.DataFrame(rows).set_index("model")


results = evaluate(models, X_train, y_train, X_test, y_test, items.index)
print(results.round(3))

# %%
# Popularity is the floor: a model that does not clear it is broken.
# Transition, a Markov chain over the last items, wins on these sessions
# because what comes next depends on what came just before; ItemKNN and
# EASE see a history as a bag of items. Coverage is the share of the
# catalogue that appears in some list.
fig, ax = plt.subplots(figsize=(6, 3))
results[["NDCG@10", "HR@10"]].plot.barh(ax=ax)
ax.set_xlabel("score on each user's last item")
ax.set_ylabel("")
ax.set_title("Baselines, leave-last-out (synthetic sessions)")
fig.tight_layout()

# %%
# Recommend
# ---------
# A fitted model serves any history, including one it has never seen: a new
# user, or a user's latest session. Item ids are whatever the catalogue
# uses.
model = models["Transition"]
history = X_test["history"].iloc[0]
print("last items:", [f"{items.loc[i, 'title']} ({items.loc[i, 'topic']})" for i in history[-3:]])
for item in model.recommend([history], k=3)[0]:
    print("  ->", items.loc[item, "title"], f"({items.loc[item, 'topic']})")

# %%
# ``score`` is NDCG@10, so ``GridSearchCV`` and ``cross_validate`` work
# without a scorer (see :ref:`tuning`):
print(round(model.score(X_test, y_test), 4))

# %%
# Save and load
# -------------
# A fitted recommender is a plain Python object: save it with ``joblib``
# and serve it from another process (see :ref:`gpu_persistence`). Loading a
# joblib file runs code: load only files you trust, and use
# :func:`sklearn_recsys.io.save` / ``load`` for models you hand to others
# (see :ref:`persistence`).
with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "recommender.joblib")
    joblib.dump(model, path)
    served = joblib.load(path)
print(served.recommend([history], k=3))

# %%
# The same on MovieLens
# ---------------------
# With ``SKLEARN_RECSYS_DATA`` pointing at a directory holding
# ``ml-100k/`` (or ``ml-latest-small/``), the same code runs on real
# ratings: every rating is an interaction, users are cut at their last two
# ratings. Nothing is downloaded.
movielens = None
for variant in ("100k", "latest-small"):
    try:
        movielens = load_movielens(variant, data_home=DATA)
        break
    except (FileNotFoundError, ValueError):
        continue
if movielens is None:
    print("SKLEARN_RECSYS_DATA is not set or holds no MovieLens copy: skipped.")
else:
    X, y = queries_from_log(movielens.interactions, n_last=2)
    X_train, X_test, y_train, y_test = leave_last_out_split(X, y)
    ml_models = {"Popularity": Popularity(), "EASE": EASE(l2=100.0), "Transition": Transition()}
    if not QUICK:
        ml_models["ItemKNN"] = ItemKNN()
    print(movielens.name)
    print(evaluate(ml_models, X_train, y_train, X_test, y_test, movielens.items.index).round(3))
