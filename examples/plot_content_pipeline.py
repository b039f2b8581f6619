"""
=====================================================================
One pipeline: user attributes, item text and history on MovieLens 1M
=====================================================================

The whole recommender as one scikit-learn object: a
:class:`~sklearn.compose.ColumnTransformer` one-hot encodes who the user is
(gender, age band, occupation), and an
:class:`~sklearn_recsys.intent.IntentRecommender` reads those columns as
context next to the history, with a
:class:`~sklearn_recsys.content.ContentEncoder` that turns movie titles and
genres into item vectors. :class:`~sklearn.model_selection.GridSearchCV`
tunes parameters of both networks by their nested names,
:func:`~sklearn.model_selection.cross_validate` scores it with several
ranking metrics, and joblib saves and reloads it.

It runs on ``ml-1m-sas-trunc`` when ``SKLEARN_RECSYS_DATA`` points at the
datasets, else on synthetic sessions with the same columns.
"""

# %%
# Queries with user attributes
# ----------------------------
# Three queries per user (each of the last three events as a target, the
# events before it as the history), joined with the user table. In quick
# mode (the documentation build), a sample of users and tiny networks.
import os
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.preprocessing import OneHotEncoder

from sklearn_recsys.content import ContentEncoder
from sklearn_recsys.datasets import load_movielens, make_sessions, queries_from_log
from sklearn_recsys.intent import IntentRecommender
from sklearn_recsys.metrics import make_ranking_scorer
from sklearn_recsys.model_selection import LeaveLastOut
from sklearn_recsys.pipeline import make_recommender_pipeline

QUICK = os.environ.get("SKLEARN_RECSYS_QUICK") == "1"
DATA = os.environ.get("SKLEARN_RECSYS_DATA")
n_users = 200 if QUICK else 2000

if DATA and (Path(DATA) / "ml-1m-sas-trunc").is_dir():
    data = load_movielens("1m-sas-trunc", data_home=DATA)
    users = data.users[["gender", "age", "occupation"]]
    text, lists, numbers = ["title"], ["genres"], ["year"]  # not the movielens_id column
    source = "MovieLens 1M"
else:
    data = make_sessions(n_users=n_users, random_state=0)
    users = data.users.rename(columns={"segment": "occupation"})
    users["gender"] = np.where(users.index % 2, "F", "M")
    users["age"] = (users["age"] // 10) * 10  # bands, as in MovieLens
    users = users[["gender", "age", "occupation"]]
    text, lists, numbers = ["title", "description"], ["tags", "genres"], []
    source = "synthetic sessions"

keep = users.index[:n_users]
log = data.interactions[data.interactions["user_id"].isin(keep)]
X, y = queries_from_log(log, n_last=3)
X = X.join(users, on="user_id")
y = np.asarray(y)
print(f"{source}: {len(X)} queries of {X.user_id.nunique()} users, {len(data.items)} items")
X[["user_id", "gender", "age", "occupation", "history"]].head(3)

# %%
# The pipeline
# ------------
# The ColumnTransformer keeps ``history`` (and the ids the splitter needs)
# as they are and one-hot encodes the attributes; with pandas output, the
# recommender's ``context_columns="auto"`` picks up every numeric column it
# gets. The ContentEncoder is not fitted on its own here: the recommender
# clones it, fits its vocabulary on the catalogue ``items`` and trains it
# jointly with the sequence network. Its columns are named, numbers included:
# left to inference, a numeric identifier column would be read as content.
attributes = ColumnTransformer(
    [("who", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
      ["gender", "age", "occupation"]),
     ("keep", "passthrough", ["history", "user_id", "offset"])],
    verbose_feature_names_out=False,
).set_output(transform="pandas")
content = ContentEncoder(text_columns=text, list_columns=lists, numeric_columns=numbers,
                         ngram_range=(1, 1), min_df=2, char_ngram_range=None, module__d_model=32,
                         max_epochs=0, random_state=0)
recommender = IntentRecommender(
    item_encoder=content, items=data.items, context_columns="auto",
    module__d_model=32, module__n_layers=1, max_len=50, lr=5e-3,
    max_epochs=1 if QUICK else 10, batch_size=128, verbose=0, random_state=0, device="cpu",
)
pipe = make_recommender_pipeline(attributes, recommender)
pipe

# %%
# Tune both networks
# ------------------
# :class:`~sklearn_recsys.model_selection.LeaveLastOut` with two folds:
# train on each user's third-last query and validate on the second-last,
# then train on the second-last and validate on the last. The grid crosses
# a parameter of the sequence network with one of the text tower, reached
# through ``intentrecommender__item_encoder__...``.
cv = LeaveLastOut(n_splits=2)
grid = {
    "intentrecommender__module__n_layers": [1, 2],
    "intentrecommender__item_encoder__module__d_model": [16, 32],
}
start = time.perf_counter()
search = GridSearchCV(pipe, grid, cv=cv, scoring=make_ranking_scorer("ndcg", k=10)).fit(X, y)
print(f"grid search: {time.perf_counter() - start:.0f} s")
pd.DataFrame(search.cv_results_)[["params", "mean_test_score", "std_test_score"]]

# %%
# Several ranking metrics at once
# -------------------------------
# ``cross_validate`` takes a dict of ranking scorers, as it takes a dict of
# classification scorers.
scoring = {"NDCG@10": make_ranking_scorer("ndcg", k=10),
           "HR@10": make_ranking_scorer("hit_rate", k=10),
           "MRR@10": make_ranking_scorer("mrr", k=10)}
best = search.best_estimator_
scores = cross_validate(best, X, y, cv=cv, scoring=scoring)
pd.DataFrame({name: scores[f"test_{name}"] for name in scoring}).agg(["mean", "std"]).round(4)

# %%
# Save, reload, recommend
# -----------------------
# The fitted pipeline (attributes encoder, both networks, the catalogue)
# is one joblib file; the reloaded copy gives the same lists. joblib files
# run code when they load: load only your own, or save with
# :func:`sklearn_recsys.io.save`, which loads without running code (see
# :ref:`persistence`).
path = Path(tempfile.mkdtemp()) / "recommender.joblib"
joblib.dump(best, path)
reloaded = joblib.load(path)
someone = X.groupby("user_id").tail(1).head(3)
top = reloaded.recommend(someone, k=5)
assert (top == best.recommend(someone, k=5)).all()
titles = data.items["title"]
for (_, row), ids in zip(someone.iterrows(), top):
    print(f"user {row.user_id} ({row.gender}, {row.age}, {row.occupation}); last watched: "
          f"{titles.loc[row.history[-1]]}")
    print("   ->", "; ".join(titles.loc[ids].astype(str)))
