"""Why was this recommended: the contribution of each history item.

:meth:`RecommenderMixin.explain <sklearn_recsys.base.RecommenderMixin.explain>`
builds one table for any recommender. Where a model's score is a sum over its
history items (EASE, ItemKNN, Transition, TF-IDF, Popularity) the model
supplies that sum exactly (``_explain_exact``) and the contributions add up
to the score. Any other model (the networks) is explained by occlusion: the
contribution of a history item is how much the item's score drops when that
one history entry is removed (and the same for the free-text query), measured
by scoring the edited histories. Occlusion is faithful to the model by
construction (it is the effect of a removal, not a proxy for it) but not
additive, and it costs one scoring pass per history entry.
"""

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._topk import _is_tensor

__all__ = ["explain"]

COLUMNS = ["row", "rank", "item", "score", "source", "position", "source_item", "contribution"]


def _as_numpy(scores):
    if _is_tensor(scores):
        return scores.detach().float().cpu().numpy()
    return np.asarray(scores, dtype=np.float32)


def _targets(est, X, items, k, n_rows):
    """Codes of the items to explain, one array per row (the caller's order)."""
    if items is None:
        return list(est._encode_items(est.recommend(X, k=k).ravel()).reshape(n_rows, -1))
    kind = object if est._item_kind_ == "str" else None

    def encode(ids, where):
        ids = np.asarray(ids, dtype=kind).ravel()
        codes = est._encode_items(ids, what="items") if ids.size else np.empty(0, np.int64)
        if (codes < 0).any():
            raise ValueError(
                f"items holds {int((codes < 0).sum())} item id(s) unknown to the fitted "
                f"model{where} (first: {ids[codes < 0][0]!r}); only items in classes_ "
                "can be explained."
            )
        return codes

    if sp.issparse(items):
        if items.shape != (n_rows, len(est.classes_)):
            raise ValueError(
                f"items as a sparse matrix must have shape (n_rows, n_items) = "
                f"({n_rows}, {len(est.classes_)}); got {items.shape}."
            )
        m = sp.csr_matrix(items)
        return [m.indices[m.indptr[r]:m.indptr[r + 1]][m.data[m.indptr[r]:m.indptr[r + 1]] != 0]
                for r in range(n_rows)]
    listlike = (list, tuple, np.ndarray, pd.Series)
    if (isinstance(items, np.ndarray) and items.ndim == 2) or (
        isinstance(items, listlike) and len(items) and all(isinstance(e, listlike) for e in items)
    ):
        if len(items) != n_rows:
            raise ValueError(f"items has {len(items)} per-row lists for {n_rows} rows of X.")
        return [encode(r, f" in row {i}") for i, r in enumerate(items)]
    ids = np.asarray(items, dtype=kind)
    if ids.ndim != 1 or ids.size == 0:
        raise ValueError(
            f"items must be a non-empty list of item ids, or one list per row; got shape {ids.shape}."
        )
    return [encode(ids, "")] * n_rows


def occlusion(est, queries, row, positions, targets):
    """Occlusion contributions of one row: ``(len(positions), t)`` history
    drops, the query's drop (or None) and the full scores ``(t,)``."""
    from .base import Queries

    codes = queries.codes[queries.indptr[row]:queries.indptr[row + 1]]
    L = len(codes)
    frame = None if queries.frame is None else queries.frame.iloc[[row]]
    query_col = getattr(est, "query_column_", None)
    edits = [codes] + [np.delete(codes, p) for p in range(L)]
    n = len(edits) + (query_col is not None)
    if query_col is not None:
        edits.append(codes)
    lengths = np.fromiter((len(e) for e in edits), dtype=np.int64, count=len(edits))
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    rep = None
    if frame is not None:
        rep = frame.iloc[np.zeros(n, dtype=np.int64)].reset_index(drop=True)
        if query_col is not None:
            rep = rep.copy()
            rep.loc[n - 1, query_col] = ""
    scores = []
    step = max(1, est._chunk_rows())
    q = Queries(indptr, np.concatenate(edits).astype(np.int64), rep)
    for start in range(0, n, step):
        scores.append(_as_numpy(est._score_chunk(q[start:start + step]))[:, targets])
    scores = np.concatenate(scores)
    full = scores[0]
    hist = full[None, :] - scores[1:L + 1]
    query = full - scores[-1] if query_col is not None else None
    return hist, query, full


def explain(est, X, items=None, k=10):
    """The table of :meth:`RecommenderMixin.explain`."""
    from .utils import check_histories, check_item_ids, flatten_histories

    histories, _ = check_histories(X)
    queries = est._encode_queries(X)
    n_rows = len(queries)
    # the position of every known history item in the row as given
    indptr, flat = flatten_histories(histories)
    flat_ids, _ = check_item_ids(flat, what="item ids in X's histories", kind=est._item_kind_)
    known = est._item_index_.get_indexer(flat_ids) >= 0
    position = np.arange(len(flat)) - np.repeat(indptr[:-1], np.diff(indptr))
    known_pos, known_ids = position[known], flat_ids[known]
    targets = _targets(est, X, items, k, n_rows)
    exact = getattr(est, "_explain_exact", None)
    parts = []
    for r in range(n_rows):
        t = np.asarray(targets[r], dtype=np.int64)
        lo, hi = queries.indptr[r], queries.indptr[r + 1]
        pos, src = known_pos[lo:hi], known_ids[lo:hi]
        if hi == lo:  # no known item: ranked by popularity
            fb = np.asarray(est._fallback_scores(), dtype=np.float32)[t]
            hist, extra, score = np.zeros((0, len(t))), {"popularity": fb}, fb
        elif exact is not None:
            hist, extra = exact(queries[r:r + 1], t)
            score = hist.sum(axis=0) + sum(extra.values(), np.zeros(len(t)))
        else:
            hist, q, score = occlusion(est, queries, r, pos, t)
            extra = {} if q is None else {"query": q}
        n_src = len(pos) + len(extra)
        part = {
            "row": np.full(n_src * len(t), r, dtype=np.int64),
            "rank": np.tile(np.arange(1, len(t) + 1), n_src),
            "item": np.tile(est.classes_[t], n_src),
            "score": np.tile(np.asarray(score, dtype=np.float64), n_src),
            "source": np.repeat(np.array(["history"] * len(pos) + list(extra), dtype=object), len(t)),
            "position": np.repeat(np.concatenate([pos, np.full(len(extra), -1)]), len(t)),
            "source_item": np.repeat(np.concatenate([src.astype(object), np.full(len(extra), None)]), len(t)),
            "contribution": np.concatenate(
                [np.asarray(hist, dtype=np.float64).ravel()]
                + [np.asarray(v, dtype=np.float64) for v in extra.values()]
            ),
        }
        parts.append(pd.DataFrame(part, columns=COLUMNS))
    if not parts:
        return pd.DataFrame({c: [] for c in COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["row", "rank", "contribution"], ascending=[True, True, False],
                           kind="stable", ignore_index=True)
