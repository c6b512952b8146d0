"""A static HTTP server (http.server, no Range support) and file:// give the same model as S3."""
from __future__ import annotations

from hub_helpers import FAST, same_files

from flagai_lite.hub import download, list_models, verify


def test_static_server_and_file_endpoint_give_the_same_result(static_hub, file_hub, tiny_model, tmp_path):
    over_http = download("tiny", tmp_path / "http", endpoint=static_hub.url, **FAST)
    over_file = download("tiny", tmp_path / "file", endpoint=file_hub.as_uri(), **FAST)
    assert same_files(over_http, tiny_model) and same_files(over_file, tiny_model)
    assert (over_http / "manifest.json").read_bytes() == (over_file / "manifest.json").read_bytes()
    assert verify(over_http).files == verify(over_file).files
    assert list_models(static_hub.url) == list_models(file_hub.as_uri()) == ["tiny"]


def test_file_endpoint_in_parallel_pieces(file_hub, tiny_model, tmp_path):
    model_dir = download("tiny", tmp_path, endpoint=file_hub.as_uri(), chunk_size=32 << 10, max_workers=3, **FAST)
    assert same_files(model_dir, tiny_model)


def test_endpoint_from_environment(static_hub, tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("FLAGAI_HUB_ENDPOINT", static_hub.url)
    assert same_files(download("tiny", tmp_path, **FAST), tiny_model)


def test_progress_bars_and_chunks_from_environment(file_hub, tiny_model, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FLAGAI_HUB_PROGRESS", "1")
    monkeypatch.setenv("FLAGAI_HUB_CHUNKS", "3")
    model_dir = download("tiny", tmp_path, endpoint=file_hub.as_uri(), chunk_size=64 << 10)
    assert same_files(model_dir, tiny_model)
    err = capsys.readouterr().err
    assert "tiny" in err and "model.safetensors" in err  # the total bar and one bar per file


def test_no_progress_output_when_disabled(file_hub, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FLAGAI_HUB_PROGRESS", "0")
    download("tiny", tmp_path, endpoint=file_hub.as_uri())
    assert capsys.readouterr().err == ""
