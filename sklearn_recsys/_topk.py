"""Top-k selection: the one ranking engine of every recommender.

Every recommender turns a chunk of queries into a score block
``(n_rows, n_items)`` (a NumPy array, or a torch tensor on the model's
device) and hands it to :func:`top_k`, which applies the ranking rules of
the package once:

* rows with no known history item are scored by the popularity fallback;
* items outside the candidates are never listed above an allowed item
  (they score ``-inf``);
* seen items (``exclude_seen``) score just below every allowed item
  (``SEEN``, the lowest float32), so they fill a list only when fewer than
  ``k`` allowed unseen items remain;
* ties go to the lower item code, whatever the selection algorithm does.

Selection is ``torch.topk`` on the block's device; only the rows where an
item tied at the k-th score may have been left out are redone, in one pass.
Wide blocks on the CPU first narrow each row to the few items at or above a
threshold taken from a sample of its columns (one comparison pass), then
select exactly among those. Catalogues too large for one block per chunk of
rows are scored in column blocks (:func:`top_k_blocks`): each block's exact
top k, then one merge, so no ``rows x n_items`` block is ever held.
"""

import numpy as np
import torch

__all__ = ["SEEN", "top_k", "top_k_blocks", "top_k_columns"]

# Score of seen items: below every allowed score, above excluded items.
SEEN = float(np.finfo(np.float32).min)


def _as_tensor(scores, dtype=None):
    if isinstance(scores, torch.Tensor):
        return scores
    return torch.from_numpy(np.ascontiguousarray(scores, dtype=dtype))


def _tied_columns(scores, kth, k):
    """Columns of the ``k`` best scores per row, ties at ``kth`` to lower columns.

    A few passes over each row, no sort of the row. ``scores`` is an ndarray
    (the CPU path: torch's boolean reductions are several times slower than
    NumPy's there) or a tensor (other devices); the same code serves both.
    """
    if isinstance(scores, torch.Tensor):
        xp, nonzero = torch, lambda a: torch.nonzero(a, as_tuple=True)
        arange = lambda n: torch.arange(n, device=scores.device)  # noqa: E731
    else:
        xp, nonzero, arange = np, np.nonzero, np.arange
    n, m = scores.shape
    rows_above, cols_above = nonzero(scores > kth)
    need = k - xp.bincount(rows_above, minlength=n)
    rows_tied, cols_tied = nonzero(scores == kth)  # row-major: lower columns first
    counts = xp.bincount(rows_tied, minlength=n)
    starts = xp.cumsum(counts, 0) - counts
    first = arange(len(rows_tied)) - starts[rows_tied] < need[rows_tied]
    rows = xp.concatenate([rows_above, rows_tied[first]])
    cols = xp.concatenate([cols_above, cols_tied[first]])
    return cols[xp.argsort(rows * m + cols)].reshape(n, k)


def _sample_width(m, k):
    """Columns sampled per row by :func:`_select_sampled` (0: not worth it)."""
    width = max(1024, int(4 * np.sqrt((k + 1) * m)))
    return width if 2 * width <= m else 0


def _select_sampled(scores, k, width):
    """:func:`_select` of a CPU block through a threshold drawn from a sample.

    The (k+1)-th best score ``t`` of a strided sample of ``width`` columns
    is at most the row's (k+1)-th best, so the items scoring ``>= t`` (one
    comparison pass) hold the row's top ``k``, ties at the k-th included;
    the exact selection runs on those few candidates, kept in column order
    so the tie rule is unchanged. Returns None when the sample says
    nothing (a non-finite threshold: masked rows) or the candidates are too
    many (scores ordered along the columns, massive ties): the caller then
    selects on the whole block.
    """
    arr = scores.numpy()
    n, m = arr.shape
    sample = np.ascontiguousarray(arr[:, :: max(1, m // width)])
    # the (k+1)-th best of the sample: introselect, in place on the copy
    # (several times faster than torch.topk for k ~ 100)
    sample.partition(sample.shape[1] - k - 1, axis=1)
    t = sample[:, -k - 1]
    if not np.isfinite(t).all():
        return None
    flat = np.flatnonzero(arr >= t[:, None])  # much faster than a 2-D nonzero
    if len(flat) > n * m // 16:
        return None
    rows, cols = np.divmod(flat, m)
    counts = np.bincount(rows, minlength=n)
    pos = np.arange(len(rows)) - (np.cumsum(counts) - counts)[rows]
    vals = np.full((n, int(counts.max())), -np.inf, dtype=arr.dtype)
    vals[rows, pos] = arr[rows, cols]
    codes = np.zeros(vals.shape, dtype=np.int64)
    codes[rows, pos] = cols
    # every row holds >= k + 1 finite candidates: the padding is never picked
    v, at = _select(torch.from_numpy(vals), k)
    return v, torch.from_numpy(np.take_along_axis(codes, at.numpy(), axis=1))


def _select(scores, k):
    """Values and columns of the ``k`` best scores per row, ties to lower columns.

    Returned in no particular order. ``torch.topk`` picks an arbitrary
    subset of the items tied at the k-th score; a row can be affected only
    when its (k+1)-th best score equals its k-th, and only those rows are
    redone. Wide CPU blocks first try :func:`_select_sampled`.
    """
    n, m = scores.shape
    if k >= m:
        return scores.clone(), torch.arange(m, device=scores.device).expand(n, m).clone()
    width = _sample_width(m, k) if scores.device.type == "cpu" and n else 0
    if width and scores.dtype == torch.float32:
        got = _select_sampled(scores, k, width)
        if got is not None:
            return got
    vals, top = torch.topk(scores, k + 1, dim=1)
    bad = vals[:, k] == vals[:, k - 1]
    vals, top = vals[:, :k].contiguous(), top[:, :k].contiguous()
    if bool(bad.any()):
        rows = bad.nonzero()[:, 0]
        every = len(rows) == n  # no copy of the block when every row is redone
        kth = vals[rows, -1:]
        if scores.device.type == "cpu":
            block = scores.numpy()
            sub = block if every else block[rows.numpy()]
            cols = torch.from_numpy(_tied_columns(sub, kth.numpy(), k))
            sub = torch.from_numpy(sub)
        else:
            sub = scores if every else scores[rows]
            cols = _tied_columns(sub, kth, k)
        top[rows] = cols
        vals[rows] = sub.gather(1, cols)
    return vals, top


def top_k(scores, k, *, seen=None, allowed=None, fallback=None, empty=None, copy=True):
    """Top-``k`` item codes and scores of each row under the ranking rules.

    Parameters
    ----------
    scores : ndarray or torch.Tensor of shape (n_rows, n_items)
        Scores, higher is better. A tensor is ranked on its device.
    k : int
        Items per row, at most ``n_items``.
    seen : tuple of (row ids, item codes) or None
        Entries to score ``SEEN`` (seen items when ``exclude_seen``); an
        entry already at ``-inf`` (not a candidate) stays there.
    allowed : ndarray of bool of shape (n_items,) or None
        Candidate mask; other items score ``-inf``.
    fallback : ndarray of shape (n_items,) or None
        Scores of the rows flagged in ``empty``.
    empty : ndarray of bool of shape (n_rows,) or None
        Rows scored by ``fallback`` (no known history item).
    copy : bool, default=True
        Work on a copy of ``scores``; False lets the rules write into it
        (a score block made for this call).

    Returns
    -------
    codes : ndarray of shape (n_rows, k), int64
        Item codes, best first; ties in code order.
    scores : ndarray of shape (n_rows, k), float32
        Their scores (``SEEN`` for seen items that fill a list).
    """
    if isinstance(scores, torch.Tensor):
        s = scores.clone() if copy else scores
    else:
        arr = np.asarray(scores, dtype=np.float32)
        if (copy and arr is scores) or not arr.flags.writeable or not arr.flags.c_contiguous:
            arr = np.array(arr, dtype=np.float32, order="C")
        s = torch.from_numpy(arr)
    dev = s.device
    if empty is not None and empty.any():
        rows = torch.from_numpy(np.flatnonzero(empty)).to(dev)
        s[rows] = _as_tensor(fallback, np.float32).to(dev, s.dtype)
    if allowed is not None and not allowed.all():
        s.index_fill_(1, torch.from_numpy(np.flatnonzero(~allowed)).to(dev), float("-inf"))
    if seen is not None and len(seen[1]):
        r = torch.from_numpy(seen[0]).to(dev)
        c = torch.from_numpy(seen[1]).to(dev)
        cur = s[r, c]
        s[r, c] = torch.where(torch.isneginf(cur), cur, torch.full_like(cur, SEEN))
    vals, top = _select(s, min(k, s.shape[1]))
    # best first, ties in code order: order by code, then stable by score
    order = torch.argsort(top, dim=1)
    top, vals = top.gather(1, order), vals.gather(1, order)
    order = torch.sort(vals, dim=1, descending=True, stable=True).indices
    return top.gather(1, order).cpu().numpy(), vals.gather(1, order).cpu().numpy()


def top_k_columns(scores, k):
    """Columns of the ``k`` best scores of each row (a set per row, unordered).

    Ties at the k-th score go to the lower columns, as in :func:`top_k`.

    Parameters
    ----------
    scores : ndarray of shape (n_rows, n_cols)
    k : int

    Returns
    -------
    columns : ndarray of shape (n_rows, min(k, n_cols)), int64
    """
    return _select(_as_tensor(scores), k)[1].numpy()


def top_k_blocks(blocks, k, *, seen=None, allowed=None, fallback=None, empty=None):
    """:func:`top_k` of scores delivered as column blocks, without the whole block.

    Parameters
    ----------
    blocks : iterable of (int, ndarray or torch.Tensor)
        ``(start, scores)`` pairs: the scores of items ``start`` to
        ``start + scores.shape[1]`` of every row, in increasing ``start``,
        covering every item once. Each block is written into (made for
        this call).
    k, seen, allowed, fallback, empty
        As in :func:`top_k`, over the whole catalogue.

    Returns
    -------
    codes, scores : ndarray of shape (n_rows, k)
        Exactly :func:`top_k` of the concatenated blocks: each block's top
        ``k`` under the rules, then a stable merge by score (earlier blocks
        hold lower codes, so ties stay in code order).
    """
    parts_codes, parts_scores = [], []

    def merge():
        codes = np.concatenate(parts_codes, axis=1)
        scores = np.concatenate(parts_scores, axis=1)
        if len(parts_codes) > 1:
            order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
            codes = np.take_along_axis(codes, order, axis=1)
            scores = np.take_along_axis(scores, order, axis=1)
        parts_codes[:], parts_scores[:] = [codes], [scores]

    for start, block in blocks:
        stop = start + block.shape[1]
        part_seen = None
        if seen is not None and len(seen[1]):
            inside = (seen[1] >= start) & (seen[1] < stop)
            part_seen = (seen[0][inside], seen[1][inside] - start)
        codes, scores = top_k(
            block, min(k, block.shape[1]), seen=part_seen,
            allowed=None if allowed is None else allowed[start:stop],
            fallback=None if fallback is None else fallback[start:stop],
            empty=empty, copy=False,
        )
        codes += start
        parts_codes.append(codes)
        parts_scores.append(scores)
        if len(parts_codes) >= 32:  # bounded memory: merge now and then
            merge()
    merge()
    return parts_codes[0], parts_scores[0]
