"""Frozen pretrained sentence encoder with a per-text cache (optional extra).

Needs the ``sentence-transformers`` package (``pip install
'sklearn-recsys[pretrained]'``), imported only when a model is loaded.
"""

import numpy as np

_EXTRA_MSG = (
    "tower='pretrained' needs the optional dependency 'sentence-transformers' "
    "(and 'transformers'); install it with: pip install 'sklearn-recsys[pretrained]'"
)


def load_sentence_model(name_or_path, device="cpu"):
    """Load a sentence-transformers model by hub name or local path.

    Raises ``ImportError`` naming the extra when the package is missing.
    """
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(_EXTRA_MSG) from exc
    return SentenceTransformer(str(name_or_path), device=device)


class SentenceEmbedder:
    """Embed texts with a frozen sentence-transformers model; each distinct text once.

    The model is loaded on first use and never pickled: a pickled embedder
    keeps its cache and reloads the model only if it meets a new text.

    Parameters
    ----------
    model : str or path-like
        Hub name or local directory of a sentence-transformers model.
    batch_size : int, default=64
        Texts per forward pass of the language model.
    device : str, default="cpu"
        Device the language model runs on.

    Attributes
    ----------
    cache_ : dict of str -> ndarray of shape (dim,)
        Embedding of every text met so far (float32).
    dim_ : int or None
        Embedding size, known after the first call.

    See Also
    --------
    ContentEncoder : ``tower="pretrained"`` projects these embeddings.

    Examples
    --------
    >>> emb = SentenceEmbedder("sentence-transformers/all-MiniLM-L6-v2")
    >>> emb.cache_, emb.dim_
    ({}, None)
    """

    def __init__(self, model, *, batch_size=64, device="cpu"):
        self.model = model
        self.batch_size = batch_size
        self.device = device
        self.cache_ = {}
        self.dim_ = None
        self._model = None

    def _load(self):
        if self._model is None:
            self._model = load_sentence_model(self.model, device=self.device)
        return self._model

    def encode(self, texts):
        """Embeddings of ``texts`` as a float32 ``(len(texts), dim)`` array."""
        new = [t for t in dict.fromkeys(texts) if t not in self.cache_]
        if new:
            model = self._load()
            vecs = model.encode(
                new, batch_size=self.batch_size, convert_to_numpy=True,
                show_progress_bar=False,
            ).astype(np.float32)
            self.cache_.update(zip(new, vecs))
        if self.dim_ is None:
            if self.cache_:
                self.dim_ = len(next(iter(self.cache_.values())))
            else:
                model = self._load()
                get_dim = (getattr(model, "get_embedding_dimension", None)
                           or model.get_sentence_embedding_dimension)
                self.dim_ = int(get_dim())
        if not texts:
            return np.empty((0, self.dim_), dtype=np.float32)
        return np.stack([self.cache_[t] for t in texts])

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_model"] = None
        return state
