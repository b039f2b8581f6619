"""Claims of the user guide that no other test checked (issue 13, item 6).

* scale.rst: ``loss="auto"`` is the full softmax up to 5,000 items and the
  sampled softmax above;
* recommend is thread-safe: threads sharing one fitted model get the lists a
  sequential call gives.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from sklearn_recsys.baselines import EASE, ItemKNN, Transition
from sklearn_recsys.datasets import make_sessions, queries_from_log
from sklearn_recsys.intent import IntentRecommender

TINY = dict(max_epochs=1, batch_size=32, max_len=5, module__d_model=8, module__n_heads=1,
            module__n_layers=1, random_state=0, verbose=0, device="cpu")


@pytest.mark.parametrize("n_items, expected", [(5000, "ce"), (5001, "sampled_softmax")])
def test_loss_auto_switches_above_5000_items(n_items, expected):
    X = [[1, 2], [2, 3], [3, 1]] * 4
    y = [3, 1, 2] * 4
    model = IntentRecommender(**TINY, items=np.arange(1, n_items + 1)).fit(X, y)
    assert len(model.classes_) == n_items
    assert model.loss_ == expected
    assert type(model.criterion_).__name__ == (
        "FullSoftmaxLoss" if expected == "ce" else "SampledSoftmaxLoss")


@pytest.fixture(scope="module")
def queries():
    log = make_sessions(n_users=200, random_state=0).interactions
    return queries_from_log(log, n_last=1, max_len=20)


@pytest.mark.parametrize("make", [
    lambda: EASE(),
    lambda: ItemKNN(),
    lambda: Transition(),
    lambda: IntentRecommender(**{**TINY, "max_epochs": 2}),
], ids=["EASE", "ItemKNN", "Transition", "IntentRecommender"])
def test_recommend_is_thread_safe(make, queries):
    X, y = queries
    model = make().fit(X, y)
    chunks = [X.iloc[i::8] for i in range(8)]
    expected = [model.recommend(c, k=10, return_scores=True) for c in chunks]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            got = list(pool.map(lambda c: model.recommend(c, k=10, return_scores=True), chunks))
            for (ei, es), (gi, gs) in zip(expected, got):
                np.testing.assert_array_equal(gi, ei)
                np.testing.assert_array_equal(gs, es)
