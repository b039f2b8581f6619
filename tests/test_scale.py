"""The top-k engine at scale: the sampled-threshold path, column blocks, and
the sparse training path of the intent model (LazyAdam, negative sampler).

Every ranking is checked against a full NumPy sort under the package's
rules, written here independently of the engine.
"""

import numpy as np
import pytest
import torch

import sklearn_recsys.base as base
from sklearn_recsys._topk import _sample_width, _select_sampled, top_k, top_k_blocks
from sklearn_recsys.intent import IntentRecommender, LazyAdam
from sklearn_recsys.intent._losses import SampledSoftmaxLoss

SEEN = np.finfo(np.float32).min


def reference(scores, k, seen=None, allowed=None, fallback=None, empty=None):
    """The rules by a full sort: fallback rows, -inf outside the candidates,
    SEEN for seen items (unless already -inf), best first, ties by code."""
    s = np.array(scores, dtype=np.float32)
    if empty is not None and empty.any():
        s[empty] = fallback
    if allowed is not None:
        s[:, ~allowed] = -np.inf
    if seen is not None:
        r, c = seen
        s[r, c] = np.where(np.isneginf(s[r, c]), -np.inf, SEEN)
    cols = np.broadcast_to(np.arange(s.shape[1]), s.shape)
    top = np.lexsort((cols, -s), axis=1)[:, :k]
    return top, np.take_along_axis(s, top, axis=1)


def _block(kind, n, m, rng):
    s = rng.random((n, m), dtype=np.float32)
    if kind == "ties":
        s = np.round(s, 1)
    elif kind == "few values":
        s = np.round(s * 3).astype(np.float32)
    elif kind == "sorted":  # scores rising along the codes: the sample misleads
        s = np.sort(s, axis=1)
    elif kind == "sparse":
        s[:, rng.random(m) < 0.7] = 0.0
    elif kind == "constant":
        s[:] = 1.0
    return s


KINDS = ["uniform", "ties", "few values", "sorted", "sparse", "constant"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("k", [1, 10, 100])
def test_top_k_equals_a_full_sort_on_wide_blocks(kind, k):
    rng = np.random.default_rng(len(kind) * 100 + k)
    n, m = 37, 12_000  # wide enough for the sampled path at every k here
    assert _sample_width(m, k)
    s = _block(kind, n, m, rng)
    rows = np.repeat(np.arange(n), 30)
    seen = (rows, rng.integers(0, m, len(rows)))
    allowed = rng.random(m) < 0.9
    empty = np.zeros(n, dtype=bool)
    empty[[3, 20]] = True
    fallback = rng.random(m, dtype=np.float32)
    for kw in ({}, {"seen": seen}, {"allowed": allowed},
               {"seen": seen, "allowed": allowed, "fallback": fallback, "empty": empty}):
        ref = reference(s, k, **kw)
        for scores in (s, torch.from_numpy(s.copy())):
            got = top_k(scores, k, **kw)
            np.testing.assert_array_equal(got[0], ref[0])
            np.testing.assert_array_equal(got[1], ref[1])


def test_sampled_selection_declines_when_the_sample_misleads():
    # every score equal: all items are candidates, so the sample is no help
    # and the whole block is selected on instead (same result)
    s = np.ones((8, 10_000), dtype=np.float32)
    assert _select_sampled(s, 10, _sample_width(10_000, 10)) is None
    s = np.random.default_rng(0).random((8, 10_000), dtype=np.float32)
    assert _select_sampled(s, 10, _sample_width(10_000, 10)) is not None


def test_seen_items_fill_short_lists_in_code_order():
    rng = np.random.default_rng(0)
    s = rng.random((4, 9000), dtype=np.float32)
    allowed = np.zeros(9000, dtype=bool)
    allowed[:12] = True  # 12 candidates, 5 of them seen by every row
    rows = np.repeat(np.arange(4), 5)
    seen = (rows, np.tile([0, 2, 4, 6, 8], 4))
    codes, scores = top_k(s, 12, seen=seen, allowed=allowed)
    ref = reference(s, 12, seen=seen, allowed=allowed)
    np.testing.assert_array_equal(codes, ref[0])
    assert (codes[:, -5:] == [0, 2, 4, 6, 8]).all() and (scores[:, -5:] == SEEN).all()


@pytest.mark.parametrize("kind", ["uniform", "ties", "constant"])
def test_blocks_equal_one_block(kind):
    rng = np.random.default_rng(1)
    n, m, k = 25, 5000, 10
    s = _block(kind, n, m, rng)
    rows = np.repeat(np.arange(n), 40)
    seen = (rows, rng.integers(0, m, len(rows)))
    allowed = rng.random(m) < 0.8
    empty = np.zeros(n, dtype=bool)
    empty[0] = True
    fallback = rng.random(m, dtype=np.float32)
    kw = dict(seen=seen, allowed=allowed, fallback=fallback, empty=empty)
    ref = reference(s, k, **kw)
    for widths in ([m], [7] * (m // 7) + [m % 7], [3, 4997], [1000, 1, 3999]):
        starts = np.concatenate([[0], np.cumsum(widths)[:-1]])
        blocks = ((a, s[:, a:a + w].copy()) for a, w in zip(starts, widths))
        got = top_k_blocks(blocks, k, **kw)
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_array_equal(got[1], ref[1])


# -- the intent model: item blocks and sparse training -------------------------

FAST = dict(max_epochs=2, batch_size=16, max_len=6, module__d_model=8, lr=5e-3,
            random_state=0, verbose=0, device="cpu")


def _data(n_users=80, n_items=60, seed=0):
    rng = np.random.default_rng(seed)
    seqs = rng.integers(0, n_items, size=(n_users, 7))
    return [list(s[:-1]) for s in seqs], seqs[:, -1]


def test_intent_recommend_in_item_blocks_equals_one_block(monkeypatch):
    X, y = _data()
    rec = IntentRecommender(**FAST, loss="sampled_softmax", n_negatives=8).fit(X, y)
    queries = X[:30] + [[], [10_000]]
    one = rec.recommend(queries, k=7, return_scores=True)
    cand = rec.classes_[::2]
    one_c = rec.recommend(queries, k=5, candidates=cand)
    # 13 scores per row and block: the catalogue no longer fits one block
    import sklearn_recsys.intent._recommender as intent_mod

    monkeypatch.setattr(intent_mod, "_CHUNK_SCORES", 13 * 32)
    calls = []
    real = intent_mod.top_k_vectors
    monkeypatch.setattr(intent_mod, "top_k_vectors", lambda *a, **kw: calls.append(kw["width"]) or real(*a, **kw))
    got = rec.recommend(queries, k=7, return_scores=True)
    assert calls and max(calls) < len(rec.classes_) // 3  # several item blocks
    np.testing.assert_array_equal(got[0], one[0])
    # a matrix product split by columns may round the last bit differently
    np.testing.assert_allclose(got[1], one[1], rtol=1e-6)
    np.testing.assert_array_equal(rec.recommend(queries, k=5, candidates=cand), one_c)


def test_sampled_losses_train_the_item_table_sparsely():
    X, y = _data()
    rec = IntentRecommender(**FAST, loss="sampled_softmax", n_negatives=8).fit(X, y)
    assert rec.module_.item_embedding.sparse and isinstance(rec.optimizer_, LazyAdam)
    dense = IntentRecommender(**FAST, loss="sampled_softmax", n_negatives=8, sparse_items=False).fit(X, y)
    assert not dense.module_.item_embedding.sparse
    assert type(dense.optimizer_) is torch.optim.Adam
    full = IntentRecommender(**FAST).fit(X, y)  # the full softmax touches every row
    assert not full.module_.item_embedding.sparse
    assert type(full.optimizer_) is torch.optim.Adam
    sgd = IntentRecommender(**FAST, loss="bce", n_negatives=4, optimizer=torch.optim.SGD).fit(X, y)
    assert not sgd.module_.item_embedding.sparse  # "auto": only with Adam
    forced = IntentRecommender(**FAST, loss="bce", n_negatives=4, optimizer=torch.optim.SGD,
                               sparse_items=True).fit(X, y)
    assert forced.module_.item_embedding.sparse
    # a random_state makes the sparse path reproducible too
    again = IntentRecommender(**FAST, loss="sampled_softmax", n_negatives=8).fit(X, y)
    np.testing.assert_array_equal(rec.recommend(X[:20]), again.recommend(X[:20]))
    # and it learns about as well as the dense path (same loss, lazy moments)
    assert abs(rec.history_[-1]["train_loss"] - dense.history_[-1]["train_loss"]) < 0.5


def test_lazy_adam_dense_parameters_follow_torch_adam():
    torch.manual_seed(0)
    a, b = torch.nn.Linear(5, 3), torch.nn.Linear(5, 3)
    b.load_state_dict(a.state_dict())
    opt_a = torch.optim.Adam(a.parameters(), lr=0.1, weight_decay=0.01)
    opt_b = LazyAdam(b.parameters(), lr=0.1, weight_decay=0.01)
    x = torch.randn(20, 5)
    for _ in range(5):
        for net, opt in ((a, opt_a), (b, opt_b)):
            opt.zero_grad()
            net(x).pow(2).sum().backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_lazy_adam_updates_only_touched_rows_as_adam_would():
    torch.manual_seed(0)
    sparse = torch.nn.Embedding(50, 4, sparse=True)
    dense = torch.nn.Embedding(50, 4)
    dense.load_state_dict(sparse.state_dict())
    opt_s = LazyAdam(sparse.parameters(), lr=0.05)
    opt_d = torch.optim.Adam(dense.parameters(), lr=0.05)
    idx = torch.tensor([3, 7, 7, 20])
    target = torch.randn(4, 4)
    untouched = torch.ones(50, dtype=torch.bool)
    untouched[idx] = False
    before = sparse.weight.detach().clone()
    for _ in range(4):  # the same rows every step: lazy Adam == Adam on them
        for emb, opt in ((sparse, opt_s), (dense, opt_d)):
            opt.zero_grad()
            (emb(idx) - target).pow(2).sum().backward()
            opt.step()
    torch.testing.assert_close(sparse.weight[idx], dense.weight[idx], rtol=1e-6, atol=1e-7)
    assert torch.equal(sparse.weight[untouched], before[untouched])
    state = opt_s.state_dict()  # saves and loads like any optimizer
    LazyAdam(torch.nn.Embedding(50, 4, sparse=True).parameters(), lr=0.05).load_state_dict(state)
    with pytest.raises(ValueError, match="amsgrad"):
        opt = LazyAdam(sparse.parameters(), amsgrad=True)
        sparse(idx).sum().backward()
        opt.step()


def test_negative_sampler_follows_q_and_never_draws_excluded_items():
    loss = SampledSoftmaxLoss(torch.nn.CrossEntropyLoss(), n_negatives=10)
    counts = torch.tensor([0.0, 9.0, 0.0, 19.0, 1.0])
    trained = torch.tensor([1.0, 1.0, 0.0, 1.0, 1.0])
    loss.set_popularity(counts, trained)
    torch.manual_seed(0)
    draws = loss.sample(200_000)
    freq = torch.bincount(draws, minlength=5).double() / len(draws)
    assert freq[2] == 0  # never trained: never drawn
    np.testing.assert_allclose(freq.numpy(), loss.q.double().numpy(), atol=0.005)
    np.testing.assert_allclose(loss.q.numpy(), [1 / 33, 10 / 33, 0, 20 / 33, 2 / 33], rtol=1e-6)


def test_rank_rows_do_not_shrink_with_the_catalogue():
    # vector models score items in blocks: a chunk of rows stays large
    # whatever the catalogue (the baselines keep their n_items budget)
    X, y = _data()
    rec = IntentRecommender(**FAST).fit(X, y)
    assert rec._rank_rows() == 4096
    assert base._CHUNK_SCORES // rec._rank_rows() >= 1


def test_content_model_with_a_sampled_loss_encodes_only_the_rows_a_step_reads(monkeypatch):
    from sklearn_recsys.content import ContentEncoder
    from sklearn_recsys.datasets import make_sessions, queries_from_log
    from sklearn_recsys.intent._content import _HybridItems

    data = make_sessions(n_users=120, random_state=0)
    X, y = queries_from_log(data.interactions, n_last=1)
    enc = ContentEncoder(text_columns=["title"], list_columns=["genres"], char_ngram_range=None,
                         module__d_model=8, max_epochs=0, random_state=0)
    params = dict(FAST, item_encoder=enc, items=data.items, loss="sampled_softmax", n_negatives=16)
    passes = []
    full_compute = _HybridItems.compute
    monkeypatch.setattr(_HybridItems, "compute", lambda self: passes.append(self.training) or full_compute(self))
    rec = IntentRecommender(**params).fit(X, y)
    assert not any(passes)  # no whole-catalogue pass in any training step
    hybrid = rec.module_.item_embedding
    # the rows of a step are the rows of the whole table
    hybrid.eval()
    codes = torch.tensor([0, 3, 3, len(rec.classes_) - 1])
    with torch.no_grad():
        torch.testing.assert_close(hybrid.compute_rows(codes), full_compute(hybrid)[codes + 1])
        hybrid.begin_step(codes[[1, 3]])
        idx = torch.tensor([[0, 4, len(rec.classes_)]])  # padding, then codes 3 and n - 1
        got = hybrid(idx)
        hybrid.end_step()
    torch.testing.assert_close(got[0, 1:], full_compute(hybrid)[idx[0, 1:]])
    assert torch.equal(got[0, 0], torch.zeros_like(got[0, 0]))
    # the full softmax still encodes the catalogue once per step
    passes.clear()
    IntentRecommender(**{**params, "loss": "ce", "max_epochs": 1}).fit(X, y)
    assert any(passes)


@pytest.mark.parametrize("exclude_seen", [True, False])
def test_intent_recommend_skipping_blocks_by_norm_is_exact(monkeypatch, exclude_seen):
    import sklearn_recsys.intent._recommender as intent_mod

    X, y = _data(n_users=120, n_items=300)
    rec = IntentRecommender(**FAST, loss="sampled_softmax", n_negatives=8).fit(X, y)
    with torch.no_grad():  # spread the norms so the bound prunes
        w = rec.module_.item_embedding.weight
        w[1:] *= torch.linspace(3, 0.2, len(w) - 1)[:, None]
    queries = X[:40] + [[], [10_000]]
    cand = rec.classes_[rng_choice(len(rec.classes_))]
    ref = rec.recommend(queries, k=6, exclude_seen=exclude_seen, return_scores=True)
    ref_c = rec.recommend(queries, k=6, exclude_seen=exclude_seen, candidates=cand)
    monkeypatch.setattr(intent_mod, "_CHUNK_SCORES", 40 * 7)  # 7 items per block
    calls = []
    real = intent_mod.top_k_vectors
    monkeypatch.setattr(intent_mod, "top_k_vectors", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    got = rec.recommend(queries, k=6, exclude_seen=exclude_seen, return_scores=True)
    assert calls
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_allclose(got[1], ref[1], rtol=1e-6)
    np.testing.assert_array_equal(
        rec.recommend(queries, k=6, exclude_seen=exclude_seen, candidates=cand), ref_c)


def rng_choice(n):
    return np.sort(np.random.default_rng(0).choice(n, n // 3, replace=False))


def test_top_k_vectors_equals_a_full_sort():
    from sklearn_recsys._topk import top_k_vectors

    gen = torch.Generator().manual_seed(0)
    h = torch.randn(30, 8, generator=gen)
    v = torch.randn(500, 8, generator=gen) * torch.linspace(4, 0.1, 500)[:, None]
    v[100:110] = v[5]  # tied scores
    s = (h @ v.T).numpy()
    rng = np.random.default_rng(0)
    rows = np.repeat(np.arange(30), 12)
    seen = (rows, rng.integers(0, 500, len(rows)))
    allowed = rng.random(500) < 0.8
    empty = np.zeros(30, dtype=bool)
    empty[4] = True
    fallback = rng.random(500, dtype=np.float32)
    for kw in ({}, {"seen": seen, "allowed": allowed, "fallback": fallback, "empty": empty}):
        ref = reference(s, 10, **kw)
        got = top_k_vectors(h, v, 10, width=64, **kw)
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_allclose(got[1], ref[1], rtol=1e-5)


def test_narrow_blocks_with_ties_in_a_few_rows():
    # a few rows tie far beyond k at their k-th score: the candidates of
    # those rows are many, the others' few; selection stays exact
    rng = np.random.default_rng(3)
    s = rng.random((64, 900), dtype=np.float32)
    s[:3, :500] = 0.999
    for k in (5, 40):
        for scores in (s, torch.from_numpy(s.copy())):
            got = top_k(scores, k)
            ref = reference(s, k)
            np.testing.assert_array_equal(got[0], ref[0])
            np.testing.assert_array_equal(got[1], ref[1])
