"""Item content in IntentRecommender: the hybrid item table, the catalogue,
free-text queries.

``_HybridItems`` replaces a tower's ``item_embedding``: its ``weight`` is the
table ``[padding; id_vectors * id_mask + content_projection(content(**features))]``
computed from the featurised catalogue, so the tower reads the same vectors
at its input as it scores with (tied output). Items never seen in training
have ``id_mask = 0``: their vectors come from their content alone. The
functions below set the catalogue up in ``fit`` (:func:`fit_item_encoder`),
grow it afterwards (:meth:`_HybridItems.extend`) and featurise query texts
(:func:`query_features`).
"""

import copy

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.base import clone
from torch import nn

from ..content._text import _is_missing

__all__ = [
    "_HybridItems",
    "catalogue_ids",
    "fit_item_encoder",
    "hybrid_items",
    "is_blank",
    "query_features",
    "resolve_query_column",
]


def is_blank(text):
    """No query: missing or only whitespace (other non-strings are not blank,
    so that they reach the type check)."""
    return _is_missing(text) or (isinstance(text, str) and not text.strip())


def catalogue_ids(items):
    """Item ids of the ``items`` parameter (a catalogue or a list of ids), or None."""
    if items is None:
        return None
    if isinstance(items, pd.DataFrame):
        if not items.index.is_unique:
            raise ValueError("items (the catalogue) has duplicate ids in its index.")
        return items.index.to_numpy()
    if isinstance(items, (pd.Series, pd.Index)):
        return items.to_numpy()
    return np.asarray(items)


def fit_item_encoder(encoder, catalogue, classes):
    """Clone and fit ``encoder`` on the catalogue (tokenisation, optional
    pretraining); return it and the catalogue rows of ``classes``."""
    missing = ~pd.Index(classes).isin(catalogue.index)
    if missing.any():
        raise ValueError(
            f"{int(missing.sum())} item id(s) of X or y are not in the catalogue "
            f"items (first: {classes[missing][0]!r}); with an item_encoder every "
            "item needs a catalogue row (its content)."
        )
    return clone(encoder).fit(catalogue), catalogue.loc[classes]


def resolve_query_column(name, frame):
    """The column of ``X`` holding the query (also behind a ColumnTransformer prefix)."""
    if name is None:
        return None
    if frame is None:
        raise ValueError(f"query_column={name!r} needs X as a DataFrame holding that column.")
    if name in frame.columns:
        return name
    found = [c for c in frame.columns if isinstance(c, str) and c.endswith("__" + name)]
    if len(found) == 1:
        return found[0]
    raise ValueError(f"X has no query column {name!r} (query_column); columns: {list(frame.columns)}.")


def query_features(encoder, frame, column, rows=None):
    """Featurised query texts of ``frame`` (or of its ``rows``) and has-query flags."""
    if frame is None or column not in frame.columns:
        raise ValueError(
            f"This model reads free-text queries from the column {column!r} "
            "(query_column); X must be a DataFrame holding it."
        )
    texts = frame[column].to_numpy(dtype=object)
    if rows is not None:
        texts = texts[rows]
    texts = ["" if _is_missing(t) else t for t in texts]  # the catalogue's rule
    bad = [t for t in texts if not isinstance(t, str)]
    if bad:
        raise TypeError(f"Query column {column!r} must hold strings; got {type(bad[0]).__name__}.")
    flags = torch.tensor([float(not is_blank(t)) for t in texts], dtype=torch.float32)
    return encoder.featurize_text(texts), flags


def hybrid_items(module, encoder, items, trained, *, frozen, id_dropout, query,
                 cold_neighbors, cold_scale):
    """Replace ``module.item_embedding`` by the hybrid table of ``encoder``'s content."""
    if not isinstance(getattr(module, "item_embedding", None), nn.Embedding):
        raise TypeError(
            "item_encoder needs a tower whose item table is its "
            "item_embedding (an nn.Embedding), as SequenceTower's."
        )
    module.item_embedding = _HybridItems(
        module.item_embedding, copy.deepcopy(encoder.module_), encoder.featurize(items),
        torch.as_tensor(trained, dtype=torch.float32),
        frozen=bool(frozen), id_dropout=float(id_dropout), query=bool(query),
        cold_neighbors=int(cold_neighbors), cold_scale=float(cold_scale),
    )
    return module


def _select(features, idx):
    return {k: v[idx] for k, v in features.items()}


class _HybridItems(nn.Module):
    """Item table of a content-aware tower (a drop-in for ``nn.Embedding``).

    Parameters
    ----------
    id_embedding : nn.Embedding
        The tower's own ID embedding (row 0 = padding).
    content : nn.Module
        A ``ContentModule``; ``content(**features) -> (n, d_content)``.
    features : dict of str -> Tensor
        Featurised catalogue, one row per item in code order.
    id_mask : Tensor of shape (n_items,)
        1 for items whose ID embedding is used (seen in training), else 0.
    frozen : bool
        Content tower frozen: its outputs are computed once and cached.
    id_dropout : float
        Training-time probability of dropping an item's ID part.
    query : bool
        Also build the projection of free-text queries.
    cold_neighbors : int
        At inference, items without an ID vector take the similarity-weighted
        mean vector of their ``cold_neighbors`` nearest items with one (cosine
        of the content vectors), scaled to ``cold_scale`` times their mean
        norm; 0 keeps the content projection alone.
    cold_scale : float
        See ``cold_neighbors``.
    """

    def __init__(self, id_embedding, content, features, id_mask, *, frozen=False,
                 id_dropout=0.0, query=False, cold_neighbors=0, cold_scale=1.0):
        super().__init__()
        d = id_embedding.embedding_dim
        d_content = int(getattr(content, "d_out", d))
        self.id_embedding = id_embedding
        self.content = content
        self.content_projection = nn.Linear(d_content, d)
        nn.init.normal_(self.content_projection.weight, std=d_content ** -0.5 * d ** -0.5)
        nn.init.zeros_(self.content_projection.bias)
        self.query_projection = nn.Linear(d_content, d) if query else None
        self.frozen = bool(frozen)
        self.id_dropout = float(id_dropout)
        self.cold_neighbors = int(cold_neighbors)
        self.cold_scale = float(cold_scale)
        if self.frozen:
            content.requires_grad_(False)
        self.set_catalogue(features, id_mask)
        self._step = self._rows = None

    @property
    def embedding_dim(self):
        return self.id_embedding.embedding_dim

    def set_catalogue(self, features, id_mask):
        """New catalogue features (one row per item) and ID mask; clears caches."""
        self.features = {k: v for k, v in features.items()}
        self.register_buffer("id_mask", id_mask.float(), persistent=True)
        self._frozen_content = None
        self._eval = None

    def _device(self):
        return self.id_embedding.weight.device

    def extend(self, old_codes, n_items, features):
        """A grown catalogue: ``n_items`` items, the old ones at ``old_codes``.

        Old items keep their ID vectors and mask; new items get none (their
        vectors come from ``features``, their content).
        """
        old = self.id_embedding
        grown = nn.Embedding(n_items + 1, old.embedding_dim, padding_idx=0).to(old.weight.device)
        with torch.no_grad():
            grown.weight.zero_()
            grown.weight[torch.from_numpy(old_codes + 1)] = old.weight[1:]
        grown.weight.requires_grad_(old.weight.requires_grad)
        mask = torch.zeros(n_items, device=self.id_mask.device)
        mask[torch.from_numpy(old_codes)] = self.id_mask
        self.id_embedding = grown
        self.set_catalogue(features, mask)

    def _content_vectors(self):
        feats = {k: v.to(self._device()) for k, v in self.features.items()}
        if self.frozen:
            if self._frozen_content is None:
                was = self.content.training
                self.content.eval()
                with torch.no_grad():
                    self._frozen_content = self._chunked(feats)
                self.content.train(was)
            return self._frozen_content
        return self._chunked(feats)

    def _chunked(self, feats, step=4096):
        n = len(next(iter(feats.values())))
        if n <= step or torch.is_grad_enabled():
            return self.content(**feats)
        return torch.cat([self.content(**_select(feats, slice(s, s + step))) for s in range(0, n, step)])

    def compute_rows(self, codes):
        """Training-time vectors of the items ``codes`` only, ``(len(codes), d)``.

        The rows of :meth:`compute` (same ID mask and dropout rule), with the
        content tower run on those items' features alone.
        """
        ids = self.id_embedding(codes + 1)
        mask = self.id_mask[codes].to(ids.dtype)
        if self.training and self.id_dropout > 0:
            mask = mask * (torch.rand_like(mask) >= self.id_dropout).to(ids.dtype)
        if self.frozen:
            content = self._content_vectors()[codes]
        else:
            feats = {k: v.to(self._device()) for k, v in _select(self.features, codes.cpu()).items()}
            content = self.content(**feats)
        return ids * mask[:, None] + self.content_projection(content.to(ids.dtype))

    def compute(self):
        """The table ``(n_items + 1, d)``: padding row, then items in code order."""
        ids = self.id_embedding.weight[1:]
        mask = self.id_mask.to(ids.dtype)
        if self.training and self.id_dropout > 0:
            mask = mask * (torch.rand_like(mask) >= self.id_dropout).to(ids.dtype)
        content = self._content_vectors().to(ids.dtype)
        table = ids * mask[:, None] + self.content_projection(content)
        k = self.cold_neighbors
        if k > 0 and not self.training and (mask == 0).any() and (mask > 0).any():
            table = self._neighbour_vectors(table, content, mask > 0, k)
        return torch.cat([torch.zeros_like(table[:1]), table])

    def _neighbour_vectors(self, table, content, warm, k, step=1024):
        """Rows of items without an ID vector: the similarity-weighted mean
        vector of their ``k`` nearest warm items by content (cosine), scaled
        to ``cold_scale`` times those vectors' weighted mean norm."""
        table = table.clone()
        z = F.normalize(content.float(), dim=1)
        warm_idx = warm.nonzero()[:, 0]
        cold_idx = (~warm).nonzero()[:, 0]
        zw = z[warm_idx]
        k = min(k, len(warm_idx))
        for s in range(0, len(cold_idx), step):
            rows = cold_idx[s:s + step]
            sim, nn_ = (z[rows] @ zw.T).topk(k, dim=1)
            w = sim.clamp(min=0) + 1e-6
            w = w / w.sum(1, keepdim=True)
            near = table[warm_idx[nn_]].float()  # (rows, k, d)
            vec = (w[:, :, None] * near).sum(1)
            norm = (w * near.norm(dim=2)).sum(1)
            vec = vec * (self.cold_scale * norm / vec.norm(dim=1).clamp(min=1e-12))[:, None]
            table[rows] = vec.to(table.dtype)
        return table

    # caching: one table per training step, one per fitted state at inference
    def begin_step(self, codes=None):
        """Compute this step's vectors once: the whole table, or with
        ``codes`` (every item code the step will read: its batch and its
        sampled negatives) only those rows, so a step of a sampled loss
        encodes what it reads, not the catalogue."""
        self._eval = None
        if codes is None:
            self._step, self._rows = self.compute(), None
        else:
            codes = torch.unique(codes)
            self._step, self._rows = None, (codes, self.compute_rows(codes))

    def end_step(self):
        self._step = self._rows = None

    def clear_cache(self):
        self._eval = None
        self._step = self._rows = None

    def rows(self, codes):
        """Vectors of the items ``codes`` (any shape): ``codes.shape + (d,)``."""
        if self._rows is None:
            return self.weight[1:][codes]
        known, table = self._rows
        flat = codes.reshape(-1)
        at = torch.searchsorted(known, flat).clamp_(max=len(known) - 1)
        if not bool((known[at] == flat).all()):  # pragma: no cover - a bug, not user input
            raise RuntimeError("an item read by this step was not computed in begin_step")
        return table[at].reshape(*codes.shape, -1)

    @property
    def weight(self):
        if self._step is not None:
            return self._step
        if not self.training and not torch.is_grad_enabled():
            if self._eval is None:
                self._eval = self.compute().detach()
            return self._eval
        return self.compute()

    def forward(self, idx):
        if self._rows is not None:
            pad = idx == 0
            # padding reads any computed row, then zeros
            out = self.rows(torch.where(pad, self._rows[0][0], idx - 1))
            return out.masked_fill(pad[..., None], 0.0)
        return F.embedding(idx, self.weight)

    def embed_queries(self, features):
        """Query vectors ``(n, d)`` of featurised free texts."""
        feats = {k: v.to(self._device()) for k, v in features.items()}
        return self.query_projection(self.content(**feats))

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_step"] = state["_rows"] = state["_eval"] = state["_frozen_content"] = None
        return state
