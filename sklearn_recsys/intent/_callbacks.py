"""Early stopping on a ranking metric of the last-item holdout."""

from skorch.callbacks import EarlyStopping


class RankingEarlyStopping(EarlyStopping):
    """Stop training when the holdout NDCG@10 stops improving; keep the best epoch.

    The :class:`IntentRecommender` holds out the last item of (a share of) its
    training sequences when ``validation`` is set, and records the NDCG@10 of
    those items (seen items excluded, every item ranked) as ``valid_ndcg`` in
    its history after each epoch. This callback watches that value, stops
    after ``patience`` epochs without improvement and, with
    ``load_best=True``, restores the weights of the best epoch.

    It is skorch's :class:`~skorch.callbacks.EarlyStopping` with defaults
    suited to a ranking metric (higher is better, any improvement counts).

    Parameters
    ----------
    monitor : str, default="valid_ndcg"
        History key to watch. ``"valid_loss"`` (cross-entropy of the held-out
        items) also works, with ``lower_is_better=True``.
    patience : int, default=5
        Epochs without improvement before stopping.
    threshold : float, default=0.0
        Smallest improvement that counts.
    threshold_mode : {"rel", "abs"}, default="abs"
        Whether ``threshold`` is relative to the best score or absolute.
    lower_is_better : bool, default=False
        Direction of the monitored value.
    load_best : bool, default=True
        Restore the module weights of the best epoch at the end of training.
    sink : callable, default=print
        Where the stopping message goes (printed only when ``verbose``).

    Attributes
    ----------
    best_epoch_ : int
        Epoch with the best monitored value.
    misses_ : int
        Epochs since the last improvement.

    See Also
    --------
    IntentRecommender : The recommender whose ``validation`` parameter sets
        up the holdout.

    Examples
    --------
    >>> from sklearn_recsys.intent import IntentRecommender, RankingEarlyStopping
    >>> rec = IntentRecommender(validation=0.2, max_epochs=100,
    ...                         callbacks=[RankingEarlyStopping(patience=3)])
    """

    def __init__(
        self,
        monitor="valid_ndcg",
        patience=5,
        threshold=0.0,
        threshold_mode="abs",
        lower_is_better=False,
        load_best=True,
        sink=print,
    ):
        super().__init__(
            monitor=monitor,
            patience=patience,
            threshold=threshold,
            threshold_mode=threshold_mode,
            lower_is_better=lower_is_better,
            sink=sink,
            load_best=load_best,
        )

    def on_train_begin(self, net, **kwargs):
        if self.monitor.startswith("valid_") and getattr(net, "validation", 1) is None:
            raise ValueError(
                f"RankingEarlyStopping monitors {self.monitor!r}, which needs a "
                "holdout: set validation= on the recommender (e.g. validation=1.0 "
                "holds out the last item of every training sequence)."
            )
        super().on_train_begin(net, **kwargs)
