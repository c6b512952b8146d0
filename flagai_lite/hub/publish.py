"""Publishing a model directory to a hub: files first, then its manifest, then the index.

Readers never see a half-published model: the manifest, which is what clients read first, is
written only after every file it lists is in place. S3 endpoints go through boto3 (the ``s3``
extra); ``file://`` endpoints through atomic copies.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flagai_lite.errors import HubError, OfflineError
from flagai_lite.hub.fsutil import atomic_copy, atomic_write_text
from flagai_lite.hub.layout import INDEX_NAME, MANIFEST_NAME, Manifest, compute_manifest, dump_index, parse_index
from flagai_lite.hub.layout import validate_model_name
from flagai_lite.hub.lock import FileLock
from flagai_lite.hub.options import Credentials, HubOptions

logger = logging.getLogger(__name__)


class _FileHub:
    """A hub directory written with atomic copies."""

    def __init__(self, endpoint: str) -> None:
        self.root = Path(unquote(urlsplit(endpoint).path))
        self.root.mkdir(parents=True, exist_ok=True)

    def put_file(self, src: Path, key: str, bar) -> None:
        atomic_copy(src, self.root / key)
        bar.update(src.stat().st_size)

    def put_text(self, key: str, text: str) -> None:
        atomic_write_text(self.root / key, text)

    def get_text(self, key: str) -> str | None:
        try:
            return (self.root / key).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def index_lock(self) -> FileLock:
        return FileLock(self.root / ".index.lock", timeout=60.0, what="the hub index")


class _S3Hub:
    """An S3 (or S3-compatible) bucket at ``http(s)://HOST:PORT/BUCKET/PREFIX``, written with boto3."""

    def __init__(self, endpoint: str, options: HubOptions, acl: str | None) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise HubError("uploading to an S3 endpoint needs boto3: pip install 'flagai_lite[s3]'") from None
        parts = urlsplit(endpoint.rstrip("/"))
        segments = [s for s in parts.path.split("/") if s]
        if not segments:
            raise HubError(f"S3 endpoint {endpoint!r} names no bucket: use http(s)://HOST:PORT/BUCKET[/PREFIX]")
        self.bucket, self.prefix = segments[0], "/".join(segments[1:])
        self.extra = {"ACL": acl} if acl else {}
        keys = {}
        if options.credentials is not None:
            key, secret, *rest = options.credentials
            keys = {"aws_access_key_id": key, "aws_secret_access_key": secret,
                    "aws_session_token": rest[0] if rest else None}
        config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": options.retries + 1},
                        connect_timeout=options.connect_timeout, read_timeout=options.read_timeout)
        self.client = boto3.client("s3", endpoint_url=f"{parts.scheme}://{parts.netloc}",
                                   region_name=options.region, config=config, **keys)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_file(self, src: Path, key: str, bar) -> None:
        self.client.upload_file(str(src), self.bucket, self._key(key), ExtraArgs=self.extra or None, Callback=bar.update)

    def put_text(self, key: str, text: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=text.encode("utf-8"),
                               ContentType="application/json", **self.extra)

    def get_text(self, key: str) -> str | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read().decode("utf-8")
        except self.client.exceptions.NoSuchKey:
            return None

    def index_lock(self):
        import contextlib

        return contextlib.nullcontext()  # S3 has no lock: concurrent publishers, last index write wins


def upload(
    local_dir: str | os.PathLike,
    model_name: str,
    endpoint: str | None = None,
    *,
    credentials: Credentials | None = None,
    acl: str | None = None,
    update_index: bool = True,
    progress: bool | None = None,
) -> Manifest:
    """Publish ``local_dir`` as ``model_name``: every file, then ``manifest.json``, then ``index.json``.

    Hidden files and directories (``.cache``, ``.git``...) and a local manifest.json are not published.

    Args:
        local_dir: the model directory to publish.
        model_name: ``name`` or ``org/name``.
        endpoint: ``http(s)://HOST:PORT/BUCKET/PREFIX`` (S3, via boto3) or ``file:///dir``;
            default ``$FLAGAI_HUB_ENDPOINT``.
        credentials: (access_key, secret_key[, token]); default: boto3's usual configuration.
        acl: canned ACL for every object, e.g. ``"public-read"`` for anonymous downloads (S3 only).
        update_index: add the model to the hub's index.json.
        progress: tqdm bars (default as for :func:`download`).

    Returns:
        The published manifest.

    Raises:
        HubError: no files, no endpoint, boto3 missing or an S3 error. UnsafePathError: bad name.
    """
    validate_model_name(model_name)
    local_dir = Path(local_dir)
    if not local_dir.is_dir():
        raise HubError(f"{local_dir} is not a directory")
    options = HubOptions.resolve(endpoint=endpoint, credentials=credentials, progress=progress)
    if options.offline:
        raise OfflineError("publishing to the hub needs the network, and offline mode is on (FLAGAI_OFFLINE)")
    if not options.endpoint:
        raise HubError("no hub endpoint: pass endpoint=... or set FLAGAI_HUB_ENDPOINT")
    manifest = compute_manifest(local_dir, model_name)
    if not manifest.files:
        raise HubError(f"{local_dir} has no files to publish")
    hub = _open_hub(options, acl)
    from flagai_lite.hub.progress import Bars

    bars = Bars(options.progress, total=manifest.total_size, desc=f"upload {model_name}")
    try:
        for entry in manifest.files:
            bar = bars.file(entry.path, entry.size)
            try:
                hub.put_file(local_dir / entry.path, f"{model_name}/{entry.path}", bar)
            finally:
                bar.close()
    except HubError:
        raise
    except Exception as exc:  # boto3 / OS errors, named with the endpoint
        raise HubError(f"uploading {model_name} to {options.endpoint} failed: {exc}") from exc
    finally:
        bars.close()
    hub.put_text(f"{model_name}/{MANIFEST_NAME}", manifest.to_json())
    if update_index:
        with hub.index_lock():
            text = hub.get_text(INDEX_NAME)
            names = parse_index(text) if text else []
            hub.put_text(INDEX_NAME, dump_index([*names, model_name]))
    logger.info("published %s (%d files, %d bytes) to %s", model_name, len(manifest.files),
                manifest.total_size, options.endpoint)
    return manifest


def _open_hub(options: HubOptions, acl: str | None):
    scheme = urlsplit(options.endpoint).scheme
    if scheme == "file":
        return _FileHub(options.endpoint)
    if scheme in ("http", "https"):
        return _S3Hub(options.endpoint, options, acl)
    raise HubError(f"unsupported hub endpoint {options.endpoint!r}: use http://, https:// or file://")
