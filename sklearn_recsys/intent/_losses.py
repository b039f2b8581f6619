"""Next-item losses of IntentRecommender, as criteria.

Each loss is a ``torch.nn.Module`` called as
``loss(hidden, target, item_vectors, item_mask=None)``: ``hidden`` holds the
intent vectors of the training positions ``(n, d)``, ``target`` their next
item codes ``(n,)``, ``item_vectors`` the tied output table
``(n_items, d)``; ``item_mask`` (0/1 per item, content models) marks the
items that were seen in training. ``IntentRecommender(loss=...)`` picks one
(:data:`LOSSES`) in ``initialize_criterion``; the user's ``criterion``
(``torch.nn.CrossEntropyLoss`` by default, ``criterion__*`` parameters)
scores the logits of the softmax losses.
"""

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BCELoss", "FullSoftmaxLoss", "LOSSES", "SampledSoftmaxLoss"]


class _ItemLoss(nn.Module):
    """Base of the losses: the user's criterion and the negatives per step."""

    def __init__(self, criterion=None, n_negatives=256):
        super().__init__()
        self.criterion = criterion
        self.n_negatives = int(n_negatives)

    def set_popularity(self, counts, trained=None):
        """Training counts of the items (a tensor on the model's device) and
        which were trained (content models); losses that sample use them."""


class FullSoftmaxLoss(_ItemLoss):
    """Cross-entropy over every item (the softmax of ``hidden @ item_vectors.T``).

    Items never seen in training (``item_mask == 0``: cold catalogue items
    of content models) are left out of the softmax, so their content is not
    pushed down.
    """

    def forward(self, hidden, target, item_vectors, item_mask=None):
        logits = hidden @ item_vectors.T
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
    ``q`` is set by :meth:`set_popularity` before training.
    """

    def __init__(self, criterion=None, n_negatives=256):
        super().__init__(criterion, n_negatives)
        self.register_buffer("q", torch.empty(0))

    def set_popularity(self, counts, trained=None):
        q = counts.float() + 1.0
        if trained is not None:  # items never trained on stay out
            q = q * trained
        self.q = q / q.sum()

    def forward(self, hidden, target, item_vectors, item_mask=None):
        neg = torch.multinomial(self.q, self.n_negatives, replacement=True)
        pos = (hidden * item_vectors[target]).sum(-1) - self.q[target].log()
        logits = hidden @ item_vectors[neg].T - self.q[neg].log()
        logits = logits.masked_fill(neg[None, :] == target[:, None], float("-inf"))
        logits = torch.cat([pos[:, None], logits], dim=1)
        return self.criterion(logits, torch.zeros_like(target))


class BCELoss(_ItemLoss):
    """SASRec's binary cross-entropy: the positive term plus the mean of the
    terms of ``n_negatives`` uniformly drawn negatives per position.

    Kept for comparison with the original SASRec; ``criterion`` is not used.
    """

    def forward(self, hidden, target, item_vectors, item_mask=None):
        neg = torch.randint(0, len(item_vectors), (len(target), self.n_negatives), device=hidden.device)
        pos = (hidden * item_vectors[target]).sum(-1)
        negs = torch.einsum("nd,nkd->nk", hidden, item_vectors[neg])
        return (
            F.binary_cross_entropy_with_logits(pos, torch.ones_like(pos))
            + F.binary_cross_entropy_with_logits(negs, torch.zeros_like(negs))
        )


LOSSES = {"ce": FullSoftmaxLoss, "sampled_softmax": SampledSoftmaxLoss, "bce": BCELoss}
