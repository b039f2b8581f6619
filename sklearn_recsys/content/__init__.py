"""Content understanding: catalogue rows -> item vectors, content baselines.

* :class:`ContentEncoder`: a skorch network embedding catalogue items from
  their text, tags, numbers and precomputed vectors (image or audio
  embeddings; bag of n-grams, CNN, LSTM, transformer or a frozen pretrained
  sentence encoder for the text), trained stand-alone (contrastive or
  supervised) or inside a recommender.
* :class:`TfidfRecommender`: content-only recommendations by TF-IDF cosine
  similarity to the history; recommends items nobody has seen yet.
* :class:`TextTokenizer`: fast word and character n-gram tokenisation.

The names are imported on first use: ``TfidfRecommender`` and
``TextTokenizer`` do not import torch; the networks do.
"""

from typing import TYPE_CHECKING

from .._lazy import attach as _attach

if TYPE_CHECKING:  # pragma: no cover - for static analysis only
    from ._encoder import ContentEncoder
    from ._pretrained import SentenceEmbedder
    from ._text import TextTokenizer
    from ._tfidf import TfidfRecommender
    from ._towers import ContentModule

_LAZY = {
    "ContentEncoder": "._encoder",
    "ContentModule": "._towers",
    "SentenceEmbedder": "._pretrained",
    "TextTokenizer": "._text",
    "TfidfRecommender": "._tfidf",
}

__all__ = [
    "ContentEncoder",
    "ContentModule",
    "SentenceEmbedder",
    "TextTokenizer",
    "TfidfRecommender",
]


__getattr__, __dir__ = _attach(__name__, _LAZY)
