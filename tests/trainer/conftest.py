"""Trainer test fixtures: the tiny-run helper module, one torch thread, subprocess launchers."""
import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

CHILD = Path(__file__).with_name("train_child.py")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def child():
    """The train_child module (tiny model, dataset, ``run``)."""
    spec = importlib.util.spec_from_file_location("trainer_train_child", CHILD)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread; subprocesses get the same (CHILD_THREADS) for bitwise parity."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def launch(tmp_path):
    """``launch(spec, nproc=None) -> CompletedProcess``: train_child.py in a subprocess, or under torchrun."""

    def _launch(spec, nproc=None, timeout=120):
        out = Path(spec["out"])
        out.mkdir(parents=True, exist_ok=True)
        spec_path = out / "spec.json"
        spec_path.write_text(json.dumps(spec))
        env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
        env.update(CHILD_THREADS="1", OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
        if nproc is None:
            cmd = [sys.executable, str(CHILD), str(spec_path)]
        else:
            torchrun = Path(sys.executable).with_name("torchrun")
            cmd = [str(torchrun), "--nproc_per_node", str(nproc), "--master_addr", "127.0.0.1",
                   "--master_port", str(_free_port()), str(CHILD), str(spec_path)]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=tmp_path)

    return _launch

