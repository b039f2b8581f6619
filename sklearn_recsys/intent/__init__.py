"""Sequential (intent) recommenders: a history -> an intent vector -> item scores.

Where things live (one idea per module):

``_recommender``
    :class:`IntentRecommender`: parameters, ``fit``/``partial_fit``, the
    skorch training and validation steps, ``transform``, ``predict_proba``,
    persistence.
``_data``
    What a fit trains on: sequences cut into windows, the validation
    holdout with its own seen items, returned as datasets.
``_losses``
    The losses ``loss=`` picks: full softmax, sampled softmax with log-Q
    correction, SASRec's BCE; the item table they read (all rows, or only
    the sampled ones).
``_optim``
    :class:`LazyAdam`: Adam with row-wise updates of sparse gradients
    (sampled losses: a step costs what it touches, not the catalogue).
``_context``
    Numeric context columns and their fitted ``StandardScaler``.
``_content``
    Item content: the hybrid ID + content item table, catalogue updates,
    free-text query features.
``_modules``
    The towers (transformer, GRU, LSTM, and the base for your own).
``_callbacks``
    :class:`RankingEarlyStopping`.
``_distributed``
    Data-parallel training under a distributed launch (``torchrun``): the
    shared seed, the per-process shards of the windows, gradient averaging.

Ranking (top-k with the package's rules) is shared by every recommender:
``sklearn_recsys._topk``.

The names are imported on first use, so ``import sklearn_recsys.intent``
does not import torch; touching any of them does.
"""

from typing import TYPE_CHECKING

from .._lazy import attach as _attach

if TYPE_CHECKING:  # pragma: no cover - for static analysis only
    from ._callbacks import RankingEarlyStopping
    from ._modules import GRUTower, LSTMTower, SequenceTower, TransformerTower
    from ._optim import LazyAdam
    from ._recommender import IntentRecommender

_LAZY = {
    "GRUTower": "._modules",
    "IntentRecommender": "._recommender",
    "LazyAdam": "._optim",
    "LSTMTower": "._modules",
    "RankingEarlyStopping": "._callbacks",
    "SequenceTower": "._modules",
    "TransformerTower": "._modules",
}

__all__ = [
    "GRUTower",
    "IntentRecommender",
    "LazyAdam",
    "LSTMTower",
    "RankingEarlyStopping",
    "SequenceTower",
    "TransformerTower",
]


__getattr__, __dir__ = _attach(__name__, _LAZY)
