"""IntentRecommender: a sequential recommender network wrapped with skorch.

This module holds the estimator: its parameters, ``fit``/``partial_fit``,
the skorch training and validation steps, ranking, ``transform`` and
``predict_proba``, persistence. What it trains on is built in ``_data``, the
losses live in ``_losses``, context scaling in ``_context``, item content
(the hybrid item table, catalogue updates, queries) in ``_content``, the
towers in ``_modules``.
"""

import pickle
import warnings
from contextlib import nullcontext
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.base import TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Options, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping, PassthroughScoring
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

from .._topk import top_k_vectors
from .._torch import TorchMixin, with_skorch_params
from ..base import _CHUNK_SCORES, Queries, RecommenderMixin
from ..utils._param_validation import NumberInterval, TorchDevice, TorchModuleClass
from ..utils._sequences import check_item_ids
from ._content import (
    _HybridItems,
    catalogue_ids,
    fit_item_encoder,
    hybrid_items,
    query_features,
    resolve_query_column,
)
from ._context import context_features, fit_context
from ._data import Holdout, Windows, csr, training_data
from ._distributed import DistributedSync, shard_iterator, shared_seed, world
from ._losses import LOSSES, ItemTable
from ._modules import TOWERS
from ._optim import LazyAdam

__all__ = ["IntentRecommender"]

# loss="auto": the full softmax up to this many items, the sampled one above
_AUTO_CE_ITEMS = 5000

_SKORCH_DOCS = {
    "max_epochs": "An epoch is a pass over the training sequences.",
    "batch_size": """
        Here: training sequences per batch, and the rows per forward pass
        when predicting (``iterator_valid__batch_size`` overrides it there).
        """,
    "warm_start": """
        Here: when the model is fitted, ``fit`` continues training the same
        network on the new data; the vocabulary is kept (new items are
        ignored, rows with an unknown target are skipped).
        """,
    "verbose": """
        1 prints the epoch table (train_loss, valid_loss, valid_ndcg,
        duration); add ``callbacks=[skorch.callbacks.ProgressBar()]`` (needs
        tqdm) for a progress bar within long epochs.
        """,
}


@with_skorch_params(_SKORCH_DOCS)
class IntentRecommender(RecommenderMixin, TransformerMixin, TorchMixin, NeuralNet):
    """Sequential recommender: a history is read into an intent vector that scores items.

    A PyTorch network (a SASRec-style transformer by default, or a GRU or
    LSTM) wrapped with skorch. ``fit`` takes queries ``X`` (histories of item
    ids, oldest first) and their next items ``y``; each row's full sequence
    (history + target) is a training sequence and every position of it is a
    training target under a causal objective: the network reads items
    ``s[:t]`` and predicts ``s[t]``, for every ``t`` at once. Sequences
    longer than ``max_len + 1`` are cut into windows, so every event is a
    target once. Several rows of one user that are prefixes of each other
    (from ``queries_from_log(n_last>1)``) give one sequence.

    Items are encoded internally: ``classes_`` holds the item ids, the
    network sees ``code + 1`` (0 is the padding). The item embeddings double
    as the output layer; the score of an item is the dot product of its
    embedding with the intent vector (:meth:`transform`).

    Input rules (those of every recommender in this package): unknown items
    in a history are ignored at prediction time; a row whose history has no
    known item is scored by training popularity; an unknown target in
    ``fit`` extends the vocabulary; ids must be all integers or all strings.
    In ``fit``, a row with an empty history contributes its target to the
    vocabulary and the popularity counts but no training pair; ``fit``
    raises if no sequence holds two items.

    Parameters
    ----------
    module : {"transformer", "gru", "lstm"} or SequenceTower subclass, default="transformer"
        The tower. Its sizes are ``module__*`` parameters:
        ``module__d_model`` (64), ``module__n_layers`` (2 for the
        transformer, 1 for the recurrent towers), ``module__n_heads`` (1,
        transformer), ``module__dropout`` (0.2), ``module__layout``
        (``"pre_ln"`` or ``"sasrec"``, transformer). ``n_items``,
        ``max_len`` and ``n_context`` are filled in by the recommender.
    criterion : torch loss class, default=torch.nn.CrossEntropyLoss
        Applied to the logits for ``loss="ce"`` and ``"sampled_softmax"``
        (``criterion__label_smoothing`` etc. reach it).
    {skorch_params: optimizer, lr, max_epochs, batch_size}
    max_len : int, default=50
        Longest history the network reads; older items of a history are
        ignored for scoring (they are still excluded by ``exclude_seen``).
    loss : {"auto", "ce", "sampled_softmax", "bce"}, default="auto"
        ``"ce"``: full-softmax cross-entropy over every item; its cost per
        training position grows with the catalogue. ``"sampled_softmax"``:
        cross-entropy over the target and ``n_negatives`` items shared by
        the batch, drawn by popularity, with the log-Q correction (Bengio &
        Senecal, 2008; Yi et al., 2019); with ``sparse_items`` a step costs
        the same for 10^4 or 10^6 items. ``"bce"``: SASRec's binary
        cross-entropy with ``n_negatives`` uniformly drawn negatives per
        position (the positive term plus the mean negative term), for
        comparison. ``"auto"``: ``"ce"`` for catalogues of up to 5,000 items
        (``classes_``), ``"sampled_softmax"`` above; the choice is
        ``loss_``. On ml-latest-small (9.7k items) a sampled-softmax epoch
        is several times faster than a full-softmax one, and a fit with
        the defaults takes minutes (see the "Fits with defaults"
        benchmark).
    n_negatives : int or "auto", default="auto"
        Negatives per batch (sampled softmax) or per position (BCE).
        "auto": 1024 for the sampled softmax, 256 for BCE.
    sparse_items : "auto" or bool, default="auto"
        Row-wise (sparse) updates of the item table: a training step then
        reads and updates only the rows of its batch's items and negatives,
        so its cost does not grow with the catalogue. The item embedding
        gets sparse gradients (``nn.Embedding(sparse=True)``) and the
        default Adam becomes :class:`LazyAdam` (torch's Adam for the dense
        layers; for the item table, lazy updates of the touched rows and
        their moments). "auto": on for the losses that score sampled items
        (``"sampled_softmax"``, ``"bce"``) with ``optimizer=torch.optim.Adam``
        and an ID-only model; off otherwise (``"ce"`` touches every item at
        every step). True with another optimizer needs one that accepts
        sparse gradients (``torch.optim.SGD``, ``Adagrad``, ``SparseAdam``).
    validation : float or None, default=None
        Share of the training sequences, in (0, 1], whose last item is held
        out; after every epoch the NDCG@10 of those items (their histories
        as queries, seen items excluded, every item ranked) is recorded in
        ``history_`` as ``valid_ndcg`` and their cross-entropy as
        ``valid_loss``. Use with :class:`RankingEarlyStopping`. The held-out
        items are not trained on. None: no holdout.
    context_columns : None, "auto" or list of str, default=None
        Numeric columns of ``X`` fed to the intent: standardised, projected
        by a linear layer and added to the sequence representation. "auto"
        takes every numeric column except ``user_id``, ``offset``,
        ``timestamp`` and ``prev_timestamp`` (also with a ``ColumnTransformer``
        prefix such as ``remainder__``). None: histories only. Values must
        be finite, and within 10^4 standard deviations of the training mean
        once standardised (at fit and later); anything else raises a
        ``ValueError`` naming the column and row, instead of NaN scores.
    item_encoder : ContentEncoder or None, default=None
        Content tower for the items (cold start). When given, an item's
        vector is its ID embedding plus a projection of the content
        embedding of its catalogue row (``items``), trained jointly. The
        encoder is cloned and set up inside ``fit`` (the instance passed here
        is never fitted); its parameters are reachable as
        ``item_encoder__*``. Catalogue items never seen in training rank by
        their content alone. In ``module_`` the content tower's parameters
        are named ``item_embedding.content.*``: skorch's
        ``optimizer__param_groups=[("item_embedding.content.*", {"lr": 5e-4})]``
        gives it a learning rate of its own (see the cold-start guide).
    items : pandas.DataFrame, array-like of item ids or None, default=None
        The catalogue. With ``item_encoder``: a DataFrame indexed by item id
        holding every item of ``X`` and ``y`` (else ``ValueError``), with
        the columns the encoder reads (text, lists, numbers, precomputed
        vectors such as image embeddings: see ``ContentEncoder``). Without
        it, ids only: ``classes_`` then covers the catalogue, but items never
        seen in training cannot be ranked meaningfully.
    freeze_item_encoder : bool, default=False
        Keep the content tower's weights fixed (only the projection and the
        sequence network train). The tower is then what the encoder's own
        ``fit`` made of it: with ``item_encoder=ContentEncoder(max_epochs=0)``
        its trainable weights keep their random initial values.
    id_dropout : float in [0, 1), default=0.0
        Probability of dropping an item's ID embedding during training, so
        the content part learns to stand alone (only with ``item_encoder``).
        On MovieLens, 0.1 cost ranking quality on trained items and did not
        help new ones, which are scored through ``cold_neighbors``.
    cold_neighbors : int, default=10
        How items never seen in training (cold catalogue items, items added
        by :meth:`update_items`) are scored, with ``item_encoder``: by the
        similarity-weighted mean vector of their ``cold_neighbors`` nearest
        trained items in the content tower's space (cosine), scaled to
        ``cold_scale`` times those items' mean norm, so that they score on
        the scale of trained items. 0 scores them by their projected
        content alone, which ranks them far below trained items.
    cold_scale : float, default=0.9
        Strength of new items' vectors relative to their neighbours'. It
        sets how often new items are recommended, on every query: higher
        values find more of the right new items and push more trained items
        out of the lists (see the cold-start benchmark for the trade-off).
        ``cold_neighbors`` and ``cold_scale`` act at inference: on a fitted
        model ``set_params`` applies them at once, without refitting, so
        they can be tuned on held-out queries cheaply.
    query_column : str or None, default=None
        Column of ``X`` holding a free-text query typed at the moment of the
        query; it is embedded with the content tower's text model and added
        to the intent at the last position. Needs ``item_encoder``. Every
        row of ``X`` with a query is a training example for it, including
        rows that are prefixes of a longer row of the same user (trained at
        their last position only), so train on every cut point:
        ``queries_from_log(log, n_last=None)`` split by
        ``leave_last_out_split(X, y, train="all")``.
    amp : "auto" or bool, default="auto"
        bfloat16 autocast during training: "auto" turns it on on CUDA devices
        that support bf16, off elsewhere. Scoring always runs in float32.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batch order, dropout, negatives and the
        holdout (the global torch RNG is restored after ``fit``). Two fits
        with the same int give identical recommendations on the CPU, in any
        joblib backend: seeded fits in threads of one process (the
        threading backend, Dask workers with several threads) run one at a
        time, each from its own seed, so they do not run in parallel
        there (processes do). Unseeded fits (None) run at once and draw
        from torch's global RNG, as does other code of the process: one
        running in another thread during a seeded fit changes that fit's
        draws. See :ref:`reproducibility`.
    device : str or torch.device, default="auto"
        "auto" picks CUDA when available; resolved on every load, so a model
        fitted on a GPU and pickled loads and predicts on a CPU-only machine.
        An explicit "cuda" on a machine without one raises a ``ValueError``
        at fit.
    distributed : "auto" or bool, default="auto"
        Data-parallel training when the script runs under a distributed
        launch (``torchrun --nproc_per_node N script.py``): each process
        trains on its share of the shuffled training windows, gradients
        are averaged every step and every process ends with the same
        weights. ``batch_size`` is then the global batch (each process
        takes ``batch_size / N``), and every process uses rank 0's
        ``random_state``. "auto": when a ``torch.distributed`` process group
        of 2 or more processes exists, or ``WORLD_SIZE`` > 1 (the group is
        then initialised: gloo on the CPU, NCCL on CUDA). True: the same,
        but raise outside a launch. False: every process trains alone. See
        :ref:`distributed_training` (which rank saves, seeds, early stopping).
    train_split : None
        skorch's random split does not apply to sequences; use
        ``validation`` instead.
    {skorch_params: warm_start, verbose}
    **kwargs
        Other skorch parameters: ``module__*``, ``optimizer__*``,
        ``criterion__*``, ``iterator_train__*``, ``callbacks``, ... (see
        :class:`skorch.NeuralNet`).

    Attributes
    ----------
    classes_ : ndarray of shape (n_items,)
        Known item ids, sorted.
    item_counts_ : ndarray of shape (n_items,)
        Training occurrences of each item (the popularity fallback).
    context_columns_ : list of str
        Context columns used (empty without context).
    context_scaler_ : sklearn.preprocessing.StandardScaler or None
        Standardises the context columns (fitted on the training rows);
        None without context.
    max_len_ : int
        ``max_len`` the network was built with.
    item_encoder_ : ContentEncoder or None
        The fitted clone of ``item_encoder``, holding the jointly trained
        content weights; None for an ID-only model.
    items_ : pandas.DataFrame or None
        The catalogue rows of ``classes_`` (content models).
    query_column_ : str or None
        The query column used.
    device_ : str
        Device the network lives on ("cpu", "cuda", ...).
    module_ : SequenceTower
        The fitted tower.
    loss_ : str
        The loss trained with (``loss``, or what ``"auto"`` chose).
    criterion_ : torch.nn.Module
        The loss ``loss_`` picks (``_losses.FullSoftmaxLoss``,
        ``SampledSoftmaxLoss`` or ``BCELoss``), holding the instantiated
        ``criterion`` as ``criterion_.criterion``.
    optimizer_ : torch.optim.Optimizer
        The optimizer.
    history_ : skorch.history.History
        Per-epoch records: ``train_loss``, ``valid_loss``, ``valid_ndcg``,
        ``dur``, ...
    callbacks_ : list of (str, Callback)
        Default and user callbacks, initialised.
    initialized_ : bool
        Whether the network is built.

    See Also
    --------
    RankingEarlyStopping : Early stopping on ``valid_ndcg``.
    sklearn_recsys.baselines.Popularity : The baseline every model must beat.

    Notes
    -----
    The transformer follows SASRec (Kang & McAuley, 2018) with full-softmax
    cross-entropy, which is much stronger than its original sampled BCE loss
    (Klenitskiy & Vasilev, "Turning Dross Into Gold Loss: is BERT4Rec really
    better than SASRec?", RecSys 2023).

    Examples
    --------
    >>> from sklearn_recsys.intent import IntentRecommender
    >>> X = [[1, 2, 3], [2, 3, 4], [1, 2], [3, 4]] * 8
    >>> y = [4, 5, 3, 5] * 8
    >>> rec = IntentRecommender(max_epochs=20, lr=0.01, max_len=4, verbose=0,
    ...                         module__d_model=8, random_state=0, device="cpu")
    >>> rec.fit(X, y).recommend([[1, 2]], k=2)
    array([[3, 4]])
    >>> rec.transform([[1, 2]]).shape
    (1, 8)
    """

    _parameter_constraints: dict = {
        "module": [StrOptions(set(TOWERS)), TorchModuleClass(torch.nn.Module, "SequenceTower")],
        "criterion": [callable],
        "optimizer": [callable],
        "lr": [NumberInterval(Real, 0, None, closed="left")],
        "max_epochs": [NumberInterval(Integral, 0, None, closed="left")],
        "batch_size": [NumberInterval(Integral, 1, None, closed="left"), Options(Integral, {-1})],
        "max_len": [NumberInterval(Integral, 1, None, closed="left")],
        "loss": [StrOptions({"auto", *LOSSES})],
        "n_negatives": [NumberInterval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "sparse_items": [StrOptions({"auto"}), "boolean"],
        "validation": [None, NumberInterval(Real, 0, 1, closed="right")],
        "context_columns": [None, StrOptions({"auto"}), list, tuple],
        "item_encoder": [None, HasMethods(["fit", "featurize"])],
        "items": [None, "array-like"],
        "freeze_item_encoder": ["boolean"],
        "id_dropout": [NumberInterval(Real, 0, 1, closed="left")],
        "cold_neighbors": [NumberInterval(Integral, 0, None, closed="left")],
        "cold_scale": [NumberInterval(Real, 0, None, closed="neither")],
        "query_column": [None, str],
        "amp": [StrOptions({"auto"}), "boolean"],
        "random_state": ["random_state"],
        "device": [TorchDevice()],
        "distributed": [StrOptions({"auto"}), "boolean"],
        "train_split": [None],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
    }
    _initialize_needs = (
        "classes_",
        "IntentRecommender sizes its network from the item vocabulary: "
        "call fit(X, y), or load_params(f_vocabulary=..., f_params=...), "
        "instead of initialize().",
    )

    def __init__(
        self,
        module="transformer",
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=3e-3,
        max_epochs=50,
        batch_size=128,
        *,
        max_len=50,
        loss="auto",
        n_negatives="auto",
        sparse_items="auto",
        validation=None,
        context_columns=None,
        item_encoder=None,
        items=None,
        freeze_item_encoder=False,
        id_dropout=0.0,
        cold_neighbors=10,
        cold_scale=0.9,
        query_column=None,
        amp="auto",
        random_state=None,
        device="auto",
        distributed="auto",
        train_split=None,
        warm_start=False,
        verbose=1,
        **kwargs,
    ):
        kwargs.setdefault("iterator_train__shuffle", True)
        super().__init__(
            module, criterion, optimizer=optimizer, lr=lr, max_epochs=max_epochs,
            batch_size=batch_size, train_split=train_split, warm_start=warm_start,
            verbose=verbose, device=device, **kwargs,
        )
        self.max_len = max_len
        self.loss = loss
        self.n_negatives = n_negatives
        self.sparse_items = sparse_items
        self.validation = validation
        self.context_columns = context_columns
        self.item_encoder = item_encoder
        self.items = items
        self.freeze_item_encoder = freeze_item_encoder
        self.id_dropout = id_dropout
        self.cold_neighbors = cold_neighbors
        self.cold_scale = cold_scale
        self.query_column = query_column
        self.amp = amp
        self.random_state = random_state
        self.distributed = distributed

    # -- parameters ----------------------------------------------------------
    def set_params(self, **params):
        """Set parameters; ``item_encoder__*`` reach the nested ContentEncoder."""
        nested = {k.split("__", 1)[1]: params.pop(k) for k in list(params) if k.startswith("item_encoder__")}
        if "item_encoder" in params:
            self.item_encoder = params.pop("item_encoder")
        if nested:
            if self.item_encoder is None:
                raise ValueError(
                    f"Cannot set {sorted('item_encoder__' + k for k in nested)}: item_encoder is None."
                )
            self.item_encoder.set_params(**nested)
        if params:
            super().set_params(**params)
        hybrid = self._hybrid()
        if hybrid is not None and {"cold_neighbors", "cold_scale"} & set(params):
            # an inference-time rule: a fitted model applies it at once
            hybrid.cold_neighbors = int(self.cold_neighbors)
            hybrid.cold_scale = float(self.cold_scale)
            hybrid.clear_cache()
        return self

    def _check_params(self):
        """The declared constraints, then the rules linking two parameters."""
        self._validate_own_params()
        if self.item_encoder is not None:
            if self.items is None:
                raise ValueError(
                    "item_encoder needs items=: the catalogue DataFrame indexed by item id."
                )
            if not isinstance(self.items, pd.DataFrame):
                raise TypeError(
                    "With item_encoder, items must be the catalogue as a DataFrame indexed "
                    f"by item id; got {type(self.items).__name__}."
                )
        if self.query_column is not None and self.item_encoder is None:
            raise ValueError(
                "query_column needs an item_encoder: queries are embedded with its text tower."
            )
        callbacks = self.callbacks if isinstance(self.callbacks, (list, tuple)) else []
        uses_holdout = any(
            isinstance(cb, EarlyStopping) and str(cb.monitor).startswith("valid_")
            for cb in (c[1] if isinstance(c, tuple) else c for c in callbacks)
        )
        if uses_holdout and self.validation is None:
            raise ValueError(
                "An early-stopping callback monitors a validation score but "
                "validation=None: set validation= (e.g. 1.0 holds out the last item "
                "of every training sequence)."
            )

    # -- skorch set-up -------------------------------------------------------
    @property
    def _default_callbacks(self):
        callbacks = list(super()._default_callbacks)
        at = [name for name, _ in callbacks].index("print_log")
        callbacks.insert(at, ("valid_ndcg", PassthroughScoring(name="valid_ndcg", lower_is_better=False)))
        if world(self) is not None:  # first: it averages what the others score
            callbacks.insert(0, ("distributed", DistributedSync()))
        return callbacks

    def initialize_module(self):
        kwargs = self.get_params_for("module")
        tower = TOWERS.get(self.module, self.module) if isinstance(self.module, str) else self.module
        for name in ("n_items", "max_len", "n_context"):
            if name in kwargs:
                raise ValueError(
                    f"module__{name} is set by IntentRecommender itself; "
                    + ("use max_len=." if name == "max_len" else "do not pass it.")
                )
        # the fitted max_len_: the training windows and the scoring padding
        # were built with it, also when set_params re-initialises the module
        max_len = getattr(self, "max_len_", self.max_len)
        kwargs.update(n_items=len(self.classes_), max_len=max_len, n_context=len(self.context_columns_))
        module = tower(**kwargs)
        encoder = getattr(self, "item_encoder_", None)
        if encoder is not None:
            module = hybrid_items(
                module, encoder, self.items_, self.item_counts_ > 0,
                frozen=self.freeze_item_encoder, id_dropout=self.id_dropout,
                query=getattr(self, "query_column_", None) is not None,
                cold_neighbors=self.cold_neighbors, cold_scale=self.cold_scale,
            )
        elif self._sparse_items() and isinstance(getattr(module, "item_embedding", None), torch.nn.Embedding):
            module.item_embedding.sparse = True
        self.module_ = module
        return self

    def _loss(self):
        """The loss ``loss`` stands for with the fitted vocabulary."""
        if self.loss != "auto":
            return self.loss
        return "ce" if len(self.classes_) <= _AUTO_CE_ITEMS else "sampled_softmax"

    def _sparse_items(self):
        """Whether the item table takes sparse (row-wise) updates."""
        if self.sparse_items == "auto":
            return (
                LOSSES[self._loss()].samples_items
                and self.optimizer in (torch.optim.Adam, LazyAdam)
                and getattr(self, "item_encoder_", None) is None
            )
        return bool(self.sparse_items)

    def initialize_optimizer(self, *args, **kwargs):
        """skorch's optimizer; Adam becomes LazyAdam with sparse item updates."""
        if not (self._sparse_items() and self.optimizer is torch.optim.Adam):
            return super().initialize_optimizer(*args, **kwargs)
        named = self.get_all_learnable_params()
        args, kwargs = self.get_params_for_optimizer("optimizer", named)
        self.optimizer_ = LazyAdam(*args, **kwargs)
        return self

    def initialize_criterion(self):
        """The loss ``loss`` picks, around the instantiated ``criterion``."""
        criterion = self.initialized_instance(self.criterion, self.get_params_for("criterion"))
        self.loss_ = self._loss()
        n_negatives = self.n_negatives
        if n_negatives == "auto":
            n_negatives = 1024 if self.loss_ == "sampled_softmax" else 256
        self.criterion_ = LOSSES[self.loss_](criterion, n_negatives=n_negatives)
        return self

    def _autocast(self):
        dev = torch.device(self.device_)
        on = self.amp is True or (
            self.amp == "auto" and dev.type == "cuda" and torch.cuda.is_bf16_supported()
        )
        return torch.autocast(dev.type, dtype=torch.bfloat16) if on else nullcontext()

    def _hybrid(self):
        emb = getattr(getattr(self, "module_", None), "item_embedding", None)
        return emb if isinstance(emb, _HybridItems) else None

    def _context(self, frame):
        return context_features(frame, self.context_columns_, self.context_scaler_)

    def _query_features(self, frame, rows=None):
        return query_features(self.item_encoder_, frame, self.query_column_, rows)

    # -- catalogue -----------------------------------------------------------
    def update_items(self, items):
        """Extend the catalogue after fit: new items rank through their content.

        Every item of ``classes_`` must still be in ``items`` (the catalogue
        only grows; use ``recommend(candidates=...)`` to rank a subset).
        New ids join ``classes_`` (sorted; codes of known items may shift),
        every item's content vector is recomputed with the fitted content
        tower, and new items get no ID embedding (content only), like items
        of the catalogue never seen in training. The network is not
        retrained; refit to learn from new interactions.

        Parameters
        ----------
        items : pandas.DataFrame
            The new catalogue, indexed by item id, with the columns of the
            catalogue given to ``fit``.

        Returns
        -------
        self : IntentRecommender
        """
        check_is_fitted(self)
        hybrid = self._hybrid()
        if hybrid is None:
            raise ValueError(
                "update_items needs a model fitted with item_encoder= (content "
                "vectors); an ID-only model cannot score items it was not trained on."
            )
        if not isinstance(items, pd.DataFrame) or not items.index.is_unique:
            raise TypeError("items must be a catalogue DataFrame indexed by unique item ids.")
        gone = ~self._item_index_.isin(items.index)
        if gone.any():
            raise ValueError(
                f"update_items needs every item of classes_ in the new catalogue; "
                f"{int(gone.sum())} are missing (first: {self.classes_[gone][0]!r})."
            )
        ids, _ = check_item_ids(items.index.to_numpy(), what="catalogue item ids", kind=self._item_kind_)
        classes = np.unique(np.concatenate([self.classes_, ids]).astype(self.classes_.dtype))
        old_codes = pd.Index(classes).get_indexer(self.classes_)
        counts = np.zeros(len(classes), dtype=np.int64)
        counts[old_codes] = self.item_counts_
        self.classes_ = classes
        self.item_counts_ = counts
        self.items_ = items.loc[classes]
        hybrid.extend(old_codes, len(classes), self.item_encoder_.featurize(self.items_))
        self.module_.n_items = len(classes)
        with self._on_device():
            self.initialize_optimizer()
        return self

    # -- fitting -------------------------------------------------------------
    def fit(self, X, y, **fit_params):
        """Fit the network on queries and their next items.

        Parameters
        ----------
        X : DataFrame with a ``history`` column, or sequence of sequences
            Training queries; with ``context_columns``, a DataFrame holding
            them.
        y : array-like of shape (n_rows,)
            Next item of each row.
        **fit_params : dict
            Not supported: any raises ``TypeError``.

        Returns
        -------
        self : IntentRecommender
        """
        warm = bool(self.warm_start and self.initialized_ and hasattr(self, "classes_"))
        return self._fit(X, y, warm, fit_params)

    def partial_fit(self, X, y, classes=None, **fit_params):
        """Train for ``max_epochs`` more epochs, keeping the network if fitted.

        Parameters
        ----------
        X : DataFrame with a ``history`` column, or sequence of sequences
            Training queries.
        y : array-like of shape (n_rows,)
            Next item of each row.
        classes : None
            Unused; the vocabulary is fixed by the first fit.
        **fit_params : dict
            Not supported: any raises ``TypeError``.

        Returns
        -------
        self : IntentRecommender
        """
        warm = bool(self.initialized_ and hasattr(self, "classes_"))
        return self._fit(X, y, warm, fit_params)

    def _fit(self, X, y, warm, fit_params):
        if fit_params:
            raise TypeError(f"fit got unexpected keyword argument(s) {sorted(fit_params)}.")
        self._check_params()
        seed = shared_seed(self, self._seed())  # rank 0's in a distributed launch
        if warm:
            if self.max_len != self.max_len_:
                raise ValueError(
                    f"max_len changed from {self.max_len_} to {self.max_len} since the "
                    "network was built; refit without warm_start."
                )
            queries, y_codes = self._encode_warm(X, y)
        else:
            queries, y_codes = self._fit_queries(X, y, items=catalogue_ids(self.items))
            if self.item_encoder is None:
                self.item_encoder_ = self.items_ = None
            else:
                self.item_encoder_, self.items_ = fit_item_encoder(
                    self.item_encoder, self.items, self.classes_)
            self.query_column_ = resolve_query_column(self.query_column, queries.frame)
            self.context_columns_, self.context_scaler_ = fit_context(
                self.context_columns, queries.frame)
            self.max_len_ = self.max_len
            self.device_ = self._resolve_device()
        data = self._training_data(queries, y_codes, check_random_state(seed))
        with self._seeded(seed), self._on_device():
            if not warm:
                self.initialize()
            if not hasattr(self.module_, "item_vectors"):
                raise TypeError(
                    f"The tower {type(self.module_).__name__} has no item_vectors() "
                    "method; subclass sklearn_recsys.intent.SequenceTower."
                )
            hybrid = self._hybrid()
            self.criterion_.set_popularity(
                torch.as_tensor(self.item_counts_, dtype=torch.float32, device=self.device_),
                None if hybrid is None else torch.as_tensor(self.item_counts_ > 0, device=self.device_),
            )
            NeuralNet.partial_fit(self, data, None)
            losses = [e["train_loss"] for e in self.history_ if "train_loss" in e]
            if losses and not np.isfinite(losses[-1]):
                first = next(i for i, v in enumerate(losses) if not np.isfinite(v))
                warnings.warn(
                    f"The training loss became {losses[first]} at epoch {first + 1}: the "
                    "fit diverged and the model cannot score (recommend raises). Lower lr, "
                    "or check the context columns for extreme values.",
                    RuntimeWarning, stacklevel=3,
                )
            if hybrid is not None and not hybrid.frozen:
                # the jointly trained content tower back into item_encoder_
                self.item_encoder_.module_.load_state_dict(hybrid.content.state_dict())
        return self

    def _encode_warm(self, X, y):
        """Encode new data with the fitted vocabulary (warm start)."""
        queries = self._encode_queries(X)
        if isinstance(y, pd.DataFrame):
            y = y.iloc[:, 0]
        y = y.to_numpy() if isinstance(y, (pd.Series, pd.Index)) else np.asarray(
            y, dtype=object if len(y) and isinstance(y[0], str) else None
        )
        if y.ndim != 1 or len(y) != len(queries):
            raise ValueError(f"y must be 1-D with one item id per row of X ({len(queries)}); got shape {y.shape}.")
        y_codes = self._encode_items(y, what="y (target item ids)")
        keep = np.flatnonzero(y_codes >= 0)
        if len(keep) < len(y_codes):
            warnings.warn(
                f"warm_start: {len(y_codes) - len(keep)} row(s) have a target unknown "
                "to the fitted vocabulary; they are skipped.", UserWarning, stacklevel=3,
            )
            frame = None if queries.frame is None else queries.frame.iloc[keep]
            queries = Queries(*csr([queries.row(i) for i in keep]), frame)
            y_codes = y_codes[keep]
        self._count_items(queries, y_codes)
        return queries, y_codes

    def _training_data(self, queries, y_codes, rng):
        query = getattr(self, "query_column_", None) is not None
        return training_data(
            queries, y_codes,
            self._training_rows(queries, y_codes), self._training_sequences(queries, y_codes),
            self._context(queries.frame), max_len=self.max_len_, validation=self.validation,
            rng=rng,
            query_texts=queries.frame[self.query_column_].to_numpy(dtype=object) if query else None,
            query_features=(lambda rows: self._query_features(queries.frame, rows)) if query else None,
        )

    def get_split_datasets(self, X, y=None, **fit_params):
        """The training windows and their holdout (``fit`` passes the windows as ``X``)."""
        if isinstance(X, Windows):
            return X, X.holdout
        return super().get_split_datasets(X, y, **fit_params)

    def get_iterator(self, dataset, training=False):
        if isinstance(dataset, Holdout):
            kwargs = self.get_params_for("iterator_valid")
            # scoring a batch is cheap next to a training step
            kwargs.setdefault("batch_size", max(self.batch_size, 512))
            if kwargs["batch_size"] == -1:
                kwargs["batch_size"] = len(dataset)
            kwargs["collate_fn"] = dataset.collate  # batches carry their seen items
            return self.iterator_valid(dataset, **kwargs)
        shard = shard_iterator(self, dataset) if training else None
        return shard if shard is not None else super().get_iterator(dataset, training=training)

    # -- training steps ------------------------------------------------------
    def infer(self, x, **fit_params):
        """Run the tower on a batch: hidden states of every position.

        ``x`` is a dict with ``items`` (left-padded codes + 1) and, with
        context, ``context``. Leading columns that are padding in every row
        are cut first; ``last_only=True`` returns the last position only.
        """
        last_only = fit_params.pop("last_only", False)
        items = to_tensor(x["items"], device=self.device_)
        n_pad = int((items == 0).sum(1).min())
        if 0 < n_pad:
            items = items[:, min(n_pad, items.shape[1] - 1):]
        context = x.get("context")
        if context is not None:
            context = to_tensor(context, device=self.device_)
        h = self.module_(items, context, last_only=last_only)
        if x.get("query") is not None:
            q = self.module_.item_embedding.embed_queries(x["query"])
            q = q * to_tensor(x["has_query"], device=self.device_)[:, None].to(q.dtype)
            if last_only:
                h = h + q.to(h.dtype)
            else:
                h = torch.cat([h[:, :-1], (h[:, -1] + q.to(h.dtype))[:, None]], dim=1)
        return h

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        hybrid = self._hybrid()
        try:
            with self._autocast():
                if hybrid is not None:
                    hybrid.begin_step(self._step_items(Xi, yi))
                hidden = self.infer(Xi, **fit_params)
                loss = self.get_loss(hidden, yi, X=Xi, training=True)
            loss.backward()
        finally:
            if hybrid is not None:
                hybrid.end_step()
        return {"loss": loss, "y_pred": hidden}

    def _step_items(self, Xi, yi):
        """Item codes a training step reads (its batch and its negatives), or
        None when the loss reads every item: the hybrid table then computes
        one pass over the catalogue per step, else only those rows."""
        drawn = self.criterion_.draw_step()
        if drawn is None:
            return None
        items = to_tensor(Xi["items"], device=self.device_)
        y = to_tensor(yi, device=self.device_)
        return torch.cat([items[items > 0] - 1, y[y > 0] - 1, drawn])

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """``criterion_`` over every non-padding position of a batch of windows."""
        length = y_pred.shape[1]
        y = to_tensor(y_true, device=self.device_)[:, -length:]
        items = to_tensor(X["items"], device=self.device_)[:, -length:]
        keep = (y > 0) & (items > 0)
        weights = ItemTable(self.module_)
        hybrid = self._hybrid()
        mask = None if hybrid is None else hybrid.id_mask
        loss = self.criterion_(y_pred[keep], y[keep] - 1, weights, mask)
        flags = X.get("has_query") if isinstance(X, dict) else None
        if flags is not None and self.loss_ == "ce":
            # the query belongs to the last position: an extra term there
            # (trained under the full softmax only)
            last = (to_tensor(flags, device=self.device_) > 0) & (y[:, -1] > 0)
            if last.any():
                loss = loss + self.criterion_(y_pred[last, -1], y[last, -1] - 1, weights, mask)
        return loss

    def validation_step(self, batch, **fit_params):
        """Cross-entropy and NDCG@10 of the held-out last items."""
        self._set_training(False)
        Xi, yi = unpack_data(batch)
        with torch.no_grad():
            h = self.infer(Xi, last_only=True).float()
            scores = h @ self.module_.item_vectors().float().T
            target = to_tensor(yi, device=self.device_) - 1
            loss = F.cross_entropy(scores, target)
            seen = Xi["seen"]
            r = torch.from_numpy(seen.row_ids()).to(scores.device)
            scores[r, torch.from_numpy(seen.codes).to(scores.device)] = float("-inf")
            best = scores.gather(1, target[:, None])
            rank = (scores > best).sum(1)
            gain = torch.where(
                (rank < 10) & ~torch.isneginf(best[:, 0]),
                1.0 / torch.log2(rank.float() + 2.0), torch.zeros_like(h[:, 0]),
            )
        self.history.record_batch("valid_ndcg", float(gain.mean()))
        return {"loss": loss, "y_pred": h}

    # -- prediction ----------------------------------------------------------
    def _batch_rows(self):
        size = self.get_params_for("iterator_valid").get("batch_size", self.batch_size)
        return None if size == -1 else max(1, int(size))

    def _intent(self, queries):
        """Float32 intent vectors ``(n, d)`` on the model's device."""
        items = queries.padded(self.max_len_, pad=-1) + 1
        context = self._context(queries.frame)
        query = getattr(self, "query_column_", None) is not None
        step = self._batch_rows() or len(items)
        self._set_training(False)
        out = []
        with torch.no_grad():
            for start in range(0, len(items), step):
                x = {"items": torch.from_numpy(items[start:start + step])}
                if context is not None:
                    x["context"] = torch.from_numpy(context[start:start + step])
                if query:
                    rows = np.arange(start, min(start + step, len(items)))
                    x["query"], x["has_query"] = self._query_features(queries.frame, rows)
                out.append(self.infer(x, last_only=True).float())
        h = torch.cat(out)
        bad = ~torch.isfinite(h).all(dim=1)
        if bool(bad.any()):
            rows = torch.nonzero(bad).flatten()[:5].tolist()
            loss = [e.get("train_loss") for e in self.history_[-1:]] if hasattr(self, "history_") else []
            raise ValueError(
                f"The network returned non-finite intent vectors for {int(bad.sum())} of "
                f"{len(h)} rows (e.g. rows {rows}); their scores would be NaN. The last "
                f"training loss was {loss[0] if loss else 'unknown'}: a NaN loss means the "
                "training diverged (lower lr); otherwise an input of those rows is out of range."
            )
        return h

    def _score_chunk(self, queries):
        """Scores ``(n, n_items)`` as a tensor on the model's device (ranked there)."""
        h = self._intent(queries)
        with torch.no_grad():
            return h @ self.module_.item_vectors().detach().float().T

    def _topk_chunk(self, queries, k, exclude_seen, allowed):
        """Top-``k`` of a chunk: one score block when the catalogue fits in
        ``_CHUNK_SCORES``, else item blocks by decreasing vector norm that
        stop where nothing left can rank
        (:func:`~sklearn_recsys._topk.top_k_vectors`, exact), so a 10^6-item
        catalogue never needs a ``rows x n_items`` block."""
        width = max(1, _CHUNK_SCORES // max(1, len(queries)))
        if len(self.classes_) <= width:
            return super()._topk_chunk(queries, k, exclude_seen, allowed)
        empty = queries.lengths() == 0
        h = self._intent(queries)
        with torch.no_grad():
            return top_k_vectors(
                h, self.module_.item_vectors().detach().float(), k, width=width,
                seen=(queries.row_ids(), queries.codes) if exclude_seen else None,
                allowed=allowed, empty=empty,
                fallback=self._fallback_scores() if empty.any() else None,
            )

    def _chunk_rows(self):
        return min(super()._chunk_rows(), 4096)

    def _rank_rows(self):
        # items are scored in blocks, so the rows per chunk need not shrink
        # as the catalogue grows
        return 4096

    def transform(self, X):
        """Intent vectors: the representation of each query.

        Parameters
        ----------
        X : DataFrame with a ``history`` column, or sequence of sequences
            Queries. Unknown items are ignored; a row with no known item gets
            the vector of an empty history (untrained; ``recommend`` ranks
            such rows by popularity instead).

        Returns
        -------
        intents : ndarray of shape (n_rows, d_model), float32
            Item scores are ``intents @ self.item_vectors().T``. A
            DataFrame with columns ``intent0``, ``intent1``, ... (and the
            index of ``X``) after ``set_output(transform="pandas")``.
        """
        check_is_fitted(self)
        queries = self._encode_queries(X)
        return self._intent(queries).cpu().numpy()

    def item_vectors(self):
        """Item vectors: the vectors ``recommend`` scores intents against.

        ``decision_function(X)`` (and the ranking of ``recommend``) is
        ``transform(X) @ item_vectors().T`` for every row with a known
        history item. With an ``item_encoder`` this is the hybrid item table
        at inference (ID plus projected content vectors; items never seen in
        training take their ``cold_neighbors`` neighbours' vector). Use it
        to build an approximate nearest-neighbour index
        (:class:`~sklearn_recsys.retrieval.ApproximateRecommender`).

        Returns
        -------
        vectors : ndarray of shape (n_items, d_model), float32
            One row per item, in ``classes_`` order.
        """
        check_is_fitted(self)
        self._set_training(False)  # the hybrid table's inference rules
        with torch.no_grad():
            vectors = self.module_.item_vectors().detach().float()
        return vectors.cpu().numpy().copy()

    _similar_by = "vectors"

    def _similar_scorer(self):
        # cosine of the item vectors (the hybrid table for content models)
        vectors = torch.from_numpy(self.item_vectors())
        vectors = torch.nn.functional.normalize(vectors, dim=1)

        def scores(codes):
            return vectors[torch.from_numpy(codes)] @ vectors.T

        return scores

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # transform's intents
        return tags

    def get_feature_names_out(self, input_features=None):
        """Names of the intent dimensions: ``intent0``, ``intent1``, ..."""
        check_is_fitted(self)
        d = self.module_.item_vectors().shape[1]
        return np.asarray([f"intent{i}" for i in range(d)], dtype=object)

    def predict_proba(self, X):
        """Softmax over all items of the next-item scores; columns in ``classes_`` order.

        Meant for small catalogues: the result is dense ``(n_rows, n_items)``.
        Seen items are not masked. A row with no known item gets the training
        item frequencies.

        Parameters
        ----------
        X : DataFrame with a ``history`` column, or sequence of sequences
            Queries.

        Returns
        -------
        proba : ndarray of shape (n_rows, n_items), float32
        """
        check_is_fitted(self)
        freq = (self.item_counts_ / max(1, self.item_counts_.sum())).astype(np.float32)
        return self._dense(
            self._encode_queries(X), lambda q: torch.softmax(self._score_chunk(q), dim=1), freq
        )

    # -- persistence ---------------------------------------------------------
    _VOCABULARY = (
        "classes_", "item_counts_", "context_columns_", "context_scaler_", "max_len_",
        "_item_kind_", "item_encoder_", "items_", "query_column_",
    )

    def save_params(self, f_params=None, f_optimizer=None, f_criterion=None,
                    f_history=None, use_safetensors=False, f_vocabulary=None, **kwargs):
        """Save the weights (skorch) and, with ``f_vocabulary``, the item vocabulary.

        The network's size depends on the vocabulary, so loading weights into
        a new model needs it: ``load_params(f_vocabulary=..., f_params=...)``
        on an unfitted ``IntentRecommender`` with the same parameters.
        Pickling (``joblib.dump``) saves everything at once.
        See :meth:`skorch.net.NeuralNet.save_params` for the other arguments.
        """
        if f_vocabulary is not None:
            check_is_fitted(self)
            state = {name: getattr(self, name) for name in self._VOCABULARY}
            if hasattr(f_vocabulary, "write"):
                pickle.dump(state, f_vocabulary)
            else:
                with open(f_vocabulary, "wb") as f:
                    pickle.dump(state, f)
        if f_params or f_optimizer or f_criterion or f_history or kwargs:
            super().save_params(f_params=f_params, f_optimizer=f_optimizer, f_criterion=f_criterion,
                                f_history=f_history, use_safetensors=use_safetensors, **kwargs)

    def load_params(self, f_params=None, f_optimizer=None, f_criterion=None,
                    f_history=None, checkpoint=None, use_safetensors=False,
                    f_vocabulary=None, **kwargs):
        """Load weights saved by :meth:`save_params`; ``f_vocabulary`` first builds the network.

        ``f_vocabulary`` is a pickle file written by this class: load it only
        from a trusted source.
        """
        if f_vocabulary is not None:
            if hasattr(f_vocabulary, "read"):
                state = pickle.load(f_vocabulary)
            else:
                with open(f_vocabulary, "rb") as f:
                    state = pickle.load(f)
            for name, value in state.items():
                setattr(self, name, value)
            self.initialize()
        with self._on_device():
            super().load_params(f_params=f_params, f_optimizer=f_optimizer, f_criterion=f_criterion,
                                f_history=f_history, checkpoint=checkpoint,
                                use_safetensors=use_safetensors, **kwargs)
        return self
