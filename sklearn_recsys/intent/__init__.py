"""Sequential (intent) recommenders: a history -> an intent vector -> item scores."""

from ._callbacks import RankingEarlyStopping
from ._modules import GRUTower, LSTMTower, SequenceTower, TransformerTower
from ._recommender import IntentRecommender

__all__ = [
    "GRUTower",
    "IntentRecommender",
    "LSTMTower",
    "RankingEarlyStopping",
    "SequenceTower",
    "TransformerTower",
]
