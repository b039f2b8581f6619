"""
===================================
Why was this recommended? explain()
===================================

Every recommender has :meth:`~sklearn_recsys.base.RecommenderMixin.explain`:
for each recommended item, the contribution of each item of the user's
history. For the additive models (EASE, ItemKNN, Transition, TF-IDF) the
contributions are exact and add up to the score. For the networks they are
measured by occlusion: how much the item's score drops when that one history
entry is removed.

This example explains the same user's list under EASE and under the
transformer, as heatmaps (history items down, recommended items across), and
checks on many users that the top contributor matters more than a random
history item.
"""

# %%
# Fit two models on the synthetic sessions
# ----------------------------------------
import os

import matplotlib.pyplot as plt
import numpy as np
import torch

from sklearn_recsys.baselines import EASE
from sklearn_recsys.datasets import make_sessions, queries_from_log
from sklearn_recsys.intent import IntentRecommender

torch.set_num_threads(1)
QUICK = os.environ.get("SKLEARN_RECSYS_QUICK") == "1"

data = make_sessions(n_users=300 if QUICK else 1000, random_state=0)
X, y = queries_from_log(data.interactions, n_last=2)
titles = data.items["title"]

ease = EASE(l2=50.0).fit(X, y)
net = IntentRecommender(max_epochs=5 if QUICK else 20, lr=1e-2, max_len=20,
                        module__d_model=32, random_state=0, device="cpu",
                        verbose=0).fit(X, y)

# %%
# One user's explanation, as a table
# ----------------------------------
# One row per (recommended item, source); ``contribution`` is sorted within
# each item, so the first row of an item is its main reason.
history = list(X["history"].iloc[0][-6:])
table = ease.explain([history], k=5)
table.head(8)

# %%
# The same user under both models
# -------------------------------
# Each cell is a history item's contribution to a recommended item's score.


def heatmap(ax, model, title):
    t = model.explain([history], k=5)
    items = t.drop_duplicates("rank")["item"].tolist()
    grid = (t[t.source == "history"]
            .pivot_table(index="position", columns="rank", values="contribution"))
    im = ax.imshow(grid.to_numpy(), cmap="RdBu_r",
                   vmin=-abs(grid.to_numpy()).max(), vmax=abs(grid.to_numpy()).max())
    ax.set_yticks(range(len(grid.index)),
                  [titles.loc[history[p]][:18] for p in grid.index])
    ax.set_xticks(range(len(items)), [titles.loc[i][:12] for i in items], rotation=40,
                  ha="right")
    ax.set_title(title)
    plt.colorbar(im, ax=ax, shrink=0.7)


fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
heatmap(axes[0], ease, "EASE (exact weights)")
heatmap(axes[1], net, "Transformer (occlusion)")
fig.suptitle("Which history item made each recommendation")
plt.show()

# %%
# Does the top contributor matter? A check on many users
# ------------------------------------------------------
# Remove the top-contributing history item, or a random one, and measure how
# much the recommended item's score drops.
rng = np.random.default_rng(0)
rows = [list(h[-6:]) for h in X["history"].iloc[:60 if QUICK else 200] if len(h) >= 3]
t = net.explain(rows, k=1)
top_drop, random_drop = [], []
for r, h in enumerate(rows):
    part = t[t.row == r]
    j = np.searchsorted(net.classes_, part["item"].iloc[0])
    full = net.decision_function([h])[0, j]
    for p, out in ((int(part["position"].iloc[0]), top_drop),
                   (int(rng.integers(len(h))), random_drop)):
        out.append(full - net.decision_function([h[:p] + h[p + 1:]])[0, j])

fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
ax.hist([top_drop, random_drop], bins=20, label=["top contributor removed", "random item removed"])
ax.set_xlabel("drop of the recommended item's score")
ax.legend()
plt.show()
print(f"mean drop: top {np.mean(top_drop):.3f}, random {np.mean(random_drop):.3f}")
