"""Adam with lazy (row-wise) updates for sparse gradients.

With ``loss="sampled_softmax"`` (or ``"bce"``) a training step reads only
the item rows of its batch and its negatives; with a sparse item embedding
the gradient holds only those rows, and :class:`LazyAdam` updates only them
(their moments included), so a step costs what it touches, not the
catalogue. Dense parameters (the tower's layers) get torch's own Adam.
"""

import math

import torch

__all__ = ["LazyAdam"]


class LazyAdam(torch.optim.Adam):
    """``torch.optim.Adam`` that also takes sparse gradients, updated lazily.

    Parameters with a dense gradient are updated by ``torch.optim.Adam``
    itself (same arguments, same results). A parameter with a sparse
    gradient (``nn.Embedding(sparse=True)``) has only its touched rows
    updated: their first and second moments and their values, with the
    parameter's own step count for the bias correction, as
    ``torch.optim.SparseAdam`` and TensorFlow's ``LazyAdam`` do. Rows a step
    does not touch keep their values and moments (plain Adam would move
    them by their momentum). ``weight_decay`` applies to the touched rows
    (L2 added to their gradient); ``amsgrad`` is not supported there.

    Parameters
    ----------
    params : iterable
        Parameters or parameter groups, as for ``torch.optim.Adam``.
    **kwargs
        ``lr``, ``betas``, ``eps``, ``weight_decay``, ... of
        ``torch.optim.Adam``.

    Examples
    --------
    >>> import torch
    >>> emb = torch.nn.Embedding(1000, 8, sparse=True)
    >>> opt = LazyAdam(emb.parameters(), lr=0.1)
    >>> emb(torch.tensor([3, 5])).sum().backward()
    >>> before = emb.weight.detach().clone()
    >>> opt.step()
    >>> changed = (emb.weight.detach() != before).any(1).nonzero().ravel()
    >>> changed.tolist()
    [3, 5]
    """

    @torch.no_grad()
    def step(self, closure=None):
        """One update; ``closure`` re-evaluates the loss, as in torch."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        held = []
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None and p.grad.is_sparse:
                    held.append((group, p, p.grad))
                    p.grad = None  # torch's Adam skips it
        try:
            super().step()
        finally:
            for _, p, grad in held:
                p.grad = grad
        for group, p, grad in held:
            self._sparse_step(group, p, grad)
        return loss

    def _sparse_step(self, group, p, grad):
        if group.get("amsgrad"):
            raise ValueError("LazyAdam does not support amsgrad for sparse gradients.")
        if group.get("maximize"):
            grad = -grad
        grad = grad.coalesce()
        rows = grad.indices()[0]
        values = grad.values()
        if not len(rows):
            return
        state = self.state[p]
        if not state:
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        state["step"] += 1
        step = float(state["step"])
        beta1, beta2 = group["betas"]
        lr = float(group["lr"])
        if group.get("weight_decay"):
            values = values + group["weight_decay"] * p[rows]
        m = state["exp_avg"][rows].mul_(beta1).add_(values, alpha=1 - beta1)
        v = state["exp_avg_sq"][rows].mul_(beta2).addcmul_(values, values, value=1 - beta2)
        state["exp_avg"][rows] = m
        state["exp_avg_sq"][rows] = v
        bias1 = 1 - beta1**step
        bias2 = 1 - beta2**step
        denom = (v.sqrt() / math.sqrt(bias2)).add_(group["eps"])
        p.index_add_(0, rows, m / denom, alpha=-lr / bias1)
