"""Classical baselines every neural recommender must beat."""

from ._ease import EASE
from ._knn import ItemKNN
from ._popularity import Popularity
from ._transition import Transition

__all__ = ["EASE", "ItemKNN", "Popularity", "Transition"]
