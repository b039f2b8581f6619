"""Next-item losses of IntentRecommender, as criteria.

Each loss is a ``torch.nn.Module`` called as
``loss(hidden, target, items, item_mask=None)``: ``hidden`` holds the
intent vectors of the training positions ``(n, d)``, ``target`` their next
item codes ``(n,)``, ``items`` the tied output table as an
:class:`ItemTable` (``items.all()``: every row; ``items.rows(codes)``: only
those rows, so a loss that scores sampled items touches, and updates, only
them); ``item_mask`` (0/1 per item, content models) marks the items that
were seen in training. ``IntentRecommender(loss=...)`` picks one
(:data:`LOSSES`) in ``initialize_criterion``; the user's ``criterion``
(``torch.nn.CrossEntropyLoss`` by default, ``criterion__*`` parameters)
scores the logits of the softmax losses.
"""

import torch
import torch.nn.functional as F
from torch import nn

from ._modules import SequenceTower

__all__ = ["BCELoss", "FullSoftmaxLoss", "ItemTable", "LOSSES", "SampledSoftmaxLoss"]


class ItemTable:
    """The item vectors of a tower as the losses read them.

    ``all()`` is ``module.item_vectors()``; ``rows(codes)`` looks up only
    the given items. For a tower whose table is its plain
    ``item_embedding`` (every built-in tower), the lookup is an embedding
    lookup, with a sparse gradient when the embedding is ``sparse``: a step
    then costs, and updates, only the rows it touches. Other tables (content
    models, custom ``item_vectors``) are indexed from ``all()``.
    """

    def __init__(self, module):
        self.module = module
        emb = getattr(module, "item_embedding", None)
        own = getattr(type(module), "item_vectors", None)
        self._embedding = (
            emb if isinstance(emb, nn.Embedding) and own is SequenceTower.item_vectors else None
        )

    def __len__(self):
        if self._embedding is not None:
            return self._embedding.num_embeddings - 1
        return len(self.all())

    def all(self):
        """Every item's vector, ``(n_items, d)`` in code order."""
        return self.module.item_vectors()

    def rows(self, codes):
        """Vectors of the items ``codes`` (any shape), ``codes.shape + (d,)``."""
        emb = self._embedding
        if emb is not None:
            return F.embedding(codes + 1, emb.weight, padding_idx=0, sparse=emb.sparse)
        table = getattr(self.module, "item_embedding", None)
        if hasattr(table, "rows"):  # the hybrid table: the rows of this step
            return table.rows(codes)
        return self.all()[codes]


class _ItemLoss(nn.Module):
    """Base of the losses: the user's criterion and the negatives per step."""

    # losses that score only sampled items: the item table can take sparse
    # (row-wise) updates
    samples_items = False

    def __init__(self, criterion=None, n_negatives=256):
        super().__init__()
        self.criterion = criterion
        self.n_negatives = int(n_negatives)

    def set_popularity(self, counts, trained=None):
        """Training counts of the items (a tensor on the model's device) and
        which were trained (content models); losses that sample use them."""

    def draw_step(self):
        """Items this loss will read at the next call besides the batch's
        (drawn now, so a content model computes just those rows), or None
        when it reads every item or draws per position."""
        return None


class FullSoftmaxLoss(_ItemLoss):
    """Cross-entropy over every item (the softmax of ``hidden @ item_vectors.T``).

    Items never seen in training (``item_mask == 0``: cold catalogue items
    of content models) are left out of the softmax, so their content is not
    pushed down.
    """

    def forward(self, hidden, target, items, item_mask=None):
        logits = hidden @ items.all().T
        if item_mask is not None:
            logits = logits.masked_fill(item_mask[None, :] == 0, float("-inf"))
        return self.criterion(logits, target)


class SampledSoftmaxLoss(_ItemLoss):
    """Cross-entropy over the target and ``n_negatives`` items shared by the batch.

    Negatives are drawn by smoothed popularity (``counts + 1``, with
    replacement) and every logit is corrected by ``-log q`` (Bengio &
    Senecal, 2008; Yi et al., 2019), so the loss estimates the full softmax;
    a negative equal to a position's target is masked out for it. Items
    never seen in training are never drawn (content models). The proposal
    is set by :meth:`set_popularity` before training: ``q`` and its
    cumulative sum, so a draw costs ``O(n_negatives log n_items)`` (a
    binary search per negative), not a pass over the catalogue; only the
    target and negative rows of the item table are read.
    """

    samples_items = True

    def __init__(self, criterion=None, n_negatives=256):
        super().__init__(criterion, n_negatives)
        self.register_buffer("q", torch.empty(0))
        self.register_buffer("cdf", torch.empty(0, dtype=torch.float64))
        self._drawn = None  # negatives drawn by draw_step for the next call

    def set_popularity(self, counts, trained=None):
        q = counts.double() + 1.0
        if trained is not None:  # items never trained on stay out
            q = q * trained
        q = q / q.sum()
        self.q = q.float()
        self.cdf = q.cumsum(0)

    def draw_step(self):
        self._drawn = self.sample(self.n_negatives)
        return self._drawn

    def sample(self, n):
        """``n`` item codes drawn from ``q``, with replacement."""
        u = torch.rand(n, dtype=torch.float64, device=self.cdf.device) * self.cdf[-1]
        # right-continuous inverse of the CDF: items with q = 0 are never drawn
        return torch.searchsorted(self.cdf, u, right=True).clamp_(max=len(self.cdf) - 1)

    def forward(self, hidden, target, items, item_mask=None):
        neg, self._drawn = self._drawn, None
        if neg is None:
            neg = self.sample(self.n_negatives)
        vectors = items.rows(torch.cat([target, neg]))
        pos = (hidden * vectors[: len(target)]).sum(-1) - self.q[target].log()
        logits = hidden @ vectors[len(target):].T - self.q[neg].log()
        hit = neg[None, :] == target[:, None]
        if getattr(self.criterion, "label_smoothing", 0.0):
            # label smoothing puts target mass on every column: a -inf logit
            # would make the loss inf; 30 below the row's lowest logit gives the
            # accidental hit a probability under 1e-13 and a finite loss
            low = torch.minimum(logits.detach().amin(dim=1), pos.detach()) - 30.0
            logits = torch.where(hit, low[:, None], logits)
        else:
            logits = logits.masked_fill(hit, float("-inf"))
        logits = torch.cat([pos[:, None], logits], dim=1)
        return self.criterion(logits, torch.zeros_like(target))


class BCELoss(_ItemLoss):
    """SASRec's binary cross-entropy: the positive term plus the mean of the
    terms of ``n_negatives`` uniformly drawn negatives per position.

    Kept for comparison with the original SASRec; ``criterion`` is not used.
    """

    samples_items = True

    def forward(self, hidden, target, items, item_mask=None):
        neg = torch.randint(0, len(items), (len(target), self.n_negatives), device=hidden.device)
        pos = (hidden * items.rows(target)).sum(-1)
        negs = torch.einsum("nd,nkd->nk", hidden, items.rows(neg))
        return (
            F.binary_cross_entropy_with_logits(pos, torch.ones_like(pos))
            + F.binary_cross_entropy_with_logits(negs, torch.zeros_like(negs))
        )


LOSSES = {"ce": FullSoftmaxLoss, "sampled_softmax": SampledSoftmaxLoss, "bce": BCELoss}
