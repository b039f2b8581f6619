"""Leak-free splitters for queries: per-user leave-last-out, global time
cut-offs, and cold items held out entirely."""

from ._cold import ColdItemSplit, cold_item_split
from ._split import LeaveLastOut, TemporalSplit, leave_last_out_split

__all__ = [
    "ColdItemSplit",
    "LeaveLastOut",
    "TemporalSplit",
    "cold_item_split",
    "leave_last_out_split",
]
