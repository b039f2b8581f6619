"""Tests written against bugs planted one at a time (issue 13, item 5).

Each test here failed with its bug planted in the package and passes
without it; the bug each one catches is named in its docstring. The
"mutant" ones kill the mutants that survived ``benchmarks/bench_mutation.py``
(ids as on docs/benchmarks/mutation.rst, for the commit that page names). Known
answers are built by hand or by an independent formula, never read from the
code under test.
"""

import numpy as np
import pandas as pd
import pytest
import torch
from skorch.callbacks import Callback

from sklearn_recsys import metrics
from sklearn_recsys.base import Queries
from sklearn_recsys.baselines import EASE, Popularity, Transition
from sklearn_recsys.intent import (
    IntentRecommender,
    RankingEarlyStopping,
    TransformerTower,
)
from sklearn_recsys.intent import _losses as intent_losses
from sklearn_recsys.intent import _recommender as intent_recommender
from sklearn_recsys.intent._data import csr, training_data
from sklearn_recsys.metrics import catalog_coverage, ndcg_at_k, recall_at_k
from sklearn_recsys.model_selection import LeaveLastOut

FAST = dict(max_epochs=4, batch_size=16, max_len=8, module__d_model=16, lr=5e-3,
            random_state=0, verbose=0, device="cpu")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# -- the validation holdout is not trained on ---------------------------------------


def _unique_sequences(lengths):
    """Sequence ``i`` holds codes ``100 * i + t``: every (sequence, position) its own item."""
    return [np.arange(n, dtype=np.int64) + 100 * i for i, n in enumerate(lengths)]


def _window_targets(windows):
    """Codes the loss trains on: targets whose input position is an item (as get_loss keeps)."""
    t = windows.targets.numpy()
    x = windows.padded.numpy()[:, :-1]
    return sorted((t[(t > 0) & (x > 0)] - 1).tolist())


@pytest.mark.parametrize("validation", [1.0, 0.5])
def test_training_windows_hold_no_held_out_target(validation):
    """Planted bug: the held-out last items left in the training windows."""
    lengths = [7, 3, 12, 2, 5, 9]
    seqs = _unique_sequences(lengths)
    rows = np.arange(len(seqs))
    windows = training_data(None, None, rows, seqs, None, max_len=3, validation=validation,
                            rng=np.random.RandomState(0))
    held_targets = (windows.holdout.targets.numpy() - 1).tolist()
    held = sorted(t // 100 for t in held_targets)
    assert len(held) == round(validation * len(seqs))
    # the held-out target of a sequence is its last item; its history the rest
    assert sorted(held_targets) == sorted(int(seqs[i][-1]) for i in held)
    # known answer: every item but a sequence's first is a target once, except
    # the held-out last items, which are in no window at all
    expected = sorted(
        int(c) for i, s in enumerate(seqs) for c in (s[1:-1] if i in held else s[1:])
    )
    assert _window_targets(windows) == expected
    inputs = windows.padded.numpy()
    assert not np.isin(np.asarray(held_targets) + 1, inputs).any()


def test_fit_trains_on_windows_without_the_holdout(monkeypatch):
    """Planted bug, seen through ``fit``: what the network trains on."""
    seen = []

    def spy(*args, **kwargs):
        out = training_data(*args, **kwargs)
        seen.append(out)
        return out

    monkeypatch.setattr(intent_recommender, "training_data", spy)
    seqs = [[f"u{u}_{t}" for t in range(4 + u % 5)] for u in range(12)]
    X = pd.DataFrame({"user_id": range(12), "history": [s[:-1] for s in seqs]})
    y = np.array([s[-1] for s in seqs], dtype=object)
    rec = IntentRecommender(**{**FAST, "max_epochs": 1}, validation=1.0).fit(X, y)
    (windows,) = seen
    # validation=1.0 holds out every row's target, y: no window has one of them
    target_codes = np.searchsorted(rec.classes_, y)
    assert sorted((windows.holdout.targets.numpy() - 1).tolist()) == sorted(target_codes.tolist())
    trained = set(_window_targets(windows))
    assert trained.isdisjoint(target_codes.tolist())
    # ... and every other item but the first of each sequence is trained on
    others = {int(np.searchsorted(rec.classes_, i)) for s in seqs for i in s[1:-1]}
    assert trained == others


# -- early stopping restores the best epoch --------------------------------------------


class _BreakAfter(Callback):
    """From epoch ``epoch`` on: random weights (same every epoch) and lr 0.

    The holdout NDCG then falls from its learned value to a random model's and
    stays there, so the best epoch is before ``epoch``. Keeps a copy of the
    weights at the end of every epoch.
    """

    def __init__(self, epoch):
        self.epoch = epoch
        self.weights = []

    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) >= self.epoch:
            gen = torch.Generator().manual_seed(1)
            with torch.no_grad():
                for p in net.module_.parameters():
                    p.copy_(torch.randn(p.shape, generator=gen))
            for group in net.optimizer_.param_groups:
                group["lr"] = 0.0

    def on_epoch_end(self, net, **kwargs):
        self.weights.append({k: v.detach().clone() for k, v in net.module_.state_dict().items()})


def _chain_queries(n_users=60, n_items=30, length=12, seed=0):
    rng = np.random.RandomState(seed)
    hist, y = [], []
    for _ in range(n_users):
        start = rng.randint(n_items)
        s = [(start + t) % n_items for t in range(length)]
        hist.append(s[:-1])
        y.append(s[-1])
    return hist, np.array(y)


def test_early_stopping_restores_the_best_epoch_after_the_metric_falls():
    """Planted bug: early stopping that keeps the last epoch's weights."""
    X, y = _chain_queries()
    brk = _BreakAfter(epoch=4)
    rec = IntentRecommender(
        **{**FAST, "max_epochs": 20, "lr": 0.05}, validation=1.0,
        callbacks=[RankingEarlyStopping(patience=2), brk],
    ).fit(X, y)
    scores = np.array(rec.history[:, "valid_ndcg"])
    best = int(np.argmax(scores))
    # the metric peaks before the break and falls after it (measured: about
    # 0.95 at the best epoch, below 0.2 once broken)
    assert best < 3
    assert scores[best] > 0.8 and scores[3:].max() < scores[best] - 0.5
    assert len(scores) == best + 1 + 2  # stopped after patience=2 misses
    final = rec.module_.state_dict()
    for name, value in brk.weights[best].items():
        torch.testing.assert_close(final[name], value, rtol=0, atol=0)
    assert not torch.equal(final["item_embedding.weight"], brk.weights[-1]["item_embedding.weight"])
    # the restored model scores the holdout (y given X) as the best epoch did
    assert ndcg_at_k(y, rec.recommend(X, k=10), k=10) == pytest.approx(scores[best], abs=1e-6)


# -- LeaveLastOut orders by offset, ties by row position ----------------------------------


def test_leave_last_out_orders_by_offset_not_tied_timestamps():
    """Planted bug: ordering by timestamp before offset (a leak on tied timestamps)."""
    # user 1 logged three events in one second; the offsets (positions in its
    # sequence) say which came last. Rows are not in sequence order.
    X = pd.DataFrame({
        "user_id": [1, 1, 1, 2, 2, 2],
        "offset": [3, 1, 2, 2, 1, 3],
        "timestamp": [50, 50, 50, 10, 20, 30],
        "history": [["a", "b", "c"], ["a"], ["a", "b"], ["x", "y"], ["x"], ["x", "y", "z"]],
    })
    (train, test), = LeaveLastOut(n_splits=1).split(X)
    np.testing.assert_array_equal(train, [2, 3])  # offsets 2, 2
    np.testing.assert_array_equal(test, [0, 5])  # offsets 3, 3
    folds = list(LeaveLastOut(n_splits=2).split(X))
    np.testing.assert_array_equal(folds[0][0], [1, 4])
    np.testing.assert_array_equal(folds[0][1], [2, 3])
    np.testing.assert_array_equal(folds[1][0], [2, 3])
    np.testing.assert_array_equal(folds[1][1], [0, 5])


def test_leave_last_out_tied_timestamps_keep_row_order():
    # no offset: ties on the timestamp go by row position (the later row is later)
    X = pd.DataFrame({"user_id": [7, 7, 7, 8, 8], "timestamp": [5, 5, 4, 9, 9]})
    (train, test), = LeaveLastOut(n_splits=1).split(X)
    np.testing.assert_array_equal(train, [0, 3])
    np.testing.assert_array_equal(test, [1, 4])


# -- EASE ranks by history @ B, not history @ B.T ----------------------------------------


def _ridge_columns(dense, l2):
    """EASE by its definition: column j of B is the ridge regression of item j
    on the other items (the zero-diagonal constraint decouples the columns)."""
    n = dense.shape[1]
    B = np.zeros((n, n))
    for j in range(n):
        others = [i for i in range(n) if i != j]
        A = dense[:, others]
        B[others, j] = np.linalg.solve(A.T @ A + l2 * np.eye(n - 1), A.T @ dense[:, j])
    return B


def test_ease_recommends_the_known_ranking_on_an_asymmetric_log():
    """Planted bug: EASE scored with the transposed weights."""
    # item 0 is bought with 1 by a few users and with 2 by many; 2 is also
    # popular alone, so B[0, 1] and B[1, 0] differ a lot (B is not symmetric)
    baskets = [[0, 1]] * 3 + [[0, 2]] * 4 + [[2]] * 12 + [[1, 3]] * 2 + [[3]] * 6 + [[0, 3]]
    n_items, l2 = 4, 1.0
    dense = np.zeros((len(baskets), n_items))
    for r, b in enumerate(baskets):
        dense[r, b] = 1
    B = _ridge_columns(dense, l2)
    assert np.abs(B - B.T).max() > 0.05
    hist = [b[:-1] for b in baskets]
    y = [b[-1] for b in baskets]
    rec = EASE(l2=l2).fit(hist, y)
    # the known answer from the ridge columns (histories without tied scores:
    # B = [[0, .35, .53, 0], [.5, 0, -.27, .33], [.24, -.08, 0, 0], [0, .17, 0, 0]])
    ranked = {}
    for h in ([0], [1], [0, 3]):
        scores = B[h].sum(0)
        scores[h] = -np.inf
        ranked[tuple(h)] = np.argsort(-scores)[: n_items - len(h)]
        got = rec.recommend([h], k=n_items - len(h))[0]
        np.testing.assert_array_equal(got, ranked[tuple(h)])
    # by hand: [0] -> 2, 1, 3 and [0, 3] -> 2, 1 (under B.T: 1 first)
    np.testing.assert_array_equal(ranked[(0,)], [2, 1, 3])
    np.testing.assert_array_equal(ranked[(0, 3)], [2, 1])
    np.testing.assert_array_equal(ranked[(1,)], [0, 3, 2])


# -- the transformer is causal, seen through learning ---------------------------------------


def test_transformer_cannot_learn_random_sequences_it_may_not_peek_at():
    """Planted bug: a causal mask that lets position t see t + 1.

    On i.i.d. uniform items the next item is unpredictable: a causal model's
    training loss stays near log(n_items). A model that sees one step ahead
    reads its target in its input and drives the loss down.
    """
    rng = np.random.RandomState(0)
    n_items = 40
    seqs = [rng.randint(n_items, size=10).tolist() for _ in range(150)]
    X, y = [s[:-1] for s in seqs], [s[-1] for s in seqs]
    rec = IntentRecommender(**{**FAST, "max_epochs": 4, "lr": 0.01, "module": "transformer"}).fit(X, y)
    chance = np.log(n_items)
    # measured: 3.59 causal (log 40 = 3.69); with the peek planted about 1.2
    assert rec.history[-1, "train_loss"] > 0.93 * chance


@pytest.mark.parametrize("layout", ["pre_ln", "sasrec"])
def test_transformer_outputs_before_t_ignore_every_later_input(layout):
    torch.manual_seed(0)
    tower = TransformerTower(n_items=20, max_len=6, d_model=8, n_heads=2, layout=layout).eval()
    a = torch.tensor([[1, 2, 3, 4, 5, 6]])
    ha = tower(a)
    for t in range(5):
        b = a.clone()
        b[0, t + 1:] = torch.tensor([19, 18, 17, 16, 15])[: 5 - t]
        hb = tower(b)
        torch.testing.assert_close(ha[:, : t + 1], hb[:, : t + 1])
        assert not torch.allclose(ha[:, t + 1], hb[:, t + 1])


# -- mutants that survived benchmarks/bench_mutation.py ------------------------------


def test_a_chunk_of_queries_keeps_its_frame_rows():
    """Mutant base.py:10: ``frame.iloc[start + 1:stop]``, context rows shifted by one."""
    frame = pd.DataFrame({"c": [10, 11, 12, 13]})
    queries = Queries(np.array([0, 1, 3, 3, 6]), np.arange(6), frame)
    part = queries[1:3]
    assert part.indptr.tolist() == [0, 2, 2]
    assert part.codes.tolist() == [1, 2]
    assert part.frame["c"].tolist() == [11, 12]
    assert queries[2:4].frame["c"].tolist() == [12, 13]


def test_unknown_history_items_are_dropped_row_by_row():
    """Mutant base.py:77: the CSR offsets rebuilt wrongly when a history holds unknown ids."""
    # the chain 1 -> 2 -> 3 -> 4: the next item is the successor of the last known one
    rec = Transition(order=1).fit([[1], [2], [3]], [2, 3, 4])
    got = rec.recommend([[99, 1], [2, 98], [97], [3]], k=1, exclude_seen=False)
    # row 2 has no known item: popularity's first (counts 1: 1, 2: 2, 3: 2, 4: 1;
    # the tie goes to the lower id)
    assert got[:, 0].tolist() == [2, 3, 2, 4]


def test_the_first_class_is_a_valid_candidate():
    """Mutant base.py:98: ``codes < 1`` calls the first item of ``classes_`` unknown."""
    rec = Transition(order=1).fit([[1], [2], [3]], [2, 3, 4])
    got = rec.recommend([[3]], k=2, candidates=[1, 4], exclude_seen=False)
    assert got.tolist() == [[4, 1]]


def test_per_row_candidates_and_exclude_are_applied():
    """Mutants base.py:103 (per-row lists ignored) and base.py:107 (``and`` -> ``or``:
    a list of candidates has no ``ndim``; a 1-D array read as rows)."""
    # 1 -> 2, 2 -> 3, 3 -> 4: each row's transition target first, when allowed
    rec = Transition(order=1).fit([[1], [2], [3]], [2, 3, 4])
    X = [[1], [2]]
    assert rec.recommend(X, k=2, exclude_seen=False).tolist() == [[2, 3], [3, 2]]
    per_row = [[4, 2], [1, 3]]
    assert rec.recommend(X, k=2, candidates=per_row, exclude_seen=False).tolist() == [[2, 4], [3, 1]]
    got = rec.recommend(X, k=2, candidates=np.array(per_row), exclude_seen=False)
    assert got.tolist() == [[2, 4], [3, 1]]
    assert rec.recommend([[3]], k=2, candidates=np.array([1, 4]), exclude_seen=False).tolist() == [[4, 1]]
    assert rec.recommend(X, k=1, exclude=[[2], [3]], exclude_seen=False)[:, 0].tolist() == [3, 2]


def test_coverage_of_a_one_item_catalogue():
    """Mutants metrics/_ranking.py:79 (``n_items <= 1`` refuses a catalogue of one
    item) and :83 (``k`` allowed from 0)."""
    assert catalog_coverage([[5], [5]], items=1) == 1.0
    assert catalog_coverage([[5], [5]], items=[5]) == 1.0
    assert catalog_coverage([[5, 6]], items=[5], k=1) == 1.0
    with pytest.raises(ValueError, match="non-empty catalogue"):
        catalog_coverage([[5]], items=[])
    # mutant metrics/_ranking.py:83: k=0 let through (coverage 0.0, not an error)
    with pytest.raises(ValueError, match="'k' parameter of catalog_coverage"):
        catalog_coverage([[5]], items=[5], k=0)


def test_sampled_negatives_stay_in_the_catalogue_when_the_draw_rounds_up(monkeypatch):
    """Mutant intent/_losses.py:35: the clamp ``len(cdf) + 1`` lets a code past the end.

    ``u = rand * cdf[-1]`` can round up to ``cdf[-1]`` itself (a draw of
    ``1 - 2**-53``); ``searchsorted(right=True)`` then gives ``len(cdf)``,
    which the clamp must bring back to the last item.
    """
    loss = intent_losses.SampledSoftmaxLoss(n_negatives=4)
    loss.set_popularity(torch.tensor([3, 0, 5]))
    monkeypatch.setattr(intent_losses.torch, "rand",
                        lambda n, **kw: torch.ones(n, dtype=torch.float64))
    assert loss.sample(4).tolist() == [2, 2, 2, 2]
    monkeypatch.undo()
    drawn = loss.draw_step()
    assert drawn.shape == (4,) and bool(((drawn >= 0) & (drawn < 3)).all())


def test_prefix_rows_are_dropped_within_a_user_only():
    """Mutant base.py:65 (``pos and`` -> ``pos or``): a user's sequence dropped as a
    prefix of another user's, or a lone user's first row compared with nothing."""
    # two users with the same sequence 1 -> 2: both count
    X = pd.DataFrame({"user_id": [0, 1], "history": [[1], [1]]})
    assert Popularity().fit(X, [2, 2]).item_counts_.tolist() == [2, 2]
    # one user, rows cut from the same log: the prefix row counts once
    X = pd.DataFrame({"user_id": [5, 5], "history": [[1], [1, 2]]})
    rec = Popularity().fit(X, [2, 3])
    assert rec.classes_.tolist() == [1, 2, 3] and rec.item_counts_.tolist() == [1, 1, 1]


def test_relevant_sets_as_an_object_array():
    """Mutant metrics/_ranking.py:3 (``dtype == object`` -> ``!=``): an object array of
    relevant lists read as one relevant item per row."""
    y_true = np.empty(2, dtype=object)
    y_true[0], y_true[1] = [1, 2], np.array([3])
    y_rec = [[1, 5], [4, 3]]
    # row 0: 1 of its 2 relevant items; row 1: its only one, at rank 2
    assert recall_at_k(y_true, y_rec, k=2) == pytest.approx((1 / 2 + 1) / 2)
    ideal0 = 1 + 1 / np.log2(3)
    assert ndcg_at_k(y_true, y_rec, k=2) == pytest.approx((1 / ideal0 + 1 / np.log2(3)) / 2)


@pytest.mark.parametrize("name, at_10", [
    ("hit_rate_at_k", 1.0), ("recall_at_k", 1.0), ("precision_at_k", 0.1),
    ("ndcg_at_k", 1 / np.log2(11)), ("mrr_at_k", 0.1), ("average_precision_at_k", 0.1),
])
def test_metrics_cut_at_the_documented_default_k_10(name, at_10):
    """Mutants metrics/_ranking.py:48, :62 (``k=10`` -> ``k=11``): the default list length."""
    metric = getattr(metrics, name)
    y_rec = [list(range(1, 12))]  # 11 items; the relevant one 10th or 11th
    assert metric([10], y_rec) == pytest.approx(at_10)
    assert metric([11], y_rec) == 0.0


def test_csr_of_sequences_known_layout():
    """Mutant intent/_data.py:3 (``np.empty(0)`` -> ``np.empty(1)``): no sequences, one
    stray code."""
    indptr, codes = csr([np.array([4, 5]), np.array([], dtype=np.int64), np.array([7])])
    assert indptr.tolist() == [0, 2, 2, 3] and codes.tolist() == [4, 5, 7]
    indptr, codes = csr([])
    assert indptr.tolist() == [0] and codes.shape == (0,) and codes.dtype == np.int64


def test_custom_item_vectors_are_indexed_by_the_losses():
    """Mutant intent/_losses.py:14 (``return None``): the sampled losses' rows of a
    tower with its own ``item_vectors`` (documented: indexed from ``all()``)."""
    table = torch.arange(12, dtype=torch.float32).reshape(4, 3)

    class Custom(torch.nn.Module):
        def item_vectors(self):
            return table

    items = intent_losses.ItemTable(Custom())
    assert len(items) == 4
    torch.testing.assert_close(items.rows(torch.tensor([2, 0, 2])), table[[2, 0, 2]])


def test_bce_draws_negatives_from_the_whole_catalogue():
    """Mutants intent/_losses.py:48 (``randint(1, ...)``: item 0 never a negative) and
    :50 (``sum(0)``: the positive logits summed over the rows, not the vector)."""
    table = torch.tensor([[10.0], [-1.0]])  # with hidden 1: item 0 scores 10, item 1 -1

    class Custom(torch.nn.Module):
        def item_vectors(self):
            return table

    torch.manual_seed(0)
    loss = intent_losses.BCELoss(n_negatives=2000)(
        torch.ones(3, 1), torch.tensor([1, 1, 1]), intent_losses.ItemTable(Custom()))
    softplus = lambda x: np.log1p(np.exp(x))  # noqa: E731
    # target term: -log sigmoid(-1) per row; negatives term: -log(1 - sigmoid(s))
    # averaged over uniform draws of both items (item 1 alone would give 0.31)
    expected = softplus(1.0) + (softplus(10.0) + softplus(-1.0)) / 2
    assert float(loss) == pytest.approx(expected, abs=0.3)
