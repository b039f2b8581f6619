"""Torch towers: catalogue features -> item embeddings.

:class:`ContentModule` is the network inside :class:`ContentEncoder`. It
takes the feature tensors made by ``ContentEncoder.featurize`` (every tensor
has one row per item) and returns one ``d_model``-dimensional vector per row.
Other models call it inside their own forward pass.
"""

import torch
from torch import nn

TOWERS = ("bag", "cnn", "lstm", "transformer", "pretrained")


def _masked_mean(h, mask):
    """Mean of ``h`` (n, L, d) over positions where ``mask`` (n, L) is True; 0 if none."""
    m = mask.unsqueeze(-1).to(h.dtype)
    return (h * m).sum(1) / m.sum(1).clamp(min=1.0)


class _CNN(nn.Module):
    def __init__(self, d, n_layers, kernel_size, dropout):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv1d(d, d, kernel_size, padding=kernel_size // 2) for _ in range(n_layers)
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, h, mask):
        x = h.transpose(1, 2)  # (n, d, L)
        keep = mask.unsqueeze(1).to(x.dtype)
        for conv in self.convs:
            # residual keeps the word embeddings trainable through deep stacks
            x = x + self.drop(torch.relu(conv(x * keep)[..., : x.shape[-1]]))
        x = x.masked_fill(~mask.unsqueeze(1), float("-inf")).amax(dim=2)
        return torch.where(torch.isfinite(x), x, torch.zeros_like(x))


class _LSTM(nn.Module):
    def __init__(self, d, n_layers, dropout):
        super().__init__()
        self.lstm = nn.LSTM(
            d, d, num_layers=n_layers, batch_first=True, bidirectional=True,
            dropout=dropout if n_layers > 1 else 0.0,
        )
        self.proj = nn.Linear(2 * d, d)

    def forward(self, h, mask):
        lengths = mask.sum(1)
        packed = nn.utils.rnn.pack_padded_sequence(
            h, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False
        )
        _, (h_n, _) = self.lstm(packed)
        out = self.proj(torch.cat([h_n[-2], h_n[-1]], dim=1))  # last layer, both directions
        return out * (lengths > 0).unsqueeze(1).to(out.dtype)


class _Transformer(nn.Module):
    def __init__(self, d, n_layers, n_heads, dropout, max_length):
        super().__init__()
        self.pos = nn.Embedding(max_length, d)
        nn.init.normal_(self.pos.weight, std=0.02)  # below the word embeddings (std 0.1)
        layer = nn.TransformerEncoderLayer(
            d, n_heads, dim_feedforward=2 * d, dropout=dropout, batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)

    def forward(self, h, mask):
        pos = torch.arange(h.shape[1], device=h.device)
        h = h + self.pos(pos).unsqueeze(0)
        # a row with no token would attend to nothing (NaN): let it see position 0
        attend = mask.clone()
        attend[:, 0] |= ~mask.any(1)
        out = self.encoder(h, src_key_padding_mask=~attend)
        return _masked_mean(out, mask)


class ContentModule(nn.Module):
    """Item features -> item embeddings of size ``d_model``.

    Each input present contributes a ``d_model`` vector; the sum goes through
    ``LayerNorm`` and a linear layer. A missing input (or a row whose ids are
    all padding) contributes zeros, so ``module(text=...)`` alone embeds free
    text into the same space as the items. Precomputed vectors (an image or
    audio embedding per item, ``vectors=``) are fused like the numeric
    features: each vector column has a linear projection of its own to
    ``d_model``, added to the sum.

    Parameters
    ----------
    tower : {"bag", "cnn", "lstm", "transformer", "pretrained"}, default="bag"
        Text tower. ``"bag"``: mean of n-gram embeddings (``EmbeddingBag``).
        ``"cnn"``: word embeddings, residual 1-D convolutions, max-pooling.
        ``"lstm"``: bidirectional LSTM, last states of both directions.
        ``"transformer"``: pre-norm transformer encoder with learned positions,
        mean-pooling. ``"pretrained"``: a linear projection of frozen sentence
        embeddings.
    n_tokens : int, default=0
        Text ids are in ``[0, n_tokens)``, 0 being padding; 0 means no text input.
    n_tags : int, default=0
        List-value ids are in ``[0, n_tags)``, 0 being padding; 0 means none.
    n_numeric : int, default=0
        Number of numeric features.
    n_pretrained : int, default=0
        Size of the frozen sentence embeddings (``tower="pretrained"``).
    vector_dims : tuple of int, default=()
        Length of each precomputed vector column, in the order their values
        are concatenated in ``vectors``; () means no vector input.
    max_length : int, default=256
        Longest text sequence (positions of the transformer).
    d_model : int, default=64
        Embedding size (the output size).
    n_layers : int, default=1
        Layers of the CNN, LSTM or transformer tower.
    n_heads : int, default=2
        Attention heads of the transformer tower; must divide ``d_model``.
    kernel_size : int, default=3
        Width of the CNN filters.
    dropout : float, default=0.1
        Dropout inside the towers and before the output layer.

    Attributes
    ----------
    d_out : int
        Output size, ``d_model``.

    See Also
    --------
    ContentEncoder : Builds this module from a catalogue and trains it.

    Examples
    --------
    >>> import torch
    >>> from sklearn_recsys.content import ContentModule
    >>> module = ContentModule(tower="cnn", n_tokens=50, n_numeric=2, d_model=8)
    >>> text = torch.tensor([[3, 7, 9], [4, 0, 0]])  # padded token ids
    >>> module(text=text, numeric=torch.zeros(2, 2)).shape
    torch.Size([2, 8])
    >>> image = ContentModule(vector_dims=(5, 3), d_model=8)  # two vector columns
    >>> image(vectors=torch.zeros(2, 5 + 3)).shape
    torch.Size([2, 8])
    """

    def __init__(self, *, tower="bag", n_tokens=0, n_tags=0, n_numeric=0, n_pretrained=0,
                 vector_dims=(), max_length=256, d_model=64, n_layers=1, n_heads=2,
                 kernel_size=3, dropout=0.1):
        super().__init__()
        if tower not in TOWERS:
            raise ValueError(f"tower must be one of {TOWERS}; got {tower!r}.")
        for name, value in [("d_model", d_model), ("n_layers", n_layers), ("n_heads", n_heads),
                            ("kernel_size", kernel_size), ("max_length", max_length)]:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"module__{name} must be a positive integer; got {value!r}.")
        vector_dims = tuple(vector_dims)
        if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in vector_dims):
            raise ValueError(f"vector_dims must hold positive integers; got {vector_dims!r}.")
        if not 0 <= dropout < 1:
            raise ValueError(f"module__dropout must be in [0, 1); got {dropout!r}.")
        if tower == "transformer" and d_model % n_heads:
            raise ValueError(
                f"module__n_heads={n_heads} must divide module__d_model={d_model}."
            )
        self.tower = tower
        self.d_out = d_model
        self.max_length = max_length
        self.text = self.seq = self.proj = self.tags = self.numeric = self.vectors = None
        self.vector_dims = vector_dims
        if tower == "pretrained":
            if n_pretrained:
                self.proj = nn.Linear(n_pretrained, d_model)
        elif n_tokens:
            if tower == "bag":
                self.text = nn.EmbeddingBag(n_tokens, d_model, mode="mean", padding_idx=0)
            else:
                self.text = nn.Embedding(n_tokens, d_model, padding_idx=0)
                if tower == "cnn":
                    self.seq = _CNN(d_model, n_layers, kernel_size, dropout)
                elif tower == "lstm":
                    self.seq = _LSTM(d_model, n_layers, dropout)
                else:
                    self.seq = _Transformer(d_model, n_layers, n_heads, dropout, max_length)
            nn.init.normal_(self.text.weight, std=0.1)
            with torch.no_grad():
                self.text.weight[0].zero_()
        if n_tags:
            self.tags = nn.EmbeddingBag(n_tags, d_model, mode="mean", padding_idx=0)
            nn.init.normal_(self.tags.weight, std=0.1)
            with torch.no_grad():
                self.tags.weight[0].zero_()
        if n_numeric:
            self.numeric = nn.Linear(n_numeric, d_model)
        if vector_dims:
            self.vectors = nn.ModuleList(nn.Linear(d, d_model) for d in vector_dims)
        self.norm = nn.LayerNorm(d_model)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(d_model, d_model)

    def encode_text(self, text):
        """Text-tower vector of padded ids ``text`` (n, L) -> (n, d_model), before the output layer."""
        if self.text is None:
            raise ValueError("This module has no text tower (it was built without text input).")
        text = text[:, : self.max_length]
        if self.seq is None:
            return self.text(text)
        mask = text != 0
        return self.seq(self.drop(self.text(text)), mask)

    def forward(self, text=None, tags=None, numeric=None, pretrained=None, vectors=None):
        """Embed a batch of items (or of free texts).

        Parameters
        ----------
        text : LongTensor of shape (n, L), optional
            Padded text ids (0 = padding).
        tags : LongTensor of shape (n, T), optional
            Padded list-value ids (0 = padding).
        numeric : FloatTensor of shape (n, n_numeric), optional
            Standardised numeric features.
        pretrained : FloatTensor of shape (n, n_pretrained), optional
            Frozen sentence embeddings.
        vectors : FloatTensor of shape (n, sum(vector_dims)), optional
            Precomputed vectors, the columns concatenated in ``vector_dims``
            order.

        Returns
        -------
        embeddings : FloatTensor of shape (n, d_model)
        """
        parts = []
        if text is not None and self.text is not None:
            parts.append(self.encode_text(text))
        if pretrained is not None and self.proj is not None:
            parts.append(self.proj(pretrained))
        if tags is not None and self.tags is not None:
            parts.append(self.tags(tags))
        if numeric is not None and self.numeric is not None:
            parts.append(self.numeric(numeric))
        if vectors is not None and self.vectors is not None:
            if vectors.shape[-1] != sum(self.vector_dims):
                raise ValueError(
                    f"vectors has {vectors.shape[-1]} columns; this module reads "
                    f"{sum(self.vector_dims)} (vector_dims={self.vector_dims})."
                )
            chunks = torch.split(vectors, list(self.vector_dims), dim=-1)
            parts += [proj(x) for proj, x in zip(self.vectors, chunks)]
        if not parts:
            raise ValueError(
                "No input this module can read: pass text=, tags=, numeric=, "
                "pretrained= or vectors= as made by ContentEncoder.featurize."
            )
        h = parts[0]
        for p in parts[1:]:
            h = h + p
        return self.out(self.drop(self.norm(h)))
