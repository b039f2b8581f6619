"""
Serving a fitted pipeline over HTTP
===================================

A small web service around any fitted recommender or
:class:`~sklearn_recsys.pipeline.RecommenderPipeline` saved with joblib,
with `FastAPI <https://fastapi.tiangolo.com>`_ and `uvicorn
<https://www.uvicorn.org>`_ (``pip install 'sklearn-recsys[serve]'``; the
package itself never imports them):

* ``GET /health``: ``{"status": "ok", "model": ..., "n_items": ...}``
  once the model is loaded;
* ``POST /recommend`` with ``{"history": [12, 7, 31], "k": 10}``:
  ``{"items": [...], "scores": [...]}``, best first, exactly what
  ``model.recommend([history], k=k, return_scores=True)`` returns.

Run it on a saved model, or with no model for a demo (an EASE fitted on
synthetic sessions)::

    python examples/serve_http.py model.joblib --port 8000
    curl -s localhost:8000/recommend -H 'content-type: application/json' \\
         -d '{"history": [12, 7, 31], "k": 5}'

This script is not executed when the documentation is built (it serves
until stopped); ``tests/test_serve_example.py`` starts it on a free port,
queries it with ``httpx`` and compares the answers with ``recommend``.
"""

import argparse

import joblib
import numpy as np
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field


class Query(BaseModel):
    """The body of ``POST /recommend``: a history (oldest first) and ``k``."""

    history: list[int | str] = Field(description="item ids, oldest first")
    k: int = Field(10, ge=1, description="number of items to return")


class Recommendation(BaseModel):
    """The answer: item ids, best first, and their scores."""

    items: list[int | str]
    scores: list[float]


def create_app(model):
    """A FastAPI application recommending with the fitted ``model``."""
    app = FastAPI(title="sklearn-recsys", description=f"{type(model).__name__} recommendations")
    n_items = len(model.classes_)

    @app.get("/health")
    def health():
        return {"status": "ok", "model": type(model).__name__, "n_items": n_items}

    # a plain (not async) function: FastAPI runs it in a worker thread, so
    # a long recommend does not block the event loop
    @app.post("/recommend", response_model=Recommendation)
    def recommend(query: Query):
        if query.k > n_items:
            raise HTTPException(
                status_code=422,
                detail=f"k must be at most the number of items ({n_items}); got {query.k}.",
            )
        items, scores = model.recommend([query.history], k=query.k, return_scores=True)
        return {"items": items[0].tolist(), "scores": np.asarray(scores[0], dtype=float).tolist()}

    return app


def demo_model():
    """An EASE fitted on synthetic sessions (when no model file is given)."""
    from sklearn_recsys.baselines import EASE
    from sklearn_recsys.datasets import make_sessions, queries_from_log

    X, y = queries_from_log(make_sessions(n_users=300, random_state=0).interactions)
    return EASE().fit(X, y)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Serve a saved recommender over HTTP.")
    parser.add_argument("model", nargs="?", help="joblib file of a fitted recommender or pipeline "
                        "(default: a demo EASE on synthetic data)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    import uvicorn

    model = joblib.load(args.model) if args.model else demo_model()
    uvicorn.run(create_app(model), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
