"""FLAGAI_HUB_FSYNC=0 / fsync=False: file data is not flushed to disk, yet stays verified and atomic.

Small metadata (manifest copy, verification records) stays flushed either way.
"""
import hashlib
import json
import os

import pytest

from flagai_lite.hub import download


def _hub(tmp_path):
    model = tmp_path / "hub" / "m"
    model.mkdir(parents=True)
    data = os.urandom(300_000)
    (model / "weights.bin").write_bytes(data)
    manifest = {"version": 1, "model": "m", "files": [
        {"path": "weights.bin", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}]}
    (model / "manifest.json").write_text(json.dumps(manifest))
    return (tmp_path / "hub").as_uri(), data


def _record_synced_paths(monkeypatch):
    synced = []

    def record(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))

    monkeypatch.setattr(os, "fsync", record)
    monkeypatch.setattr(os, "fdatasync", record)
    return synced


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_fsync_can_be_turned_off(tmp_path, monkeypatch, how):
    endpoint, data = _hub(tmp_path)
    synced = _record_synced_paths(monkeypatch)
    kwargs = {"fsync": False} if how == "argument" else {}
    if how == "environment":
        monkeypatch.setenv("FLAGAI_HUB_FSYNC", "0")
    model_dir = download("m", tmp_path / "out", endpoint=endpoint, progress=False, chunk_size=1 << 16, **kwargs)
    assert (model_dir / "weights.bin").read_bytes() == data
    assert not [p for p in synced if "weights.bin" in p]


def test_fsync_is_on_by_default(tmp_path, monkeypatch):
    endpoint, data = _hub(tmp_path)
    synced = _record_synced_paths(monkeypatch)
    download("m", tmp_path / "out", endpoint=endpoint, progress=False)
    assert [p for p in synced if "weights.bin" in p]
