"""Misbehaving networks and servers, through a fault proxy: the result is the right file or a clear error."""
from __future__ import annotations

import socket
import time

import pytest
from hub_helpers import FAST, same_files

from flagai_lite.errors import HubError, IntegrityError
from flagai_lite.hub import download
from flagai_lite.hub.layout import sha256_file

WEIGHTS = "model.safetensors"


@pytest.fixture
def via_proxy(s3_hub, moto_url, proxy_factory):
    """(proxy, endpoint through the proxy) in front of the moto hub holding ``tiny``."""
    proxy = proxy_factory(moto_url)
    return proxy, s3_hub.replace(moto_url, proxy.url)


def _leftovers(model_dir):
    return sorted(p.name for p in (model_dir / ".cache" / "files").glob("*.partial*"))


def test_connection_cut_mid_body_resumes_with_range(via_proxy, tiny_model, tmp_path):
    proxy, endpoint = via_proxy
    proxy.add(WEIGHTS, "cut", after=100_000)
    model_dir = download("tiny", tmp_path, endpoint=endpoint, **FAST)
    assert same_files(model_dir, tiny_model)
    size = (tiny_model / WEIGHTS).stat().st_size
    served = proxy.served(WEIGHTS)
    assert [s.range for s in served] == [None, f"bytes=100000-{size - 1}"]
    assert proxy.bytes_for(WEIGHTS) == size  # nothing fetched twice
    assert _leftovers(model_dir) == []


def test_5xx_and_429_are_retried(via_proxy, tiny_model, tmp_path):
    proxy, endpoint = via_proxy
    proxy.add("manifest.json", "status", code=500, times=2)
    proxy.add(WEIGHTS, "status", code=503, times=2)
    proxy.add("vocab.txt", "status", code=429, times=1, retry_after=0)
    model_dir = download("tiny", tmp_path, endpoint=endpoint, **FAST)
    assert same_files(model_dir, tiny_model)
    assert [s.status for s in proxy.served(WEIGHTS)] == [503, 503, 200]


def test_persistent_5xx_is_a_clear_error_and_leaves_nothing_under_the_name(via_proxy, tmp_path):
    proxy, endpoint = via_proxy
    proxy.add(WEIGHTS, "status", code=500, times=None)
    with pytest.raises(HubError, match=r"cannot reach the hub at .*model.safetensors after 4 attempts \(HTTP 500\)"):
        download("tiny", tmp_path, endpoint=endpoint, **FAST)
    assert len(proxy.served(WEIGHTS)) == 4
    assert not (tmp_path / "tiny" / WEIGHTS).exists()


def test_stalled_response_times_out_and_resumes(via_proxy, tiny_model, tmp_path):
    proxy, endpoint = via_proxy
    proxy.add(WEIGHTS, "stall", after=50_000, seconds=3)
    start = time.monotonic()
    model_dir = download("tiny", tmp_path, endpoint=endpoint, **{**FAST, "timeout": (1.0, 0.3)})
    assert time.monotonic() - start < 2.5  # did not wait for the stalled server
    assert same_files(model_dir, tiny_model)
    assert len(proxy.served(WEIGHTS)) == 2


def test_server_that_always_stalls_fails_in_bounded_time(via_proxy, tmp_path):
    proxy, endpoint = via_proxy
    proxy.add(WEIGHTS, "stall", times=None, after=0, seconds=2)
    start = time.monotonic()
    with pytest.raises(HubError, match="failed after 3 attempts .*run again to resume"):
        download("tiny", tmp_path, endpoint=endpoint, **{**FAST, "timeout": (1.0, 0.2), "retries": 2})
    assert time.monotonic() - start < 3
    assert not (tmp_path / "tiny" / WEIGHTS).exists()


def test_flipped_byte_is_fetched_again_once(via_proxy, tiny_model, tmp_path):
    proxy, endpoint = via_proxy
    proxy.add(WEIGHTS, "flip", offset=1000)
    model_dir = download("tiny", tmp_path, endpoint=endpoint, **FAST)
    assert same_files(model_dir, tiny_model)
    assert proxy.bytes_for(WEIGHTS) == 2 * (tiny_model / WEIGHTS).stat().st_size


def test_corrupt_hub_copy_raises_integrity_error_naming_file_and_hashes(via_proxy, tiny_model, tmp_path):
    proxy, endpoint = via_proxy
    proxy.add(WEIGHTS, "flip", times=None, offset=1000)
    with pytest.raises(IntegrityError) as err:
        download("tiny", tmp_path, endpoint=endpoint, **FAST)
    message = str(err.value)
    assert WEIGHTS in message and sha256_file(tiny_model / WEIGHTS) in message
    assert "got " in message and message.count("sha256") >= 2
    assert len(proxy.served(WEIGHTS)) == 2  # fetched again exactly once
    model_dir = tmp_path / "tiny"
    assert not (model_dir / WEIGHTS).exists() and _leftovers(model_dir) == []


def test_server_ignoring_range_restarts_from_zero(static_hub, proxy_factory, tiny_model, tmp_path):
    proxy = proxy_factory(static_hub.url)  # http.server answers 200 to Range requests
    proxy.add(WEIGHTS, "cut", after=100_000)
    model_dir = download("tiny", tmp_path, endpoint=proxy.url, **FAST)
    assert same_files(model_dir, tiny_model)
    served = proxy.served(WEIGHTS)
    assert served[1].range.startswith("bytes=100000-") and served[1].status == 200
    assert proxy.bytes_for(WEIGHTS) == 100_000 + (tiny_model / WEIGHTS).stat().st_size


def test_parallel_pieces_fall_back_to_one_stream_when_range_is_ignored(via_proxy, tiny_model, tmp_path):
    proxy, endpoint = via_proxy
    proxy.add(WEIGHTS, "ignore_range", times=None)
    model_dir = download("tiny", tmp_path, endpoint=endpoint, chunk_size=64 << 10, max_workers=4, **FAST)
    assert same_files(model_dir, tiny_model)
    assert proxy.served(WEIGHTS)[-1].status == 200


def test_unreachable_hub_with_missing_files_is_a_clear_error(tmp_path):
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(HubError, match=f"cannot reach the hub at http://127.0.0.1:{port}/b/tiny/manifest.json"):
        download("tiny", tmp_path, endpoint=f"http://127.0.0.1:{port}/b", **{**FAST, "retries": 1})
