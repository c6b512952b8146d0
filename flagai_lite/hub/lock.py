"""Inter-process locks (fcntl.flock on a lock file) that give up only when the holder stops progressing."""
from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path
from typing import Callable

from flagai_lite.errors import HubError

logger = logging.getLogger(__name__)


class FileLock:
    """An exclusive lock on ``path``, released when the holder exits or dies.

    A waiter gives up with HubError when neither the lock was freed nor ``activity()`` (a timestamp of
    the holder's last progress, e.g. the mtime of its partial file) moved for ``timeout`` seconds.
    Lock files are never deleted: deleting them would let two processes lock different inodes.
    """

    def __init__(self, path: Path, *, timeout: float, what: str, activity: Callable[[], float] | None = None) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.what = what
        self.activity = activity or (lambda: 0.0)
        self._fd: int | None = None

    def __enter__(self) -> "FileLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        last_progress = time.time()
        delay = 0.01
        logged = False
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    pass
                if not logged:
                    logger.info("waiting for %s, held by pid %s", self.what, self._holder(fd))
                    logged = True
                last_progress = max(last_progress, self.activity())
                if time.time() - last_progress > self.timeout:
                    raise HubError(
                        f"gave up waiting for {self.what}: process {self._holder(fd)} holds {self.path} "
                        f"and made no progress for {self.timeout:g}s (FLAGAI_HUB_WAIT_TIMEOUT)"
                    )
                time.sleep(delay)
                delay = min(0.25, delay * 2)
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            return os.pread(fd, 32, 0).decode().strip() or "?"
        except (OSError, UnicodeDecodeError):
            return "?"
