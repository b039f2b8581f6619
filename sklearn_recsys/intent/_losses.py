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


class FullSoftmaxLoss(nn.Module):
    """Cross-entropy over every item (the softmax of ``hidden @ item_vectors.T``).

    Items never seen in training (``item_mask == 0``: cold catalogue items
    of content models) are left out of the softmax, so their content is not
    pushed down.
    """

    def __init__(self, criterion, n_negatives=None):
        super().__init__()
        self.criterion = criterion

    def set_popularity(self, counts, trained=None):
        """Nothing to prepare: every item is in the softmax."""

    def forward(self, hidden, target, item_vectors, item_mask=None):
        logits = hidden @ item_vectors.T
        if item_mask is not None:
            logits = logits.masked_fill(item_mask[None, :] == 0, float("-inf"))
        return self.criterion(logits, target)


class SampledSoftmaxLoss(nn.Module):
    """Cross-entropy over the target and ``n_negatives`` items shared by the batch.

    Negatives are drawn by smoothed popularity (``counts + 1``, with
    replacement) and every logit is corrected by ``-log q`` (Bengio &
    Senecal, 2008; Yi et al., 2019), so the loss estimates the full softmax;
    a negative equal to a position's target is masked out for it. Items
    never seen in training are never drawn (content models). The proposal is
    set by :meth:`set_popularity` before training.
    """

    def __init__(self, criterion, n_negatives=256):
        super().__init__()
        self.criterion = criterion
        self.n_negatives = int(n_negatives)
        self.register_buffer("q", torch.empty(0))
        self.register_buffer("log_q", torch.empty(0))

    def set_popularity(self, counts, trained=None):
        """The proposal ``q`` from training counts (a tensor on the model's device)."""
        q = counts.float() + 1.0
        if trained is not None:  # items never trained on stay out
            q = q * trained
        q = q / q.sum()
        self.q, self.log_q = q, q.log()

    def forward(self, hidden, target, item_vectors, item_mask=None):
        neg = torch.multinomial(self.q, self.n_negatives, replacement=True)
        pos = (hidden * item_vectors[target]).sum(-1) - self.log_q[target]
        logits = hidden @ item_vectors[neg].T - self.log_q[neg]
        logits = logits.masked_fill(neg[None, :] == target[:, None], float("-inf"))
        logits = torch.cat([pos[:, None], logits], dim=1)
        return self.criterion(logits, torch.zeros_like(target))


class BCELoss(nn.Module):
    """SASRec's binary cross-entropy: the positive term plus the mean of the
    terms of ``n_negatives`` uniformly drawn negatives per position.

    Kept for comparison with the original SASRec; ``criterion`` is not used.
    """

    def __init__(self, criterion=None, n_negatives=256):
        super().__init__()
        self.n_negatives = int(n_negatives)

    def set_popularity(self, counts, trained=None):
        """Nothing to prepare: negatives are uniform."""

    def forward(self, hidden, target, item_vectors, item_mask=None):
        neg = torch.randint(0, len(item_vectors), (len(target), self.n_negatives), device=hidden.device)
        pos = (hidden * item_vectors[target]).sum(-1)
        negs = torch.einsum("nd,nkd->nk", hidden, item_vectors[neg])
        return (
            F.binary_cross_entropy_with_logits(pos, torch.ones_like(pos))
            + F.binary_cross_entropy_with_logits(negs, torch.zeros_like(negs))
        )


LOSSES = {"ce": FullSoftmaxLoss, "sampled_softmax": SampledSoftmaxLoss, "bce": BCELoss}
