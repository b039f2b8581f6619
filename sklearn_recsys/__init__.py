"""Recommendation as a scikit-learn plugin.

Subpackages
-----------
datasets
    Loaders for MovieLens and user logs, ``make_sessions`` (synthetic data)
    and ``queries_from_log`` (log -> ``X``, ``y``).
preprocessing
    Row-wise transformers: ``SequenceEncoder``, ``TimeFeatures``.
model_selection
    Leak-free splitters: ``LeaveLastOut``, ``TemporalSplit``,
    ``ColdItemSplit``.
metrics
    Ranking metrics at k and ``make_ranking_scorer``.
baselines
    ``Popularity``, ``ItemKNN``, ``EASE``, ``Transition``.
content
    ``ContentEncoder`` (item text -> embeddings), ``TfidfRecommender``.
intent
    ``IntentRecommender``: a skorch-wrapped sequential network.
io
    ``save`` / ``load``: fitted models in a format that loads without
    running code (JSON, ``.npz`` and safetensors).
retrieval
    ``ApproximateRecommender``: a vector model ranked through an ANN index
    (faiss, hnswlib or usearch; the ``ann`` extra).

Subpackages are imported on first use (``sklearn_recsys.baselines`` works
after ``import sklearn_recsys``), and torch only with the networks
(``content.ContentEncoder``, ``intent``): the baselines, metrics and
splitters load without it.
"""

from importlib import import_module as _import_module

__version__ = "0.1.0.dev0"

__all__ = [
    "__version__",
    "baselines",
    "content",
    "datasets",
    "intent",
    "io",
    "metrics",
    "model_selection",
    "preprocessing",
    "retrieval",
]


def __getattr__(name):
    # PEP 562: ``sklearn_recsys.baselines`` without an explicit import
    if name in __all__ and name != "__version__":
        return _import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
