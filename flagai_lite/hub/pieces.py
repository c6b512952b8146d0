"""Progress of a partial file: per-piece frontiers, in-order sha256, background flushing to disk.

A partial file is split into pieces of ``piece_size`` bytes; each piece has a frontier (how far its
written bytes reach), saved to ``<path>.partial.json`` at most every 0.5 s, and never ahead of the
bytes actually written. Two helper threads follow the frontiers: :class:`Hasher` reads the written
prefix back in order and hashes it.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path

from flagai_lite.hub.fsutil import atomic_write_text
from flagai_lite.hub.layout import FileEntry

_SAVE_INTERVAL = 0.5  # seconds between writes of the .partial.json progress record
_NOTIFY_BYTES = 4 << 20  # new bytes that wake the hasher


class Progress:
    """How far each piece of the partial file is written, saved to ``<path>.partial.json``."""

    def __init__(self, state_path: Path, entry: FileEntry, piece_size: int, frontiers: list[int] | None = None) -> None:
        self.state_path = state_path
        self.entry = entry
        self.size = entry.size
        self.piece_size = max(1, piece_size)
        count = -(-self.size // self.piece_size)
        self.frontiers = frontiers if frontiers is not None else [i * self.piece_size for i in range(count)]
        self.generation = 0
        self.cond = threading.Condition()
        self._saved_at = time.monotonic()
        self._unannounced = 0

    @classmethod
    def load(cls, state_path: Path, partial: Path, entry: FileEntry, piece_size: int) -> "Progress":
        """The recorded progress when it belongs to this same file version, else a fresh start."""
        try:
            state = json.loads(state_path.read_text())
            if (state["size"], state["sha256"]) == (entry.size, entry.sha256) and partial.exists():
                progress = cls(state_path, entry, int(state["piece_size"]), [int(f) for f in state["frontiers"]])
                if len(progress.frontiers) == -(-entry.size // progress.piece_size) and all(
                    progress.bounds(i)[0] <= f <= progress.bounds(i)[1] for i, f in enumerate(progress.frontiers)
                ):
                    return progress
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return cls(state_path, entry, piece_size)

    def bounds(self, i: int) -> tuple[int, int]:
        start = i * self.piece_size
        return start, min(self.size, start + self.piece_size)

    @property
    def written(self) -> int:
        return sum(f - self.bounds(i)[0] for i, f in enumerate(self.frontiers))

    def pending(self) -> list[int]:
        return [i for i, f in enumerate(self.frontiers) if f < self.bounds(i)[1]]

    def contiguous(self) -> int:
        """End of the written prefix: every byte before it is on disk."""
        for i, f in enumerate(self.frontiers):
            if f < self.bounds(i)[1]:
                return f
        return self.size

    def advance(self, i: int, pos: int) -> None:
        with self.cond:
            self._unannounced += pos - self.frontiers[i]
            self.frontiers[i] = pos
            # Wake the hasher in batches: waking them per read costs GIL hand-offs.
            if self._unannounced >= _NOTIFY_BYTES or pos == self.bounds(i)[1]:
                self._unannounced = 0
                self.cond.notify_all()
            if time.monotonic() - self._saved_at > _SAVE_INTERVAL:
                self.save()

    def restart_single(self) -> None:
        """Forget all bytes: one piece from byte 0 (for servers that ignore Range)."""
        with self.cond:
            self.piece_size = max(1, self.size)
            self.frontiers = [0] if self.size else []
            self.generation += 1
            self.cond.notify_all()
            self.save()

    def save(self) -> None:
        with self.cond:
            state = {"size": self.size, "sha256": self.entry.sha256, "piece_size": self.piece_size,
                     "frontiers": list(self.frontiers)}
            atomic_write_text(self.state_path, json.dumps(state), durable=False)
            self._saved_at = time.monotonic()


class Hasher(threading.Thread):
    """sha256 of the partial file, read back in order as its written prefix grows."""

    def __init__(self, fd: int, progress: Progress) -> None:
        super().__init__(name="hub-sha256", daemon=True)
        self.fd, self.progress = fd, progress
        self.digest: str | None = None
        self.stopped = False

    def run(self) -> None:
        progress, generation, pos, sha = self.progress, None, 0, hashlib.sha256()
        while True:
            with progress.cond:
                while True:
                    if progress.generation != generation:
                        generation, pos, sha = progress.generation, 0, hashlib.sha256()
                    upto = progress.contiguous()
                    if self.stopped:
                        return
                    if pos >= progress.size:
                        self.digest = sha.hexdigest()
                        return
                    if upto > pos:
                        break
                    progress.cond.wait(0.2)
            while pos < upto:
                block = os.pread(self.fd, min(4 << 20, upto - pos), pos)
                if not block:  # the file is shorter than written: no digest, verification fails
                    return
                sha.update(block)
                pos += len(block)

    def finish(self, timeout: float | None = None) -> str | None:
        self.join(timeout)
        return self.digest

    def stop(self) -> None:
        self.stopped = True
        with self.progress.cond:
            self.progress.cond.notify_all()
