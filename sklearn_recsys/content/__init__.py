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

from importlib import import_module as _import_module
from typing import TYPE_CHECKING

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


def __getattr__(name):
    # PEP 562: import a public name's module on first use, not at package import
    if name in _LAZY:
        value = getattr(_import_module(_LAZY[name], __name__), name)
        globals()[name] = value  # later lookups skip __getattr__
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
