"""Local first and offline: complete directories never touch the network; offline names what is missing."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hub_helpers import FAST, same_files
from hub_servers import StaticServer

from flagai_lite.errors import HubError, HubUnreachableError, OfflineError
from flagai_lite.hub import cache, download


def test_warm_directory_works_with_the_hub_down(file_hub, tiny_model, tmp_path):
    server = StaticServer(str(file_hub))
    model_dir = download("tiny", tmp_path, endpoint=server.url, **FAST)
    server.stop()
    assert download("tiny", tmp_path, endpoint=server.url, **FAST) == model_dir
    assert download("tiny", tmp_path, endpoint=server.url, offline=True, **FAST) == model_dir
    assert download("tiny", tmp_path, **FAST) == model_dir  # no endpoint configured at all
    assert same_files(model_dir, tiny_model)


def test_unreachable_hub_is_not_an_error_when_config_and_weights_are_there(file_hub, tmp_path, caplog):
    server = StaticServer(str(file_hub))
    model_dir = download("tiny", tmp_path, endpoint=server.url, **FAST)
    server.stop()
    (model_dir / "vocab.txt").unlink()
    assert download("tiny", tmp_path, endpoint=server.url, **{**FAST, "retries": 0}) == model_dir
    assert "cannot reach the hub" in caplog.text and "without vocab.txt" in caplog.text
    with pytest.raises(HubUnreachableError):  # asked for explicitly: an error
        download("tiny", tmp_path, ["vocab.txt"], endpoint=server.url, **{**FAST, "retries": 0})
    (model_dir / "model.safetensors").unlink()
    with pytest.raises(HubUnreachableError, match="cannot reach the hub"):
        download("tiny", tmp_path, endpoint=server.url, **{**FAST, "retries": 0})


def test_cold_directory_offline_names_what_is_missing(file_hub, tmp_path, monkeypatch, proxy_factory):
    with pytest.raises(OfflineError, match="offline mode is on .*does not exist"):
        download("tiny", tmp_path, endpoint=file_hub.as_uri(), offline=True)
    with pytest.raises(OfflineError, match=r"missing: config.json \(missing\), vocab.txt \(missing\)"):
        download("tiny", tmp_path, ["config.json", "vocab.txt"], endpoint=file_hub.as_uri(), offline=True)

    download("tiny", tmp_path, ["config.json"], endpoint=file_hub.as_uri(), **FAST)
    monkeypatch.setenv("FLAGAI_OFFLINE", "1")
    with pytest.raises(OfflineError) as err:
        download("tiny", tmp_path, endpoint=file_hub.as_uri())
    message = str(err.value)
    assert "model.safetensors (missing)" in message and "vocab.txt (missing)" in message
    assert "config.json" not in message.split("missing:")[1]


def test_offline_env_opens_no_connection(static_hub, proxy_factory, tmp_path, monkeypatch):
    proxy = proxy_factory(static_hub.url)
    monkeypatch.setenv("FLAGAI_OFFLINE", "1")
    with pytest.raises(OfflineError):
        download("tiny", tmp_path, endpoint=proxy.url)
    assert proxy.served() == []


def test_a_modified_file_is_detected_and_refetched_alone(file_hub, tiny_model, tmp_path, proxy_factory, static_hub):
    proxy = proxy_factory(static_hub.url)
    model_dir = download("tiny", tmp_path, endpoint=proxy.url, **FAST)
    vocab = model_dir / "vocab.txt"
    vocab.write_bytes(vocab.read_bytes().upper())  # same size, new mtime: re-hashed, mismatch
    with pytest.raises(OfflineError, match=r"vocab.txt \(sha256 [0-9a-f]{64} != expected"):
        download("tiny", tmp_path, offline=True)
    proxy.clear()
    download("tiny", tmp_path, endpoint=proxy.url, **FAST)
    fetched = [s.path.rsplit("/", 1)[1] for s in proxy.served()]
    assert [name for name in fetched if name != "manifest.json"] == ["vocab.txt"]
    assert same_files(model_dir, tiny_model)


def test_verified_files_are_not_rehashed_on_every_load(file_hub, tmp_path, monkeypatch):
    model_dir = download("tiny", tmp_path, endpoint=file_hub.as_uri(), **FAST)
    calls = []
    monkeypatch.setattr(cache, "sha256_file", lambda path: calls.append(path))
    download("tiny", tmp_path, endpoint=file_hub.as_uri(), **FAST)
    assert calls == []
    assert json.loads((model_dir / ".cache/files/model.safetensors.verified").read_text())["sha256"]


def test_user_made_directory_without_manifest(tmp_path):
    model_dir = tmp_path / "mine"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    with pytest.raises(OfflineError, match=r"\(weights\) \(no weight file"):
        download("mine", tmp_path, offline=True)
    (model_dir / "pytorch_model.bin").write_bytes(b"x")
    assert download("mine", tmp_path) == model_dir  # complete: no endpoint needed
    assert download("mine", tmp_path, ["config.json"]) == model_dir
    with pytest.raises(HubError, match="no hub endpoint"):
        download("mine", tmp_path, ["vocab.txt"])


def test_local_first_path_imports_neither_requests_nor_tqdm(file_hub, tmp_path):
    download("tiny", tmp_path, endpoint=file_hub.as_uri(), **FAST)
    code = (
        "import sys; from flagai_lite.hub import download; "
        f"download('tiny', {str(tmp_path)!r}, endpoint='http://127.0.0.1:9'); "
        "print(sorted(m for m in ('requests', 'tqdm', 'urllib3', 'torch', 'boto3') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert out.stdout.strip() == "[]"


def test_no_endpoint_is_not_an_error_when_config_and_weights_are_there(file_hub, tmp_path, caplog):
    model_dir = download("tiny", tmp_path, endpoint=file_hub.as_uri(), **FAST)
    (model_dir / "vocab.txt").unlink()
    assert download("tiny", tmp_path, **FAST) == model_dir
    assert "no hub endpoint" in caplog.text and "without vocab.txt" in caplog.text
