"""Maximum-inner-product indexes: faiss (IVF), hnswlib and usearch (HNSW).

One small adapter per library, all with the same four operations: ``build``
an index over item vectors, ``search`` it for the ``k`` items of largest
inner product with each query (codes, ``-1`` where the index found fewer),
``dumps`` it to bytes and ``loads`` it back (pickling). Every backend
searches the inner product natively (faiss ``METRIC_INNER_PRODUCT``,
hnswlib ``space="ip"``, usearch ``metric="ip"``): vectors are neither
normalised nor augmented. The classic reduction of inner product to L2 by
an extra coordinate (Bachrach et al. 2014) found fewer of the exact top 10
in our measurements, on HNSW graphs (0.77 against 0.96 at ``ef=50``, 2x10^5
synthetic items) and on faiss's inverted file (0.44 against 0.55 at
``nprobe=32``, a fitted IntentRecommender's 14k items).

The libraries are optional: ``pip install sklearn-recsys[ann]``.
"""

import os
from contextlib import contextmanager
from importlib import import_module

import numpy as np

# backend -> (module imported, pip package)
PACKAGES = {"faiss": ("faiss", "faiss-cpu"), "hnswlib": ("hnswlib", "hnswlib"),
            "usearch": ("usearch.index", "usearch")}
# "auto" takes the first installed: hnswlib finds more of the exact top 10
# per query second than faiss's inverted file on synthetic and on fitted
# vectors; faiss builds 4x faster; usearch builds slowest
AUTO_ORDER = ("hnswlib", "faiss", "usearch")


def available(backend):
    try:
        import_module(PACKAGES[backend][0])
    except ImportError:
        return False
    return True


def resolve(backend):
    """The backend to use for ``backend`` ("auto" or a name); raises if missing."""
    if backend == "auto":
        for name in AUTO_ORDER:
            if available(name):
                return name
        raise ImportError(
            "ApproximateRecommender needs an index library and none is installed: "
            "pip install 'sklearn-recsys[ann]' (hnswlib, faiss-cpu, usearch), or one "
            "of hnswlib, faiss-cpu, usearch."
        )
    if not available(backend):
        raise ImportError(
            f"backend={backend!r} needs the package {PACKAGES[backend][1]!r}: "
            f"pip install {PACKAGES[backend][1]} (or pip install 'sklearn-recsys[ann]')."
        )
    return backend


def n_threads(n_jobs):
    """sklearn's ``n_jobs`` as a thread count: None is 1, -1 every core."""
    if n_jobs is None:
        return 1
    cores = os.cpu_count() or 1
    return max(1, cores + 1 + n_jobs) if n_jobs < 0 else int(n_jobs)


def default_n_lists(n_items):
    """IVF lists: about 4 sqrt(n), with at least 39 training points each."""
    return int(max(1, min(4 * np.sqrt(n_items), n_items // 39)))


def default_n_probe(n_lists):
    """Lists scanned per query: 2.5% of them (recall@10 about 0.97 at 10^6 items)."""
    return int(max(1, np.ceil(n_lists / 40)))


@contextmanager
def _faiss_threads(faiss, threads):
    # faiss's thread count is process-wide: restore it afterwards
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def build(backend, vectors, params, threads):
    """Index over ``vectors`` (float32, C-contiguous, ``(n_items, d)``)."""
    n, d = vectors.shape
    if backend == "faiss":
        import faiss

        n_lists = params["n_lists"] or default_n_lists(n)
        n_lists = min(n_lists, n)
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, n_lists, faiss.METRIC_INNER_PRODUCT)
        # k-means on at most 64 points per list, 10 iterations: training is
        # most of the build time and recall@10 barely moves with more
        index.cp.max_points_per_centroid = 64
        index.cp.niter = 10
        index.cp.seed = params["seed"]
        with _faiss_threads(faiss, threads):
            index.train(vectors)
            index.add(vectors)
        return index
    if backend == "hnswlib":
        import hnswlib

        index = hnswlib.Index(space="ip", dim=d)
        index.init_index(max_elements=n, M=params["hnsw_m"],
                         ef_construction=params["ef_construction"], random_seed=params["seed"])
        index.add_items(vectors, np.arange(n), num_threads=threads)
        return index
    from usearch.index import Index

    index = Index(ndim=d, metric="ip", dtype="f32", connectivity=params["hnsw_m"],
                  expansion_add=params["ef_construction"], expansion_search=params["ef_search"])
    index.add(np.arange(n), vectors, threads=threads)
    return index


def search(backend, index, queries, k, params, threads):
    """Codes ``(n, k)`` of the best inner products, ``-1`` where fewer were found."""
    n_total = _size(backend, index)
    k = min(k, n_total)
    if backend == "faiss":
        import faiss

        index.nprobe = params["n_probe"] or default_n_probe(index.nlist)
        with _faiss_threads(faiss, threads):
            _, codes = index.search(queries, k)
        return codes.astype(np.int64, copy=False)
    ef = max(params["ef_search"], k)
    if backend == "hnswlib":
        index.set_ef(ef)
        try:
            codes, _ = index.knn_query(queries, k=k, num_threads=threads)
        except RuntimeError:
            # hnswlib found fewer than k for some row: ask one row at a time
            codes = np.full((len(queries), k), -1, dtype=np.int64)
            for i, q in enumerate(queries):
                for kk in (k, k // 2, k // 4, 1):
                    try:
                        got, _ = index.knn_query(q[None], k=max(1, kk), num_threads=1)
                    except RuntimeError:
                        continue
                    codes[i, : got.shape[1]] = got[0]
                    break
        return codes.astype(np.int64, copy=False)
    index.expansion_search = ef
    matches = index.search(queries, k, threads=threads)
    # one query gives a Matches (count), several a BatchMatches (counts)
    counts = (np.asarray(matches.counts).reshape(-1) if hasattr(matches, "counts")
              else np.array([len(matches.keys)]))
    codes = np.full((len(queries), k), -1, dtype=np.int64)
    keys = np.asarray(matches.keys).reshape(len(queries), -1)
    codes[:, : keys.shape[1]] = keys.astype(np.int64)
    codes[np.arange(codes.shape[1])[None, :] >= counts[:, None]] = -1
    return codes


def _size(backend, index):
    if backend == "faiss":
        return index.ntotal
    if backend == "hnswlib":
        return index.get_current_count()
    return len(index)


def dumps(backend, index):
    if backend == "faiss":
        import faiss

        return faiss.serialize_index(index).tobytes()
    if backend == "hnswlib":
        import pickle

        return pickle.dumps(index)
    return bytes(index.save())


def loads(backend, data):
    module = import_module(PACKAGES[resolve(backend)][0])
    if backend == "faiss":
        return module.deserialize_index(np.frombuffer(data, dtype=np.uint8))
    if backend == "hnswlib":
        import pickle

        return pickle.loads(data)
    return module.Index.restore(data)
