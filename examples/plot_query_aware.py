"""
===============================================
Query-aware recommendation: history plus search
===============================================

Sometimes the user tells you what they want: a search box, a voice request,
a category clicked. This example recommends from both the history (what
the user did) and the free-text query typed before the next event, by
blending a sequential model's scores with the query's text match to every
item. The blend is a small scikit-learn estimator built on
:class:`~sklearn_recsys.base.RecommenderMixin`, so ``recommend``, ``score``
and :class:`~sklearn.model_selection.GridSearchCV` come for free, and the
weight of the query is tuned like any hyper-parameter. At the end, an
:class:`~sklearn_recsys.intent.IntentRecommender` reads the query inside
its network (``query_column=``).
"""

# %%
# Sessions with search queries
# ----------------------------
# ``make_sessions(with_queries=True)`` adds a ``query`` to every event: a
# word of the target's topic, its unique title word about half of the time,
# and sometimes noise. ``queries_from_log(context_columns=["query"])``
# copies the query of each target event into ``X``, next to the history:
# at prediction time the query is known, the item is not.
import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import GridSearchCV

from sklearn_recsys.base import RecommenderMixin
from sklearn_recsys.baselines import Transition
from sklearn_recsys.content import TfidfRecommender
from sklearn_recsys.datasets import make_sessions, queries_from_log
from sklearn_recsys.model_selection import LeaveLastOut

QUICK = os.environ.get("SKLEARN_RECSYS_QUICK") == "1"

data = make_sessions(n_users=300 if QUICK else 2000, with_queries=True, random_state=0)
items = data.items
X, y = queries_from_log(data.interactions, n_last=3, context_columns=["query"])
print(X[["history", "query"]].tail(3))
print("targets:", y[-3:], "titles:", items.loc[y[-3:], "title"].tolist())

# %%
# A recommender that reads the query
# ----------------------------------
# :class:`~sklearn_recsys.base.RecommenderMixin` turns a class that scores
# items into a full recommender: ``fit`` calls ``_fit_queries`` (which
# validates ``X`` and ``y`` and sets ``classes_``), ``_score_chunk`` returns
# a ``(rows, items)`` score matrix for a chunk of rows; ranking, excluding
# seen items, ``predict`` and ``score`` (NDCG@10) are inherited.
#
# The history part is any recommender with ``decision_function`` (here
# :class:`~sklearn_recsys.baselines.Transition`); the query part is the
# cosine similarity between the query's TF-IDF vector and each item's, using
# the vectoriser that :class:`~sklearn_recsys.content.TfidfRecommender`
# fits on the catalogue. Both are standardised per row, then summed with
# the query weighted by ``weight``.
def _standardise(scores):
    return (scores - scores.mean(axis=1, keepdims=True)) / (scores.std(axis=1, keepdims=True) + 1e-9)


class QueryAwareRecommender(RecommenderMixin, BaseEstimator):
    """History scores + ``weight`` * text match of the query, per item."""

    def __init__(self, history_model=None, items=None, query_column="query", weight=1.0):
        self.history_model = history_model
        self.items = items
        self.query_column = query_column
        self.weight = weight

    def fit(self, X, y):
        base = Transition() if self.history_model is None else self.history_model
        self.history_model_ = clone(base).fit(X, y)
        self.text_model_ = TfidfRecommender(
            items=self.items, text_columns=["title", "description"], list_columns=["tags"]
        ).fit(X, y)
        self._fit_queries(X, y, items=self.items.index)  # classes_: catalogue + training items
        # columns of the history model's scores in our classes_ order
        self._history_columns = pd.Index(self.history_model_.classes_).get_indexer(self.classes_)
        return self

    def _score_chunk(self, queries):
        rows = queries.frame  # the chunk's rows of X, with the query column
        history = self.history_model_.decision_function(rows)
        known = self._history_columns >= 0
        # items the history model never saw score as its worst item
        history = np.where(known, history[:, self._history_columns], history.min(axis=1, keepdims=True))
        vectors = self.text_model_.vectorizer_.transform(rows[self.query_column].fillna(""))
        text = (vectors @ self.text_model_.item_vectors_.T).toarray()
        return _standardise(history) + self.weight * _standardise(text)


# %%
# Tune the query's weight
# -----------------------
# As in the next-item example, :class:`~sklearn_recsys.model_selection.LeaveLastOut`
# gives a tuning fold (validate on every user's second-last item) and a
# test fold (test on the last item). ``weight=0`` ignores the query; a very
# large weight ignores the history.
tune_fold, test_fold = LeaveLastOut(n_splits=2).split(X, y)
weights = [0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 1e3]
search = GridSearchCV(QueryAwareRecommender(items=items), {"weight": weights},
                      cv=[tune_fold], refit=False)
search.fit(X, y)
print("chosen weight:", search.best_params_["weight"])

train, test = test_fold
test_scores = [
    QueryAwareRecommender(items=items, weight=w).fit(X.iloc[train], y[train]).score(X.iloc[test], y[test])
    for w in weights
]

# %%
# NDCG@10 against the weight of the query, on the tuning fold (what the
# search saw) and on the test fold (what it did not). The left end is the
# history-only model, the right end a text search with no memory.
fig, ax = plt.subplots(figsize=(6, 3.5))
positions = np.arange(len(weights))
ax.plot(positions, search.cv_results_["mean_test_score"], marker="o", label="tuning fold (second-last items)")
ax.plot(positions, test_scores, marker="s", label="test fold (last items)")
best = weights.index(search.best_params_["weight"])
ax.axvline(best, color="grey", linestyle=":", label="chosen on the tuning fold")
ax.set_xticks(positions, ["0\n(history\nonly)", *map(str, weights[1:-1]), "1000\n(query\nonly)"])
ax.set_xlabel("weight of the query")
ax.set_ylabel("NDCG@10")
ax.legend(loc="lower center", fontsize=8)
ax.set_title("Blending history and query")
fig.tight_layout()

# %%
# Neither source alone is as good as both: the history says which topic
# and which successor come next, the query often names the item. The curve
# is flat around its top, so the chosen weight transfers to the test fold.

# %%
# What the query changes
# ----------------------
# The top 5 without and with the query for a test user whose next item the
# query brings into the list (marked ``*``): the history alone points to
# the right topic, the query names the item.
model = QueryAwareRecommender(items=items, weight=search.best_params_["weight"])
model.fit(X.iloc[train], y[train])
history_only = clone(model).set_params(weight=0.0).fit(X.iloc[train], y[train])
X_test, y_test = X.iloc[test], y[test]
with_query, without = model.recommend(X_test, k=5), history_only.recommend(X_test, k=5)
helped = np.flatnonzero((with_query == y_test[:, None]).any(axis=1)
                        & ~(without == y_test[:, None]).any(axis=1))
row = helped[0]


def describe(ids):
    return [f"{'*' if i == y_test[row] else ''}{items.loc[i, 'title']} ({items.loc[i, 'topic']})"
            for i in ids]


print(f"{len(helped)} of {len(test)} test users get their next item into the top 5 "
      "only thanks to the query")
print("last items:  ", describe(X_test["history"].iloc[row][-3:]))
print("query:       ", repr(X_test["query"].iloc[row]))
print("history only:", describe(without[row]))
print("with query:  ", describe(with_query[row]))

# %%
# A network that reads the query
# ------------------------------
# :class:`~sklearn_recsys.intent.IntentRecommender` can read the query
# itself: with ``query_column="query"`` the text is encoded by the same
# text tower as the item catalogue (an ``item_encoder``) and added to the
# intent at the last position. Every event's query is a training example,
# so the training rows are all the cut points before each user's last
# (``queries_from_log(n_last=None)`` and ``leave_last_out_split(train="all")``;
# still leak-free: they are prefixes of the row before the test row).
from sklearn_recsys.content import ContentEncoder
from sklearn_recsys.intent import IntentRecommender
from sklearn_recsys.model_selection import leave_last_out_split

X_all, y_all = queries_from_log(data.interactions, n_last=None, context_columns=["query"])
X_tr, X_te, y_tr, y_te = leave_last_out_split(X_all, np.asarray(y_all), train="all")
text = ContentEncoder(text_columns=["title", "description"], list_columns=["tags", "genres"],
                      char_ngram_range=None, module__d_model=32, max_epochs=0, random_state=0)
net = IntentRecommender(item_encoder=text, items=items, module__d_model=32, module__n_layers=1,
                        max_len=50, lr=1e-2, max_epochs=5 if QUICK else 10, verbose=0,
                        random_state=0, device="cpu")
without_query = clone(net).fit(X_tr, y_tr)
with_query_net = clone(net).set_params(query_column="query").fit(X_tr, y_tr)
print(f"IntentRecommender NDCG@10 on the last items: without the query "
      f"{without_query.score(X_te, y_te):.3f}, with it {with_query_net.score(X_te, y_te):.3f}")

# %%
# The network learns how much to trust the query from the data, with no
# weight to tune; the blend above stays useful with a history model that
# cannot read text (any recommender with ``decision_function``).
