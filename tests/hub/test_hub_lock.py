"""The per-file inter-process lock waits while the holder progresses and gives up when it stalls."""
from __future__ import annotations

import threading
import time

import pytest

from flagai_lite.errors import HubError
from flagai_lite.hub.lock import FileLock


def test_waiter_gives_up_on_a_stalled_holder(tmp_path):
    path = tmp_path / "x.lock"
    with FileLock(path, timeout=5, what="x"):
        start = time.monotonic()
        with pytest.raises(HubError, match=r"gave up waiting for x: process \d+ holds .* no progress for 0.3s"):
            with FileLock(path, timeout=0.3, what="x"):
                pass
        assert time.monotonic() - start < 2


def test_waiter_keeps_waiting_while_the_holder_progresses(tmp_path):
    path = tmp_path / "x.lock"
    holder = FileLock(path, timeout=5, what="x").__enter__()
    threading.Timer(0.8, holder.__exit__, (None, None, None)).start()
    start = time.monotonic()
    with FileLock(path, timeout=0.3, what="x", activity=time.time):  # progress reported all along
        assert time.monotonic() - start >= 0.7
