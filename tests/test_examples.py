"""Every gallery example runs to the end in quick mode.

Each ``examples/plot_*.py`` runs in its own process, as a user would run it,
with ``SKLEARN_RECSYS_QUICK=1`` (small data, few epochs) and the Agg
matplotlib backend. The MovieLens parts run too when the real datasets are
available (``$SKLEARN_RECSYS_DATA`` or ``../shared/data``, as in conftest).
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))
# Each example is meant to take about 20 s in quick mode on 2 CPU cores.
TIMEOUT_S = 180


def _data_home():
    """The MovieLens directory, found as conftest's ``data_home`` fixture does."""
    env = os.environ.get("SKLEARN_RECSYS_DATA")
    path = Path(env) if env else ROOT.parent / "shared" / "data"
    return path if path.is_dir() else None


def test_examples_found():
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(path, tmp_path):
    env = {
        **os.environ,
        "SKLEARN_RECSYS_QUICK": "1",
        "MPLBACKEND": "Agg",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    # Tiny networks: threads buy nothing, and OpenMP threads spinning on a
    # CPU shared with other jobs can make them 10x slower.
    env.setdefault("OMP_NUM_THREADS", "1")
    data_home = _data_home()
    if data_home is not None:
        env["SKLEARN_RECSYS_DATA"] = str(data_home)
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(path)], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=TIMEOUT_S,
    )
    elapsed = time.perf_counter() - start
    assert result.returncode == 0, (
        f"{path.name} failed after {elapsed:.1f} s\n--- stdout ---\n{result.stdout[-3000:]}"
        f"\n--- stderr ---\n{result.stderr[-5000:]}"
    )
    print(f"{path.name}: {elapsed:.1f} s")
