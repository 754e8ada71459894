import os

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.environ.get("CROSSNET_REFERENCE",
                           os.path.join(ROOT, "..", "shared", "reference"))


@pytest.fixture
def rng():
    return np.random.RandomState(42)


@pytest.fixture(scope="session")
def reference_dir():
    """``../shared/reference`` relative to the repo root, or skip."""
    if not os.path.isdir(REFERENCE):
        pytest.skip("reference data not found at %s (set CROSSNET_REFERENCE or "
                    "check out ../shared beside the repo)"
                    % os.path.abspath(REFERENCE))
    return os.path.abspath(REFERENCE)
