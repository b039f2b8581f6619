"""Data-parallel training of IntentRecommender over a torch.distributed process group.

Every process of a launch (``torchrun --nproc_per_node N script.py``) runs
the same ``fit`` on the same data; the windows of each epoch are shuffled
with one seed shared by all processes and dealt out ``rank::world_size``
(:class:`ShardSampler`), each process computes the gradient of its shard and
:class:`DistributedSync` averages the gradients before every optimizer
step, so every process applies the same update and ends with the same
weights. The holdout is scored in full on every process (the weights are
the same, so are the scores), and the per-batch records of each epoch are
averaged before skorch's scoring callbacks read them, so every process
takes the same early-stopping decision (a different one would leave the
others waiting in a collective forever).

Without a process group of 2 or more processes (or with
``distributed=False``) none of this runs: :func:`world` is None and every
hook returns at once.
"""

import os

import torch
from skorch.callbacks import Callback

__all__ = [
    "DistributedSync", "ShardSampler", "average_gradients", "shard_iterator", "shared_seed", "world",
]


def _dist():
    return torch.distributed if torch.distributed.is_available() else None


def world(net):
    """``(rank, world_size)`` when ``net`` trains data-parallel, else None."""
    dist = _dist()
    if getattr(net, "distributed", "auto") is False or dist is None or not dist.is_initialized():
        return None
    size = dist.get_world_size()
    return (dist.get_rank(), size) if size > 1 else None


def _launched():
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False


def _join(net):
    """Initialise the default process group of a launch (``WORLD_SIZE`` > 1) if needed."""
    if net.distributed is False:
        return
    dist = _dist()
    if dist is not None and dist.is_initialized():
        return
    if not _launched():
        if net.distributed is True:
            raise RuntimeError(
                "distributed=True needs a distributed launch (torchrun, "
                "python -m torch.distributed.run, accelerate launch) or an "
                "initialised torch.distributed process group."
            )
        return
    if dist is None:
        raise RuntimeError("WORLD_SIZE > 1 but this torch has no torch.distributed.")
    cuda = torch.device(net._resolve_device()).type == "cuda"
    if cuda and "LOCAL_RANK" in os.environ:
        # "cuda" (no index) then means this process's GPU
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    dist.init_process_group("nccl" if cuda else "gloo")


def _device():
    # NCCL reduces CUDA tensors only; gloo (and the rest) CPU tensors
    if torch.distributed.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _broadcast_int(value):
    t = torch.tensor([value], dtype=torch.int64, device=_device())
    torch.distributed.broadcast(t, 0)
    return int(t.item())


def shared_seed(net, seed):
    """The seed every process of a launch uses: rank 0's (drawn there if None).

    Joins the launch's process group first. Outside a launch, ``seed`` as is.
    """
    _join(net)
    if world(net) is None:
        return seed
    if seed is None:
        seed = int(torch.randint(2**31 - 1, ()).item())
    return _broadcast_int(seed)


class ShardSampler(torch.utils.data.Sampler):
    """This process's share of a shuffle common to all processes, new every epoch.

    The indices are permuted by a generator seeded with ``seed + epoch``
    (the epoch counts the passes over the sampler), padded by repeating the
    first ones to a multiple of ``world_size`` (every process gets as many
    windows, so takes as many steps), and dealt out ``rank::world_size``:
    :class:`torch.utils.data.distributed.DistributedSampler`'s rule, with
    the epoch kept by the sampler itself.
    """

    def __init__(self, n, rank, world_size, seed, shuffle=True):
        self.n, self.rank, self.world_size = n, rank, world_size
        self.seed, self.shuffle, self.epoch = seed, shuffle, 0

    def __len__(self):
        return -(-self.n // self.world_size)

    def __iter__(self):
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.n, generator=g)
        else:
            order = torch.arange(self.n)
        self.epoch += 1
        total = len(self) * self.world_size
        if total > self.n:
            order = torch.cat([order, order[: total - self.n]])
        return iter(order[self.rank:total:self.world_size].tolist())


def shard_iterator(net, dataset):
    """The training DataLoader of this process, or None outside a launch.

    ``batch_size`` stays the global batch: each of the ``world_size``
    processes takes ``ceil(batch_size / world_size)`` windows per step, so
    an epoch takes about as many optimizer steps as in one process and the
    learning rate tuned there applies unchanged.
    """
    w = world(net)
    if w is None:
        return None
    rank, size = w
    if not any(isinstance(cb, DistributedSync) for _, cb in net.callbacks_):
        raise RuntimeError(
            "This model was initialised outside the distributed launch, so it cannot "
            "continue training inside one (warm_start, partial_fit): refit it there."
        )
    kwargs = net.get_params_for("iterator_train")
    batch = kwargs.pop("batch_size", net.batch_size)
    batch = -(-len(dataset) // size) if batch == -1 else -(-batch // size)
    shuffle = kwargs.pop("shuffle", False)
    # one shuffle seed for all, drawn from the (shared) seeded torch RNG;
    # then each process its own stream for dropout and negatives
    seed = _broadcast_int(int(torch.randint(2**31 - 1, ()).item()))
    torch.manual_seed(seed + 1 + rank)
    sampler = ShardSampler(len(dataset), rank, size, seed, shuffle=shuffle)
    return net.iterator_train(dataset, batch_size=batch, sampler=sampler, **kwargs)


def average_gradients(params):
    """Average the gradients of ``params`` over the process group.

    A parameter without a gradient on some processes counts zero there;
    one without a gradient anywhere keeps None. Dense gradients travel in
    one all-reduce. Sparse ones (an embedding with ``sparse=True``, as
    ``sparse_items`` makes the item table) stay sparse: the touched rows of
    every process are gathered, so a step's traffic grows with its rows,
    not with the catalogue (a parameter sparse on some processes and dense
    on others is averaged dense).
    """
    params = list(params)
    dist = torch.distributed
    size = dist.get_world_size()
    device = _device()
    # per parameter: how many processes have a gradient, how many a sparse one
    meta = torch.tensor([[p.grad is not None, p.grad is not None and p.grad.is_sparse]
                         for p in params], dtype=torch.float32, device=device).reshape(-1, 2)
    dist.all_reduce(meta)
    has, sparse = meta[:, 0] > 0, (meta[:, 1] > 0) & (meta[:, 1] == meta[:, 0])
    dense = [p for p, h, s in zip(params, has.tolist(), sparse.tolist()) if h and not s]
    if dense:
        parts = []
        for p in dense:
            g = p.grad
            if g is None:
                parts.append(torch.zeros(p.numel(), dtype=torch.float32, device=device))
            else:
                g = g.to_dense() if g.is_sparse else g
                parts.append(g.detach().reshape(-1).to(device=device, dtype=torch.float32))
        buffer = torch.cat(parts)
        dist.all_reduce(buffer)
        offset = 0
        for p in dense:
            mean = (buffer[offset:offset + p.numel()].view(p.shape) / size).to(p.device, p.dtype)
            offset += p.numel()
            if p.grad is not None and p.grad.is_sparse:
                p.grad = mean.to_sparse(p.grad.sparse_dim())
            elif p.grad is None:
                p.grad = mean
            else:
                p.grad.copy_(mean)
    for p, s in zip(params, sparse.tolist()):
        if s:
            _average_sparse(p, size, device)


def _average_sparse(p, size, device):
    """Gather the rows of a sparse gradient from every process and average them."""
    dist = torch.distributed
    g = p.grad.coalesce() if p.grad is not None else None
    sparse_dim = g.sparse_dim() if g is not None else 1
    shape = p.shape
    idx = g.indices().to(device) if g is not None else torch.zeros(
        sparse_dim, 0, dtype=torch.int64, device=device)
    vals = g.values().to(device) if g is not None else torch.zeros(
        (0, *shape[sparse_dim:]), dtype=p.dtype, device=device)
    counts = [torch.zeros(1, dtype=torch.int64, device=device) for _ in range(size)]
    dist.all_gather(counts, torch.tensor([idx.shape[1]], dtype=torch.int64, device=device))
    counts = [int(c.item()) for c in counts]
    most = max(counts)
    # all_gather wants equal shapes: pad to the longest, trim after
    pad = most - idx.shape[1]
    idx = torch.cat([idx, idx.new_zeros(sparse_dim, pad)], 1)
    vals = torch.cat([vals, vals.new_zeros((pad, *vals.shape[1:]))])
    all_idx = [torch.empty_like(idx) for _ in range(size)]
    all_vals = [torch.empty_like(vals) for _ in range(size)]
    dist.all_gather(all_idx, idx)
    dist.all_gather(all_vals, vals)
    idx = torch.cat([t[:, :n] for t, n in zip(all_idx, counts)], 1)
    vals = torch.cat([t[:n] for t, n in zip(all_vals, counts)])
    # summed in rank order on every process: the same result everywhere
    p.grad = torch.sparse_coo_tensor(idx, vals / size, shape).coalesce().to(p.device)


class DistributedSync(Callback):
    """Keep the processes of a data-parallel fit in step (a default callback then).

    * ``on_train_begin``: checks that every process built the same
      vocabulary and windows (the same data and parameters), then copies
      rank 0's weights to the others.
    * ``on_grad_computed``: averages the gradients (:func:`average_gradients`).
    * ``on_epoch_end``, first of the callbacks: averages each batch's
      records (``train_loss``, ``valid_ndcg``, ...) over the processes, so
      the epoch scores, ``*_best`` flags and early stopping agree everywhere.
    """

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if world(net) is None:
            return
        holdout = getattr(X, "holdout", None)
        sizes = torch.tensor(
            [len(net.classes_), len(X) if X is not None else -1,
             len(holdout) if holdout is not None else -1,
             sum(p.numel() for p in net.module_.parameters())],
            dtype=torch.int64, device=_device(),
        )
        low, high = sizes.clone(), sizes.clone()
        torch.distributed.all_reduce(low, torch.distributed.ReduceOp.MIN)
        torch.distributed.all_reduce(high, torch.distributed.ReduceOp.MAX)
        if not torch.equal(low, high):
            # every process sees the same reduction, so all raise together
            raise ValueError(
                "Data-parallel fit: the processes differ in (items, training windows, "
                f"holdout rows, weights): from {low.tolist()} to {high.tolist()}. Every "
                "process must call fit with the same X, y and parameters."
            )
        with torch.no_grad():
            for t in net.module_.state_dict().values():
                if t.device.type == _device().type:
                    torch.distributed.broadcast(t, 0)
                else:
                    copy = t.to(_device())
                    torch.distributed.broadcast(copy, 0)
                    t.copy_(copy)

    def on_grad_computed(self, net, named_parameters, **kwargs):
        if world(net) is None:
            return
        average_gradients(p for _, p in named_parameters)

    def on_epoch_end(self, net, **kwargs):
        if world(net) is None:
            return
        batches = net.history[-1]["batches"]
        keys = sorted({k for b in batches for k, v in b.items() if isinstance(v, float)})
        if not keys:
            return
        values = torch.tensor(
            [b.get(k, 0.0) for b in batches for k in keys], dtype=torch.float64, device=_device()
        )
        torch.distributed.all_reduce(values)
        values = (values / torch.distributed.get_world_size()).tolist()
        for i, b in enumerate(batches):
            for j, k in enumerate(keys):
                if k in b:
                    b[k] = values[i * len(keys) + j]
