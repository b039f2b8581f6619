"""Sequence towers: item codes of a history -> one intent vector per position.

Every tower reads left-padded item codes ``(batch, length)`` where 0 is the
padding and item ``c`` of the vocabulary is ``c + 1``, and returns hidden
states ``(batch, length, d_model)``; the hidden state at position ``t`` sees
positions ``<= t`` only (causal), so every position is a training target. The
item embedding table doubles as the output layer (tied weights): the score of
item ``c`` for an intent ``h`` is ``h @ item_vectors()[c]``.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["GRUTower", "LSTMTower", "SequenceTower", "TransformerTower"]


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"module__{name} must be a positive integer; got {value!r}.")


class SequenceTower(nn.Module):
    """Base class of the towers: item embeddings, context projection, tied output.

    Subclasses implement :meth:`encode`. A custom tower passed to
    ``IntentRecommender(module=...)`` subclasses this class; its ``__init__``
    takes ``n_items``, ``max_len`` and ``n_context`` (filled in by the
    recommender) plus its own ``module__*`` parameters.

    Parameters
    ----------
    n_items : int
        Number of items; the embedding table has ``n_items + 1`` rows (row 0
        is the padding).
    d_model : int, default=64
        Size of the item embeddings and of the intent vectors.
    n_context : int, default=0
        Number of numeric context features; when positive, a linear
        projection of them is added to every position's hidden state.
    dropout : float, default=0.2
        Dropout rate.

    Examples
    --------
    A bag-of-items tower: the intent is the mean embedding of the history.

    >>> import torch
    >>> from sklearn_recsys.intent import IntentRecommender, SequenceTower
    >>> class MeanTower(SequenceTower):
    ...     def __init__(self, n_items, *, max_len=50, d_model=16, n_context=0, dropout=0.0):
    ...         super().__init__(n_items, d_model=d_model, n_context=n_context, dropout=dropout)
    ...
    ...     def encode(self, items, last_only=False):
    ...         e = self.item_embedding(items)
    ...         n = (items > 0).cumsum(1).clamp(min=1).unsqueeze(-1)
    ...         h = e.cumsum(1) / n
    ...         return h[:, -1] if last_only else h
    >>> rec = IntentRecommender(module=MeanTower, max_epochs=2, verbose=0,
    ...                         random_state=0, device="cpu")
    >>> rec.fit([[1, 2], [2, 3], [3, 1]], [3, 1, 2]).recommend([[1]], k=2).shape
    (1, 2)
    """

    def __init__(self, n_items, *, d_model=64, n_context=0, dropout=0.2):
        super().__init__()
        _check_positive_int(n_items, "n_items")
        _check_positive_int(d_model, "d_model")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"module__dropout must be in [0, 1); got {dropout!r}.")
        self.n_items = n_items
        self.d_model = d_model
        self.n_context = int(n_context)
        self.item_embedding = nn.Embedding(n_items + 1, d_model, padding_idx=0)
        nn.init.normal_(self.item_embedding.weight, std=d_model**-0.5)
        with torch.no_grad():
            self.item_embedding.weight[0].zero_()
        self.context_projection = nn.Linear(self.n_context, d_model) if self.n_context else None

    def item_vectors(self):
        """Output embeddings of the items, ``(n_items, d_model)``, code order."""
        return self.item_embedding.weight[1:]

    def encode(self, items, last_only=False):  # pragma: no cover - abstract
        """Hidden states ``(B, L, d)``, or ``(B, d)`` at the last position."""
        raise NotImplementedError

    def forward(self, items, context=None, last_only=False):
        """Intent vectors of every position (or of the last one).

        Parameters
        ----------
        items : LongTensor of shape (batch, length)
            Left-padded item codes, 0 = padding.
        context : FloatTensor of shape (batch, n_context) or None
            Standardised context features of each row.
        last_only : bool, default=False
            Return only the last position, ``(batch, d_model)``.
        """
        h = self.encode(items, last_only=last_only)
        if self.context_projection is not None:
            if context is None:
                raise ValueError("this tower was built with context features; pass context.")
            c = self.context_projection(context.to(h.dtype))
            h = h + (c if last_only else c.unsqueeze(1))
        return h


class _Block(nn.Module):
    """One self-attention block; ``layout`` picks pre-LN or SASRec's order."""

    def __init__(self, d_model, n_heads, dropout, layout):
        super().__init__()
        self.n_heads = n_heads
        self.layout = layout
        self.dropout = dropout
        self.norm_attn = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.norm_ff = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(
            nn.Linear(d_model, d_model),
            nn.GELU() if layout == "pre_ln" else nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(d_model, d_model),
        )
        self.drop = nn.Dropout(dropout)

    def _attend(self, x_q, x_kv, mask):
        b, lq, d = x_q.shape
        h = self.n_heads
        w_q, w_kv = self.qkv.weight.split([d, 2 * d])
        b_q, b_kv = self.qkv.bias.split([d, 2 * d])
        q = F.linear(x_q, w_q, b_q).view(b, lq, h, d // h).transpose(1, 2)
        k, v = F.linear(x_kv, w_kv, b_kv).view(b, -1, 2, h, d // h).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0
        )
        return self.out(a.transpose(1, 2).reshape(b, lq, d))

    def forward(self, x, mask, last_only=False):
        # last_only: only the last position's query is computed (inference).
        if self.layout == "pre_ln":
            y = self.norm_attn(x)
            q_in = y[:, -1:] if last_only else y
            x = (x[:, -1:] if last_only else x) + self.drop(self._attend(q_in, y, mask))
            return x + self.drop(self.ff(self.norm_ff(x)))
        # SASRec (Kang & McAuley, 2018): normalised queries, raw keys/values,
        # residual from the normalised queries, post-LN feed-forward.
        q = self.norm_attn(x[:, -1:] if last_only else x)
        x = q + self.drop(self._attend(q, x, mask))
        x = self.norm_ff(x)
        return x + self.drop(self.ff(x))


class TransformerTower(SequenceTower):
    """SASRec-style causal self-attention over a history.

    Learned position embeddings counted from the end of the history (the most
    recent item always sits at the last position), causal self-attention
    through :func:`torch.nn.functional.scaled_dot_product_attention` with the
    padding masked out, and item embeddings tied with the output layer
    (Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018).

    Parameters
    ----------
    n_items : int
        Number of items (filled in by the recommender).
    max_len : int, default=50
        Longest history read (filled in from the recommender's ``max_len``).
    d_model : int, default=64
        Embedding size; a multiple of ``n_heads``.
    n_layers : int, default=2
        Number of attention blocks.
    n_heads : int, default=1
        Attention heads per block.
    dropout : float, default=0.2
        Dropout on embeddings, attention weights and block outputs.
    layout : {"pre_ln", "sasrec"}, default="pre_ln"
        ``"pre_ln"``: layer norm before attention and feed-forward (GELU),
        residuals around both; ``"sasrec"``: the original SASRec block
        (ReLU feed-forward, post-LN).
    n_context : int, default=0
        Number of numeric context features (filled in by the recommender).

    Examples
    --------
    >>> import torch
    >>> tower = TransformerTower(n_items=10, max_len=5, d_model=8)
    >>> tower(torch.tensor([[0, 0, 3, 4, 5]])).shape
    torch.Size([1, 5, 8])
    """

    def __init__(
        self, n_items, *, max_len=50, d_model=64, n_layers=2, n_heads=1,
        dropout=0.2, layout="pre_ln", n_context=0,
    ):
        super().__init__(n_items, d_model=d_model, n_context=n_context, dropout=dropout)
        _check_positive_int(max_len, "max_len")
        _check_positive_int(n_layers, "n_layers")
        _check_positive_int(n_heads, "n_heads")
        if d_model % n_heads:
            raise ValueError(
                f"module__d_model ({d_model}) must be a multiple of module__n_heads ({n_heads})."
            )
        if layout not in ("pre_ln", "sasrec"):
            raise ValueError(f"module__layout must be 'pre_ln' or 'sasrec'; got {layout!r}.")
        self.max_len = max_len
        self.position_embedding = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.position_embedding.weight, std=d_model**-0.5)
        self.blocks = nn.ModuleList(
            _Block(d_model, n_heads, dropout, layout) for _ in range(n_layers)
        )
        self.drop = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(d_model)

    def encode(self, items, last_only=False):
        b, length = items.shape
        if length > self.max_len:
            raise ValueError(f"histories of {length} positions exceed max_len={self.max_len}.")
        real = items > 0
        pos = self.position_embedding.weight[self.max_len - length :]
        x = self.item_embedding(items) * math.sqrt(self.d_model) + pos
        x = self.drop(x) * real.unsqueeze(-1)
        # causal, padding keys masked; each position may see itself so a row
        # of padding never has an empty softmax
        idx = torch.arange(length, device=items.device)
        causal = idx[None, :] <= idx[:, None]
        mask = causal & (real[:, None, :] | (idx[None, :] == idx[:, None]))
        mask = mask.unsqueeze(1)
        for i, block in enumerate(self.blocks):
            last = last_only and i == len(self.blocks) - 1
            x = block(x, mask[:, :, -1:] if last else mask, last_only=last)
            if not last:
                x = x * real.unsqueeze(-1)
        x = self.norm(x)
        return x[:, -1] if last_only else x


def _rotate(x, shift):
    """Roll each row ``i`` of ``x`` (B, L, ...) left by ``shift[i]`` positions."""
    length = x.shape[1]
    idx = (torch.arange(length, device=x.device)[None, :] + shift[:, None]) % length
    if x.dim() == 3:
        idx = idx.unsqueeze(-1).expand(-1, -1, x.shape[2])
    return x.gather(1, idx)


class _RecurrentTower(SequenceTower):
    _rnn_class = None

    def __init__(self, n_items, *, d_model=64, n_layers=1, dropout=0.2, n_context=0,
                 max_len=None, n_heads=None, layout=None):
        super().__init__(n_items, d_model=d_model, n_context=n_context, dropout=dropout)
        _check_positive_int(n_layers, "n_layers")
        self.max_len = max_len
        self.rnn = self._rnn_class(
            d_model, d_model, num_layers=n_layers, batch_first=True,
            dropout=dropout if n_layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(d_model)

    def encode(self, items, last_only=False):
        # Histories come left-padded; a recurrent net fed padding first would
        # drift away from its initial state, so each row is turned
        # right-padded (padding after the items cannot reach them) and back.
        b, length = items.shape
        n_pad = (items == 0).sum(1)
        right = _rotate(items, n_pad)
        emb = self.drop(self.item_embedding(right))
        # recurrent kernels run in float32: bf16 RNNs are not supported everywhere
        with torch.autocast(items.device.type, enabled=False):
            out, _ = self.rnn(emb.float())
        out = self.norm(self.drop(out))
        if last_only:
            last = (length - 1 - n_pad).clamp_min(0)
            return out[torch.arange(b, device=items.device), last]
        return _rotate(out, (length - n_pad) % length)


_RECURRENT_DOC = """{summary}
{about}
    Parameters
    ----------
    n_items : int
        Number of items (filled in by the recommender).
    d_model : int, default=64
        Embedding and hidden size.
    n_layers : int, default=1
        Stacked {cell} layers.
    dropout : float, default=0.2
        Dropout on the embeddings, between layers and on the outputs.
    n_context : int, default=0
        Number of numeric context features (filled in by the recommender).
    max_len, n_heads, layout : default=None
        Unused; accepted so that one set of ``module__*`` parameters fits
        every built-in tower (e.g. in a grid over ``module``).

    Examples
    --------
    >>> import torch
    >>> {cell}Tower(n_items=10, d_model=8)(torch.tensor([[0, 3, 4]])).shape
    torch.Size([1, 3, 8])
    """


class GRUTower(_RecurrentTower):
    __doc__ = _RECURRENT_DOC.format(
        cell="GRU",
        summary="GRU over a history (GRU4Rec-style), item embeddings tied with the output.",
        about="""
    Hidasi et al., "Session-based Recommendations with Recurrent Neural
    Networks", ICLR 2016, trained here with the same causal objective as the
    transformer (every position predicts the next item).
""",
    )
    _rnn_class = nn.GRU


class LSTMTower(_RecurrentTower):
    __doc__ = _RECURRENT_DOC.format(
        cell="LSTM", summary="LSTM over a history, item embeddings tied with the output.", about="",
    )
    _rnn_class = nn.LSTM


TOWERS = {"transformer": TransformerTower, "gru": GRUTower, "lstm": LSTMTower}
