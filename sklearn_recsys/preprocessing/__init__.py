"""Row-wise transformers for queries: item-id sequences and time context."""

from ._sequence import SequenceEncoder
from ._time import TimeFeatures

__all__ = ["SequenceEncoder", "TimeFeatures"]
