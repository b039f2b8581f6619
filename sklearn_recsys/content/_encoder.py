"""ContentEncoder: catalogue rows -> item embeddings, a skorch network."""

import numbers
import os
import warnings

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.preprocessing import MultiLabelBinarizer, StandardScaler
from sklearn.utils._param_validation import Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch import NeuralNet
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

from .._torch import TorchMixin, with_skorch_params
from ..utils._param_validation import (
    NumberInterval,
    TorchDevice,
    TorchModuleClass,
)
from ._pretrained import SentenceEmbedder
from ._text import (
    _LIST_TYPES,
    TextTokenizer,
    _is_missing,
    _plain,
    check_catalogue,
    item_documents,
    list_values,
    numeric_values,
    pad_rows,
    resolve_columns,
    text_values,
)
from ._towers import TOWERS, ContentModule
from ._vectors import resolve_vector_columns, vector_values

__all__ = ["ContentEncoder"]

_DEFAULT_PRETRAINED = "sentence-transformers/all-MiniLM-L6-v2"


def _columns_param():
    return [None, str, list, tuple]


class _FeatureBatches(torch.utils.data.Dataset):
    """Feature tensors (and targets) indexed by whole batches of rows."""

    def __init__(self, X, y=None):
        self.X = {k: torch.as_tensor(v) for k, v in X.items()}
        self.y = None if y is None else torch.as_tensor(y)
        self.n = len(next(iter(self.X.values())))

    def __len__(self):
        return self.n

    def __getitem__(self, rows):
        rows = torch.as_tensor(rows, dtype=torch.int64)
        x = {k: v[rows] for k, v in self.X.items()}
        return x, (torch.zeros(len(rows)) if self.y is None else self.y[rows])


def _supervised(self):
    return getattr(self, "objective_", None) in ("multiclass", "multilabel")


_SKORCH_DOCS = {
    "max_epochs": "An epoch is a pass over the catalogue.",
    "batch_size": """
        Here: items per batch (and per forward pass in ``transform``).
        Larger batches give the contrastive objective more negatives.
        Batches are sliced from the feature tensors at once;
        ``iterator_train__*`` and ``iterator_valid__*`` parameters
        (``shuffle``, ``num_workers``, ...) reach the ``DataLoader``.
        """,
    "train_split": "The default None trains on every item.",
}


@with_skorch_params(_SKORCH_DOCS)
class ContentEncoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, TorchMixin, NeuralNet):
    """Embed catalogue items from their text, tags, numbers and vectors (a skorch network).

    ``fit(items[, y])`` learns a tokenisation of the catalogue and trains a
    text tower; ``transform(items)`` returns one float32 vector per item,
    e.g. for similar-item search or as the content part of a recommender.

    **Input.** ``items`` is a catalogue DataFrame, one row per item, indexed
    by item id (the index must be unique; the caller's frame is never
    modified). Four kinds of columns are read:

    * text columns (``str``): tokenised into word and character n-grams
      (:class:`TextTokenizer`). A missing value (None, NaN) is read as empty
      text; any other non-string value raises ``TypeError``.
    * list columns (lists of ``str``, e.g. genres, tags): every value is one
      token of its own (``(column, value)``, vocabulary learned in ``fit``,
      unseen values dropped) and its words also join the item's text. A
      missing cell is an empty list; a plain string raises (split it first).
    * numeric columns: standardised with the ``fit`` mean and standard
      deviation; a missing value becomes the mean (0 after scaling).
    * vector columns: precomputed embeddings (an image, audio or any other
      vector per item), each cell a 1-D array, list or tuple of numbers of
      the same length for every item of the column. Each is scaled
      (``vector_scaling``) and projected by a linear layer of its own to the
      tower's width, then added to the text, tag and numeric parts. A
      missing cell (None, NaN) reads as zeros after scaling (the mean with
      ``"standard"``). Ragged lengths, non-finite values and cells that are
      not arrays of numbers raise, naming the column and the row. A 2-D
      array ``emb`` of shape ``(n_items, dim)`` becomes a column with
      ``items.assign(image=list(emb))``.

    Columns not named by ``text_columns``, ``list_columns``,
    ``numeric_columns`` or ``vector_columns`` are inferred from their dtypes
    and values when the parameter is None (see :func:`resolve_columns`;
    vector columns are the ``object`` columns whose cells are all 1-D arrays
    of numbers); pass ``[]`` to use none of a kind. A 2-D array of numbers
    is also accepted: every column is numeric.

    **Objectives.** Without ``y``, self-supervised contrastive learning:
    two views of each item are made by dropping each text/list token (and
    numeric feature) with probability ``view_dropout``; the network learns
    to match the two views of an item against the other items of the batch
    (InfoNCE with cosine similarity over ``temperature``, symmetric). Items
    sharing words and tags end up close. With ``y``, supervised: ``y`` holds
    one label per item (softmax cross-entropy) or a list of labels per item
    (multi-label: one sigmoid binary cross-entropy per label, e.g. genres).
    A pandas Series ``y`` is aligned to the catalogue by item id (its index);
    ids absent from the catalogue raise, catalogue items absent from ``y``
    or with a missing label are left out of the loss. Any other ``y`` is
    aligned by position. A linear head ``head_`` maps embeddings to labels.

    **The seam for other networks.** A recommender can run the tower inside
    its own forward pass, trained jointly with it or frozen:

    * ``featurize(items) -> dict[str, torch.Tensor]``: the fitted
      tokenisation of catalogue rows. Every tensor has one row per item (in
      ``items`` order), so ``{k: v[idx] for k, v in feats.items()}`` selects
      a batch of items. Keys, present when the catalogue has such input:
      ``"text"`` LongTensor ``(n, L)`` (padded token ids, 0 = padding;
      n-gram ids for ``tower="bag"``, word ids in order for the sequence
      towers, ``L <= max_length``), ``"tags"`` LongTensor ``(n, T)``
      (list-value ids), ``"numeric"`` FloatTensor ``(n, n_numeric)``,
      ``"pretrained"`` FloatTensor ``(n, dim)`` (frozen sentence
      embeddings, ``tower="pretrained"``), ``"vectors"`` FloatTensor
      ``(n, sum(vector_dims_))`` (the scaled vector columns, concatenated in
      ``vector_columns_`` order).
    * ``module_(**features) -> FloatTensor (n, module_.d_out)``: the
      :class:`ContentModule` (a ``torch.nn.Module``); freeze it with
      ``module_.requires_grad_(False)``. ``module_.d_out`` equals
      ``module__d_model``.
    * ``featurize_text(texts) -> dict`` with ``"text"`` (or
      ``"pretrained"``) only: free-text queries through the same tokenisation;
      ``module_(**featurize_text(texts))`` embeds them in the item space
      (the missing tags, numbers and vectors contribute zeros).

    ``ContentEncoder(max_epochs=0).fit(items)`` sets up the tokenisation and
    an untrained tower; a positive ``max_epochs`` pretrains it first.

    Parameters
    ----------
    text_columns : list of str, str or None, default=None
        Text columns; None infers them (string columns).
    list_columns : list of str, str or None, default=None
        Columns of lists of strings; None infers them.
    numeric_columns : list of str, str or None, default=None
        Numeric columns; None infers them (numeric and boolean dtypes).
    vector_columns : list of str, str or None, default=None
        Columns of precomputed vectors, one 1-D array-like of numbers per
        item; None infers them (``object`` columns whose non-missing cells
        are all non-empty arrays, lists or tuples of numbers, and pyarrow
        ``list`` columns of numbers).
    vector_scaling : {"standard", "l2"} or None, default="standard"
        How each vector column is scaled before its projection.
        ``"standard"``: every dimension to zero mean and unit variance (fit
        on the catalogue, missing cells ignored). ``"l2"``: every vector
        divided by its Euclidean norm (for embeddings compared by cosine).
        None: as given.
    tower : {"bag", "cnn", "lstm", "transformer", "pretrained"}, default="bag"
        Text tower (:class:`ContentModule`). ``"bag"``, the fast default,
        averages n-gram embeddings. ``"pretrained"`` projects the frozen
        embeddings of a sentence-transformers model (optional extra
        ``sklearn-recsys[pretrained]``); each distinct item text is embedded
        once and cached in ``pretrained_``.
    ngram_range : tuple (min_n, max_n), default=(1, 2)
        Word n-grams (bag tower). Sequence towers read word unigrams.
    char_ngram_range : tuple (min_n, max_n) or None, default=(3, 5)
        Character n-grams inside words (bag tower); None for none.
    n_buckets : int or None, default=None
        None learns a vocabulary of the catalogue's tokens in ``fit``
        (``min_df``, ``max_features``; unseen tokens are dropped later).
        An int uses the hashing trick: token ids are ``1 + hash % n_buckets``
        (no vocabulary, unseen words still get ids; the embedding table has
        ``n_buckets`` rows, which slows dense optimisers such as Adam).
    min_df : int or float, default=1
        Learned vocabulary only: minimum document count (int) or share
        (float) of a token.
    max_features : int or None, default=None
        Learned vocabulary only: keep this many most frequent tokens.
    max_length : int, default=256
        Most tokens read per item. The sequence towers read the first
        ``max_length`` words (text columns first, then list values); the bag
        tower keeps ``max_length`` n-grams evenly spaced over all of them.
    pretrained_model : str, default="sentence-transformers/all-MiniLM-L6-v2"
        Hub name or local path of the sentence-transformers model of
        ``tower="pretrained"``.
    temperature : float, default=0.3
        Softmax temperature of the contrastive objective.
    view_dropout : float, default=0.5
        Share of tokens (and numeric features) dropped in each contrastive view.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batch order, dropout and views (the
        global torch RNG is restored afterwards). Two fits with the same int
        give identical embeddings on the CPU, in any joblib backend: seeded
        fits in threads of one process run one at a time, each from its own
        seed. Unseeded fits (None) run at once and draw from torch's global
        RNG. See :ref:`reproducibility`.
    module : torch.nn.Module class or None, default=None
        None builds :class:`ContentModule`. A custom class must accept the
        same keyword arguments (``tower``, ``n_tokens``, ``n_tags``,
        ``n_numeric``, ``n_pretrained``, ``max_length``, ``vector_dims``
        when the catalogue has vector columns, and the ``module__*``
        parameters) and have a ``d_out`` attribute. Sizes are
        ``module__d_model`` (64), ``module__n_layers`` (1),
        ``module__n_heads`` (2), ``module__kernel_size`` (3),
        ``module__dropout`` (0.1).
    criterion : torch loss class or None, default=None
        Loss of the supervised objectives, called on the labelled rows as
        ``criterion(logits, target)``; None picks ``CrossEntropyLoss``
        (one label per item) or ``BCEWithLogitsLoss`` (lists of labels).
        The contrastive objective always uses InfoNCE.
    {skorch_params: optimizer, lr, max_epochs, batch_size, train_split, callbacks}
    predict_nonlinearity : None
        Kept for skorch; not used.
    {skorch_params: verbose}
    device : str, torch.device or None, default="cpu"
        Torch device; "auto" picks CUDA when available.
    **kwargs
        Other skorch parameters (``module__*``, ``optimizer__*``,
        ``iterator_train__*``, ...).

    Attributes
    ----------
    text_columns_ : list of str
        Text columns read.
    list_columns_ : list of str
        List columns read.
    numeric_columns_ : list of str
        Numeric columns read.
    vector_columns_ : list of str
        Vector columns read.
    vector_dims_ : list of int
        Length of each vector column's vectors (as in ``vector_columns_``).
    vector_scaler_ : sklearn.preprocessing.StandardScaler or None
        Standardises the concatenated vector columns
        (``vector_scaling="standard"``, missing cells ignored); None
        otherwise or without vector columns.
    tokenizer_ : TextTokenizer or None
        Fitted tokeniser (None without text or with ``tower="pretrained"``).
    tag_vocabulary_ : dict of (str, str) -> int
        Id (from 1) of every ``(list column, value)`` seen in ``fit``.
    numeric_scaler_ : sklearn.preprocessing.StandardScaler or None
        Standardises the numeric columns (fitted on the catalogue, missing
        values ignored); None without numeric columns.
    pretrained_ : SentenceEmbedder or None
        Frozen sentence encoder and its cache (``tower="pretrained"``).
    objective_ : {"contrastive", "multiclass", "multilabel"}
        Objective of the last ``fit``.
    classes_ : ndarray or None
        Labels of the supervised objectives (None for contrastive).
    module_ : ContentModule
        The tower (see the seam above).
    head_ : torch.nn.Linear or None
        Embedding -> label logits (supervised objectives only).
    criterion_ : torch.nn.Module
        Initialised supervised loss.
    optimizer_ : torch.optim.Optimizer
        Initialised optimizer.
    history_ : skorch.History
        Training history (loss per epoch).
    initialized_ : bool
        Whether the network is built.
    callbacks_ : list of (str, Callback)
        Initialised callbacks.
    virtual_params_ : dict
        skorch's virtual parameters.
    device_ : str
        The device in use ("auto" resolved).
    n_features_in_ : int
        Number of columns of the catalogue seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit`` (DataFrames with string column names).

    See Also
    --------
    TextTokenizer : The tokeniser.
    ContentModule : The torch towers.
    TfidfRecommender : A content-only recommender without training.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_recsys.content import ContentEncoder
    >>> items = pd.DataFrame({
    ...     "title": ["Space war", "Space love", "Cooking pasta", "Cooking rice"],
    ...     "tags": [["scifi"], ["scifi", "romance"], ["food"], ["food"]],
    ... }, index=[10, 11, 12, 13])
    >>> enc = ContentEncoder(module__d_model=8, max_epochs=5, random_state=0)
    >>> emb = enc.fit_transform(items)
    >>> emb.shape, emb.dtype
    ((4, 8), dtype('float32'))
    >>> enc.get_feature_names_out()[:2]
    array(['contentencoder0', 'contentencoder1'], dtype=object)
    >>> feats = enc.featurize(items)
    >>> sorted(feats), tuple(enc.module_(**feats).shape)
    (['tags', 'text'], (4, 8))
    >>> tuple(enc.module_(**enc.featurize_text(["space opera"])).shape)
    (1, 8)

    A precomputed vector per item (here a made-up 3-d "image embedding") is
    one more column, fused with the text:

    >>> import numpy as np
    >>> image = np.array([[1, 0, 0], [1, 0.1, 0], [0, 1, 0], [0, 1, 0.1]])
    >>> enc = ContentEncoder(vector_columns=["image"], module__d_model=8,
    ...                      max_epochs=5, random_state=0)
    >>> enc.fit_transform(items.assign(image=list(image))).shape
    (4, 8)
    >>> enc.vector_columns_, enc.vector_dims_
    (['image'], [3])
    """

    _parameter_constraints: dict = {
        "text_columns": _columns_param(),
        "list_columns": _columns_param(),
        "numeric_columns": _columns_param(),
        "vector_columns": _columns_param(),
        "vector_scaling": [StrOptions({"standard", "l2"}), None],
        "tower": [StrOptions(set(TOWERS))],
        # the tokeniser's own rules (n-gram ranges, vocabulary)
        **{k: v for k, v in TextTokenizer._parameter_constraints.items() if k != "lowercase"},
        "max_length": [NumberInterval(numbers.Integral, 1, None, closed="left")],
        "pretrained_model": [str, os.PathLike],
        "temperature": [NumberInterval(numbers.Real, 0, None, closed="neither")],
        "view_dropout": [NumberInterval(numbers.Real, 0, 1, closed="left")],
        "random_state": ["random_state"],
        "max_epochs": [NumberInterval(numbers.Integral, 0, None, closed="left")],
        "batch_size": [NumberInterval(numbers.Integral, 1, None, closed="left"),
                       Options(numbers.Integral, {-1})],
        "module": [None, TorchModuleClass(torch.nn.Module, "ContentModule")],
        "criterion": [None, callable],
        "optimizer": [callable],
        "lr": [NumberInterval(numbers.Real, 0, None, closed="left")],
        "train_split": [None, callable],
        "callbacks": [None, list, StrOptions({"disable"})],
        "predict_nonlinearity": [None, StrOptions({"auto"}), callable],
        "device": [TorchDevice()],
        "verbose": ["verbose"],
    }
    _initialize_needs = (
        "text_columns_",
        "ContentEncoder sizes its network from the catalogue: call "
        "fit(items) instead of initialize().",
    )

    def __init__(
        self,
        *,
        text_columns=None,
        list_columns=None,
        numeric_columns=None,
        vector_columns=None,
        vector_scaling="standard",
        tower="bag",
        ngram_range=(1, 2),
        char_ngram_range=(3, 5),
        n_buckets=None,
        min_df=1,
        max_features=None,
        max_length=256,
        pretrained_model=_DEFAULT_PRETRAINED,
        temperature=0.3,
        view_dropout=0.5,
        random_state=None,
        module=None,
        criterion=None,
        optimizer=torch.optim.Adam,
        lr=5e-3,
        max_epochs=10,
        batch_size=256,
        train_split=None,
        callbacks=None,
        predict_nonlinearity=None,
        verbose=0,
        device="cpu",
        **kwargs,
    ):
        super().__init__(
            module,
            criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            callbacks=callbacks,
            predict_nonlinearity=predict_nonlinearity,
            verbose=verbose,
            device=device,
            **kwargs,
        )
        self.text_columns = text_columns
        self.list_columns = list_columns
        self.numeric_columns = numeric_columns
        self.vector_columns = vector_columns
        self.vector_scaling = vector_scaling
        self.tower = tower
        self.ngram_range = ngram_range
        self.char_ngram_range = char_ngram_range
        self.n_buckets = n_buckets
        self.min_df = min_df
        self.max_features = max_features
        self.max_length = max_length
        self.pretrained_model = pretrained_model
        self.temperature = temperature
        self.view_dropout = view_dropout
        self.random_state = random_state

    # -- skorch set-up -----------------------------------------------------
    def initialize_module(self):
        kwargs = self.get_params_for("module")
        own = ("tower", "n_tokens", "n_tags", "n_numeric", "n_pretrained", "max_length",
               "vector_dims")
        clash = [k for k in own if k in kwargs]
        if clash:
            raise ValueError(
                f"module__{clash[0]} is set by ContentEncoder itself from the "
                "catalogue and its own parameters; do not pass it."
            )
        cls = ContentModule if self.module is None else self.module
        self.module_ = cls(**self._module_dims(), **kwargs)
        if _supervised(self):
            self.head_ = torch.nn.Linear(self.module_.d_out, len(self.classes_))
        else:
            self.head_ = None
        return self

    def initialize_criterion(self):
        crit = self.criterion
        if crit is None:
            multilabel = getattr(self, "objective_", None) == "multilabel"
            crit = torch.nn.BCEWithLogitsLoss if multilabel else torch.nn.CrossEntropyLoss
        self.criterion_ = self.initialized_instance(crit, self.get_params_for("criterion"))
        return self

    def get_dataset(self, X, y=None):
        if isinstance(X, torch.utils.data.Dataset):
            return X
        return _FeatureBatches(X, y)

    def get_iterator(self, dataset, training=False):
        """Whole batches sliced from the feature tensors (no per-item collation).

        ``iterator_train__*`` / ``iterator_valid__*`` parameters reach the
        ``DataLoader`` (``shuffle`` defaults to True for training).
        """
        kwargs = self.get_params_for("iterator_train" if training else "iterator_valid")
        batch_size = kwargs.pop("batch_size", self.batch_size)
        if batch_size == -1:
            batch_size = len(dataset)
        shuffle = kwargs.pop("shuffle", training)
        sampler = (torch.utils.data.RandomSampler if shuffle else torch.utils.data.SequentialSampler)(dataset)
        batches = torch.utils.data.BatchSampler(sampler, batch_size, drop_last=False)
        return torch.utils.data.DataLoader(dataset, sampler=batches, batch_size=None, **kwargs)

    def _module_dims(self):
        has_text = bool(self.text_columns_ or self.list_columns_)
        dims = {
            "tower": self.tower,
            "n_tokens": self.tokenizer_.n_tokens_ if self.tokenizer_ is not None else 0,
            "n_tags": len(self.tag_vocabulary_) + 1 if self.tag_vocabulary_ else 0,
            "n_numeric": len(self.numeric_columns_),
            "n_pretrained": self.pretrained_.dim_ if (self.pretrained_ is not None and has_text) else 0,
            "max_length": int(self.max_length),
        }
        if getattr(self, "vector_dims_", None):  # only then: custom modules need not know it
            dims["vector_dims"] = tuple(int(d) for d in self.vector_dims_)
        return dims

    # -- objectives ------------------------------------------------------
    def _view(self, x):
        """A random view of a batch: tokens and numeric features dropped."""
        p = float(self.view_dropout)
        out = {}
        for key, v in x.items():
            v = to_tensor(v, device=self.device)
            if p > 0 and key in ("text", "tags"):
                v = v.masked_fill(torch.rand(v.shape, device=v.device) < p, 0)
            elif p > 0 and key in ("numeric", "pretrained", "vectors"):
                v = v.masked_fill(torch.rand(v.shape, device=v.device) < p, 0.0)
            out[key] = v
        return out

    def _batch_loss(self, Xi, yi):
        if self.objective_ == "contrastive":
            z1 = F.normalize(self.infer(self._view(Xi)), dim=1)
            z2 = F.normalize(self.infer(self._view(Xi)), dim=1)
            logits = z1 @ z2.T / float(self.temperature)
            labels = torch.arange(len(z1), device=logits.device)
            loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
            return loss, z1
        z = self.infer(Xi)
        logits = self.head_(z)
        yi = to_tensor(yi, device=self.device)
        labelled = (yi >= 0) if yi.ndim == 1 else (yi[:, 0] >= 0)
        if not bool(labelled.any()):
            return logits.sum() * 0.0, z
        return self.criterion_(logits[labelled], yi[labelled]), z

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        loss, y_pred = self._batch_loss(Xi, yi)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def validation_step(self, batch, **fit_params):
        self._set_training(False)
        Xi, yi = unpack_data(batch)
        with torch.no_grad():
            loss, y_pred = self._batch_loss(Xi, yi)
        return {"loss": loss, "y_pred": y_pred}

    # -- input -------------------------------------------------------------
    def _check_params(self):
        """The declared constraints, then the rules linking two parameters."""
        self._validate_own_params()
        if self.tower in ("cnn", "lstm", "transformer") and (
            self.ngram_range is None or self.ngram_range[0] != 1
        ):
            raise ValueError(
                f"tower={self.tower!r} reads word sequences: ngram_range must start "
                f"at 1; got {self.ngram_range!r}."
            )
        if self.ngram_range is None and self.char_ngram_range is None:
            raise ValueError("ngram_range and char_ngram_range cannot both be None.")

    def _check_items(self, X, *, reset):
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, skip_check_array=True, reset=reset)
            return check_catalogue(X)
        if hasattr(X, "iloc") or isinstance(X, (str, bytes)) or not (
            hasattr(X, "__len__") or hasattr(X, "__array__") or hasattr(X, "shape")
        ):
            raise TypeError(
                "items must be a catalogue DataFrame indexed by item id (or a 2-D "
                f"array of numbers); got {type(X).__name__}."
            )
        arr = validate_data(
            self, X, reset=reset, dtype=np.float64, ensure_all_finite="allow-nan",
        )
        return pd.DataFrame(arr, columns=[f"x{j}" for j in range(arr.shape[1])])

    def _field_docs(self, frame):
        """Text documents of the catalogue and the row each belongs to.

        Text columns first (each a document per item), then every list value.
        """
        docs, owner = [], []
        rows = np.arange(len(frame))
        for c in self.text_columns_:
            docs += text_values(frame, c)
            owner.append(rows)
        for c in self.list_columns_:
            vals = list_values(frame, c)
            docs += [v for row in vals for v in row]
            owner.append(np.repeat(rows, [len(row) for row in vals]))
        owner = np.concatenate(owner) if owner else np.empty(0, np.int64)
        return docs, owner

    def _fit_features(self, frame, is_frame):
        if is_frame:
            vecs = resolve_vector_columns(
                frame, self.vector_columns,
                others=(self.text_columns, self.list_columns, self.numeric_columns))
            text, lists, nums = resolve_columns(
                frame, self.text_columns, self.list_columns, self.numeric_columns, claimed=vecs)
        else:
            text, lists, nums, vecs = [], [], list(frame.columns), []
        self.text_columns_, self.list_columns_, self.numeric_columns_ = text, lists, nums
        self._fit_vectors(frame, vecs)
        tokenizer = pretrained = None
        if self.tower == "pretrained":
            old = getattr(self, "pretrained_", None)
            if old is not None and old.model == self.pretrained_model:
                pretrained = old  # keep the cache across refits
            else:
                pretrained = SentenceEmbedder(self.pretrained_model, device=self._resolve_device())
        elif text or lists:
            docs, _ = self._field_docs(frame)
            tokenizer = TextTokenizer(
                ngram_range=self.ngram_range, char_ngram_range=self.char_ngram_range,
                n_buckets=self.n_buckets, min_df=self.min_df, max_features=self.max_features,
            ).fit(docs)
        self.tokenizer_, self.pretrained_ = tokenizer, pretrained
        pairs = sorted({(c, v) for c in lists for row in list_values(frame, c) for v in row})
        self.tag_vocabulary_ = {pair: i + 1 for i, pair in enumerate(pairs)}
        # missing values are left out of the mean and scale (and read as
        # the mean, 0, in _featurize_frame)
        self.numeric_scaler_ = None
        if nums:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
                self.numeric_scaler_ = StandardScaler().fit(numeric_values(frame, nums))

    def _fit_vectors(self, frame, columns):
        """Vector columns, their lengths and the scaler of ``vector_scaling``."""
        values = [vector_values(frame, c) for c in columns]
        self.vector_columns_ = list(columns)
        self.vector_dims_ = [v.shape[1] for v, _ in values]
        self.vector_scaler_ = None
        if values and self.vector_scaling == "standard":
            x = np.hstack([np.where(present[:, None], v, np.nan) for v, present in values])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                self.vector_scaler_ = StandardScaler().fit(x)

    def _vector_features(self, frame):
        """The scaled vector columns, concatenated: float32 ``(n, sum(dims))``."""
        blocks = []
        for c, dim in zip(self.vector_columns_, self.vector_dims_):
            if c not in frame.columns:
                raise ValueError(
                    f"items has no column {c!r}, a vector column seen in fit; every "
                    f"catalogue passed after fit needs it (vector_columns_="
                    f"{self.vector_columns_})."
                )
            v, present = vector_values(frame, c, dim)
            if self.vector_scaling == "l2":
                v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
            elif self.vector_scaling == "standard":
                v = np.where(present[:, None], v, np.nan)
            blocks.append(v)
        x = np.hstack(blocks)
        if self.vector_scaler_ is not None:
            x = np.nan_to_num(self.vector_scaler_.transform(x), nan=0.0)
        return torch.from_numpy(x.astype(np.float32))

    def _featurize_frame(self, frame):
        n = len(frame)
        feats = {}
        if self.text_columns_ or self.list_columns_:
            if self.pretrained_ is not None:
                docs = item_documents(frame, self.text_columns_, self.list_columns_)
                feats["pretrained"] = torch.from_numpy(self.pretrained_.encode(docs))
            elif self.tokenizer_ is not None:
                docs, owner = self._field_docs(frame)
                if self.tower == "bag":
                    indptr, ids = self.tokenizer_.tokenize(docs)
                else:
                    indptr, ids = self.tokenizer_.tokenize_words(docs)
                tok_owner = np.repeat(owner, np.diff(indptr))
                order = np.argsort(tok_owner, kind="stable")
                item_ptr = np.zeros(n + 1, dtype=np.int64)
                np.cumsum(np.bincount(tok_owner, minlength=n), out=item_ptr[1:])
                feats["text"] = torch.from_numpy(pad_rows(
                    item_ptr, ids[order], self.max_length, spread=self.tower == "bag"))
        if self.tag_vocabulary_:
            ids, counts = [], np.zeros(n, dtype=np.int64)
            per_col = [list_values(frame, c) for c in self.list_columns_]
            for i in range(n):
                row = [self.tag_vocabulary_.get((c, v), 0) for c, vals in zip(self.list_columns_, per_col) for v in vals[i]]
                row = [t for t in row if t]
                ids += row
                counts[i] = len(row)
            indptr = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(counts, out=indptr[1:])
            feats["tags"] = torch.from_numpy(
                pad_rows(indptr, np.asarray(ids, dtype=np.int64), self.max_length, spread=True))
        if self.numeric_columns_:
            x = self.numeric_scaler_.transform(numeric_values(frame, self.numeric_columns_))
            feats["numeric"] = torch.from_numpy(np.nan_to_num(x, nan=0.0).astype(np.float32))
        if getattr(self, "vector_columns_", None):
            feats["vectors"] = self._vector_features(frame)
        return feats

    def _encode_target(self, frame, y, is_frame):
        if y is None:
            self.objective_, self.classes_ = "contrastive", None
            return None
        if isinstance(y, pd.DataFrame):
            if y.shape[1] != 1:
                raise ValueError(
                    f"y must hold one label (or one list of labels) per item; got a "
                    f"DataFrame with {y.shape[1]} columns."
                )
            y = y.iloc[:, 0]
        if isinstance(y, pd.Series) and is_frame:
            unknown = ~y.index.isin(frame.index)
            if unknown.any():
                raise ValueError(
                    f"y has labels for {int(unknown.sum())} item id(s) absent from the "
                    f"catalogue (first: {_plain(y.index[unknown][0])!r}). A Series y is aligned "
                    "to the catalogue by its index (item ids); pass a list or array to "
                    "align by position."
                )
            if not y.index.is_unique:
                raise ValueError("y's index (item ids) has duplicates; give each item one entry.")
            raw = y.reindex(frame.index).to_numpy(dtype=object)
        else:
            if not isinstance(y, (list, tuple, np.ndarray)) and hasattr(y, "__array__"):
                y = np.asarray(y)
            if isinstance(y, (str, bytes)) or not hasattr(y, "__len__"):
                raise TypeError(f"y must be array-like of labels; got {type(y).__name__}.")
            arr = np.asarray(y) if not isinstance(y, (list, tuple)) else None
            if arr is not None and arr.ndim != 1 and arr.dtype != object:
                raise ValueError(
                    "y must be 1-D: one label or one list of labels per item; got "
                    f"shape {arr.shape}."
                )
            raw = np.empty(len(y), dtype=object)
            raw[:] = list(y)
            if len(raw) != len(frame):
                raise ValueError(
                    f"y has {len(raw)} entries but items has {len(frame)} rows; y must "
                    "hold one label (or list of labels) per item."
                )
        missing = np.array([not isinstance(v, _LIST_TYPES) and _is_missing(v) for v in raw], dtype=bool)
        is_list = np.array([isinstance(v, _LIST_TYPES) for v in raw], dtype=bool)
        labelled = ~missing
        if not labelled.any():
            raise ValueError("y has no label: every entry is missing.")
        if is_list[labelled].all():
            self.objective_ = "multilabel"
            flat = [v for row in raw[labelled] for v in row]
            classes = self._classes(flat)
            target = np.full((len(raw), len(classes)), -1.0, dtype=np.float32)
            target[labelled] = MultiLabelBinarizer(classes=classes).fit_transform(raw[labelled])
        elif not is_list[labelled].any():
            self.objective_ = "multiclass"
            classes = self._classes(list(raw[labelled]))
            target = np.full(len(raw), -1, dtype=np.int64)
            target[labelled] = np.searchsorted(classes, np.asarray(list(raw[labelled])))
        else:
            raise ValueError(
                "y mixes single labels and lists of labels; give every item a label "
                "or every item a list of labels."
            )
        self.classes_ = classes
        return torch.from_numpy(target)

    @staticmethod
    def _classes(values):
        if any(_is_missing(v) for v in values):
            raise ValueError("y's lists of labels contain missing values (None/NaN).")
        kinds = {"str" if isinstance(v, str) else "number" if isinstance(v, numbers.Number)
                 else type(v).__name__ for v in values}
        if len(kinds) > 1 or not kinds <= {"str", "number"}:
            raise TypeError(
                "Labels in y must be all numbers or all strings; got values of "
                f"kinds {sorted(kinds)}."
            )
        return np.unique(np.asarray(values, dtype=object if kinds == {"str"} else None))

    # -- public API --------------------------------------------------------
    def fit(self, X, y=None, **fit_params):
        """Learn the tokenisation of the catalogue and train the tower.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_items, n_features)
            The catalogue, one row per item (see the class docstring).
        y : array-like or pandas.Series, default=None
            None: contrastive self-supervision. Otherwise one label or one
            list of labels per item (a Series is aligned by item id).
        **fit_params : dict
            Passed to skorch's ``fit``.

        Returns
        -------
        self : ContentEncoder
        """
        self._check_params()
        is_frame = isinstance(X, pd.DataFrame)
        frame = self._check_items(X, reset=True)
        self.device_ = self._resolve_device()
        warm = bool(self.warm_start) and bool(getattr(self, "initialized_", False))
        objective, classes = getattr(self, "objective_", None), getattr(self, "classes_", None)
        target = self._encode_target(frame, y, is_frame)
        if warm and (self.objective_ != objective or (
                classes is not None and not np.array_equal(classes, self.classes_))):
            self.objective_, self.classes_ = objective, classes
            raise ValueError(
                "warm_start=True continues training the same network: the objective "
                "and the labels must stay the same as in the first fit."
            )
        if not warm:  # warm_start keeps the tokenisation the network was built on
            self._fit_features(frame, is_frame)
        feats = self._featurize_frame(frame)
        with self._seeded(self._seed()), self._on_device():
            if not warm:
                self.initialize()
            NeuralNet.partial_fit(self, feats, target, **fit_params)
        return self

    @available_if(lambda self: False)
    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Not supported: the tokenisation is learned from the whole catalogue."""

    def featurize(self, X):
        """Feature tensors of catalogue rows, the input of ``module_``.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_items, n_features)
            Catalogue rows with the columns seen in ``fit``.

        Returns
        -------
        features : dict of str -> torch.Tensor
            One row per item, on the CPU: ``"text"`` (LongTensor ``(n, L)``),
            ``"tags"`` (LongTensor ``(n, T)``), ``"numeric"`` (FloatTensor
            ``(n, n_numeric)``), ``"pretrained"`` (FloatTensor ``(n, dim)``),
            ``"vectors"`` (FloatTensor ``(n, sum(vector_dims_))``), each when
            the catalogue has such input.
        """
        check_is_fitted(self)
        return self._featurize_frame(self._check_items(X, reset=False))

    def featurize_text(self, texts):
        """Feature tensors of free texts (e.g. search queries) for ``module_``.

        Parameters
        ----------
        texts : list of str
            Missing values (None, NaN) are read as empty text.

        Returns
        -------
        features : dict of str -> torch.Tensor
            ``{"text": LongTensor (n, L)}``, or ``{"pretrained": FloatTensor
            (n, dim)}`` for ``tower="pretrained"``.
        """
        check_is_fitted(self)
        if isinstance(texts, (str, bytes)) or not hasattr(texts, "__len__"):
            raise TypeError(f"texts must be a list of strings; got {type(texts).__name__}.")
        frame = pd.DataFrame({"query": pd.Series(list(texts), dtype=object)})
        docs = text_values(frame, "query")
        if self.pretrained_ is not None:
            return {"pretrained": torch.from_numpy(self.pretrained_.encode(docs))}
        if self.tokenizer_ is None:
            raise ValueError(
                "This ContentEncoder was fitted without text or list columns: it "
                "has no text tower to encode free text with."
            )
        if self.tower == "bag":
            indptr, ids = self.tokenizer_.tokenize(docs)
        else:
            indptr, ids = self.tokenizer_.tokenize_words(docs)
        return {"text": torch.from_numpy(
            pad_rows(indptr, ids, self.max_length, spread=self.tower == "bag"))}

    def _embed(self, feats):
        with self._on_device(), torch.no_grad():
            z = self.forward(feats, training=False)
        return z.numpy().astype(np.float32, copy=False)

    def transform(self, X):
        """Item embeddings.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_items, n_features)
            Catalogue rows with the columns seen in ``fit``.

        Returns
        -------
        embeddings : ndarray of shape (n_items, module__d_model), float32
        """
        check_is_fitted(self)
        return self._embed(self.featurize(X))

    def transform_text(self, texts):
        """Embeddings of free texts in the item space, shape ``(n, d_model)``."""
        return self._embed(self.featurize_text(texts))

    @available_if(_supervised)
    def predict_proba(self, X):
        """Label probabilities of items (supervised fits only).

        Softmax over ``classes_`` for one label per item, independent
        sigmoids for lists of labels.

        Returns
        -------
        proba : ndarray of shape (n_items, n_classes)
        """
        check_is_fitted(self)
        feats = self.featurize(X)
        with self._on_device(), torch.no_grad():
            self._set_training(False)
            logits = torch.cat([
                self.head_(self.infer({k: v[s: s + 1024] for k, v in feats.items()})).cpu()
                for s in range(0, len(next(iter(feats.values()))), 1024)
            ])
        fn = torch.sigmoid if self.objective_ == "multilabel" else (lambda t: torch.softmax(t, 1))
        return fn(logits).numpy()

    @available_if(_supervised)
    def predict(self, X):
        """Most likely label per item, or a 0/1 indicator matrix for lists of labels."""
        proba = self.predict_proba(X)
        if self.objective_ == "multilabel":
            return (proba >= 0.5).astype(np.int64)
        return self.classes_[proba.argmax(axis=1)]

    @property
    def _n_features_out(self):
        return self.module_.d_out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.target_tags.required = False
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
