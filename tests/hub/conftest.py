"""Fixtures for the hub tests: an isolated environment, a tiny model, moto S3, static server, proxy."""
from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hub_helpers import CREDS, make_model  # noqa: E402
from hub_servers import FaultProxy, StaticServer  # noqa: E402

_HUB_ENV = ("FLAGAI_HUB_ENDPOINT", "FLAGAI_OFFLINE", "FLAGAI_HUB_PROGRESS", "FLAGAI_HUB_CHUNKS",
            "FLAGAI_HUB_TIMEOUT", "FLAGAI_HUB_WAIT_TIMEOUT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "HTTP_PROXY", "HTTPS_PROXY",
            "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy", "LOCAL_RANK")


@pytest.fixture(autouse=True)
def hub_env(monkeypatch, tmp_path):
    """No hub, AWS or proxy settings leak in; botocore never looks for instance metadata."""
    for name in _HUB_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def tiny_model(tmp_path) -> Path:
    return make_model(tmp_path / "src" / "tiny")


@pytest.fixture(scope="session")
def moto_url():
    """A moto S3 server (ThreadedMotoServer) on 127.0.0.1 for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(moto_url):
    """A fresh bucket on the moto server; returns its name."""
    import boto3

    name = f"hub-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1",
                          aws_access_key_id=CREDS[0], aws_secret_access_key=CREDS[1])
    client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_client(moto_url):
    import boto3

    return boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1",
                        aws_access_key_id=CREDS[0], aws_secret_access_key=CREDS[1])


@pytest.fixture
def proxy_factory():
    """Start FaultProxy instances in front of an upstream URL; all stopped at teardown."""
    proxies = []

    def start(upstream: str) -> FaultProxy:
        proxy = FaultProxy(upstream)
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        proxy.stop()


@pytest.fixture
def file_hub(tmp_path, tiny_model) -> Path:
    """A hub directory holding ``tiny`` (published with upload to file://)."""
    from flagai_lite.hub import upload

    root = tmp_path / "filehub"
    upload(tiny_model, "tiny", root.as_uri(), progress=False)
    return root


@pytest.fixture
def static_hub(file_hub):
    """The file hub served by a static http.server (which ignores Range)."""
    server = StaticServer(str(file_hub))
    yield server
    server.stop()


@pytest.fixture
def s3_hub(bucket, moto_url, tiny_model):
    """``tiny`` published public-read to a moto bucket; returns the endpoint URL."""
    from flagai_lite.hub import upload

    endpoint = f"{moto_url}/{bucket}/models"
    upload(tiny_model, "tiny", endpoint, credentials=CREDS, acl="public-read", progress=False)
    return endpoint
