"""Leak-free splitters for queries (per-user leave-last-out, global time cut-offs)."""

from ._split import LeaveLastOut, TemporalSplit, leave_last_out_split

__all__ = ["LeaveLastOut", "TemporalSplit", "leave_last_out_split"]
