"""examples/serve_http.py: a real server in a subprocess, queried over HTTP."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the HTTP example needs the serve extra (fastapi)")
pytest.importorskip("uvicorn", reason="the HTTP example needs the serve extra (uvicorn)")
httpx = pytest.importorskip("httpx", reason="the test queries the server with httpx (serve extra)")

from sklearn_recsys.baselines import EASE  # noqa: E402
from sklearn_recsys.datasets import make_sessions, queries_from_log  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "serve_http.py"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # one server for the module: starting it (imports) is most of the cost
    tmp_path = tmp_path_factory.mktemp("serve")
    X, y = queries_from_log(make_sessions(n_users=60, n_items=40, random_state=0).interactions)
    model = EASE(l2=10.0).fit(X, y)
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLE), str(path), "--port", str(port)],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited with {proc.returncode}:\n{proc.communicate()[1]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the server did not answer /health within 90 s")
            time.sleep(0.2)
        yield url, model, X
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_server_answers_what_recommend_returns(server):
    url, model, X = server
    health = httpx.get(f"{url}/health").json()
    assert health == {"status": "ok", "model": "EASE", "n_items": len(model.classes_)}
    for history in [list(X["history"].iloc[0]), [], [int(model.classes_[3]), 10_000]]:
        answer = httpx.post(f"{url}/recommend", json={"history": history, "k": 5})
        assert answer.status_code == 200, answer.text
        got = answer.json()
        items, scores = model.recommend([history], k=5, return_scores=True)
        assert got["items"] == items[0].tolist()
        np.testing.assert_allclose(got["scores"], scores[0], rtol=1e-6)
    # k defaults to 10
    assert len(httpx.post(f"{url}/recommend", json={"history": [1, 2]}).json()["items"]) == 10


def test_server_rejects_bad_queries(server):
    url, model, _ = server
    too_many = httpx.post(f"{url}/recommend", json={"history": [1], "k": len(model.classes_) + 1})
    assert too_many.status_code == 422
    assert "k must be at most the number of items" in too_many.json()["detail"]
    assert httpx.post(f"{url}/recommend", json={"history": [1], "k": 0}).status_code == 422
    assert httpx.post(f"{url}/recommend", json={"k": 3}).status_code == 422  # no history
