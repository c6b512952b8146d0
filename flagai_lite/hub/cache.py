"""The local side of a model directory: what is there, what is verified, what is missing.

``download_path/model_name/`` holds the model's files under their own names, ``manifest.json``
(a copy of the hub's), and a hidden ``.cache/`` area that loaders never look at::

    .cache/listing.json              file list from an S3 listing, when the hub has no manifest
    .cache/download.lock             taken while the manifest is fetched
    .cache/outcome.json              how the downloading rank's last download ended (for waiting ranks)
    .cache/files/<path>.partial      bytes received so far (resumable)
    .cache/files/<path>.partial.json which byte ranges of the .partial are written
    .cache/files/<path>.lock         inter-process lock of one file
    .cache/files/<path>.verified     {"size", "mtime_ns", "sha256"} recorded after verification

A file is trusted without re-hashing when its size and mtime match its ``.verified`` record and the
record's sha256 is the manifest's. A file without a record is hashed once and the record written.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Iterable

from flagai_lite.errors import HubError
from flagai_lite.hub.fsutil import atomic_write_text
from flagai_lite.hub.layout import CACHE_DIR, MANIFEST_NAME, FileEntry, Manifest, safe_relpath, sha256_file

logger = logging.getLogger(__name__)

LISTING_NAME = "listing.json"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")


def cache_dir(model_dir: Path) -> Path:
    """The hidden ``.cache`` area of a model directory."""
    return model_dir / CACHE_DIR


def file_state(model_dir: Path, relpath: str, suffix: str) -> Path:
    """``.cache/files/<relpath><suffix>``: per-file state (``.partial``, ``.lock``, ``.verified``...)."""
    return cache_dir(model_dir) / "files" / (relpath + suffix)


def load_local_manifest(model_dir: Path, *, strict: bool = False) -> Manifest | None:
    """The directory's manifest.json, else its ``.cache/listing.json``, else None.

    An unreadable one is skipped with a warning, or raises HubError when ``strict``.
    """
    for path in (model_dir / MANIFEST_NAME, cache_dir(model_dir) / LISTING_NAME):
        try:
            return Manifest.from_json(path.read_bytes(), origin=str(path))
        except FileNotFoundError:
            continue
        except HubError:
            if strict:
                raise
            logger.warning("ignoring %s: not a valid hub manifest", path)
    return None


def save_local_manifest(model_dir: Path, manifest: Manifest) -> None:
    """Store the hub's manifest (or listing) in the model directory, atomically."""
    path = cache_dir(model_dir) / LISTING_NAME if manifest.from_listing else model_dir / MANIFEST_NAME
    atomic_write_text(path, manifest.to_json())


def record_verified(model_dir: Path, entry: FileEntry, path: Path | None = None) -> None:
    """Remember that ``entry``'s file (or ``path``, about to be renamed to it) was verified.

    The record is keyed on size and mtime, which a rename keeps.
    """
    st = (path or model_dir / entry.path).stat()
    record = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": entry.sha256}
    atomic_write_text(file_state(model_dir, entry.path, ".verified"), json.dumps(record), durable=False)


def check_file(model_dir: Path, entry: FileEntry, *, rehash: bool = False) -> str | None:
    """None when the local file matches ``entry``, else why not ("missing", "size ...", "sha256 ...").

    Hashes only when there is no matching verification record (or ``rehash``), then records it.
    """
    path = model_dir / entry.path
    try:
        st = path.stat()
    except FileNotFoundError:
        return "missing"
    if not path.is_file():
        return "not a regular file"
    if st.st_size != entry.size:
        return f"size {st.st_size} != expected {entry.size}"
    if entry.sha256 is None:
        return None
    if not rehash and _record_matches(model_dir, entry, st):
        return None
    actual = sha256_file(path)
    if actual != entry.sha256:
        return f"sha256 {actual} != expected {entry.sha256}"
    record_verified(model_dir, entry)
    return None


def _record_matches(model_dir: Path, entry: FileEntry, st: os.stat_result) -> bool:
    try:
        record = json.loads(file_state(model_dir, entry.path, ".verified").read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(record, dict)
        and record.get("sha256") == entry.sha256
        and record.get("size") == st.st_size
        and record.get("mtime_ns") == st.st_mtime_ns
    )


def missing_files(model_dir: Path, files: Iterable[str] | None = None, *, manifest: bool = True) -> dict[str, str]:
    """What keeps ``model_dir`` from being complete: {relative path: reason}; empty when complete.

    With a local manifest (or listing): every requested file (all listed files when ``files`` is
    None) present with the right size and verified. Files not in the manifest count when present.
    Without one (a user-made directory): the requested files present; when ``files`` is None, a
    config.json and at least one weight file (*.safetensors, *.bin, *.pt, *.pth, *.ckpt).
    ``manifest=False`` applies the second rule even when there is a manifest.
    """
    wanted = None if files is None else [safe_relpath(f, origin="requested files") for f in files]
    if not model_dir.is_dir():
        return {f: "missing" for f in wanted} if wanted else {"(model directory)": f"{model_dir} does not exist"}
    local = load_local_manifest(model_dir) if manifest else None
    if local is None:
        return _missing_without_manifest(model_dir, wanted)
    entries = local.files if wanted is None else [local.get(f) or FileEntry(f, -1) for f in wanted]
    missing = {}
    for entry in entries:
        if entry.size < 0:  # requested but not in the manifest: fine if the user put it there
            if not (model_dir / entry.path).is_file():
                missing[entry.path] = "missing"
            continue
        reason = check_file(model_dir, entry)
        if reason is not None:
            missing[entry.path] = reason
    return missing


def loadable(model_dir: Path, missing: dict[str, str]) -> bool:
    """True when only files other than config.json and weights are ``missing`` (none corrupt)."""
    if any(why != "missing" or path == "config.json" or path.endswith(WEIGHT_SUFFIXES)
           for path, why in missing.items()):
        return False
    return not missing_files(model_dir, None, manifest=False)


def _missing_without_manifest(model_dir: Path, wanted: list[str] | None) -> dict[str, str]:
    if wanted is not None:
        return {f: "missing" for f in wanted if not (model_dir / f).is_file()}
    missing = {}
    if not (model_dir / "config.json").is_file():
        missing["config.json"] = "missing"
    has_weights = any(
        p.is_file() and p.name.endswith(WEIGHT_SUFFIXES) for p in model_dir.iterdir() if not p.name.startswith(".")
    )
    if not has_weights:
        missing["(weights)"] = "no weight file (" + ", ".join("*" + s for s in WEIGHT_SUFFIXES) + ")"
    return missing


def last_activity(model_dir: Path) -> float:
    """Newest mtime among the ``.cache`` state files: a sign that a download is progressing."""
    newest = 0.0
    for root, _dirs, names in os.walk(cache_dir(model_dir)):
        for name in names:
            if name.endswith((".partial", ".partial.json", ".tmp")) or name == LISTING_NAME:
                try:
                    newest = max(newest, os.stat(os.path.join(root, name)).st_mtime)
                except OSError:
                    pass
    return newest
