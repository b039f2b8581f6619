"""IntentRecommender: a sequential recommender network wrapped with skorch."""

import copy
import numbers
import pickle
import warnings
from contextlib import nullcontext

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping, PassthroughScoring
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

from .._torch import TorchMixin
from ..base import Queries, RecommenderMixin
from ..utils._sequences import check_item_ids
from ._content import _HybridItems
from ._modules import TOWERS

__all__ = ["IntentRecommender"]

_LOSSES = ("ce", "sampled_softmax", "bce")
# Columns of queries_from_log's X that describe the query, not its context.
_NOT_CONTEXT = ("user_id", "offset", "timestamp", "prev_timestamp", "history")
# Scores of seen items: below every allowed item, above excluded ones.
_SEEN = float(np.finfo(np.float32).min)


class _Sequences(torch.utils.data.Dataset):
    """Training windows: inputs ``seq[:-1]``, targets ``seq[1:]`` (0 = padding).

    ``last_only`` marks windows whose earlier positions are trained by
    another window already (a query row of a user whose longer sequence is
    in the data): their targets are padding except the last one.
    """

    def __init__(self, padded, context, query=None, last_only=None):
        self.padded = torch.from_numpy(padded)
        self.targets = self.padded[:, 1:]
        if last_only is not None and last_only.any():
            self.targets = self.targets.clone()
            self.targets[torch.from_numpy(last_only), :-1] = 0
        self.context = None if context is None else torch.from_numpy(context)
        self.query = query  # None or (dict of feature tensors, has-query flags)

    def __len__(self):
        return len(self.padded)

    def __getitem__(self, i):
        x = {"items": self.padded[i, :-1]}
        if self.context is not None:
            x["context"] = self.context[i]
        if self.query is not None:
            x["query"] = {k: v[i] for k, v in self.query[0].items()}
            x["has_query"] = self.query[1][i]
        return x, self.targets[i]


class _Holdout(torch.utils.data.Dataset):
    """Held-out last items: history, target and row number (for seen items)."""

    def __init__(self, items, targets, context):
        self.items = torch.from_numpy(items)
        self.targets = torch.from_numpy(targets)
        self.context = None if context is None else torch.from_numpy(context)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        x = {"items": self.items[i], "row": i}
        if self.context is not None:
            x["context"] = self.context[i]
        return x, self.targets[i]


def _is_missing(text):
    return text is None or (isinstance(text, float) and np.isnan(text))


def _is_blank(text):
    """No query: missing or only whitespace (other non-strings are not blank,
    so that they reach the type check)."""
    return _is_missing(text) or (isinstance(text, str) and not text.strip())


def _windows(lengths, max_len):
    """Split sequences into windows of at most ``max_len + 1`` items.

    Consecutive windows overlap by one item, so every item but a sequence's
    first is a target exactly once. Returns ``(sequence index, start, stop)``.
    """
    seq, start, stop = [], [], []
    for i, n in enumerate(lengths):
        end = int(n)
        while end >= 2:
            begin = max(0, end - max_len - 1)
            seq.append(i)
            start.append(begin)
            stop.append(end)
            end = begin + 1
    return np.array(seq, dtype=np.int64), np.array(start, dtype=np.int64), np.array(stop, dtype=np.int64)


class IntentRecommender(RecommenderMixin, TorchMixin, NeuralNet):
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
    optimizer : torch optimizer class, default=torch.optim.Adam
        Optimizer; ``optimizer__*`` parameters reach it.
    lr : float, default=1e-3
        Learning rate.
    max_epochs : int, default=50
        Number of epochs (passes over the training sequences).
    batch_size : int, default=128
        Training sequences per batch; also the rows per forward pass when
        predicting (``iterator_valid__batch_size`` overrides it there).
    max_len : int, default=50
        Longest history the network reads; older items of a history are
        ignored for scoring (they are still excluded by ``exclude_seen``).
    loss : {"ce", "sampled_softmax", "bce"}, default="ce"
        ``"ce"``: full-softmax cross-entropy over every item. For large
        catalogues, ``"sampled_softmax"``: cross-entropy over the target and
        ``n_negatives`` items shared by the batch, drawn by popularity, with
        the log-Q correction (Bengio & Senecal, 2008; Yi et al., 2019).
        ``"bce"``: SASRec's binary cross-entropy with ``n_negatives``
        uniformly drawn negatives per position (the positive term plus the
        mean negative term), for comparison.
    n_negatives : int, default=256
        Negatives per batch (sampled softmax) or per position (BCE).
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
        prefix such as ``remainder__``). None: histories only.
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
        holding every item of ``X`` and ``y`` (else ``ValueError``). Without
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
        with the same int give identical recommendations on the CPU.
    device : str or torch.device, default="auto"
        "auto" picks CUDA when available; resolved on every load, so a model
        fitted on a GPU and pickled loads and predicts on a CPU-only machine.
    train_split : None
        skorch's random split does not apply to sequences; use
        ``validation`` instead.
    warm_start : bool, default=False
        When True and the model is fitted, ``fit`` continues training the
        same network on the new data; the vocabulary is kept (new items are
        ignored, rows with an unknown target are skipped).
    verbose : int, default=1
        1 prints skorch's epoch table (train_loss, valid_loss, valid_ndcg,
        duration); add ``callbacks=[skorch.callbacks.ProgressBar()]`` (needs
        tqdm) for a progress bar within long epochs.
    **kwargs
        Other skorch parameters: ``module__*``, ``optimizer__*``,
        ``criterion__*``, ``iterator_train__*``, ``callbacks``, ...

    Attributes
    ----------
    classes_ : ndarray of shape (n_items,)
        Known item ids, sorted.
    item_counts_ : ndarray of shape (n_items,)
        Training occurrences of each item (the popularity fallback).
    context_columns_ : list of str
        Context columns used (empty without context).
    context_mean_ : ndarray of shape (n_context,)
        Mean of each context column in training.
    context_scale_ : ndarray of shape (n_context,)
        Standard deviation of each context column (1 where constant).
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
    criterion_ : torch.nn.Module
        The instantiated loss.
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

    def __init__(
        self,
        module="transformer",
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=50,
        batch_size=128,
        *,
        max_len=50,
        loss="ce",
        n_negatives=256,
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
        train_split=None,
        warm_start=False,
        verbose=1,
        **kwargs,
    ):
        kwargs.setdefault("iterator_train__shuffle", True)
        super().__init__(
            module,
            criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            warm_start=warm_start,
            verbose=verbose,
            device=device,
            **kwargs,
        )
        self.max_len = max_len
        self.loss = loss
        self.n_negatives = n_negatives
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

    # -- skorch plumbing ---------------------------------------------------
    def _get_param_names(self):
        # skorch lists every attribute not ending in "_" as a parameter; the
        # fit-time scratch state (_holdout_data, _sampling, ...) must not be
        # cloned. (The mixin's own private state ends in "_" for this reason.)
        return [
            k for k in super()._get_param_names()
            if not k.startswith("_") or k == "_params_to_validate"
        ]

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

    @property
    def _default_callbacks(self):
        callbacks = list(super()._default_callbacks)
        at = [name for name, _ in callbacks].index("print_log")
        callbacks.insert(at, ("valid_ndcg", PassthroughScoring(name="valid_ndcg", lower_is_better=False)))
        return callbacks

    def initialize(self):
        """Build the network, loss and optimizer; needs the fitted vocabulary."""
        if not hasattr(self, "classes_"):
            raise ValueError(
                "IntentRecommender sizes its network from the item vocabulary: "
                "call fit(X, y), or load_params(f_vocabulary=..., f_params=...), "
                "instead of initialize()."
            )
        self.device_ = self._resolve_device()
        with self._on_device():
            return super().initialize()

    def _initialize_module(self, reason=None):
        with self._on_device():
            return super()._initialize_module(reason=reason)

    def _initialize_criterion(self, reason=None):
        with self._on_device():
            return super()._initialize_criterion(reason=reason)

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
            if not isinstance(getattr(module, "item_embedding", None), torch.nn.Embedding):
                raise TypeError(
                    "item_encoder needs a tower whose item table is its "
                    "item_embedding (an nn.Embedding), as SequenceTower's."
                )
            module.item_embedding = _HybridItems(
                module.item_embedding, copy.deepcopy(encoder.module_),
                encoder.featurize(self.items_),
                torch.as_tensor(self.item_counts_ > 0, dtype=torch.float32),
                frozen=bool(self.freeze_item_encoder), id_dropout=float(self.id_dropout),
                query=getattr(self, "query_column_", None) is not None,
                cold_neighbors=int(self.cold_neighbors), cold_scale=float(self.cold_scale),
            )
        self.module_ = module
        return self

    # -- parameter checks --------------------------------------------------
    def _check_params(self):
        m = self.module
        if isinstance(m, str):
            if m not in TOWERS:
                raise ValueError(f"module must be one of {sorted(TOWERS)} or a SequenceTower subclass; got {m!r}.")
        elif not (isinstance(m, type) and issubclass(m, torch.nn.Module)):
            raise TypeError(
                "module must be 'transformer', 'gru', 'lstm' or a SequenceTower "
                f"subclass (a class, not an instance); got {m!r}."
            )
        if isinstance(self.max_len, (bool, np.bool_)) or not isinstance(self.max_len, numbers.Integral) or self.max_len < 1:
            raise ValueError(f"max_len must be a positive integer; got {self.max_len!r}.")
        if self.loss not in _LOSSES:
            raise ValueError(f"loss must be one of {list(_LOSSES)}; got {self.loss!r}.")
        n_neg = self.n_negatives
        if isinstance(n_neg, (bool, np.bool_)) or not isinstance(n_neg, numbers.Integral) or n_neg < 1:
            raise ValueError(f"n_negatives must be a positive integer; got {n_neg!r}.")
        v = self.validation
        if v is not None and (
            isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real) or not 0 < v <= 1
        ):
            raise ValueError(
                "validation must be None or the share of training sequences whose "
                f"last item is held out, in (0, 1]; got {v!r}."
            )
        c = self.context_columns
        if not (c is None or (isinstance(c, str) and c == "auto") or (
            isinstance(c, (list, tuple)) and all(isinstance(s, str) for s in c)
        )):
            raise ValueError(f"context_columns must be None, 'auto' or a list of column names; got {c!r}.")
        enc = self.item_encoder
        if enc is not None and not (hasattr(enc, "featurize") and hasattr(enc, "fit")):
            raise TypeError(
                "item_encoder must be None or an unfitted ContentEncoder (an estimator "
                f"with fit and featurize); got {enc!r}."
            )
        if enc is not None:
            if self.items is None:
                raise ValueError(
                    "item_encoder needs items=: the catalogue DataFrame indexed by item id."
                )
            if not isinstance(self.items, pd.DataFrame):
                raise TypeError(
                    "With item_encoder, items must be the catalogue as a DataFrame indexed "
                    f"by item id; got {type(self.items).__name__}."
                )
        d = self.id_dropout
        if isinstance(d, (bool, np.bool_)) or not isinstance(d, numbers.Real) or not 0 <= d < 1:
            raise ValueError(f"id_dropout must be in [0, 1); got {d!r}.")
        k = self.cold_neighbors
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral) or k < 0:
            raise ValueError(f"cold_neighbors must be a non-negative integer; got {k!r}.")
        c = self.cold_scale
        if isinstance(c, (bool, np.bool_)) or not isinstance(c, numbers.Real) or not c > 0:
            raise ValueError(f"cold_scale must be a positive number; got {c!r}.")
        if self.freeze_item_encoder not in (True, False):
            raise ValueError(f"freeze_item_encoder must be a bool; got {self.freeze_item_encoder!r}.")
        q = self.query_column
        if q is not None:
            if not isinstance(q, str):
                raise ValueError(f"query_column must be None or a column name; got {q!r}.")
            if enc is None:
                raise ValueError(
                    "query_column needs an item_encoder: queries are embedded with its text tower."
                )
        if self.amp not in ("auto", True, False):
            raise ValueError(f"amp must be 'auto', True or False; got {self.amp!r}.")
        if self.train_split is not None:
            raise ValueError(
                "train_split must be None: skorch's random split does not apply to "
                "sequences. Use validation= to hold out the last item of the "
                "training sequences."
            )
        if not (isinstance(self.device, str) and self.device == "auto"):
            try:
                torch.device(self.device if self.device is not None else "cpu")
            except (RuntimeError, TypeError) as exc:
                raise ValueError(f"device must be 'auto' or a torch device; got {self.device!r}.") from exc
        callbacks = self.callbacks if isinstance(self.callbacks, (list, tuple)) else []
        uses_holdout = any(
            isinstance(cb, EarlyStopping) and str(cb.monitor).startswith("valid_")
            for cb in (c[1] if isinstance(c, tuple) else c for c in callbacks)
        )
        if uses_holdout and v is None:
            raise ValueError(
                "An early-stopping callback monitors a validation score but "
                "validation=None: set validation= (e.g. 1.0 holds out the last item "
                "of every training sequence)."
            )

    def _seed(self):
        rs = self.random_state
        if rs is None:
            return None
        if isinstance(rs, np.random.RandomState):
            return int(rs.randint(np.iinfo(np.int32).max))
        if isinstance(rs, (bool, np.bool_)) or not isinstance(rs, numbers.Integral):
            raise ValueError(f"random_state must be None, an int or a RandomState; got {rs!r}.")
        return int(rs)

    def _autocast(self):
        dev = torch.device(self.device_)
        on = self.amp is True or (
            self.amp == "auto" and dev.type == "cuda" and torch.cuda.is_bf16_supported()
        )
        return torch.autocast(dev.type, dtype=torch.bfloat16) if on else nullcontext()

    # -- context features --------------------------------------------------
    def _fit_context(self, frame):
        cols = self.context_columns
        if cols is None or (isinstance(cols, str) and frame is None):
            cols = []
        elif isinstance(cols, str):  # "auto"
            cols = [
                c for c in frame.columns
                if isinstance(c, str)
                and c.rsplit("__", 1)[-1] not in _NOT_CONTEXT
                and pd.api.types.is_numeric_dtype(frame[c].dtype)
            ]
        else:
            cols = list(cols)
            if cols and frame is None:
                raise ValueError(
                    f"context_columns={cols} needs X as a DataFrame holding those columns."
                )
        self.context_columns_ = cols
        if not cols:
            self.context_mean_ = np.zeros(0)
            self.context_scale_ = np.ones(0)
            return
        values = self._context_values(frame, check_fitted=False)
        self.context_mean_ = values.mean(axis=0)
        scale = values.std(axis=0)
        self.context_scale_ = np.where(scale > 0, scale, 1.0)

    def _context_values(self, frame, check_fitted=True):
        cols = self.context_columns_
        if frame is None:
            raise ValueError(
                f"This model reads context columns {cols}; X must be a DataFrame holding them."
            )
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"X lacks the context column(s) {missing} the model was fitted with.")
        bad = [c for c in cols if not pd.api.types.is_numeric_dtype(frame[c].dtype)]
        if bad:
            raise TypeError(
                f"Context columns must be numeric; {bad} are not (encode them upstream, "
                "e.g. with a OneHotEncoder in a ColumnTransformer)."
            )
        values = frame[cols].to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isnan(values).any():
            raise ValueError("Context columns hold missing values; impute them upstream.")
        return values

    def _context(self, frame):
        """Standardised float32 context of each row, or None without context."""
        if not self.context_columns_:
            return None
        values = self._context_values(frame)
        return ((values - self.context_mean_) / self.context_scale_).astype(np.float32)

    # -- catalogue and item content --------------------------------------------
    def _catalogue_ids(self):
        items = self.items
        if items is None:
            return None
        if isinstance(items, pd.DataFrame):
            if not items.index.is_unique:
                raise ValueError("items (the catalogue) has duplicate ids in its index.")
            return items.index.to_numpy()
        if isinstance(items, (pd.Series, pd.Index)):
            return items.to_numpy()
        return np.asarray(items)

    def _fit_items(self):
        """Clone and fit the item encoder on the catalogue (tokenisation, optional pretraining)."""
        if self.item_encoder is None:
            self.item_encoder_ = None
            self.items_ = None
            return
        catalogue = self.items
        missing = ~pd.Index(self.classes_).isin(catalogue.index)
        if missing.any():
            raise ValueError(
                f"{int(missing.sum())} item id(s) of X or y are not in the catalogue "
                f"items (first: {self.classes_[missing][0]!r}); with an item_encoder every "
                "item needs a catalogue row (its content)."
            )
        self.item_encoder_ = clone(self.item_encoder).fit(catalogue)
        self.items_ = catalogue.loc[self.classes_]

    def _resolve_query_column(self, frame):
        name = self.query_column
        if name is None:
            return None
        if frame is None:
            raise ValueError(f"query_column={name!r} needs X as a DataFrame holding that column.")
        if name in frame.columns:
            return name
        found = [c for c in frame.columns if isinstance(c, str) and c.endswith("__" + name)]
        if len(found) == 1:
            return found[0]
        raise ValueError(f"X has no query column {name!r} (query_column); columns: {list(frame.columns)}.")

    def _hybrid(self):
        emb = getattr(getattr(self, "module_", None), "item_embedding", None)
        return emb if isinstance(emb, _HybridItems) else None

    def _sync_item_encoder(self):
        """Copy the jointly trained content tower back into ``item_encoder_``."""
        hybrid = self._hybrid()
        if hybrid is not None and not hybrid.frozen:
            self.item_encoder_.module_.load_state_dict(hybrid.content.state_dict())

    def _query_features(self, frame, rows=None):
        """Featurised query texts of ``frame`` (or of its ``rows``) and has-query flags."""
        name = self.query_column_
        if frame is None or name not in frame.columns:
            raise ValueError(
                f"This model reads free-text queries from the column {name!r} "
                "(query_column); X must be a DataFrame holding it."
            )
        texts = frame[name].to_numpy(dtype=object)
        if rows is not None:
            texts = texts[rows]
        texts = ["" if _is_missing(t) else t for t in texts]
        bad = [t for t in texts if not isinstance(t, str)]
        if bad:
            raise TypeError(f"Query column {name!r} must hold strings; got {type(bad[0]).__name__}.")
        flags = torch.tensor([float(not _is_blank(t)) for t in texts], dtype=torch.float32)
        return self.item_encoder_.featurize_text(texts), flags

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
        old = pd.Index(self.classes_)
        gone = ~old.isin(items.index)
        if gone.any():
            raise ValueError(
                f"update_items needs every item of classes_ in the new catalogue; "
                f"{int(gone.sum())} are missing (first: {self.classes_[gone][0]!r})."
            )
        ids, _ = check_item_ids(items.index.to_numpy(), what="catalogue item ids", kind=self._item_kind_)
        classes = np.unique(np.concatenate([self.classes_, ids]).astype(self.classes_.dtype))
        old_codes = pd.Index(classes).get_indexer(self.classes_)
        n = len(classes)
        counts = np.zeros(n, dtype=np.int64)
        counts[old_codes] = self.item_counts_
        id_emb = hybrid.id_embedding
        new_emb = torch.nn.Embedding(n + 1, id_emb.embedding_dim, padding_idx=0).to(id_emb.weight.device)
        with torch.no_grad():
            new_emb.weight.zero_()
            new_emb.weight[torch.from_numpy(old_codes + 1)] = id_emb.weight[1:]
        new_emb.weight.requires_grad_(id_emb.weight.requires_grad)
        mask = torch.zeros(n, device=hybrid.id_mask.device)
        mask[torch.from_numpy(old_codes)] = hybrid.id_mask
        self.classes_ = classes
        self._item_index_ = pd.Index(classes)
        self.item_counts_ = counts
        self.items_ = items.loc[classes]
        hybrid.id_embedding = new_emb
        hybrid.set_catalogue(self.item_encoder_.featurize(self.items_), mask)
        self.module_.n_items = n
        with self._on_device():
            self.initialize_optimizer()
        return self

    # -- data ----------------------------------------------------------------
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
            queries = Queries(*_csr([queries.row(i) for i in keep]), frame)
            y_codes = y_codes[keep]
        self._count_items(queries, y_codes)
        return queries, y_codes

    def _make_datasets(self, queries, y_codes, rng):
        rows = self._training_rows(queries, y_codes)
        seqs = self._training_sequences(queries, y_codes)
        context = self._context(queries.frame)
        lengths = np.fromiter((len(s) for s in seqs), np.int64, len(seqs))
        holdout = None
        if self.validation is not None:
            eligible = np.flatnonzero(lengths >= 2)
            n_hold = min(len(eligible), max(1, int(round(self.validation * len(eligible)))))
            if n_hold == 0:
                raise ValueError(
                    "validation is set but no training sequence holds 2 items or more, "
                    "so there is no last item to hold out."
                )
            held = np.sort(rng.choice(eligible, n_hold, replace=False))
            seen = Queries(*_csr([seqs[i][:-1] for i in held]))
            holdout = _Holdout(
                seen.padded(self.max_len_, pad=-1) + 1,
                np.array([seqs[i][-1] + 1 for i in held], dtype=np.int64),
                None if context is None else context[rows[held]],
            )
            self._holdout_seen = seen
            for i in held:
                seqs[i] = seqs[i][:-1]
            lengths[held] -= 1
        which, start, stop = _windows(lengths, self.max_len_)
        if len(which) == 0:
            raise ValueError(
                "No training pair: IntentRecommender learns from sequences of 2 "
                "items or more (a history item and a next item), and every "
                "training sequence here has at most 1"
                + (" after the validation holdout." if self.validation is not None else ".")
            )
        chunks = [seqs[i][a:b] for i, a, b in zip(which, start, stop)]
        source = rows[which]
        last_only = None
        query = None
        if getattr(self, "query_column_", None) is not None:
            # a row's query describes its target, the last item of its
            # sequence: only the window ending there (and not held out) gets it
            final = stop == lengths[which]
            if holdout is not None:
                final &= ~np.isin(which, held)
            # rows folded into a longer sequence of their user keep their own
            # query: one extra window each, trained at its last position only
            # (rows without history or without a query add nothing new)
            texts = queries.frame[self.query_column_].to_numpy(dtype=object)
            extra = np.array([
                i for i in np.setdiff1d(np.arange(len(queries)), rows)
                if len(queries.row(i)) and not _is_blank(texts[i])
            ], dtype=np.int64)
            chunks += [np.append(queries.row(i)[-self.max_len_:], y_codes[i]) for i in extra]
            source = np.concatenate([source, extra])
            final = np.concatenate([final, np.ones(len(extra), dtype=bool)])
            last_only = np.concatenate([np.zeros(len(which), dtype=bool), np.ones(len(extra), dtype=bool)])
            feats, flags = self._query_features(queries.frame, source)
            query = (feats, flags * torch.from_numpy(final.astype(np.float32)))
        windows = Queries(*_csr(chunks))
        train = _Sequences(
            windows.padded(self.max_len_ + 1, pad=-1) + 1,
            None if context is None else context[source],
            query,
            last_only,
        )
        return train, holdout

    def get_split_datasets(self, X, y=None, **fit_params):
        return self.get_dataset(X, y), getattr(self, "_holdout_data", None)

    def get_iterator(self, dataset, training=False):
        if isinstance(dataset, _Holdout) and "batch_size" not in self.get_params_for("iterator_valid"):
            # scoring a batch is cheap next to a training step
            kwargs = {"batch_size": max(self.batch_size, 512)}
            return self.iterator_valid(dataset, **kwargs)
        return super().get_iterator(dataset, training=training)

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
        seed = self._seed()
        if warm:
            if self.max_len != self.max_len_:
                raise ValueError(
                    f"max_len changed from {self.max_len_} to {self.max_len} since the "
                    "network was built; refit without warm_start."
                )
            queries, y_codes = self._encode_warm(X, y)
        else:
            queries, y_codes = self._fit_queries(X, y, items=self._catalogue_ids())
            self._fit_items()
            self.query_column_ = self._resolve_query_column(queries.frame)
            self._fit_context(queries.frame)
            self.max_len_ = self.max_len
            self.device_ = self._resolve_device()
        rng = check_random_state(seed)
        train, self._holdout_data = self._make_datasets(queries, y_codes, rng)
        try:
            with self._seeded(seed), self._on_device():
                if not warm:
                    self.initialize()
                if not hasattr(self.module_, "item_vectors"):
                    raise TypeError(
                        f"The tower {type(self.module_).__name__} has no item_vectors() "
                        "method; subclass sklearn_recsys.intent.SequenceTower."
                    )
                NeuralNet.partial_fit(self, train, None)
                self._sync_item_encoder()
        finally:
            for name in self._TRANSIENT:
                self.__dict__.pop(name, None)
        return self

    # fit-time state, never pickled
    _TRANSIENT = ("_holdout_data", "_holdout_seen", "_sampling")

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
                    hybrid.begin_step()  # one catalogue pass per step
                hidden = self.infer(Xi, **fit_params)
                loss = self.get_loss(hidden, yi, X=Xi, training=True)
            loss.backward()
        finally:
            if hybrid is not None:
                hybrid.end_step()
        return {"loss": loss, "y_pred": hidden}

    def _sampling_log_q(self):
        # popularity proposal (smoothed) for the sampled softmax
        cached = getattr(self, "_sampling", None)
        if cached is None:
            q = torch.as_tensor(self.item_counts_ + 1.0, dtype=torch.float32, device=self.device_)
            if self._hybrid() is not None:  # items never trained on stay out
                q = q * torch.as_tensor(self.item_counts_ > 0, device=self.device_)
            q = q / q.sum()
            cached = self._sampling = (q, q.log())
        return cached

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Loss over every non-padding position of a batch of windows."""
        length = y_pred.shape[1]
        y = to_tensor(y_true, device=self.device_)[:, -length:]
        items = to_tensor(X["items"], device=self.device_)[:, -length:]
        keep = (y > 0) & (items > 0)
        h = y_pred[keep]
        target = y[keep] - 1
        weights = self.module_.item_vectors()
        hybrid = self._hybrid()
        if self.loss == "ce":
            logits = h @ weights.T
            if hybrid is not None:
                # items never seen in training (cold catalogue items) are
                # left out of the softmax: their content is not pushed down
                logits = logits.masked_fill(hybrid.id_mask[None, :] == 0, float("-inf"))
            loss = self.criterion_(logits, target)
            flags = X.get("has_query") if isinstance(X, dict) else None
            if flags is not None:
                # the query belongs to the last position: an extra term there
                last = (to_tensor(flags, device=self.device_) > 0) & (y[:, -1] > 0)
                if last.any():
                    logits_q = y_pred[last, -1] @ weights.T
                    logits_q = logits_q.masked_fill(hybrid.id_mask[None, :] == 0, float("-inf"))
                    loss = loss + self.criterion_(logits_q, y[last, -1] - 1)
            return loss
        if self.loss == "sampled_softmax":
            q, log_q = self._sampling_log_q()
            neg = torch.multinomial(q, self.n_negatives, replacement=True)
            pos = (h * weights[target]).sum(-1) - log_q[target]
            logits = h @ weights[neg].T - log_q[neg]
            logits = logits.masked_fill(neg[None, :] == target[:, None], float("-inf"))
            logits = torch.cat([pos[:, None], logits], dim=1)
            return self.criterion_(logits, torch.zeros_like(target))
        neg = torch.randint(0, len(weights), (len(target), self.n_negatives), device=h.device)
        pos = (h * weights[target]).sum(-1)
        negs = torch.einsum("nd,nkd->nk", h, weights[neg])
        return (
            F.binary_cross_entropy_with_logits(pos, torch.ones_like(pos))
            + F.binary_cross_entropy_with_logits(negs, torch.zeros_like(negs))
        )

    def validation_step(self, batch, **fit_params):
        """Cross-entropy and NDCG@10 of the held-out last items."""
        self._set_training(False)
        Xi, yi = unpack_data(batch)
        with torch.no_grad():
            h = self.infer(Xi, last_only=True).float()
            scores = h @ self.module_.item_vectors().float().T
            target = to_tensor(yi, device=self.device_) - 1
            loss = F.cross_entropy(scores, target)
            rows = np.asarray(Xi["row"])
            seen = self._holdout_seen
            r = np.repeat(np.arange(len(rows)), seen.lengths()[rows])
            c = np.concatenate([seen.row(i) for i in rows]) if len(r) else np.empty(0, np.int64)
            scores[torch.from_numpy(r).to(scores.device), torch.from_numpy(c).to(scores.device)] = float("-inf")
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
        return torch.cat(out)

    def _scores(self, queries):
        h = self._intent(queries)
        with torch.no_grad():
            return h @ self.module_.item_vectors().detach().float().T

    def _score_chunk(self, queries):
        return self._scores(queries).cpu().numpy()

    def _chunk_rows(self):
        return min(super()._chunk_rows(), 4096)

    def _topk_chunk(self, queries, k, exclude_seen, allowed):
        """Top-``k`` codes and scores of a chunk, ranked with torch on the model's device."""
        scores = self._scores(queries)
        dev = scores.device
        empty = queries.lengths() == 0
        if empty.any():
            scores[torch.from_numpy(empty).to(dev)] = torch.from_numpy(self._fallback_scores()).to(dev)
        if allowed is not None:
            scores[:, torch.from_numpy(~allowed).to(dev)] = float("-inf")
        if exclude_seen and len(queries.codes):
            r = torch.from_numpy(queries.row_ids()).to(dev)
            c = torch.from_numpy(queries.codes).to(dev)
            cur = scores[r, c]
            scores[r, c] = torch.where(torch.isneginf(cur), cur, torch.full_like(cur, _SEEN))
        vals, top = torch.topk(scores, k, dim=1)
        # ties go to the lower code, as in RecommenderMixin: redo the rows
        # where the k-th score is tied outside the list, then order ties
        n_tied = (scores == vals[:, -1:]).sum(1)
        bad = n_tied > (vals == vals[:, -1:]).sum(1)
        if bad.any():
            v, t = torch.sort(scores[bad], dim=1, descending=True, stable=True)
            vals[bad], top[bad] = v[:, :k], t[:, :k]
        order = torch.argsort(top, dim=1)
        top, vals = top.gather(1, order), vals.gather(1, order)
        order = torch.sort(vals, dim=1, descending=True, stable=True).indices
        return top.gather(1, order).cpu().numpy(), vals.gather(1, order).cpu().numpy()

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
            Item scores are ``intents @ item_vectors.T``.
        """
        check_is_fitted(self)
        queries = self._encode_queries(X)
        return self._intent(queries).cpu().numpy()

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
            self._encode_queries(X), lambda q: torch.softmax(self._scores(q), dim=1).cpu().numpy(), freq
        )

    # -- persistence ---------------------------------------------------------
    _VOCABULARY = (
        "classes_", "item_counts_", "context_columns_", "context_mean_",
        "context_scale_", "max_len_", "_item_kind_", "_item_index_",
        "item_encoder_", "items_", "query_column_",
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

    def __getstate__(self):
        state = super().__getstate__()
        for name in self._TRANSIENT:
            state.pop(name, None)
        return state

    def __setstate__(self, state):
        requested = state.get("device")
        auto = isinstance(requested, str) and requested == "auto"
        if auto:
            # resolve "auto" on the loading machine: CUDA state maps to the CPU
            # without a warning when no GPU is there
            state = dict(state)
            state["device"] = "cuda" if torch.cuda.is_available() else "cpu"
        super().__setstate__(state)
        if "device_" in self.__dict__ or auto:
            self.device_ = str(torch.device(self.device)) if self.device is not None else "cpu"
        if auto:
            self.device = "auto"


def _csr(seqs):
    lengths = np.fromiter((len(s) for s in seqs), np.int64, len(seqs))
    indptr = np.zeros(len(seqs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    codes = np.concatenate(seqs).astype(np.int64) if len(seqs) else np.empty(0, np.int64)
    return indptr, codes
