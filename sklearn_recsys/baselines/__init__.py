"""Classical baselines every neural recommender must beat."""

from ._popularity import Popularity

__all__ = ["Popularity"]
