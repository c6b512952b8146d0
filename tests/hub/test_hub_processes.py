"""Several processes: a SIGKILLed download resumes; concurrent processes and ranks fetch each file once."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hub_helpers import CREDS, FAST, make_model, same_files

from flagai_lite.hub import download, upload, verify

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("hub_worker.py")
WEIGHTS = "model.safetensors"


_STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _kill_leftover_workers():
    """A failing test must not leave worker processes behind."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def start_worker(name: str, path: Path, **kwargs) -> subprocess.Popen:
    dist = kwargs.pop("dist", None)
    job = {"name": name, "path": str(path), "kwargs": {**FAST, **kwargs}, "dist": dist}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(WORKER), json.dumps(job)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    _STARTED.append(proc)
    return proc


def result(proc: subprocess.Popen, timeout: float = 60) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture
def big_hub(bucket, moto_url, tmp_path, proxy_factory):
    """(source dir, proxy) for a model with ~3 MB of weights on moto, behind a fault proxy."""
    src = make_model(tmp_path / "src" / "big", weight_elems=750_000)
    upload(src, "big", f"{moto_url}/{bucket}", credentials=CREDS, acl="public-read", progress=False)
    proxy = proxy_factory(moto_url)
    return src, proxy, f"{proxy.url}/{bucket}"


@pytest.mark.parametrize("pieces, rate", [({}, 1_000_000), ({"chunk_size": 512 << 10, "max_workers": 3}, 400_000)],
                         ids=["one-stream", "pieces"])
def test_sigkilled_download_resumes_where_it_stopped(big_hub, tmp_path, pieces, rate):
    src, proxy, endpoint = big_hub
    size = (src / WEIGHTS).stat().st_size
    proxy.add(WEIGHTS, "throttle", times=None, rate=rate)  # bytes/s per connection
    proc = start_worker("big", tmp_path / "dl", endpoint=endpoint, **pieces)
    final = tmp_path / "dl" / "big" / WEIGHTS
    deadline = time.monotonic() + 20
    while proxy.bytes_for(WEIGHTS) < 1_000_000:
        assert time.monotonic() < deadline and proc.poll() is None
        assert not final.exists()  # never visible before it is complete and verified
        time.sleep(0.05)
    time.sleep(0.6)  # let the progress record catch up (written every 0.5 s)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    before = proxy.bytes_for(WEIGHTS)
    assert not final.exists()
    assert (tmp_path / "dl" / "big" / ".cache" / "files" / f"{WEIGHTS}.partial").exists()

    proxy.clear()
    model_dir = download("big", tmp_path / "dl", endpoint=endpoint, **FAST, **pieces)
    again = proxy.bytes_for(WEIGHTS)
    assert 0 < again < size - 700_000, (before, again, size)
    assert all(s.range for s in proxy.served(WEIGHTS))
    assert same_files(model_dir, src)
    verify(model_dir)


def test_four_processes_at_once_fetch_each_file_once(big_hub, tmp_path):
    src, proxy, endpoint = big_hub
    proxy.add(WEIGHTS, "throttle", times=None, rate=3_000_000)
    procs = [start_worker("big", tmp_path / "dl", endpoint=endpoint, chunk_size=512 << 10, max_workers=3)
             for _ in range(4)]
    results = [result(p) for p in procs]
    assert all(r["ok"] for r in results), results
    for name in ("config.json", WEIGHTS, "vocab.txt"):
        assert proxy.bytes_for(name) == (src / name).stat().st_size, name
    assert len(proxy.served("manifest.json")) == 1
    assert same_files(tmp_path / "dl" / "big", src)


def _dist_workers(name: str, path: Path, tmp_path: Path, **kwargs) -> list[dict]:
    init = (tmp_path / "pg-init").as_uri()
    procs = [start_worker(name, path, dist={"rank": r, "world": 2, "init": init}, **kwargs) for r in (0, 1)]
    return [result(p, timeout=90) for p in procs]


def test_distributed_local_rank_0_downloads_and_rank_1_waits(big_hub, tmp_path):
    src, proxy, endpoint = big_hub
    proxy.add(WEIGHTS, "throttle", times=None, rate=3_000_000)
    results = _dist_workers("big", tmp_path / "dl", tmp_path, endpoint=endpoint)
    assert all(r["ok"] for r in results), results
    assert len(proxy.served()) == 4  # manifest + 3 files, all by rank 0
    assert same_files(tmp_path / "dl" / "big", src)


def test_distributed_rank_0_failure_reaches_rank_1_without_waiting(big_hub, tmp_path):
    _src, proxy, endpoint = big_hub
    results = _dist_workers("no-such-model", tmp_path / "dl", tmp_path, endpoint=endpoint, wait_timeout=60)
    assert [r["error"] for r in results] == ["ModelNotFoundError", "ModelNotFoundError"], results
    assert "LOCAL_RANK 0 failed" in results[1]["message"] and results[1]["seconds"] < 30
    assert len(proxy.served()) == 3  # manifest, listing, index: rank 0 alone asked the hub
