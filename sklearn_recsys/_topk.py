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

    One pass over each row (no sort). ``scores`` is an array or a tensor
    (NumPy runs it on the CPU: torch's boolean reductions are several times
    slower there).
    """
    above = scores > kth
    tied = scores == kth
    need = k - above.sum(1, keepdims=True)
    take = above | (tied & (tied.cumsum(1) <= need))
    cols = take.nonzero()[1] if isinstance(take, np.ndarray) else take.nonzero()[:, 1]
    return cols.reshape(-1, k)


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
        sub, kth = scores[rows], vals[rows, -1:]
        if sub.device.type == "cpu":
            cols = torch.from_numpy(_tied_columns(sub.numpy(), kth.numpy(), k))
        else:
            cols = _tied_columns(sub, kth, k)
        top[rows] = cols
        vals[rows] = sub.gather(1, cols)
    return vals, top


def top_k(scores, k, *, seen=None, allowed=None, fallback=None, empty=None):
    """Top-``k`` item codes and scores of each row under the ranking rules.

    Parameters
    ----------
    scores : ndarray or torch.Tensor of shape (n_rows, n_items)
        Scores, higher is better. A tensor is ranked on its device and
        modified in place; an array is copied.
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

    Returns
    -------
    codes : ndarray of shape (n_rows, k), int64
        Item codes, best first; ties in code order.
    scores : ndarray of shape (n_rows, k), float32
        Their scores (``SEEN`` for seen items that fill a list).
    """
    if isinstance(scores, torch.Tensor):
        s = scores
    else:  # own copy: the caller's array is never modified
        s = torch.from_numpy(np.array(scores, dtype=np.float32))
    dev = s.device
    if empty is not None and empty.any():
        s[torch.from_numpy(empty).to(dev)] = _as_tensor(fallback, np.float32).to(dev, s.dtype)
    if allowed is not None:
        s[:, torch.from_numpy(~allowed).to(dev)] = float("-inf")
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
