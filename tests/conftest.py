"""Shared fixtures.

Real datasets are read from ``$SKLEARN_RECSYS_DATA`` or, when that is unset,
from ``../shared/data`` beside the checkout (where CI puts it). Tests that
need them use the ``data_home`` fixture and are skipped when neither exists,
so a fresh clone runs the synthetic suite only.
"""

import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

# The test networks are tiny: intra-op threads only add synchronisation,
# and oversubscribe the 2 CI cores when a test spawns a subprocess.
torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]


def _find_data_home():
    env = os.environ.get("SKLEARN_RECSYS_DATA")
    if env:
        return Path(env)
    candidate = ROOT.parent / "shared" / "data"
    return candidate if candidate.is_dir() else None


@pytest.fixture(scope="session")
def data_home():
    """Directory holding ``ml-100k/``, ``ml-latest-small/``, ...; skips if absent."""
    path = _find_data_home()
    if path is None or not path.is_dir():
        pytest.skip("real datasets not available (set SKLEARN_RECSYS_DATA)")
    return path


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield
