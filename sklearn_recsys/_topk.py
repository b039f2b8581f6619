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

Selection is ``torch.topk`` on a tensor's device, a NumPy partition on an
ndarray (so ranking NumPy scores never imports torch); only the rows where
an item tied at the k-th score may have been left out are redone, in one
pass.
Wide blocks on the CPU first narrow each row to the few items at or above a
threshold taken from a sample of its columns (one comparison pass), then
select exactly among those. Vector models whose catalogue is too large
for one block per chunk of rows are ranked by :func:`top_k_vectors` (item
blocks, each block's exact top k merged, blocks that cannot rank skipped);
sparse scores by :func:`top_k_sparse`. No ``rows x n_items`` block is held.
"""

import sys

import numpy as np
import scipy.sparse as sp

__all__ = ["SEEN", "top_k", "top_k_blocks", "top_k_columns", "top_k_sparse", "top_k_vectors"]

# Score of seen items: below every allowed score, above excluded items.
SEEN = float(np.finfo(np.float32).min)


def _is_tensor(x):
    """Whether ``x`` is a torch tensor, without importing torch (a tensor
    exists only once torch is imported)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _as_tensor(scores, dtype=None):
    import torch

    if isinstance(scores, torch.Tensor):
        return scores
    return torch.from_numpy(np.ascontiguousarray(scores, dtype=dtype))


def _tied_columns(scores, kth, k):
    """Columns of the ``k`` best scores per row, ties at ``kth`` to lower columns.

    A few passes over each row, no sort of the row. ``scores`` is an ndarray
    (the CPU path: torch's boolean reductions are several times slower than
    NumPy's there) or a tensor (other devices); the same code serves both.
    """
    if _is_tensor(scores):
        import torch

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


def _padded(counts, values, fill):
    """Row-major ``values`` of rows of ``counts`` entries as an ``(n, max)``
    block padded with ``fill``; also the flat position of each value."""
    n = len(counts)
    width = int(counts.max()) if n else 0
    at = np.arange(len(values)) + np.repeat(np.arange(n) * width - (np.cumsum(counts) - counts), counts)
    block = np.full(n * width, fill, dtype=values.dtype)
    block[at] = values
    return block.reshape(n, width), at


def _sample_width(m, k):
    """Columns sampled per row by :func:`_select_sampled` (``m``: the whole row)."""
    width = max(1024, int(4 * np.sqrt((k + 1) * m)))
    # narrow blocks: the "sample" is the whole row (an exact threshold; a
    # value-only partition is still several times faster than torch.topk)
    return width if 2 * width <= m else m


def _select_sampled(scores, k, width):
    """:func:`_select` of a CPU block through a threshold drawn from a sample.

    The (k+1)-th best score ``t`` of a sample of ``width`` columns (16 runs
    of adjacent columns spread over the row, or the whole row) is at most
    the row's (k+1)-th best, so the items scoring ``>= t`` (one
    comparison pass) hold the row's top ``k``, ties at the k-th included;
    the exact selection runs on those few candidates, kept in column order
    so the tie rule is unchanged. Returns None when the sample says
    nothing (a non-finite threshold: masked rows) or the candidates are too
    many (scores ordered along the columns, massive ties): the caller then
    selects on the whole block. ``scores`` is an ndarray; so are the
    values and columns returned.
    """
    arr = scores
    n, m = arr.shape
    # 16 runs of adjacent columns spread over the row: a strided sample
    # would read every cache line of the block
    if width >= m:
        sample = arr.copy()
    else:
        run = max(1, width // 16)
        starts = np.linspace(0, m - run, 16).astype(np.int64)
        sample = np.concatenate([arr[:, a:a + run] for a in starts], axis=1)
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
    vals, at = _padded(np.bincount(rows, minlength=n), arr.ravel()[flat], -np.inf)
    codes = np.zeros(vals.size, dtype=np.int64)
    codes[at] = cols
    codes = codes.reshape(vals.shape)
    # every row holds >= k + 1 finite candidates: the padding is never picked
    v, at = _select_numpy(vals, k, narrow=False)
    return v, np.take_along_axis(codes, at, axis=1)


def _select_numpy(scores, k, narrow=True):
    """:func:`_select` of an ndarray, in NumPy (no torch).

    ``argpartition`` puts the (k+1)-th best score of each row at column
    ``m - k - 1`` and the ``k`` best after it, in no particular order; a
    row where the (k+1)-th equals the k-th may have left out a lower
    column tied at the k-th score, and only those rows are redone.
    """
    n, m = scores.shape
    if k >= m:
        return scores.copy(), np.broadcast_to(np.arange(m), (n, m)).copy()
    width = _sample_width(m, k) if narrow and n and m > 2 * (k + 1) else 0
    if width and scores.dtype == np.float32:
        got = _select_sampled(scores, k, width)
        if got is not None:
            return got
    part = np.argpartition(scores, m - k - 1, axis=1)[:, m - k - 1:]
    both = np.take_along_axis(scores, part, axis=1)
    next_, vals, top = both[:, 0], both[:, 1:], part[:, 1:]
    # the k-th best: the lowest of the k best (NaN ranks above everything,
    # as in torch.topk and np.partition)
    nan = np.isnan(vals)
    if nan.any():
        kth = np.where(nan, np.inf, vals).min(axis=1)
        kth[nan.all(axis=1)] = np.nan
    else:
        kth = vals.min(axis=1)
    bad = np.flatnonzero(kth == next_)
    if len(bad):
        every = len(bad) == n  # no copy of the block when every row is redone
        sub = scores if every else scores[bad]
        cols = _tied_columns(sub, kth[bad, None], k)
        top = top.copy()
        vals = vals.copy()
        top[bad] = cols
        vals[bad] = np.take_along_axis(sub, cols, axis=1)
    return vals, top


def _select(scores, k, narrow=True):
    """Values and columns of the ``k`` best scores per row, ties to lower columns.

    Returned in no particular order. ``torch.topk`` picks an arbitrary
    subset of the items tied at the k-th score; a row can be affected only
    when its (k+1)-th best score equals its k-th, and only those rows are
    redone. CPU blocks first narrow the rows to candidates
    (:func:`_select_sampled`; ``narrow=False`` selects on the block as is).
    An ndarray is selected in NumPy (:func:`_select_numpy`), a tensor by
    ``torch.topk`` on its device.
    """
    if not _is_tensor(scores):
        return _select_numpy(scores, k, narrow)
    import torch

    n, m = scores.shape
    if k >= m:
        return scores.clone(), torch.arange(m, device=scores.device).expand(n, m).clone()
    cpu = narrow and scores.device.type == "cpu" and n
    width = _sample_width(m, k) if cpu and m > 2 * (k + 1) else 0
    if width and scores.dtype == torch.float32:
        got = _select_sampled(scores.numpy(), k, width)
        if got is not None:
            return torch.from_numpy(got[0]), torch.from_numpy(got[1])
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
    if not _is_tensor(scores):
        return _top_k_numpy(scores, k, seen, allowed, fallback, empty, copy)
    import torch

    s = scores.clone() if copy else scores
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


def _top_k_numpy(scores, k, seen, allowed, fallback, empty, copy):
    """:func:`top_k` of an ndarray (or array-like), in NumPy."""
    arr = np.asarray(scores, dtype=np.float32)
    if (copy and arr is scores) or not arr.flags.writeable or not arr.flags.c_contiguous:
        arr = np.array(arr, dtype=np.float32, order="C")
    if empty is not None and empty.any():
        arr[np.flatnonzero(empty)] = np.asarray(fallback, dtype=np.float32)
    if allowed is not None and not allowed.all():
        arr[:, np.flatnonzero(~allowed)] = -np.inf
    if seen is not None and len(seen[1]):
        cur = arr[seen[0], seen[1]]
        arr[seen[0], seen[1]] = np.where(np.isneginf(cur), cur, np.float32(SEEN))
    vals, top = _select_numpy(arr, min(k, arr.shape[1]))
    # best first, ties in code order (NaN first, as torch's descending sort)
    order = np.lexsort((top, -vals, ~np.isnan(vals)), axis=1)
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(vals, order, axis=1)


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
    if _is_tensor(scores):
        return _select(scores, k)[1].numpy()
    return _select_numpy(np.ascontiguousarray(scores), k)[1]


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


# -- sparse scores -----------------------------------------------------------------
# Recommenders whose scores are a sparse matrix plus a rank-one dense part
# (the classical baselines) are ranked without their (n_rows, n_items) block.

# Padded blocks of the selection below hold at most this many values.
_SPARSE_BLOCK = 1 << 22


def _row_ids(indptr):
    return np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr))


def _top_entries(indptr, columns, values, k):
    """Mask of the ``k`` best entries of each CSR row; ties to the lower column.

    The columns of a row may come in any order (no sort of the entries). Rows
    with at most ``k`` entries keep them all; for the others the k-th best
    value comes from a partition of padded blocks (rows of similar length
    together), and the entries tied with it are taken in column order.
    """
    counts = np.diff(indptr)
    many = np.flatnonzero(counts > k)
    if not len(many):
        return np.ones(len(values), dtype=bool)
    kth = np.full(len(counts), -np.inf, dtype=np.float32)
    many = many[np.argsort(-counts[many], kind="stable")]
    start = 0
    while start < len(many):
        width = int(counts[many[start]])  # the longest row of this block
        rows = many[start : start + max(1, _SPARSE_BLOCK // width)]
        start += len(rows)
        lengths = counts[rows]
        offset = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        entries = values[np.repeat(indptr[rows], lengths) + offset].astype(np.float32)
        block, _ = _padded(lengths, entries, -np.inf)
        # the k-th best (NaN above everything, as in torch.topk)
        kth[rows] = np.partition(block, block.shape[1] - k, axis=1)[:, block.shape[1] - k]
    row_of = _row_ids(indptr)
    # rows with at most k entries have kth = -inf: all their entries are above
    keep = values > kth[row_of]
    tied = np.flatnonzero(values == kth[row_of])
    tied = tied[np.lexsort((columns[tied], row_of[tied]))]
    need = k - np.bincount(row_of[keep], minlength=len(counts))
    tied_counts = np.bincount(row_of[tied], minlength=len(counts))
    rank = np.arange(len(tied)) - np.repeat(np.cumsum(tied_counts) - tied_counts, tied_counts)
    keep[tied[rank < need[row_of[tied]]]] = True
    return keep


def _contains(mat, rows, cols):
    """Whether each ``(rows[i], cols[i])`` is a nonzero of the CSR ``mat``."""
    if not len(rows):
        return np.zeros(0, dtype=bool)
    return np.asarray(mat[rows, cols]).ravel() != 0


def _first_free(rows, positions, n_rows, size, k):
    """Per row, the ``k`` lowest positions in ``range(size)`` not excluded.

    ``(rows, positions)`` are the excluded entries (repeats allowed). Only
    positions below ``k`` + the row's number of entries can matter; they are
    marked in one flat bitmap (a counting sort: no sort of the entries).
    Then the i-th free position of a row is ``i`` plus the number of its
    sorted excluded positions ``p_t`` (0-based ``t``) with ``p_t - t <= i``:
    one ``searchsorted`` for every row at once. Returns ``(rows, positions)``
    row-major, increasing; rows with fewer than ``k`` free positions get
    fewer.
    """
    width = np.minimum(k + np.bincount(rows, minlength=n_rows), size)
    offset = np.cumsum(width) - width
    near = positions < width[rows]
    marked = np.zeros(int(width.sum()), dtype=bool)
    marked[offset[rows[near]] + positions[near]] = True
    flat = np.flatnonzero(marked)  # sorted: the excluded positions, row by row
    row_of = np.searchsorted(offset, flat, side="right") - 1
    ptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(row_of, minlength=n_rows), out=ptr[1:])
    rank = np.arange(len(flat)) - ptr[:-1][row_of]
    keys = row_of * (size + 1) + (flat - offset[row_of] - rank)
    out_rows = np.repeat(np.arange(n_rows, dtype=np.int64), k)
    i = np.tile(np.arange(k, dtype=np.int64), n_rows)
    pos = i + np.searchsorted(keys, out_rows * (size + 1) + i, side="right") - ptr[:-1][out_rows]
    ok = pos < size
    return out_rows[ok], pos[ok]


def top_k_sparse(
    scores, k, *, row_weights=None, item_scores=None, order=None, levels=None,
    seen=None, allowed=None,
):
    """:func:`top_k` of sparse scores plus a rank-one part, without the dense block.

    Row ``r`` scores item ``j`` by
    ``float32(scores[r, j] + row_weights[r] * item_scores[j])`` (computed in
    float64, then rounded), or ``float32(scores[r, j])`` without a dense part.
    The codes and scores are those :func:`top_k` gives on the dense block
    (same ranking rules: candidates, ``SEEN``, ties to the lower code): the
    best stored entries of each row are merged with the first items of the
    row's order that have no stored entry, ``item_scores`` order when the
    row's weight is positive, code order otherwise (they all score 0 then).
    A row where float32 rounding makes items of different ``item_scores``
    tie at its k-th score is ranked on its dense row instead (rare: huge
    counts or tiny weights).

    Parameters
    ----------
    scores : scipy.sparse matrix of shape (n_rows, n_items)
        Sparse part of the scores, nonnegative, each entry stored once (as
        in the result of a sparse product; explicit zeros are fine).
    k : int
        Items per row, at most the number of allowed items.
    row_weights : ndarray of shape (n_rows,) or None
        Nonnegative weight of the dense part of each row; None: no dense part.
    item_scores : ndarray of shape (n_items,) or None
        Nonnegative dense part (with ``row_weights``).
    order : ndarray of shape (n_items,) or None
        Item codes by decreasing ``item_scores``, ties in code order
        (computed when None; pass it to rank several chunks).
    levels : ndarray or None
        The distinct values of ``item_scores``, increasing (computed when
        None).
    seen : tuple of (row ids, item codes) or None
        Entries scored ``SEEN``, as in :func:`top_k`.
    allowed : ndarray of bool of shape (n_items,) or None
        Candidate mask, as in :func:`top_k`.

    Returns
    -------
    codes : ndarray of shape (n_rows, k), int64
        Item codes, best first; ties in code order.
    scores : ndarray of shape (n_rows, k), float32
        Their scores (``SEEN`` for seen items that fill a list).
    """
    s = sp.csr_matrix(scores)
    if not s.data.all():  # explicit zeros: drop them from a copy, not the input
        s = s.copy()
        s.eliminate_zeros()
    n, m = s.shape
    dense = row_weights is not None
    if dense:
        weights = np.asarray(row_weights, dtype=np.float64)
        item_scores = np.asarray(item_scores)
    rows_s = _row_ids(s.indptr)
    cols_s = s.indices.astype(np.int64)
    vals_s = s.data.astype(np.float64) + weights[rows_s] * item_scores[cols_s] if dense else s.data
    vals_s = vals_s.astype(np.float32)
    seen_mat = None
    if seen is not None and len(seen[1]):
        seen_mat = sp.csr_matrix(
            (np.ones(len(seen[1]), dtype=np.int32), (seen[0], seen[1])), shape=(n, m)
        )
    # stored entries of allowed unseen items: their k best per row
    good = np.ones(len(cols_s), dtype=bool) if allowed is None else allowed[cols_s]
    if seen_mat is not None:
        good &= ~_contains(seen_mat, rows_s, cols_s)
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows_s[good], minlength=n), out=ptr[1:])
    rows_a, cols_a, vals_a = rows_s[good], cols_s[good], vals_s[good]
    best = _top_entries(ptr, cols_a, vals_a, k)
    parts = [(rows_a[best], cols_a[best], vals_a[best])]
    # the k first allowed unseen items without a stored entry, in each row's
    # order: positions in the allowed items, by code or by item_scores
    by_score = dense & (weights > 0) if dense else np.zeros(n, dtype=bool)
    code_order = np.arange(m) if allowed is None else np.flatnonzero(allowed)
    size = len(code_order)
    ex_rows, ex_cols = rows_s, cols_s
    if seen_mat is not None:
        ex_rows = np.concatenate([ex_rows, seen[0]])
        ex_cols = np.concatenate([ex_cols, seen[1]])
    if allowed is None:
        ex_pos = ex_cols
    else:
        code_pos = np.cumsum(allowed) - 1
        ex_pos = np.where(allowed[ex_cols], code_pos[ex_cols], -1)
    if by_score.any():
        if order is None:
            order = np.argsort(-item_scores, kind="stable")
        score_order = order if allowed is None else order[allowed[order]]
        score_pos = np.full(m, -1, dtype=np.int64)
        score_pos[score_order] = np.arange(size)
        ex_pos = np.where(by_score[ex_rows], score_pos[ex_cols], ex_pos)
    keep = ex_pos >= 0  # allowed items only
    rows_b, pos_b = _first_free(ex_rows[keep], ex_pos[keep], n, size, k)
    cols_b = code_order[pos_b]
    if by_score.any():
        cols_b = np.where(by_score[rows_b], score_order[pos_b], cols_b)
    vals_b = (
        (weights[rows_b] * item_scores[cols_b]).astype(np.float32)
        if dense else np.zeros(len(cols_b), dtype=np.float32)
    )
    parts.append((rows_b, cols_b, vals_b))
    # seen items that are candidates fill short lists
    if seen_mat is not None:
        rows_c = _row_ids(seen_mat.indptr)
        cols_c = seen_mat.indices.astype(np.int64)
        if allowed is not None:
            rows_c, cols_c = rows_c[allowed[cols_c]], cols_c[allowed[cols_c]]
        parts.append((rows_c, cols_c, np.full(len(cols_c), SEEN, dtype=np.float32)))
    rows, cols, vals = (np.concatenate(p) for p in zip(*parts))
    pick = np.lexsort((cols, -vals, rows))
    rows, cols, vals = rows[pick], cols[pick], vals[pick]
    counts = np.bincount(rows, minlength=n)
    if not (counts >= k).all():  # pragma: no cover - k <= number of allowed items
        raise ValueError(f"k={k} exceeds the number of allowed items.")
    first = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts) < k
    codes, out = cols[first].reshape(n, k), vals[first].reshape(n, k)
    # float32 rounding can tie items of different item_scores at the k-th
    # place of a row; then the order above is not the code order: dense row
    if by_score.any():
        full = np.flatnonzero(by_score & (np.bincount(rows_b, minlength=n) == k))
        if len(full):
            last = cols_b[np.searchsorted(rows_b, full, side="right") - 1]
            if levels is None:
                levels = np.unique(item_scores)
            g = np.searchsorted(levels, item_scores[last])
            w = weights[full]
            kth = (w * item_scores[last]).astype(np.float32)
            below = (w * levels[np.maximum(g - 1, 0)]).astype(np.float32)
            above = (w * levels[np.minimum(g + 1, len(levels) - 1)]).astype(np.float32)
            tied = ((g > 0) & (below == kth)) | ((g + 1 < len(levels)) & (above == kth))
            redo = full[tied]
            if len(redo):
                block = s[redo].toarray().astype(np.float64) + np.multiply.outer(
                    weights[redo], item_scores
                )
                where = np.full(n, -1, dtype=np.int64)
                where[redo] = np.arange(len(redo))
                sub_seen = None
                if seen_mat is not None:
                    mine = where[seen[0]] >= 0
                    sub_seen = (where[seen[0][mine]], seen[1][mine])
                codes[redo], out[redo] = top_k(
                    block.astype(np.float32), k, seen=sub_seen, allowed=allowed, copy=False
                )
    return codes, out


def _subset_blocks(h, vectors, codes, width):
    import torch

    for start in range(0, len(codes), width):
        part = torch.from_numpy(codes[start:start + width]).to(vectors.device)
        yield start, h @ vectors[part].T


def _top_k_subset(h, vectors, codes, k, width, seen, allowed, fallback, empty):
    """:func:`top_k_blocks` of ``h @ vectors[codes].T`` (``codes`` sorted),
    masks mapped onto the subset; returns catalogue codes."""
    part_seen = None
    if seen is not None:  # positions of the seen items in codes (a search, no n_items map)
        pos = np.searchsorted(codes, seen[1]).clip(max=len(codes) - 1)
        inside = codes[pos] == seen[1]
        part_seen = (seen[0][inside], pos[inside])
    got, scores = top_k_blocks(
        _subset_blocks(h, vectors, codes, width), min(k, len(codes)), seen=part_seen,
        allowed=None if allowed is None else allowed[codes],
        fallback=None if fallback is None else fallback[codes], empty=empty,
    )
    return codes[got], scores


def top_k_vectors(h, vectors, k, *, width, seen=None, allowed=None, fallback=None, empty=None):
    """:func:`top_k` of the scores ``h @ vectors.T``, skipping what cannot rank.

    By Cauchy-Schwarz no item scores above ``|h| |v|``. Items are scored in
    blocks in decreasing order of their vector norm; after each block, a
    row whose k-th best score so far is above ``|h|`` times the largest
    norm left (with a margin for float rounding) is done, and the next
    blocks score only the rows still open, so a row stops as soon as the
    items left cannot enter its list. The result is exactly that of
    ranking every item (rows flagged ``empty`` are scored by ``fallback``
    and never stop early).

    Parameters
    ----------
    h : torch.Tensor of shape (n_rows, d)
        Intent vectors.
    vectors : torch.Tensor of shape (n_items, d)
        Item vectors, on the device of ``h``.
    k : int
    width : int
        Scores per row and block budget: blocks hold ``width`` items for
        the whole chunk, more as rows close.
    seen, allowed, fallback, empty
        As in :func:`top_k`.

    Returns
    -------
    codes, scores : ndarray of shape (n_rows, k)
    """
    n_rows, n_items = len(h), len(vectors)
    norms = vectors.norm(dim=1).cpu().numpy()
    order = np.argsort(-norms, kind="stable")
    h_norm = h.norm(dim=1).cpu().numpy().astype(np.float64)
    empty = np.zeros(n_rows, dtype=bool) if empty is None else np.asarray(empty)
    codes = np.zeros((n_rows, k), dtype=np.int64)
    scores = np.full((n_rows, k), -np.inf, dtype=np.float32)
    open_ = np.arange(n_rows)
    start = 0
    while start < n_items and len(open_):
        stop = min(n_items, start + max(k, width * n_rows // len(open_)))
        block = np.sort(order[start:stop])
        part_seen = None
        if seen is not None:
            new_row = np.full(n_rows, -1, dtype=np.int64)
            new_row[open_] = np.arange(len(open_))
            r = new_row[seen[0]]
            part_seen = (r[r >= 0], seen[1][r >= 0])
        rows_t = open_ if len(open_) == n_rows else sys.modules["torch"].from_numpy(open_).to(h.device)
        c, v = _top_k_subset(h if len(open_) == n_rows else h[rows_t], vectors, block, k, width,
                             part_seen, allowed, fallback, empty[open_])
        both_c = np.concatenate([codes[open_], c], axis=1)
        both_s = np.concatenate([scores[open_], v], axis=1)
        best = np.lexsort((both_c, -both_s), axis=1)[:, :k]  # best first, ties by code
        codes[open_] = np.take_along_axis(both_c, best, axis=1)
        scores[open_] = np.take_along_axis(both_s, best, axis=1)
        start = stop
        if start < n_items:
            # float32 dot products may round a little above |h||v|
            bound = h_norm[open_] * float(norms[order[start]]) * (1 + 1e-4) + 1e-6
            open_ = open_[(scores[open_, -1] <= bound) | empty[open_]]
    return codes, scores
