"""NumPy-only scoring of safe files of the dense linear baselines, for the CLI.

``sklearn-recsys recommend`` spends most of a call importing scikit-learn
(SciPy, pandas) before our code runs. A file of :func:`sklearn_recsys.io.save`
holding :class:`~sklearn_recsys.baselines.EASE` or
:class:`~sklearn_recsys.baselines.Popularity` needs none of it to rank: its
arrays are the model. :func:`open_fast` reads such a file with ``zipfile``,
``json`` and NumPy (``allow_pickle=False``) and returns an object whose
``recommend`` follows the package's rules exactly (unknown items ignored, a
history with no known item gets the most popular items, seen items last and
scored ``-inf``, ties to the lower item code); any other file returns None
and the caller loads it the full way. ``tests/test_fastpath.py`` checks the
lists and scores equal the estimator's on random histories.
"""

import io
import json
import zipfile

import numpy as np

__all__ = ["open_fast"]

_SEEN = float(np.finfo(np.float32).min)
# class -> fitted attribute holding the item-item weights (None: popularity only)
_CLASSES = {
    "sklearn_recsys.baselines._ease.EASE": "coef_",
    "sklearn_recsys.baselines._popularity.Popularity": None,
}


class _DenseLinear:
    """``score(history) = sum of the weight rows of its distinct known items``."""

    def __init__(self, classes, kind, counts, weights):
        self.classes_ = classes
        self._kind = kind
        self._counts = counts.astype(np.float32)
        self._weights = weights

    def _codes(self, history):
        ids = np.asarray(history, dtype=np.int64 if self._kind == "int" else object)
        if ids.size == 0:
            return np.empty(0, np.int64)
        pos = np.searchsorted(self.classes_, ids)
        pos = np.minimum(pos, len(self.classes_) - 1)
        return np.unique(pos[self.classes_[pos] == ids])

    def recommend(self, X, k=10):
        """Top ``k`` items of each history in ``X`` (unseen first)."""
        n_items = len(self.classes_)
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k <= 0:
            raise ValueError(f"k must be a positive integer; got {k!r}.")
        if k > n_items:
            raise ValueError(
                f"k={k} is larger than the number of items that can be recommended ({n_items})."
            )
        items, scores = [], []
        for history in X:
            codes = self._codes(history)
            if len(codes) == 0 or self._weights is None:
                s = self._counts.copy()
            else:
                s = self._weights[codes].sum(axis=0, dtype=np.float32)
            s[codes] = _SEEN
            order = np.argsort(-s, kind="stable")[:k]  # ties: the lower code first
            out = s[order]
            out[out == _SEEN] = -np.inf
            items.append(self.classes_[order])
            scores.append(out)
        return np.array(items), np.array(scores, dtype=np.float32)


def _array(node, arrays):
    kind = node.get("__kind__") if isinstance(node, dict) else None
    if kind == "ndarray":
        return arrays[node["key"]]
    if kind == "object_array" and len(node.get("shape", ())) == 1:
        items = node["items"]
        if all(isinstance(v, str) for v in items):
            return np.array(items, dtype=object)
    return None


def open_fast(path):
    """A NumPy-only scorer for a safe file of EASE or Popularity, else None.

    Never raises on a file it does not handle (the caller then loads it
    with :func:`sklearn_recsys.io.load`, which reports what is wrong).
    """
    try:
        with zipfile.ZipFile(path) as zf:
            manifest = json.loads(zf.read("manifest.json"))
            root = manifest.get("root", {})
            if manifest.get("format") != "sklearn-recsys-safe" or root.get("__kind__") != "estimator":
                return None
            cls = root.get("class")
            if cls not in _CLASSES:
                return None
            with np.load(io.BytesIO(zf.read("arrays.npz")), allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    fitted = root.get("fitted", {})
    kind = fitted.get("_item_kind_")
    classes = _array(fitted.get("classes_"), arrays)
    counts = _array(fitted.get("item_counts_"), arrays)
    weight_attr = _CLASSES[cls]
    weights = _array(fitted.get(weight_attr), arrays) if weight_attr else None
    n = None if classes is None else len(classes)
    ok = (
        kind in ("int", "str") and classes is not None and classes.ndim == 1 and n > 0
        and (kind == "str" or classes.dtype == np.int64)
        and counts is not None and counts.shape == (n,)
        and (weight_attr is None or (weights is not None and weights.shape == (n, n)
                                     and weights.dtype == np.float32))
        and bool(np.all(classes[1:] > classes[:-1]))  # sorted: searchsorted works
    )
    return _DenseLinear(classes, kind, counts, weights) if ok else None
