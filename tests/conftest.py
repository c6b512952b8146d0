"""Shared pytest configuration: deterministic CPU runs and the shared reference folder."""
import os
from pathlib import Path

import pytest
import torch

# Two cores here and in CI: keep torch from oversubscribing them across xdist workers.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

# ../shared/reference beside the project root (CI has it too); FLAGAI_LITE_SHARED overrides the folder.
SHARED_REFERENCE = Path(os.environ.get("FLAGAI_LITE_SHARED", Path(__file__).resolve().parents[1].parent / "shared")) / "reference"


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` need a GPU: skip them (with the reason) where torch sees none."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (none on this machine)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    """The ../shared/reference folder beside the project root (CI has it too)."""
    if not SHARED_REFERENCE.is_dir():
        pytest.fail(f"shared reference data not found at {SHARED_REFERENCE}")
    return SHARED_REFERENCE
