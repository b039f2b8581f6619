"""Save and load fitted models in a format that loads without running code.

Pickle (and so ``joblib``) runs code while it loads: a model file from
someone else can do anything your account can. :func:`save` writes a fitted
estimator of this package (or a pipeline of them) as data only, and
:func:`load` rebuilds it from that data:

* ``manifest.json``: the class of every estimator (module and name), its
  constructor parameters, its fitted attributes and the kind of each;
* ``arrays.npz``: the numeric and fixed-width string arrays, read with
  ``allow_pickle=False``;
* ``weights/*.safetensors``: the weights of each torch network (skorch's
  ``save_params(use_safetensors=True)``); the network itself is rebuilt by
  ``initialize()`` from the parameters and fitted attributes, then its
  weights are loaded with ``load_params(use_safetensors=True)``.

Object arrays (string ids), lists, dicts, DataFrames and sparse matrices are
stored as JSON or as their component arrays. Only the classes of a registry
are ever rebuilt (the package's estimators, ``Pipeline``, and the few
scikit-learn, torch and skorch classes their parameters hold, see
:func:`trusted_types`); anything else in a file is refused, naming the
class, before any object is built. Rebuilding calls the class's
``__init__`` with the stored parameters and sets the stored attributes:
no ``__reduce__``, ``__setstate__`` or import named by the file is involved.

What the format does not keep: optimizer state (Adam's moments; a warm
start after loading starts them afresh), fitted callback state (early
stopping's best epoch), the ANN index of an ``ApproximateRecommender``
(rebuilt from the stored item vectors at load time) and the language model
of a pretrained tower (saved by name and its cache of embedded texts; the
sentence-transformers model is loaded again by that name when a new text
needs it).

The user guide's :ref:`persistence` page compares this format with joblib
and skops.
"""

import functools
import importlib
import inspect
import io
import json
import warnings
import zipfile

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["UnsafeModelError", "is_safe_file", "load", "save", "trusted_types"]

FORMAT = "sklearn-recsys-safe"
FORMAT_VERSION = 1
_MANIFEST = "manifest.json"
_ARRAYS = "arrays.npz"
# numpy kinds that np.save writes without pickling: bool, ints, floats,
# complex, timedeltas, datetimes, fixed-width str and bytes
_NPZ_KINDS = set("biufcmMUS")

# skorch's bookkeeping: rebuilt by initialize(), never stored
_SKORCH_MANAGED = {
    "history_", "initialized_", "virtual_params_", "init_context_", "callbacks_",
    "prefixes_", "cuda_dependent_attributes_", "_modules", "_criteria", "_optimizers",
}
# helpers without get_params, rebuilt from their data attributes
_PLAIN_OBJECTS = {"sklearn_recsys.content._text.TextTokenizer",
                  "sklearn_recsys.content._pretrained.SentenceEmbedder"}
# caches, rebuilt on first use (see RecommenderMixin._item_index_)
_TRANSIENT = {"_item_index_cache_", "_index_cache"}


class UnsafeModelError(ValueError):
    """A file that :func:`load` refuses: unknown classes, or a payload that is not plain data.

    A subclass of ``ValueError``. Nothing from the file has been built or
    run when it is raised.

    Examples
    --------
    >>> import os, pickle, tempfile
    >>> from sklearn_recsys.io import UnsafeModelError, load
    >>> path = os.path.join(tempfile.mkdtemp(), "model.pkl")
    >>> with open(path, "wb") as f:
    ...     pickle.dump({"not": "a safe file"}, f)
    >>> try:
    ...     load(path)
    ... except UnsafeModelError as exc:
    ...     print("refused:", str(exc).split(" (")[0].rsplit(" is ", 1)[1])
    refused: not a file written by sklearn_recsys.io.save
    """


# -- the registry -------------------------------------------------------------


def _name(obj):
    """``"module.QualName"`` of a class (or function)."""
    return f"{getattr(obj, '__module__', None)}.{getattr(obj, '__qualname__', type(obj).__qualname__)}"


def _registry():
    """A copy of :func:`_build_registry`'s table (callers may extend it)."""
    return dict(_build_registry())


@functools.lru_cache(maxsize=1)
def _build_registry():
    """``{"module.QualName": class}`` of the classes :func:`load` may rebuild.

    Built from classes imported here, never from names in a file: loading
    imports nothing a file names.
    """
    import sklearn.compose
    import sklearn.feature_extraction.text as sk_text
    import sklearn.pipeline
    import sklearn.preprocessing
    import skorch.callbacks
    import skorch.dataset
    import torch

    from .content import ContentModule, SentenceEmbedder, TextTokenizer
    from .intent import (
        GRUTower,
        LazyAdam,
        LSTMTower,
        RankingEarlyStopping,
        SequenceTower,
        TransformerTower,
    )
    from .utils.discovery import all_estimators

    classes = [cls for _, cls in all_estimators()]
    classes += [
        # towers and helpers our parameters name
        ContentModule, SentenceEmbedder, TextTokenizer, GRUTower, LSTMTower, SequenceTower, TransformerTower,
        LazyAdam, RankingEarlyStopping,
        # scikit-learn
        sklearn.pipeline.Pipeline, sklearn.compose.ColumnTransformer,
        sklearn.preprocessing.StandardScaler, sklearn.preprocessing.OneHotEncoder,
        sklearn.preprocessing.FunctionTransformer,  # refused at save with a func
        sk_text.TfidfVectorizer, sk_text.TfidfTransformer, sk_text.CountVectorizer,
        # torch and skorch classes of the defaults (criterion, optimizer,
        # iterators, dataset, callbacks)
        torch.nn.CrossEntropyLoss, torch.nn.BCEWithLogitsLoss, torch.nn.MSELoss,
        torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD,
        torch.utils.data.DataLoader, skorch.dataset.Dataset, skorch.dataset.ValidSplit,
        skorch.callbacks.EarlyStopping, skorch.callbacks.LRScheduler,
        skorch.callbacks.GradientNormClipping, skorch.callbacks.EpochScoring,
        skorch.callbacks.PassthroughScoring,
        # numpy scalar types (TfidfVectorizer's dtype=)
        np.float16, np.float32, np.float64, np.int32, np.int64, np.bool_,
        # the one function a default names: skorch callbacks' sink=print
        print,
    ]
    return {_name(cls): cls for cls in classes}


def trusted_types():
    """Names of the classes :func:`load` rebuilds without being told to.

    Returns
    -------
    names : list of str
        ``"module.QualName"`` of each class, sorted: the estimators of this
        package, the towers and callbacks their parameters take, and the few
        scikit-learn (``Pipeline``, ``StandardScaler``, the TF-IDF
        vectorizers), torch and skorch classes of their defaults.

    Examples
    --------
    >>> from sklearn_recsys.io import trusted_types
    >>> "sklearn_recsys.baselines._ease.EASE" in trusted_types()
    True
    >>> "sklearn.pipeline.Pipeline" in trusted_types()
    True
    """
    return sorted(_registry())


# -- saving -------------------------------------------------------------------


class _Writer:
    """Collects arrays and weight files while the manifest is built."""

    def __init__(self, registry):
        self.registry = registry
        self.arrays = {}
        self.weights = {}

    def array(self, arr):
        key = f"a{len(self.arrays)}"
        self.arrays[key] = np.ascontiguousarray(arr)
        return key

    def class_name(self, cls, where):
        name = _name(cls)
        if name not in self.registry:
            raise TypeError(
                f"Cannot save {where}: class {name} is not one the safe format may "
                "rebuild (see sklearn_recsys.io.trusted_types()). Use joblib for "
                "this model, and load that file only from a trusted source."
            )
        return name

    # value -> JSON node
    def encode(self, value, where):
        if value is None or isinstance(value, (bool, str)):
            return value
        if type(value) is int:
            return value
        if type(value) is float:
            return value if np.isfinite(value) else {"__kind__": "float", "value": repr(value)}
        if isinstance(value, np.generic):
            return self._numpy_scalar(value, where)
        if isinstance(value, np.dtype):
            return self._dtype(value, where)
        if isinstance(value, np.ndarray):
            return self._ndarray(value, where)
        if sp.issparse(value):
            return self._sparse(value, where)
        if isinstance(value, pd.DataFrame):
            return self._frame(value, where)
        if isinstance(value, pd.Series):
            return {"__kind__": "series", "name": self.encode(value.name, where),
                    "index": self._index(value.index, where),
                    "values": self._column(value, where)}
        if isinstance(value, pd.Index):
            return self._index(value, where)
        if isinstance(value, dict):
            return {"__kind__": "dict", "items": [
                [self.encode(k, where), self.encode(v, f"{where}[{k!r}]")] for k, v in value.items()
            ]}
        for kind in (list, tuple, set, frozenset):
            if type(value) is kind:
                items = sorted(value, key=repr) if kind in (set, frozenset) else value
                return {"__kind__": kind.__name__,
                        "items": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(items)]}
        if type(value) is slice:  # ColumnTransformer.output_indices_
            return {"__kind__": "slice", "items": [self.encode(v, where) for v in
                                                    (value.start, value.stop, value.step)]}
        if inspect.isclass(value):
            return {"__kind__": "class", "name": self.class_name(value, where)}
        if hasattr(value, "get_params"):
            return self.estimator(value, where)
        if (inspect.isfunction(value) or inspect.isbuiltin(value)) and _name(value) in self.registry:
            return {"__kind__": "function", "name": _name(value)}  # print: callbacks' sink
        if _name(type(value)) in _PLAIN_OBJECTS:
            return self._object(value, where)
        what = "a callable" if callable(value) else f"an object of type {_name(type(value))}"
        raise TypeError(
            f"Cannot save {where}: it is {what}, which the safe format cannot store as "
            "data. Only numbers, strings, arrays, sparse matrices, DataFrames, lists, "
            "dicts and the estimators of sklearn_recsys.io.trusted_types() can be saved."
        )

    def _numpy_scalar(self, value, where):
        if value.dtype.kind not in _NPZ_KINDS - set("mMS"):
            raise TypeError(f"Cannot save {where}: a numpy scalar of dtype {value.dtype}.")
        item = value.item()
        if isinstance(item, float) and not np.isfinite(item):
            item = {"__kind__": "float", "value": repr(item)}
        elif isinstance(item, complex):
            item = [item.real, item.imag]
        return {"__kind__": "numpy_scalar", "dtype": value.dtype.str, "value": item}

    def _dtype(self, value, where):
        if value.kind not in _NPZ_KINDS:
            raise TypeError(f"Cannot save {where}: dtype {value} (only plain numeric or string dtypes).")
        return {"__kind__": "dtype", "value": value.str}

    def _ndarray(self, arr, where):
        if arr.dtype.kind in _NPZ_KINDS and arr.dtype.fields is None:
            return {"__kind__": "ndarray", "key": self.array(arr)}
        if arr.dtype == object:
            flat = arr.reshape(-1)
            return {"__kind__": "object_array", "shape": list(arr.shape),
                    "items": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(flat)]}
        raise TypeError(f"Cannot save {where}: an array of dtype {arr.dtype}.")

    def _sparse(self, m, where):
        fmt = m.format
        if fmt not in ("csr", "csc", "coo"):
            m, fmt = m.tocsr(), "csr"
        parts = ("row", "col") if fmt == "coo" else ("indices", "indptr")
        node = {"__kind__": "sparse", "format": fmt, "shape": list(m.shape),
                "container": "array" if isinstance(m, sp.sparray) else "matrix",
                "data": self._ndarray(np.asarray(m.data), where)}
        node.update({p: self._ndarray(np.asarray(getattr(m, p)), where) for p in parts})
        return node

    def _column(self, series, where):
        dtype = series.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            return {"__kind__": "categorical", "codes": self._ndarray(series.cat.codes.to_numpy(), where),
                    "categories": self._index(dtype.categories, where), "ordered": bool(dtype.ordered)}
        if isinstance(dtype, pd.StringDtype):  # pandas' str columns and Index
            values = series.to_numpy(dtype=object, na_value=None)
            return {"__kind__": "strings", "dtype": str(dtype), "storage": dtype.storage,
                    "na_nan": dtype.na_value is not pd.NA, "values": self._ndarray(values, where)}
        if not isinstance(dtype, np.dtype):
            raise TypeError(
                f"Cannot save {where}: a column of pandas extension dtype {dtype} "
                "(convert it to a numpy dtype or object first)."
            )
        return self._ndarray(series.to_numpy(), where)

    def _index(self, index, where):
        if isinstance(index, pd.MultiIndex):
            raise TypeError(f"Cannot save {where}: a pandas MultiIndex.")
        if isinstance(index, pd.RangeIndex):
            return {"__kind__": "range_index", "start": int(index.start), "stop": int(index.stop),
                    "step": int(index.step), "name": self.encode(index.name, where)}
        return {"__kind__": "index", "name": self.encode(index.name, where),
                "values": self._column(index.to_series(), where)}

    def _frame(self, frame, where):
        return {
            "__kind__": "dataframe",
            "columns": self._index(frame.columns, where),
            "index": self._index(frame.index, where),
            "data": [self._column(frame.iloc[:, i], f"{where}[{frame.columns[i]!r}]")
                     for i in range(frame.shape[1])],
        }

    def _object(self, value, where):
        # a registered helper without get_params (TextTokenizer, SentenceEmbedder):
        # its data attributes, as its own __getstate__ gives them (without caches)
        return {"__kind__": "object", "class": self.class_name(type(value), where),
                "state": self._attributes(value.__getstate__(), where)}

    def _attributes(self, attrs, where):
        return {k: self.encode(v, f"{where}.{k}") for k, v in attrs.items() if k not in _TRANSIENT}

    def estimator(self, est, where):
        from skorch import NeuralNet
        from skorch.callbacks import Callback

        cls_name = self.class_name(type(est), where)
        params = est.get_params(deep=False)
        node = {"__kind__": "estimator", "class": cls_name,
                "params": {k: self.encode(v, f"{where}.{k}") for k, v in params.items()}}
        if isinstance(est, Callback):  # initialize() resets a callback's state
            return node
        skip = set(params) | _TRANSIENT
        if isinstance(est, NeuralNet):
            skip |= self._skorch(est, node, where)
        skip |= _NOT_SAVED.get(cls_name, set())
        fitted = {k: v for k, v in vars(est).items() if k not in skip}
        node["fitted"] = self._attributes(fitted, where)
        return node

    def _skorch(self, net, node, where):
        """Weights of each network to safetensors; the names skorch rebuilds."""
        names = list(getattr(net, "_modules", []))
        managed = set(_SKORCH_MANAGED)
        managed |= {f"{n}_" for n in names + list(getattr(net, "_criteria", []))
                    + list(getattr(net, "_optimizers", []))}
        node["initialized"] = bool(getattr(net, "initialized_", False))
        if node["initialized"]:
            _require_safetensors()
            weights = {}
            for name in names:
                buf = io.BytesIO()
                net.save_params(**{f"f_{'params' if name == 'module' else name}": buf},
                                use_safetensors=True)
                path = f"weights/{len(self.weights)}-{name}.safetensors"
                self.weights[path] = buf.getvalue()
                weights[name] = path
            node["weights"] = weights
        if getattr(net, "history_", None) is not None:
            node["history"] = self.encode(list(net.history_), f"{where}.history_")
        return managed


# per-class fitted attributes left out, rebuilt by the class's _LOAD_HOOKS entry:
# the ANN index is a library object, rebuilt from _vectors_
_NOT_SAVED = {"sklearn_recsys.retrieval._ann.ApproximateRecommender": {"index_"}}


def save(estimator, path, *, trusted=None):
    """Save an estimator in the safe format: JSON, ``.npz`` and safetensors in one zip.

    Parameters
    ----------
    estimator : estimator
        A fitted (or unfitted) estimator of this package, or a
        :class:`~sklearn_recsys.pipeline.RecommenderPipeline` /
        :class:`~sklearn.pipeline.Pipeline` of them. Its parameters and
        fitted attributes must be data (numbers, strings, arrays, sparse
        matrices, DataFrames, lists, dicts) or estimators and classes of
        :func:`trusted_types`.
    path : str or path-like or file-like
        Where to write the zip file (``.zip`` is a good suffix).
    trusted : list of type, default=None
        Your own classes (a custom recommender) to save as well; whoever
        loads the file passes them to :func:`load`'s ``trusted`` too. Each
        must rebuild from ``__init__(**get_params())`` plus its attributes.

    Raises
    ------
    TypeError
        When a parameter or an attribute cannot be stored as data (a
        callable, an object of a class outside the registry); the message
        names the attribute and its type. Nothing is written then.

    See Also
    --------
    load : Load the file back.

    Examples
    --------
    >>> import tempfile, os
    >>> from sklearn_recsys.baselines import EASE
    >>> from sklearn_recsys.io import load, save
    >>> model = EASE(l2=1.0).fit([[1, 2], [2, 3], [3, 1]], [3, 1, 2])
    >>> path = os.path.join(tempfile.mkdtemp(), "ease.zip")
    >>> save(model, path)
    >>> load(path).recommend([[1]], k=2)
    array([[2, 3]])
    """
    registry = _registry()
    for cls in [] if trusted is None else ([trusted] if inspect.isclass(trusted) else trusted):
        if not inspect.isclass(cls):
            raise TypeError(f"save's trusted must be a list of classes; got {cls!r}.")
        registry[_name(cls)] = cls
    writer = _Writer(registry)
    root = writer.encode(estimator, type(estimator).__name__)
    import sklearn
    import torch

    from . import __version__

    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "versions": {"sklearn_recsys": __version__, "scikit-learn": sklearn.__version__,
                     "numpy": np.__version__, "torch": torch.__version__},
        "root": root,
    }
    arrays = io.BytesIO()
    np.savez(arrays, **writer.arrays)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(_MANIFEST, json.dumps(manifest, indent=1, allow_nan=False))
        zf.writestr(_ARRAYS, arrays.getvalue())
        for name, data in writer.weights.items():
            zf.writestr(name, data)


# -- loading ------------------------------------------------------------------


def _refuse(message):
    raise UnsafeModelError(message)


def _class_names(node, out):
    """Every class name a manifest node refers to."""
    if isinstance(node, dict):
        kind = node.get("__kind__")
        if kind in ("estimator", "object"):
            out.append(node.get("class"))
        elif kind in ("class", "function"):
            out.append(node.get("name"))
        for value in node.values():
            _class_names(value, out)
    elif isinstance(node, list):
        for value in node:
            _class_names(value, out)
    return out


def _trusted_extra(trusted):
    if trusted is None:
        return {}
    if isinstance(trusted, (str, type)):
        trusted = [trusted]
    extra = {}
    for item in trusted:
        if inspect.isclass(item):
            extra[_name(item)] = item
        elif isinstance(item, str):
            extra[item] = None  # imported only when the file names it
        else:
            raise TypeError(
                f"trusted must be a list of classes or 'module.QualName' strings; got {item!r}."
            )
    return extra


def _import(name):
    module, _, qualname = name.rpartition(".")
    while module:
        try:
            obj = importlib.import_module(module)
        except ImportError:
            module, _, head = module.rpartition(".")
            qualname = f"{head}.{qualname}"
            continue
        for part in qualname.split("."):
            obj = getattr(obj, part)
        return obj
    raise ImportError(f"cannot import {name!r}")


class _Reader:
    def __init__(self, zf, arrays, registry):
        self.zf = zf
        self.arrays = arrays
        self.registry = registry

    def cls(self, name):
        cls = self.registry[name]
        if cls is None:  # a trusted name: the user asked for it
            cls = self.registry[name] = _import(name)
        return cls

    def array(self, key):
        if not isinstance(key, str) or key not in self.arrays:
            _refuse(f"The manifest refers to array {key!r}, which {_ARRAYS} does not hold.")
        return self.arrays[key]

    def decode(self, node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if not isinstance(node, dict):
            _refuse(f"Malformed manifest: unexpected {type(node).__name__} node.")
        kind = node.get("__kind__")
        method = getattr(self, f"_{kind}", None) if isinstance(kind, str) else None
        if method is None or kind.startswith("_"):
            _refuse(f"Malformed manifest: unknown node kind {kind!r}.")
        return method(node)

    def _float(self, node):
        value = node["value"]
        if value not in ("inf", "-inf", "nan"):
            _refuse(f"Malformed manifest: float {value!r}.")
        return float(value)

    def _dtype_of(self, text):
        dtype = np.dtype(str(text))
        if dtype.kind not in _NPZ_KINDS:
            _refuse(f"The manifest asks for dtype {text!r}; only plain numeric or string dtypes load.")
        return dtype

    def _numpy_scalar(self, node):
        dtype = self._dtype_of(node["dtype"])
        value = self.decode(node["value"]) if isinstance(node["value"], dict) else node["value"]
        if dtype.kind == "c":
            value = complex(*value)
        return dtype.type(value)

    def _dtype(self, node):
        return self._dtype_of(node["value"])

    def _ndarray(self, node):
        return self.array(node["key"])

    def _object_array(self, node):
        items = [self.decode(v) for v in node["items"]]
        out = np.empty(len(items), dtype=object)
        for i, v in enumerate(items):  # one by one: lists stay list elements
            out[i] = v
        return out.reshape([int(s) for s in node["shape"]])

    def _sparse(self, node):
        fmt, shape = node["format"], tuple(int(s) for s in node["shape"])
        data = self.decode(node["data"])
        container = {"matrix": {"csr": sp.csr_matrix, "csc": sp.csc_matrix, "coo": sp.coo_matrix},
                     "array": {"csr": sp.csr_array, "csc": sp.csc_array, "coo": sp.coo_array}}
        try:
            make = container[node["container"]][fmt]
        except KeyError:
            _refuse(f"Malformed manifest: sparse {node.get('container')!r} {fmt!r}.")
        if fmt == "coo":
            return make((data, (self.decode(node["row"]), self.decode(node["col"]))), shape=shape)
        return make((data, self.decode(node["indices"]), self.decode(node["indptr"])), shape=shape)

    def _values(self, node):
        if node.get("__kind__") == "categorical":
            categories = self.decode(node["categories"])
            return pd.Categorical.from_codes(self.decode(node["codes"]), categories=categories,
                                             ordered=bool(node["ordered"]))
        if node.get("__kind__") == "strings":
            if node["storage"] not in ("python", "pyarrow"):
                _refuse(f"Malformed manifest: string storage {node['storage']!r}.")
            dtype = pd.StringDtype(node["storage"], na_value=np.nan if node["na_nan"] else pd.NA)
            return pd.array(list(self.decode(node["values"])), dtype=dtype)
        return self.decode(node)

    def _index(self, node):
        return pd.Index(self._values(node["values"]), name=self.decode(node["name"]), tupleize_cols=False)

    def _range_index(self, node):
        return pd.RangeIndex(int(node["start"]), int(node["stop"]), int(node["step"]),
                             name=self.decode(node["name"]))

    def _series(self, node):
        return pd.Series(self._values(node["values"]), index=self.decode(node["index"]),
                         name=self.decode(node["name"]))

    def _dataframe(self, node):
        columns = self.decode(node["columns"])
        index = self.decode(node["index"])
        data = [self._values(c) for c in node["data"]]
        if len(data) != len(columns):
            _refuse("Malformed manifest: a DataFrame's columns and data differ in length.")
        frame = pd.DataFrame({i: d for i, d in enumerate(data)}, index=index)
        frame.columns = columns
        return frame

    def _dict(self, node):
        return {_hashable(self.decode(k)): self.decode(v) for k, v in node["items"]}

    def _list(self, node):
        return [self.decode(v) for v in node["items"]]

    def _tuple(self, node):
        return tuple(self.decode(v) for v in node["items"])

    def _set(self, node):
        return {_hashable(self.decode(v)) for v in node["items"]}

    def _frozenset(self, node):
        return frozenset(self._set(node))

    def _slice(self, node):
        return slice(*(self.decode(v) for v in node["items"]))

    def _class(self, node):
        cls = self.cls(node["name"])
        if not inspect.isclass(cls):
            _refuse(f"Malformed manifest: {node['name']} is not a class.")
        return cls

    def _function(self, node):
        func = self.cls(node["name"])
        if inspect.isclass(func):
            _refuse(f"Malformed manifest: {node['name']} is a class, not a function.")
        return func

    def _object(self, node):
        if node["class"] not in _PLAIN_OBJECTS:
            _refuse(f"Malformed manifest: {node['class']} is not rebuilt from its attributes.")
        cls = self.cls(node["class"])
        obj = cls.__new__(cls)
        obj.__dict__.update(self._state(node["state"]))
        return obj

    def _state(self, attrs):
        if not isinstance(attrs, dict):
            _refuse("Malformed manifest: attributes must be a JSON object.")
        return {str(k): self.decode(v) for k, v in attrs.items()}

    def _estimator(self, node):
        from skorch import NeuralNet
        from skorch.history import History

        cls = self.cls(node["class"])
        if not (inspect.isclass(cls) and hasattr(cls, "get_params")):
            _refuse(f"Malformed manifest: {node['class']} is not an estimator class.")
        params = self._state(node["params"])
        if issubclass(cls, NeuralNet):
            params = _available_device(params)
        est = cls(**params)
        for name, value in self._state(node.get("fitted", {})).items():
            setattr(est, name, value)
        if isinstance(est, NeuralNet):
            if node.get("initialized"):
                est.initialize()
                for name, path in node.get("weights", {}).items():
                    self._load_weights(est, name, path)
            if "history" in node:
                est.history_ = History(self.decode(node["history"]))
        hook = _LOAD_HOOKS.get(node["class"])
        if hook is not None:
            hook(est)
        return est

    def _load_weights(self, net, name, path):
        _require_safetensors()
        from safetensors import SafetensorError

        if not isinstance(path, str) or path not in self.zf.namelist():
            _refuse(f"The manifest refers to weights {path!r}, which the file does not hold.")
        data = self.zf.read(path)
        key = "f_params" if name == "module" else f"f_{name}"
        try:
            net.load_params(**{key: io.BytesIO(data)}, use_safetensors=True)
        except SafetensorError as exc:
            _refuse(f"{path} is not a valid safetensors file ({exc}); it is not loaded.")


def _available_device(params):
    """A network saved with ``device="cuda"`` loads on the CPU where CUDA is
    absent, with skorch's ``DeviceWarning``, as a pickle does ("auto" is
    resolved on the loading machine anyway)."""
    import torch
    from skorch.exceptions import DeviceWarning

    device = params.get("device")
    if isinstance(device, str) and device.startswith("cuda") and not torch.cuda.is_available():
        warnings.warn(
            f"The model was saved with device={device!r} and CUDA is not available here; "
            "it is loaded with device='cpu'.", DeviceWarning, stacklevel=4,
        )
        params = {**params, "device": "cpu"}
    return params


def _require_safetensors():
    try:
        import safetensors  # noqa: F401
    except ImportError:
        raise ImportError(
            "The safe format stores network weights with safetensors, which is not "
            "installed: pip install safetensors (or pip install 'sklearn-recsys[safe]')."
        ) from None


def _hashable(value):
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


def _load_approximate(est):
    from .retrieval import _backends

    est.index_ = _backends.build(est.backend_, est._vectors_, est._index_params(), est._threads())


_LOAD_HOOKS = {"sklearn_recsys.retrieval._ann.ApproximateRecommender": _load_approximate}


def is_safe_file(path):
    """Whether ``path`` is a file written by :func:`save` (a zip with its manifest).

    Parameters
    ----------
    path : str or path-like
        A file.

    Returns
    -------
    bool
        True for a zip holding a manifest of this format. Nothing is built
        from the file; :func:`load` still checks everything in it.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_recsys.baselines import Popularity
    >>> from sklearn_recsys.io import is_safe_file, save
    >>> path = os.path.join(tempfile.mkdtemp(), "pop.zip")
    >>> save(Popularity().fit([[1]], [2]), path)
    >>> is_safe_file(path), is_safe_file(__file__)
    (True, False)
    """
    try:
        if not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as zf:
            if _MANIFEST not in zf.namelist():
                return False
            head = json.loads(zf.read(_MANIFEST))
    except (OSError, ValueError, zipfile.BadZipFile):
        return False
    return isinstance(head, dict) and head.get("format") == FORMAT


def load(path, *, trusted=None):
    """Load an estimator saved by :func:`save`, without running code from the file.

    The manifest is read first and every class it names is checked against
    the registry (:func:`trusted_types`) plus ``trusted``; an unknown class
    refuses the whole file before anything is built. Arrays are read with
    ``numpy.load(allow_pickle=False)`` and network weights with safetensors,
    so a payload that carries a pickle is refused too.

    Parameters
    ----------
    path : str or path-like or file-like
        A file written by :func:`save`.
    trusted : list of (type or str), default=None
        Extra classes you trust the file to rebuild (by class, or by
        ``"module.QualName"``; a name is imported when the file uses it).
        Their ``__init__`` runs with the stored parameters: trust only
        classes whose constructor does nothing but store them.

    Returns
    -------
    estimator : estimator
        The estimator as it was saved: ``recommend`` gives the same lists.

    Raises
    ------
    UnsafeModelError
        A subclass of ``ValueError``: the file names classes outside the
        registry (all are listed), or its arrays or weights are not plain
        data (a pickle), or the manifest is malformed.

    See Also
    --------
    save : Write the file.

    Examples
    --------
    >>> import tempfile, os
    >>> from sklearn_recsys.baselines import Popularity
    >>> from sklearn_recsys.io import load, save
    >>> path = os.path.join(tempfile.mkdtemp(), "pop.zip")
    >>> save(Popularity().fit([["a"], ["b"]], ["b", "b"]), path)
    >>> load(path).recommend([["a"]], k=1)
    array([['b']], dtype=object)
    """
    registry = _registry()
    registry.update({k: v for k, v in _trusted_extra(trusted).items() if k not in registry})
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        _refuse(f"{path} is not a file written by sklearn_recsys.io.save (not a zip: {exc}).")
    with zf:
        names = zf.namelist()
        if _MANIFEST not in names or _ARRAYS not in names:
            _refuse(f"{path} is not a file written by sklearn_recsys.io.save "
                    f"(it lacks {_MANIFEST} or {_ARRAYS}).")
        try:
            manifest = json.loads(zf.read(_MANIFEST))
        except ValueError as exc:
            _refuse(f"{_MANIFEST} is not valid JSON ({exc}).")
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            _refuse(f"{_MANIFEST} is not a manifest of the {FORMAT} format.")
        if manifest.get("format_version") != FORMAT_VERSION:
            _refuse(f"Format version {manifest.get('format_version')!r} is not supported "
                    f"(this version reads {FORMAT_VERSION}).")
        unknown = sorted({str(n) for n in _class_names(manifest["root"], []) if n not in registry})
        if unknown:
            _refuse(
                f"The file asks to rebuild {len(unknown)} class(es) outside the registry: "
                f"{', '.join(unknown)}. Nothing was loaded. Pass trusted=[...] only if you "
                "trust these classes and the file's source."
            )
        try:
            with np.load(io.BytesIO(zf.read(_ARRAYS)), allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except ValueError as exc:
            _refuse(f"{_ARRAYS} holds data that needs pickle to load ({exc}); it is refused.")
        except (OSError, zipfile.BadZipFile, EOFError) as exc:
            _refuse(f"{_ARRAYS} is not a valid .npz archive ({exc}).")
        try:
            return _Reader(zf, arrays, registry).decode(manifest["root"])
        except (KeyError, TypeError) as exc:
            raise UnsafeModelError(f"Malformed manifest ({type(exc).__name__}: {exc}).") from exc
