"""The HTML repr links to our API pages; IntentRecommender.set_output."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from sklearn_recsys.baselines import EASE
from sklearn_recsys.datasets import make_sessions, queries_from_log
from sklearn_recsys.intent import IntentRecommender
from sklearn_recsys.pipeline import RecommenderPipeline
from sklearn_recsys.utils.discovery import all_estimators

API = (Path(__file__).parents[1] / "docs" / "api.rst").read_text()


def _instances():
    for name, cls in all_estimators():
        if name == "ApproximateRecommender":
            yield name, cls(EASE())
        elif name == "RecommenderPipeline":
            yield name, RecommenderPipeline([("model", EASE())])
        else:
            yield name, cls()


@pytest.mark.parametrize("name, est", list(_instances()), ids=lambda v: v if isinstance(v, str) else "")
def test_html_repr_links_to_the_api_page(name, est):
    link = est._get_doc_link()
    m = re.fullmatch(
        r"https://sklearn-recsys\.readthedocs\.io/en/latest/generated/"
        r"sklearn_recsys\.(\w+)\.(\w+)\.html",
        link,
    )
    assert m, link
    module, cls = m.groups()
    assert cls == name
    # the page exists: the class is listed under its module in the API reference
    section = API.split(f".. currentmodule:: sklearn_recsys.{module}\n", 1)
    assert len(section) == 2, f"sklearn_recsys.{module} has no API section"
    assert re.search(rf"^   {name}$", section[1].split(".. currentmodule::")[0], re.M)
    assert f'href="{link}"' in est._repr_html_()


def test_doc_link_base_follows_the_environment(monkeypatch):
    monkeypatch.setenv("SKLEARN_RECSYS_DOCS_URL", "file:///tmp/html")
    assert EASE()._get_doc_link() == (
        "file:///tmp/html/generated/sklearn_recsys.baselines.EASE.html"
    )


def test_intent_recommender_set_output_pandas():
    torch.set_num_threads(1)
    log = make_sessions(n_users=40, n_items=30, random_state=0).interactions
    X, y = queries_from_log(log, n_last=2)
    X.index = X.index + 1000  # a non-default index is kept
    rec = IntentRecommender(max_epochs=1, module__d_model=8, random_state=0,
                            device="cpu", verbose=0)
    out = rec.set_output(transform="pandas").fit_transform(X, y)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == [f"intent{i}" for i in range(8)]
    assert out.index.equals(X.index)
    plain = rec.set_output(transform="default").transform(X)
    assert isinstance(plain, np.ndarray) and plain.dtype == np.float32
    np.testing.assert_array_equal(out.to_numpy(), plain)
