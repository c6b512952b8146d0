"""Fixtures for the example tests: run an example script's ``main(argv)`` in this process, on one thread."""
import importlib.util
import itertools
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
CONFIGS = ROOT / "configs"
_counter = itertools.count()


def load_script(relative: str):
    """``examples/<relative>`` as a fresh module (each script puts examples/ on sys.path for finetune.py)."""
    path = EXAMPLES / relative
    name = f"example_{path.parent.name}_{path.stem}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread (the tiny configs ask for it too); restore torch's setting after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def no_hub(monkeypatch):
    """The examples must not reach for a hub: tiny models are built locally."""
    monkeypatch.delenv("FLAGAI_HUB_ENDPOINT", raising=False)
    monkeypatch.setenv("FLAGAI_OFFLINE", "1")


@pytest.fixture(scope="session")
def script():
    """``script("ner/train.py")``: a fresh module of an example script (see :func:`load_script`)."""
    return load_script


@pytest.fixture(scope="session")
def finetune():
    """examples/finetune.py (the shared plumbing)."""
    return load_script("finetune.py")


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    """One checkpoints folder for the session: each tiny model is built once and reused, as on a user's disk."""
    return tmp_path_factory.mktemp("checkpoints")
