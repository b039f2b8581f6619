"""Data-parallel training of IntentRecommender: 2 CPU processes with gloo.

A small script is launched as torchrun launches it (two processes with
``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` in their
environment) and fits the same model in both; the tests check that both end
with the same weights and history, that the quality is close to a
one-process fit with the same settings, and what the helpers do on their own
(sparse gradients, the shard sampler). ``benchmarks/bench_distributed.py``
runs the real ``torchrun``. Skipped where torch.distributed or gloo is
missing.
"""

import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from sklearn_recsys.datasets import make_sessions, queries_from_log
from sklearn_recsys.intent import IntentRecommender, RankingEarlyStopping
from sklearn_recsys.intent._distributed import ShardSampler, world

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HAS_GLOO = torch.distributed.is_available() and torch.distributed.is_gloo_available()
needs_gloo = pytest.mark.skipif(not HAS_GLOO, reason="needs torch.distributed with gloo")

# the one-process reference and the launch use these (the launch's script
# reads them from here)
PARAMS = dict(module="gru", max_epochs=6, batch_size=32, max_len=20, module__d_model=16,
              module__n_layers=1, lr=5e-3, validation=0.2, random_state=0, verbose=0,
              device="cpu")


def _model(**params):
    # early stopping too: the processes must stop at the same epoch
    stop = RankingEarlyStopping(patience=2, threshold=0.01)
    return IntentRecommender(**{**PARAMS, "callbacks": [stop], **params})


def _data():
    data = make_sessions(n_users=150, n_items=40, n_topics=4, mean_length=20, random_state=0)
    X, y = queries_from_log(data.interactions, n_last=2)
    train, test = X.index % 2 == 0, X.index % 2 == 1
    return (X[train].reset_index(drop=True), y[train],
            X[test].reset_index(drop=True), y[test])


SCRIPT = textwrap.dedent("""
    import os, pickle, sys
    import numpy as np
    import torch
    torch.set_num_threads(1)
    sys.path.insert(0, {tests!r})
    from test_distributed import _data, _model
    from sklearn_recsys.intent._distributed import average_gradients

    Xtr, ytr, Xte, yte = _data()
    rec = _model().fit(Xtr, ytr)
    rank = torch.distributed.get_rank()
    out = {tmp!r}
    torch.save(rec.module_.state_dict(), os.path.join(out, f"weights{{rank}}.pt"))
    result = {{
        "ndcg": rec.score(Xte, yte),
        "history": rec.history_[:, ("train_loss", "valid_loss", "valid_ndcg")],
        "callbacks": [name for name, _ in rec.callbacks_],
    }}
    # a sparse gradient (an embedding with sparse=True) and a parameter
    # that has a gradient on one process only
    emb = torch.nn.Embedding(5, 3, sparse=True)
    emb(torch.tensor([rank, 4])).sum().backward()
    lonely = torch.nn.Parameter(torch.zeros(2))
    if rank == 0:
        lonely.grad = torch.ones(2)
    never = torch.nn.Parameter(torch.zeros(2))
    average_gradients([emb.weight, lonely, never])
    result["sparse"] = emb.weight.grad.is_sparse, emb.weight.grad.to_dense().numpy()
    result["lonely"], result["never"] = lonely.grad.numpy(), never.grad
    # the fitted model pickles and recommends like any other
    result["reloaded"] = pickle.loads(pickle.dumps(rec)).recommend(Xte[:5], k=5)
    result["recommend"] = rec.recommend(Xte[:5], k=5)
    with open(os.path.join(out, f"result{{rank}}.pkl"), "wb") as f:
        pickle.dump(result, f)
    # and one more epoch, warm (the processes stay in step)
    rec.set_params(max_epochs=1).partial_fit(Xtr, ytr)
    torch.save(rec.module_.state_dict(), os.path.join(out, f"warm{{rank}}.pt"))
    # sampled softmax: a sparse item table (sparse_items="auto") and LazyAdam
    rec = _model(loss="sampled_softmax", n_negatives=16, max_epochs=2).fit(Xtr, ytr)
    assert rec.module_.item_embedding.sparse
    torch.save(rec.module_.state_dict(), os.path.join(out, f"sparse{{rank}}.pt"))
""")


@pytest.fixture(scope="module")
def launch(tmp_path_factory):
    if not HAS_GLOO:
        pytest.skip("needs torch.distributed with gloo")
    tmp = str(tmp_path_factory.mktemp("ddp"))
    script = os.path.join(tmp, "fit.py")
    with open(script, "w") as f:
        f.write(SCRIPT.format(tests=os.path.join(ROOT, "tests"), tmp=tmp))
    # what torchrun does, without its own (slow to import) launcher process:
    # one process per rank, the rendezvous in the environment (env://)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(port), "WORLD_SIZE": "2",
           "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    procs = [
        subprocess.Popen([sys.executable, script], env={**env, "RANK": str(r), "LOCAL_RANK": str(r)},
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for r in range(2)
    ]
    try:
        outputs = [p.communicate(timeout=240)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, output in zip(procs, outputs):
        assert p.returncode == 0, output[-3000:]
    import pickle

    results = []
    for rank in range(2):
        with open(os.path.join(tmp, f"result{rank}.pkl"), "rb") as f:
            results.append(pickle.load(f))
    weights = [[torch.load(os.path.join(tmp, f"{what}{r}.pt")) for r in range(2)]
               for what in ("weights", "warm", "sparse")]
    return results, weights


@needs_gloo
def test_both_ranks_end_with_the_same_weights_and_history(launch):
    results, weights = launch
    # after fit, after a warm partial_fit, and with sparse item gradients
    for w0, w1 in weights:
        assert w0.keys() == w1.keys()
        for name in w0:
            assert torch.equal(w0[name], w1[name]), name
    assert any(not torch.equal(a, b) for a, b in zip(weights[0][0].values(), weights[1][0].values()))
    # the averaged records: the same epoch table (and early stopping) everywhere
    assert results[0]["history"] == results[1]["history"]
    assert results[0]["ndcg"] == results[1]["ndcg"]
    assert results[0]["callbacks"][0] == "distributed"
    np.testing.assert_array_equal(results[0]["recommend"], results[1]["recommend"])
    np.testing.assert_array_equal(results[0]["recommend"], results[0]["reloaded"])


@needs_gloo
def test_quality_is_close_to_one_process(launch):
    results, _ = launch
    Xtr, ytr, Xte, yte = _data()
    single = _model().fit(Xtr, ytr)
    one, two = single.score(Xte, yte), results[0]["ndcg"]
    # a different batch order (and dropout): the same quality up to noise
    assert abs(one - two) < 0.05, (one, two)
    assert "distributed" not in dict(single.callbacks_)


@needs_gloo
def test_sparse_and_missing_gradients_are_averaged(launch):
    results, _ = launch
    for r in results:
        is_sparse, dense = r["sparse"]
        assert is_sparse
        # rank 0 looked up rows 0 and 4, rank 1 rows 1 and 4 (gradient 1 each)
        expected = np.zeros((5, 3), dtype=np.float32)
        expected[[0, 1]] = 0.5
        expected[4] = 1.0
        np.testing.assert_allclose(dense, expected)
        np.testing.assert_allclose(r["lonely"], [0.5, 0.5])
        assert r["never"] is None


def test_shard_sampler_splits_one_shuffle():
    shards = [ShardSampler(10, r, 3, seed=7) for r in range(3)]
    first = [list(s) for s in shards]
    assert all(len(f) == 4 for f in first)  # padded to 12: as many steps each
    assert sorted(sum(first, [])) == sorted(list(range(10)) + first[0][:1] + first[1][:1])
    second = [list(s) for s in shards]
    assert first != second  # a new shuffle every epoch ...
    again = [list(ShardSampler(10, r, 3, seed=7)) for r in range(3)]
    assert again == first  # ... and the same one for the same seed


def test_no_launch_changes_nothing(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    Xtr, ytr, Xte, _ = _data()
    params = {**PARAMS, "max_epochs": 2}
    auto = IntentRecommender(**params).fit(Xtr, ytr)
    off = IntentRecommender(**params, distributed=False).fit(Xtr, ytr)
    assert world(auto) is None
    assert [n for n, _ in auto.callbacks_] == [n for n, _ in off.callbacks_]
    np.testing.assert_array_equal(auto.recommend(Xte, k=10), off.recommend(Xte, k=10))
    for a, b in zip(auto.module_.parameters(), off.module_.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(RuntimeError, match="distributed launch"):
        IntentRecommender(**params, distributed=True).fit(Xtr, ytr)
