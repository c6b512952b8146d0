"""The hub client against a real S3-protocol server (moto), published with `flagai-lite hub upload`."""
from __future__ import annotations

import json

import pytest
from hub_helpers import CREDS, FAST, same_files

from flagai_lite.cli import main
from flagai_lite.errors import HubError, ModelNotFoundError
from flagai_lite.hub import download, list_models, verify


def test_cli_upload_then_download_verify_and_second_call_is_local(
    bucket, moto_url, tiny_model, tmp_path, monkeypatch, proxy_factory, capsys
):
    endpoint = f"{moto_url}/{bucket}/models"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDS[0])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDS[1])
    assert main(["hub", "upload", str(tiny_model), "tiny", "--endpoint", endpoint, "--public", "--no-progress"]) == 0
    assert "published tiny: 3 files" in capsys.readouterr().out
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")  # downloads below are anonymous
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    proxy = proxy_factory(moto_url)
    hub = f"{proxy.url}/{bucket}/models"
    model_dir = download("tiny", tmp_path / "dl", endpoint=hub, **FAST)
    assert model_dir == tmp_path / "dl" / "tiny"
    assert same_files(model_dir, tiny_model)
    assert [e.path for e in verify(model_dir).files] == ["config.json", "model.safetensors", "vocab.txt"]
    assert main(["hub", "verify", str(model_dir)]) == 0
    assert "ok: 3 files" in capsys.readouterr().out
    first = len(proxy.served())
    assert first == 4  # manifest + three files

    again = download("tiny", tmp_path / "dl", endpoint=hub, **FAST)
    assert again == model_dir
    assert len(proxy.served()) == first  # local first: not a single request

    monkeypatch.setenv("FLAGAI_HUB_ENDPOINT", hub)
    assert main(["hub", "ls"]) == 0
    assert capsys.readouterr().out.split() == ["tiny"]


def test_index_lists_models_and_404_suggests_close_names(s3_hub, tiny_model, tmp_path):
    from flagai_lite.hub import upload

    upload(tiny_model, "bert-base-en", s3_hub, credentials=CREDS, acl="public-read", progress=False)
    assert list_models(s3_hub) == ["bert-base-en", "tiny"]
    with pytest.raises(ModelNotFoundError) as err:
        download("bert-bse-en", tmp_path / "dl", endpoint=s3_hub, **FAST)
    assert "'bert-bse-en'" in str(err.value) and "did you mean: bert-base-en" in str(err.value)
    with pytest.raises(ModelNotFoundError):
        download("org/missing", tmp_path / "dl", endpoint=s3_hub, **FAST)
    assert not (tmp_path / "dl").exists()  # no empty directories left behind


def test_requested_file_not_on_hub_lists_available(s3_hub, tmp_path):
    with pytest.raises(ModelNotFoundError, match="has no pytorch_model.bin; it has: config.json"):
        download("tiny", tmp_path, ["config.json", "pytorch_model.bin"], endpoint=s3_hub, **FAST)


def test_subset_of_files_then_the_rest(s3_hub, tiny_model, tmp_path):
    model_dir = download("tiny", tmp_path, ["config.json"], endpoint=s3_hub, **FAST)
    assert (model_dir / "config.json").is_file() and not (model_dir / "model.safetensors").exists()
    download("tiny", tmp_path, endpoint=s3_hub, **FAST)
    assert same_files(model_dir, tiny_model)


def test_without_manifest_the_listing_gives_files_and_sizes(bucket, moto_url, s3_client, tiny_model, tmp_path):
    for path in sorted(tiny_model.iterdir()):
        s3_client.put_object(Bucket=bucket, Key=f"raw/{path.name}", Body=path.read_bytes(), ACL="public-read")
    model_dir = download("raw", tmp_path, endpoint=f"{moto_url}/{bucket}", **FAST)
    assert same_files(model_dir, tiny_model)
    listing = json.loads((model_dir / ".cache" / "listing.json").read_text())
    assert listing["from_listing"] and {f["path"] for f in listing["files"]} == {
        "config.json", "model.safetensors", "vocab.txt"}
    assert not (model_dir / "manifest.json").exists()
    assert download("raw", tmp_path, endpoint="http://127.0.0.1:9/nowhere", **FAST) == model_dir


def test_private_bucket_needs_signed_requests(bucket, moto_url, tiny_model, tmp_path, monkeypatch):
    from flagai_lite.hub import upload

    endpoint = f"{moto_url}/{bucket}"
    upload(tiny_model, "private", endpoint, credentials=CREDS, progress=False)  # no public-read ACL
    with pytest.raises(HubError, match="access denied .*AWS_ACCESS_KEY_ID"):
        download("private", tmp_path / "anon", endpoint=endpoint, **FAST)
    model_dir = download("private", tmp_path / "signed", endpoint=endpoint, credentials=CREDS, **FAST)
    assert same_files(model_dir, tiny_model)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDS[0])  # the same through the environment
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDS[1])
    assert same_files(download("private", tmp_path / "env", endpoint=endpoint, **FAST), tiny_model)


def test_large_file_in_parallel_ranged_pieces(bucket, moto_url, tmp_path, proxy_factory):
    from flagai_lite.hub import upload
    from hub_helpers import make_model

    src = make_model(tmp_path / "src" / "big", weight_elems=400_000)  # ~1.6 MB of weights
    endpoint = f"{moto_url}/{bucket}"
    upload(src, "big", endpoint, credentials=CREDS, acl="public-read", progress=False)
    proxy = proxy_factory(moto_url)
    model_dir = download("big", tmp_path / "dl", endpoint=f"{proxy.url}/{bucket}",
                         chunk_size=256 << 10, max_workers=4, **FAST)
    assert same_files(model_dir, src)
    ranges = [s.range for s in proxy.served("model.safetensors")]
    assert len(ranges) == 7 and all(r and r.startswith("bytes=") for r in ranges)
    assert proxy.bytes_for("model.safetensors") == (src / "model.safetensors").stat().st_size
