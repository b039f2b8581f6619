"""Approximate retrieval: rank a vector recommender through an ANN index.

``_ann``
    :class:`ApproximateRecommender` (a meta-estimator: fit the model, index
    its ``item_vectors()``, keep the ranking contract on top) and
    :func:`retrieval_recall` (recall@k against exact ranking).
``_backends``
    One adapter per index library: faiss (IVF), hnswlib and usearch (HNSW),
    all searching the inner product. They are optional:
    ``pip install 'sklearn-recsys[ann]'``.
"""

from ._ann import ApproximateRecommender, retrieval_recall

__all__ = ["ApproximateRecommender", "retrieval_recall"]
