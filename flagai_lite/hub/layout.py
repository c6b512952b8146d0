"""Hub layout: model names, safe relative paths and the manifest format.

A hub holds, under its endpoint::

    index.json                    {"version": 1, "models": ["bert-base-en", "org/glm-large", ...]}
    <model_name>/manifest.json    {"version": 1, "model": NAME, "files": [{"path", "size", "sha256"}, ...]}
    <model_name>/<path>           the files the manifest lists

Everything here is pure (no network) and cheap to import.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from flagai_lite.errors import HubError, UnsafePathError

MANIFEST_NAME = "manifest.json"
INDEX_NAME = "index.json"
# Hidden area of a model directory: partial downloads, locks, verification records.
CACHE_DIR = ".cache"
MANIFEST_VERSION = 1

_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
_MODEL_NAME = re.compile(rf"^(?:{_SEGMENT}/)?{_SEGMENT}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_HASH_BLOCK = 4 << 20


def validate_model_name(name: str) -> str:
    """Return ``name`` if it is a valid model name, else raise.

    A name is ``[A-Za-z0-9][A-Za-z0-9._-]*`` (at most 128 characters), optionally prefixed by one
    ``org/`` segment of the same form.

    Raises:
        UnsafePathError: the name is not a string or does not match the pattern.
    """
    if not isinstance(name, str) or not _MODEL_NAME.match(name):
        raise UnsafePathError(
            f"invalid model name {name!r}: use letters, digits, '.', '_' or '-', starting with a "
            "letter or digit, with at most one 'org/' prefix (e.g. 'bert-base-en', 'BAAI/glm-large')"
        )
    return name


def safe_relpath(path: str, *, origin: str = "manifest") -> str:
    """Return ``path`` if it is a safe relative POSIX path inside a model directory, else raise.

    Rejected: absolute paths, drive letters, backslashes, NUL, empty, ``.`` or ``..`` segments,
    the hidden ``.cache`` area and the manifest itself.

    Raises:
        UnsafePathError: naming the entry and where it came from (``origin``).
    """
    problem = None
    if not isinstance(path, str) or not path:
        problem = "empty or not a string"
    elif path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        problem = "absolute path"
    elif "\\" in path or "\x00" in path:
        problem = "backslash or NUL character"
    else:
        parts = path.split("/")
        if any(p in ("", ".", "..") for p in parts):
            problem = "empty, '.' or '..' segment"
        elif parts[0] == CACHE_DIR:
            problem = f"inside the reserved {CACHE_DIR}/ area"
        elif path == MANIFEST_NAME:
            problem = "the manifest cannot list itself"
    if problem:
        raise UnsafePathError(f"unsafe file entry {path!r} in {origin}: {problem}; refusing to use it")
    return path


def target_path(model_dir: Path, relpath: str) -> Path:
    """``model_dir / relpath``, checked to stay inside ``model_dir`` even through symlinks.

    Raises:
        UnsafePathError: the resolved path leaves the model directory.
    """
    safe_relpath(relpath)
    target = model_dir / relpath
    root = os.path.realpath(model_dir)
    real_parent = os.path.realpath(target.parent)
    if real_parent != root and not real_parent.startswith(root + os.sep):
        raise UnsafePathError(f"{relpath!r} resolves outside {model_dir} (through a symlink); refusing it")
    return target


@dataclass(frozen=True)
class FileEntry:
    """One file of a model: relative path, size in bytes, sha256 (None when only a listing is known)."""

    path: str
    size: int
    sha256: str | None = None


@dataclass
class Manifest:
    """What a model consists of. ``from_listing`` is True when built from an S3 listing (no sha256)."""

    model: str
    files: list[FileEntry] = field(default_factory=list)
    from_listing: bool = False

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for entry in self.files:
            if entry.path in seen:
                raise HubError(f"manifest of {self.model!r} lists {entry.path!r} twice")
            seen.add(entry.path)
        dirs = {"/".join(p.split("/")[:i]) for p in seen for i in range(1, p.count("/") + 1)}
        clash = sorted(seen & dirs)
        if clash:
            raise UnsafePathError(f"manifest of {self.model!r} uses {clash[0]!r} as both file and directory")

    def get(self, path: str) -> FileEntry | None:
        """The entry for ``path``, or None."""
        return next((e for e in self.files if e.path == path), None)

    @property
    def total_size(self) -> int:
        return sum(e.size for e in self.files)

    def to_json(self) -> str:
        """Serialise as manifest.json text (files sorted by path)."""
        files = [
            {"path": e.path, "size": e.size, **({"sha256": e.sha256} if e.sha256 else {})}
            for e in sorted(self.files, key=lambda e: e.path)
        ]
        data = {"version": MANIFEST_VERSION, "model": self.model, "files": files}
        if self.from_listing:
            data["from_listing"] = True
        return json.dumps(data, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes, *, origin: str = "manifest.json") -> "Manifest":
        """Parse and validate manifest text.

        Raises:
            HubError: malformed JSON or fields; UnsafePathError: an unsafe path.
        """
        try:
            data = json.loads(text)
            version = data.get("version", MANIFEST_VERSION)
            if version != MANIFEST_VERSION:
                raise HubError(f"{origin}: unsupported manifest version {version!r}")
            from_listing = bool(data.get("from_listing", False))
            files = [_parse_entry(e, origin, from_listing) for e in data["files"]]
            return cls(model=str(data.get("model", "")), files=files, from_listing=from_listing)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise HubError(f"{origin} is not a valid manifest ({exc}); expected "
                           '{"version": 1, "files": [{"path", "size", "sha256"}]}') from exc


def _parse_entry(raw: dict, origin: str, from_listing: bool) -> FileEntry:
    path = safe_relpath(raw["path"], origin=origin)
    size = raw["size"]
    sha = raw.get("sha256")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise HubError(f"{origin}: entry {path!r} has invalid size {size!r}")
    if sha is None and not from_listing:
        raise HubError(f"{origin}: entry {path!r} has no sha256")
    if sha is not None and not (isinstance(sha, str) and _SHA256.match(sha)):
        raise HubError(f"{origin}: entry {path!r} has invalid sha256 {sha!r}")
    return FileEntry(path=path, size=size, sha256=sha)


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 4 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(_HASH_BLOCK)
        view = memoryview(buf)
        while n := f.readinto(buf):
            digest.update(view[:n])
    return digest.hexdigest()


def iter_model_files(local_dir: Path) -> Iterator[str]:
    """Relative POSIX paths of the publishable files under ``local_dir``.

    Skips hidden files and directories (``.cache``, ``.git``, ...) and ``manifest.json`` itself.
    """
    for root, dirs, names in os.walk(local_dir, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            rel = Path(root, name).relative_to(local_dir).as_posix()
            if name.startswith(".") or rel == MANIFEST_NAME:
                continue
            yield rel


def compute_manifest(local_dir: str | os.PathLike, model_name: str, files: Iterable[str] | None = None) -> Manifest:
    """Hash the files of ``local_dir`` (or the given relative ``files``) into a Manifest."""
    local_dir = Path(local_dir)
    names = list(files) if files is not None else list(iter_model_files(local_dir))
    entries = []
    for rel in names:
        safe_relpath(rel, origin=str(local_dir))
        path = local_dir / rel
        entries.append(FileEntry(path=rel, size=path.stat().st_size, sha256=sha256_file(path)))
    return Manifest(model=model_name, files=entries)


def parse_index(text: str | bytes) -> list[str]:
    """Model names from index.json text (invalid names are dropped)."""
    try:
        data = json.loads(text)
        names = data["models"] if isinstance(data, dict) else data
        return sorted({n for n in names if isinstance(n, str) and _MODEL_NAME.match(n)})
    except (ValueError, KeyError, TypeError) as exc:
        raise HubError(f"index.json is not valid ({exc}); expected {{\"models\": [NAME, ...]}}") from exc


def dump_index(names: Iterable[str]) -> str:
    """index.json text for ``names``."""
    return json.dumps({"version": 1, "models": sorted(set(names))}, indent=1) + "\n"
