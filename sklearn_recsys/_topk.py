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
"""

import numpy as np
import torch

__all__ = ["SEEN", "top_k", "top_k_columns"]

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


def _select(scores, k):
    """Values and columns of the ``k`` best scores per row, ties to lower columns.

    Returned in no particular order. ``torch.topk`` picks an arbitrary
    subset of the items tied at the k-th score; a row can be affected only
    when its (k+1)-th best score equals its k-th, and only those rows are
    redone.
    """
    n, m = scores.shape
    if k >= m:
        return scores.clone(), torch.arange(m, device=scores.device).expand(n, m).clone()
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
