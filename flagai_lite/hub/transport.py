"""Talking to a hub: HTTP(S) with timeouts, bounded retries and optional SigV4 signing, or file://.

Both transports offer the same small interface to the rest of the client:

- ``read(key)``: a small object (manifest, index) as bytes, None when it does not exist;
- ``open(key, start, end)``: a :class:`Body` streaming bytes ``start..end-1`` (or the whole object
  when the server ignores Range: ``Body.start`` says where the bytes really begin);
- ``list(prefix)``: [(key, size)] from an S3 ListObjectsV2 listing, None when the hub cannot list.

``requests`` is imported here, lazily, so that the local-first path never loads it.
"""
from __future__ import annotations

import logging
import os
import random
import re
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import quote, unquote, urlsplit

from flagai_lite.errors import HubError, HubUnreachableError
from flagai_lite.hub.auth import make_signer
from flagai_lite.hub.options import ENV_ENDPOINT, HubOptions

logger = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


class NotFound(Exception):
    """Internal: the object does not exist (HTTP 404 / missing file)."""


class TransientError(Exception):
    """Internal: a failure worth retrying (5xx, 429, connection error, timeout, cut body)."""


@dataclass
class Body:
    """A response body being streamed. ``start`` is the offset of its first byte in the object.

    ``read(n)`` returns at most ``n`` bytes after at most one socket read (so a timeout or a cut
    loses nothing already received), and ``b""`` at the end of the body.
    """

    start: int
    length: int | None
    total: int | None
    read: Callable[[int], bytes]
    close: Callable[[], None]


def backoff_delay(options: HubOptions, attempt: int, retry_after: str | None = None) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): exponential with jitter, capped at 30 s."""
    if retry_after and retry_after.strip().isdigit():
        return min(30.0, float(retry_after))
    return min(30.0, options.backoff * (2**attempt) * (0.5 + random.random()))


class HttpTransport:
    """A hub served over HTTP(S): S3 path-style (``http://HOST:PORT/BUCKET/PREFIX``) or a static tree."""

    def __init__(self, endpoint: str, options: HubOptions, *, explicit_credentials: bool = False) -> None:
        import requests

        parts = urlsplit(endpoint.rstrip("/"))
        self.endpoint = endpoint.rstrip("/")
        self.options = options
        self._root = f"{parts.scheme}://{parts.netloc}"
        segments = [s for s in parts.path.split("/") if s]
        self._base = "/".join(segments)  # bucket + prefix, as in the URL path
        self._bucket = segments[0] if segments else None
        self._prefix = "/".join(segments[1:])
        self._signer = make_signer(options, explicit=explicit_credentials)
        self._local = threading.local()  # one requests.Session per thread: Session is not thread-safe
        self._sessions: list = []
        self._errors = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)

    @property
    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            import requests

            session = self._local.session = requests.Session()
            self._sessions.append(session)
        return session

    def url(self, key: str) -> str:
        """Full URL of ``key`` (relative to the endpoint)."""
        path = f"{self._base}/{key}" if self._base else key
        return f"{self._root}/{quote(path, safe='/-_.~')}"

    def close(self) -> None:
        for session in self._sessions:
            session.close()

    def _request(self, url: str, headers: dict[str, str] | None = None, *, stream: bool = False):
        """GET with retries on connection errors, timeouts, 429 and 5xx; the final response otherwise."""
        headers = {"Accept-Encoding": "identity", **(headers or {})}
        last = ""
        for attempt in range(self.options.retries + 1):
            send = self._signer.sign("GET", url, headers) if self._signer else headers
            retry_after = None
            try:
                response = self._session.get(
                    url, headers=send, stream=stream,
                    timeout=(self.options.connect_timeout, self.options.read_timeout),
                )
            except self._errors as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code not in RETRY_STATUS:
                    return response
                last = f"HTTP {response.status_code}"
                retry_after = response.headers.get("Retry-After")
                response.close()
            if attempt < self.options.retries:
                delay = backoff_delay(self.options, attempt, retry_after)
                logger.info("hub request %s failed (%s); retry %d/%d in %.1fs",
                            url, last, attempt + 1, self.options.retries, delay)
                time.sleep(delay)
        raise HubUnreachableError(
            f"cannot reach the hub at {url} after {self.options.retries + 1} attempts ({last}); "
            f"check the endpoint ({ENV_ENDPOINT}) and your network, or set FLAGAI_OFFLINE=1 to use local files only"
        )

    def _check(self, response, url: str) -> None:
        if response.status_code == 404:
            response.close()
            raise NotFound(url)
        if response.status_code in (401, 403):
            response.close()
            hint = ("set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (and install flagai_lite[s3])"
                    if self._signer is None else "check that these credentials may read the bucket")
            raise HubError(f"access denied ({response.status_code}) for {url}: {hint}")
        if response.status_code >= 400:
            response.close()
            raise HubError(f"hub answered HTTP {response.status_code} for {url}")

    def read(self, key: str) -> bytes | None:
        """Bytes of a small object, or None when it does not exist."""
        url = self.url(key)
        response = self._request(url)
        try:
            self._check(response, url)
        except NotFound:
            return None
        return response.content

    def open(self, key: str, start: int = 0, end: int | None = None) -> Body:
        """Stream bytes ``start..end-1`` of ``key`` (Range request when ``start`` or ``end`` is set).

        Raises:
            NotFound: no such object. TransientError: the range response is not what was asked.
        """
        url = self.url(key)
        headers = {}
        if start or end is not None:
            headers["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        response = self._request(url, headers, stream=True)
        self._check(response, url)
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        body_start, total = 0, length
        if response.status_code == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != start:
                response.close()
                raise TransientError(f"bad Content-Range {response.headers.get('Content-Range')!r} for {url}")
            body_start = start
            total = None if match.group(3) == "*" else int(match.group(3))
        raw = response.raw
        fp = getattr(raw, "_fp", None)  # the http.client response: one recv per read1, no extra buffering
        read = fp.read1 if fp is not None and hasattr(fp, "read1") else raw.read1
        return Body(start=body_start, length=length, total=total, read=read, close=response.close)

    def list(self, prefix: str) -> list[tuple[str, int]] | None:
        """[(key relative to the endpoint, size)] under ``prefix`` via ListObjectsV2; None if unsupported."""
        if self._bucket is None:
            return None
        full_prefix = f"{self._prefix}/{prefix}" if self._prefix else prefix
        items: list[tuple[str, int]] = []
        token = None
        while True:
            query = f"list-type=2&prefix={quote(full_prefix, safe='')}"
            if token:
                query += f"&continuation-token={quote(token, safe='')}"
            url = f"{self._root}/{quote(self._bucket)}?{query}"
            response = self._request(url)
            if response.status_code != 200:
                response.close()
                return None
            page = _parse_listing(response.content)
            if page is None:
                return None
            keys, token = page
            strip = len(self._prefix) + 1 if self._prefix else 0
            items.extend((k[strip:], s) for k, s in keys if k.startswith(full_prefix))
            if not token:
                return items


def _parse_listing(content: bytes) -> tuple[list[tuple[str, int]], str | None] | None:
    try:
        root = ET.fromstring(content)
    except ET.ParseError:
        return None
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    if root.tag != f"{ns}ListBucketResult":
        return None
    keys = []
    for item in root.iter(f"{ns}Contents"):
        key, size = item.findtext(f"{ns}Key"), item.findtext(f"{ns}Size")
        if key is not None and size is not None and size.isdigit():
            keys.append((key, int(size)))
    truncated = (root.findtext(f"{ns}IsTruncated") or "").lower() == "true"
    return keys, (root.findtext(f"{ns}NextContinuationToken") if truncated else None)


class FileTransport:
    """A hub that is a local (or mounted) directory: ``file:///some/dir``."""

    def __init__(self, endpoint: str, options: HubOptions) -> None:
        self.endpoint = endpoint
        self.options = options
        self.root = Path(unquote(urlsplit(endpoint).path))
        if not self.root.is_dir():
            raise HubError(f"hub directory {self.root} (from {endpoint!r}) does not exist")

    def url(self, key: str) -> str:
        return (self.root / key).as_uri()

    def close(self) -> None:
        pass

    def read(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def open(self, key: str, start: int = 0, end: int | None = None) -> Body:
        try:
            f = open(self.root / key, "rb", buffering=0)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(self.url(key)) from None
        total = os.fstat(f.fileno()).st_size
        f.seek(start)
        stop = total if end is None else min(end, total)
        remaining = [max(0, stop - start)]

        def read(n: int) -> bytes:
            data = f.read(min(n, remaining[0])) if remaining[0] else b""
            remaining[0] -= len(data)
            return data

        return Body(start=start, length=remaining[0], total=total, read=read, close=f.close)

    def list(self, prefix: str) -> list[tuple[str, int]] | None:
        base = self.root / prefix
        if not base.is_dir():
            return []
        return [
            ((Path(r) / n).relative_to(self.root).as_posix(), (Path(r) / n).stat().st_size)
            for r, _d, names in os.walk(base) for n in names
        ]


def make_transport(options: HubOptions, *, explicit_credentials: bool = False) -> HttpTransport | FileTransport:
    """The transport for ``options.endpoint``.

    Raises:
        HubError: no endpoint configured, or an unsupported scheme.
    """
    endpoint = options.endpoint
    if not endpoint:
        raise HubError(f"no hub endpoint: pass endpoint=... or set {ENV_ENDPOINT} "
                       "(e.g. http://HOST:PORT/BUCKET/PREFIX or file:///path/to/hub)")
    scheme = urlsplit(endpoint).scheme
    if scheme in ("http", "https"):
        return HttpTransport(endpoint, options, explicit_credentials=explicit_credentials)
    if scheme == "file":
        return FileTransport(endpoint, options)
    raise HubError(f"unsupported hub endpoint {endpoint!r}: use http://, https:// or file://")
