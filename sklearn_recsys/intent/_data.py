"""Training data of IntentRecommender: sequences -> windows, and the holdout.

:func:`training_data` builds everything one ``fit`` trains on and returns it
as data objects: a :class:`Windows` dataset (inputs ``seq[:-1]``, targets
``seq[1:]``, 0 = padding) carrying its :class:`Holdout` (the held-out last
items, each with its own seen items). Nothing is stored on the estimator.
"""

import numpy as np
import torch

from ..base import Queries
from ._content import is_blank

__all__ = ["Holdout", "Windows", "csr", "training_data", "windows"]


def csr(seqs):
    """``(indptr, codes)`` of a list of code sequences."""
    lengths = np.fromiter((len(s) for s in seqs), np.int64, len(seqs))
    indptr = np.zeros(len(seqs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    codes = np.concatenate(seqs).astype(np.int64) if len(seqs) else np.empty(0, np.int64)
    return indptr, codes


def windows(lengths, max_len):
    """Split sequences into windows of at most ``max_len + 1`` items.

    Consecutive windows overlap by one item, so every item but a sequence's
    first is a target exactly once. Returns ``(sequence index, start, stop)``.
    """
    seq, start, stop = [], [], []
    for i, n in enumerate(lengths):
        end = int(n)
        while end >= 2:
            begin = max(0, end - max_len - 1)
            seq.append(i)
            start.append(begin)
            stop.append(end)
            end = begin + 1
    return np.array(seq, dtype=np.int64), np.array(start, dtype=np.int64), np.array(stop, dtype=np.int64)


class Windows(torch.utils.data.Dataset):
    """Training windows: inputs ``seq[:-1]``, targets ``seq[1:]`` (0 = padding).

    ``last_only`` marks windows whose earlier positions are trained by
    another window already (a query row of a user whose longer sequence is
    in the data): their targets are padding except the last one.
    ``holdout`` is the :class:`Holdout` scored after every epoch, or None.
    """

    def __init__(self, padded, context, query=None, last_only=None, holdout=None):
        self.padded = torch.from_numpy(padded)
        self.targets = self.padded[:, 1:]
        if last_only is not None and last_only.any():
            self.targets = self.targets.clone()
            self.targets[torch.from_numpy(last_only), :-1] = 0
        self.context = None if context is None else torch.from_numpy(context)
        self.query = query  # None or (dict of feature tensors, has-query flags)
        self.holdout = holdout

    def __len__(self):
        return len(self.padded)

    def __getitem__(self, i):
        x = {"items": self.padded[i, :-1]}
        if self.context is not None:
            x["context"] = self.context[i]
        if self.query is not None:
            x["query"] = {k: v[i] for k, v in self.query[0].items()}
            x["has_query"] = self.query[1][i]
        return x, self.targets[i]


class Holdout(torch.utils.data.Dataset):
    """Held-out last items: history (codes + 1, left-padded), target, seen items.

    ``seen`` holds each row's whole history as codes (not only the last
    ``max_len`` items the network reads): they are excluded from the
    ranking the holdout is scored by. Batches are built by :meth:`collate`
    (give it to the DataLoader as ``collate_fn``): ``x["seen"]`` holds the
    seen items of the batch's rows as :class:`~sklearn_recsys.base.Queries`
    (one object of the batch's length, as skorch's batch checks expect).
    """

    def __init__(self, items, targets, context, seen):
        self.items = torch.from_numpy(items)
        self.targets = torch.from_numpy(targets)
        self.context = None if context is None else torch.from_numpy(context)
        self.seen = seen

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return i

    def collate(self, rows):
        rows = np.asarray(rows, dtype=np.int64)
        x = {"items": self.items[rows]}
        if self.context is not None:
            x["context"] = self.context[rows]
        x["seen"] = Queries(*csr([self.seen.row(i) for i in rows]))
        return x, self.targets[rows]


def _hold_out(lengths, validation, rng):
    """Rows whose last item is held out, drawn among sequences of 2+ items."""
    eligible = np.flatnonzero(lengths >= 2)
    n_hold = min(len(eligible), max(1, int(round(validation * len(eligible)))))
    if n_hold == 0:
        raise ValueError(
            "validation is set but no training sequence holds 2 items or more, "
            "so there is no last item to hold out."
        )
    return np.sort(rng.choice(eligible, n_hold, replace=False))


def training_data(queries, y_codes, rows, seqs, context, *, max_len, validation, rng,
                  query_texts=None, query_features=None):
    """The windows one ``fit`` trains on, with their holdout.

    Parameters
    ----------
    queries : Queries
        Encoded training queries (every row).
    y_codes : ndarray
        Their target codes.
    rows : ndarray
        Rows kept as training sequences (prefix-free, in row order).
    seqs : list of ndarray
        The training sequence (history + target) of each row of ``rows``.
    context : ndarray of shape (n_rows, n_context) or None
        Standardised context of every row of ``queries``.
    max_len : int
        Longest input of a window.
    validation : float or None
        Share of the sequences whose last item is held out.
    rng : RandomState
        Draws the holdout.
    query_texts : ndarray of object or None
        The query text of every row (query-aware models).
    query_features : callable or None
        ``query_features(rows) -> (features, has-query flags)``.

    Returns
    -------
    windows : Windows
        The training windows; ``windows.holdout`` is the Holdout or None.
    """
    seqs = list(seqs)
    lengths = np.fromiter((len(s) for s in seqs), np.int64, len(seqs))
    holdout = held = None
    if validation is not None:
        held = _hold_out(lengths, validation, rng)
        seen = Queries(*csr([seqs[i][:-1] for i in held]))
        holdout = Holdout(
            seen.padded(max_len, pad=-1) + 1,
            np.array([seqs[i][-1] + 1 for i in held], dtype=np.int64),
            None if context is None else context[rows[held]],
            seen,
        )
        for i in held:
            seqs[i] = seqs[i][:-1]
        lengths[held] -= 1
    which, start, stop = windows(lengths, max_len)
    if len(which) == 0:
        raise ValueError(
            "No training pair: IntentRecommender learns from sequences of 2 "
            "items or more (a history item and a next item), and every "
            "training sequence here has at most 1"
            + (" after the validation holdout." if validation is not None else ".")
        )
    chunks = [seqs[i][a:b] for i, a, b in zip(which, start, stop)]
    source = rows[which]
    last_only = None
    query = None
    if query_texts is not None:
        # a row's query describes its target, the last item of its
        # sequence: only the window ending there (and not held out) gets it
        final = stop == lengths[which]
        if held is not None:
            final &= ~np.isin(which, held)
        # rows folded into a longer sequence of their user keep their own
        # query: one extra window each, trained at its last position only
        # (rows without history or without a query add nothing new)
        extra = np.array([
            i for i in np.setdiff1d(np.arange(len(queries)), rows)
            if len(queries.row(i)) and not is_blank(query_texts[i])
        ], dtype=np.int64)
        chunks += [np.append(queries.row(i)[-max_len:], y_codes[i]) for i in extra]
        source = np.concatenate([source, extra])
        final = np.concatenate([final, np.ones(len(extra), dtype=bool)])
        last_only = np.concatenate([np.zeros(len(which), dtype=bool), np.ones(len(extra), dtype=bool)])
        feats, flags = query_features(source)
        query = (feats, flags * torch.from_numpy(final.astype(np.float32)))
    padded = Queries(*csr(chunks)).padded(max_len + 1, pad=-1) + 1
    return Windows(padded, None if context is None else context[source], query, last_only, holdout)
