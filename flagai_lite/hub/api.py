"""Public hub API: download, verify, list_models (upload lives in publish.py).

The local-first path (a complete model directory) touches only the file system: no network,
and neither ``requests`` nor ``tqdm`` is imported.
"""
from __future__ import annotations

import difflib
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Sequence

from flagai_lite.errors import HubError, HubUnreachableError, IntegrityError, ModelNotFoundError, OfflineError
from flagai_lite.hub.cache import (LISTING_NAME, cache_dir, check_file, load_local_manifest, loadable,
                                   missing_files, save_local_manifest)
from flagai_lite.hub.distributed import local_rank, record_outcome, wait_for_peer
from flagai_lite.hub.layout import (CACHE_DIR, INDEX_NAME, MANIFEST_NAME, FileEntry, Manifest, parse_index,
                                    safe_relpath, validate_model_name)
from flagai_lite.hub.lock import FileLock
from flagai_lite.hub.options import ENV_ENDPOINT, Credentials, HubOptions, Timeout

logger = logging.getLogger(__name__)

_MANIFEST_REUSE_S = 60.0  # a local manifest this fresh was just fetched by a concurrent process


def download(
    model_name: str,
    download_path: str | os.PathLike,
    files: Sequence[str] | None = None,
    *,
    endpoint: str | None = None,
    offline: bool | None = None,
    progress: bool | None = None,
    max_workers: int | None = None,
    chunk_size: int | None = None,
    timeout: Timeout | None = None,
    retries: int | None = None,
    backoff: float | None = None,
    wait_timeout: float | None = None,
    credentials: Credentials | None = None,
    fsync: bool | None = None,
) -> Path:
    """Make ``download_path/model_name/`` complete, fetching only what is missing, and return it.

    Args:
        model_name: ``name`` or ``org/name`` (letters, digits, ``._-``).
        download_path: parent directory; the model lives in ``download_path/model_name``.
        files: relative paths needed (default: every file of the model).
        endpoint: hub URL (``http(s)://HOST:PORT/BUCKET/PREFIX`` or ``file:///dir``); default
            ``$FLAGAI_HUB_ENDPOINT``. Never contacted when the directory is already complete.
        offline: never use the network (default ``$FLAGAI_OFFLINE``).
        progress: tqdm bars (default ``$FLAGAI_HUB_PROGRESS``, else only when stderr is a terminal).
        max_workers: parallel ranged requests per large file (default ``$FLAGAI_HUB_CHUNKS`` or 8).
        chunk_size: bytes per ranged piece; files up to this size use one request (default 32 MiB).
        timeout: read timeout, or (connect, read), in seconds (default ``$FLAGAI_HUB_TIMEOUT`` or (10, 60)).
        retries: retries per request on 5xx, 429, connection errors and cut bodies (default 5).
        backoff: base of the exponential backoff in seconds (default 0.5).
        wait_timeout: seconds without progress after which waiting for another process or rank
            gives up (default ``$FLAGAI_HUB_WAIT_TIMEOUT`` or 600).
        credentials: (access_key, secret_key[, token]) to sign requests (default: AWS_* variables).
        fsync: flush every file to disk before it gets its final name, so a power cut cannot leave
            a verified-looking file with lost data (default ``$FLAGAI_HUB_FSYNC``, else on). Off is
            faster on fast links; the atomic rename and sha256 check hold either way.

    Returns:
        The model directory ``Path(download_path) / model_name``.

    Raises:
        OfflineError: files are missing and offline mode is on (the message names them).
        ModelNotFoundError: the model or a requested file is not on the hub (close names suggested).
        IntegrityError: a file still mismatches its manifest after one re-fetch.
        UnsafePathError: invalid model name, or an unsafe path in ``files``, a manifest or a listing.
        HubUnreachableError: the hub cannot be reached after retries (not raised when ``files`` is
            None and only files other than config.json and weights are missing: a warning then).
        HubError: no endpoint configured, access denied, and other hub failures.
    """
    validate_model_name(model_name)
    model_dir = Path(download_path).expanduser() / model_name
    wanted = None if files is None else [safe_relpath(f, origin="files argument") for f in files]
    missing = missing_files(model_dir, wanted)
    if not missing:
        logger.debug("%s is complete locally in %s", model_name, model_dir)
        return model_dir
    options = HubOptions.resolve(
        endpoint=endpoint, offline=offline, progress=progress, max_workers=max_workers, chunk_size=chunk_size,
        timeout=timeout, retries=retries, backoff=backoff, wait_timeout=wait_timeout, credentials=credentials,
        fsync=fsync,
    )
    if options.offline:
        detail = ", ".join(f"{path} ({why})" for path, why in sorted(missing.items()))
        raise OfflineError(
            f"offline mode is on (FLAGAI_OFFLINE / offline=True) and {model_name} is not complete in "
            f"{model_dir}; missing: {detail}. Download it once with network access, or copy the files there."
        )
    rank = local_rank()
    if rank is not None and rank != 0:
        wait_for_peer(model_name, model_dir, wanted, options)
        return model_dir
    try:
        if not options.endpoint:
            raise HubUnreachableError(f"no hub endpoint: pass endpoint=... or set {ENV_ENDPOINT} "
                                      "(e.g. http://HOST:PORT/BUCKET/PREFIX or file:///path/to/hub)")
        _fetch_model(model_name, model_dir, wanted, options, explicit_credentials=credentials is not None)
    except HubUnreachableError as exc:
        if wanted is not None or not loadable(model_dir, missing):
            _record(rank, model_dir, exc)
            raise
        logger.warning("%s; using %s as it is, without %s", exc, model_dir, ", ".join(sorted(missing)))
    except BaseException as exc:
        _record(rank, model_dir, exc)
        raise
    _record(rank, model_dir, None)
    return model_dir


def _record(rank: int | None, model_dir: Path, exc: BaseException | None) -> None:
    if rank == 0:  # under torch.distributed: the node's other ranks are waiting for this
        record_outcome(model_dir, exc)


def _fetch_model(model_name: str, model_dir: Path, wanted: list[str] | None, options: HubOptions,
                 *, explicit_credentials: bool) -> None:
    from flagai_lite.hub.fetch import fetch_file
    from flagai_lite.hub.progress import Bars
    from flagai_lite.hub.transport import make_transport

    transport = make_transport(options, explicit_credentials=explicit_credentials)
    created = [d for d in (model_dir, *model_dir.parents) if not d.exists()]
    try:
        try:
            manifest = _resolve_manifest(transport, model_name, model_dir, wanted, options)
        except (ModelNotFoundError, HubUnreachableError):
            _remove_empty(created)  # leave no empty model directory behind for a model we could not find
            raise
        entries = _select(manifest, model_name, model_dir, wanted)
        todo = [e for e in entries if check_file(model_dir, e) is not None]
        bars = Bars(options.progress, total=sum(e.size for e in todo), desc=model_name)
        try:
            fetched = sum(fetch_file(transport, f"{model_name}/{e.path}", e, model_dir, options, bars) for e in todo)
        finally:
            bars.close()
        logger.info("%s: fetched %d file(s) into %s", model_name, fetched, model_dir)
    finally:
        transport.close()


def _remove_empty(created: list[Path]) -> None:
    """Remove the directories this call created (deepest first), if they hold nothing else."""
    for i, directory in enumerate(created):
        try:
            if i == 0 and {p.name for p in directory.iterdir()} <= {CACHE_DIR}:
                shutil.rmtree(directory / CACHE_DIR)  # the model directory: only our lock area
            os.rmdir(directory)  # fails, harmlessly, when anything else is there
        except OSError:
            return


def _select(manifest: Manifest, model_name: str, model_dir: Path, wanted: list[str] | None) -> list[FileEntry]:
    if wanted is None:
        return manifest.files
    entries, unknown = [], []
    for path in wanted:
        entry = manifest.get(path)
        if entry is not None:
            entries.append(entry)
        elif not (model_dir / path).is_file():
            unknown.append(path)
    if unknown:
        available = ", ".join(e.path for e in manifest.files)
        raise ModelNotFoundError(f"{model_name} on the hub has no {', '.join(unknown)}; it has: {available}")
    return entries


def _resolve_manifest(transport, model_name: str, model_dir: Path, wanted: list[str] | None,
                      options: HubOptions) -> Manifest:
    """The hub's manifest, fetched once per minute at most across processes, saved locally."""
    model_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(cache_dir(model_dir) / "download.lock", timeout=options.wait_timeout,
                    what=f"the manifest of {model_name}")
    with lock:
        local = load_local_manifest(model_dir)
        if local is not None and _fresh(model_dir, local) and (wanted is None or all(local.get(f) for f in wanted)):
            return local
        manifest = fetch_manifest(transport, model_name)
        save_local_manifest(model_dir, manifest)
        # Only one description of the model may remain: the manifest.json wins over a listing.
        other = model_dir / MANIFEST_NAME if manifest.from_listing else cache_dir(model_dir) / LISTING_NAME
        other.unlink(missing_ok=True)
        return manifest


def _fresh(model_dir: Path, manifest: Manifest) -> bool:
    path = cache_dir(model_dir) / LISTING_NAME if manifest.from_listing else model_dir / MANIFEST_NAME
    try:
        return time.time() - path.stat().st_mtime < _MANIFEST_REUSE_S
    except OSError:
        return False


def fetch_manifest(transport, model_name: str) -> Manifest:
    """``<model>/manifest.json`` from the hub, else a manifest built from its S3 listing.

    Raises:
        ModelNotFoundError: neither exists; the message lists close names from the index.
        UnsafePathError: an entry points outside the model directory.
    """
    raw = transport.read(f"{model_name}/{MANIFEST_NAME}")
    if raw is not None:
        return Manifest.from_json(raw, origin=transport.url(f"{model_name}/{MANIFEST_NAME}"))
    prefix = f"{model_name}/"
    listing = transport.list(prefix)
    if listing:
        entries = [
            FileEntry(safe_relpath(key[len(prefix):], origin=f"the listing of {transport.url(prefix)}"), size)
            for key, size in listing
            if not key.endswith("/")
        ]
        if entries:
            logger.warning("%s has no %s on the hub; using its listing (sizes are checked, not sha256)",
                           model_name, MANIFEST_NAME)
            return Manifest(model=model_name, files=entries, from_listing=True)
    raise ModelNotFoundError(_not_found(transport, model_name))


def _not_found(transport, model_name: str) -> str:
    message = f"model {model_name!r} is not on the hub {transport.endpoint} (no {model_name}/{MANIFEST_NAME}"
    message += " and no files under it)"
    try:
        names = _hub_models(transport)
    except HubError:
        names = []
    close = difflib.get_close_matches(model_name, names, n=5, cutoff=0.5)
    if close:
        message += "; did you mean: " + ", ".join(close)
    return message + ". `flagai-lite hub ls` lists the hub's models."


def _hub_models(transport) -> list[str]:
    raw = transport.read(INDEX_NAME)
    if raw is not None:
        return parse_index(raw)
    listing = transport.list("") or []
    suffix = "/" + MANIFEST_NAME
    names = {key[: -len(suffix)] for key, _size in listing if key.endswith(suffix)}
    valid = []
    for name in names:
        try:
            valid.append(validate_model_name(name))
        except HubError:
            continue
    return sorted(valid)


def list_models(endpoint: str | None = None, *, credentials: Credentials | None = None,
                timeout: Timeout | None = None, retries: int | None = None) -> list[str]:
    """Names of the models on the hub: its index.json, else manifests found by an S3 listing.

    Raises:
        OfflineError: offline mode is on. HubError: no endpoint, or the hub cannot be reached.
    """
    options = HubOptions.resolve(endpoint=endpoint, credentials=credentials, timeout=timeout, retries=retries)
    if options.offline:
        raise OfflineError("listing the hub's models needs the network, and offline mode is on (FLAGAI_OFFLINE)")
    from flagai_lite.hub.transport import make_transport

    transport = make_transport(options, explicit_credentials=credentials is not None)
    try:
        return _hub_models(transport)
    finally:
        transport.close()


def verify(model_dir: str | os.PathLike) -> Manifest:
    """Re-hash every file of a local model directory against its manifest.json (or listing).

    Returns:
        The manifest, when every file matches (verification records are refreshed).

    Raises:
        HubError: the directory has no manifest. IntegrityError: files missing or different
        (each named with the reason, e.g. expected and actual sha256).
    """
    model_dir = Path(model_dir)
    manifest = load_local_manifest(model_dir, strict=True)
    if manifest is None:
        raise HubError(f"{model_dir} has no {MANIFEST_NAME}: nothing to verify against")
    problems = {}
    for entry in manifest.files:
        reason = check_file(model_dir, entry, rehash=True)
        if reason is not None:
            problems[entry.path] = reason
    if problems:
        detail = "; ".join(f"{path}: {why}" for path, why in sorted(problems.items()))
        raise IntegrityError(f"{model_dir} does not match its manifest ({len(problems)} of "
                             f"{len(manifest.files)} files): {detail}")
    return manifest
