"""Progress bars: one per file plus a total, through tqdm (imported only when bars are shown)."""
from __future__ import annotations

import threading


class _NullBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


class Bars:
    """Creates tqdm bars when ``enabled``; no-op bars otherwise. Thread-safe updates."""

    def __init__(self, enabled: bool, total: int = 0, desc: str = "") -> None:
        self.enabled = enabled
        self._lock = threading.Lock()
        self._total = self._make(total, 0, desc, 0, leave=True) if enabled else _NullBar()

    def _make(self, total: int, initial: int, desc: str, position: int, leave: bool):
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=initial, desc=desc, unit="B", unit_scale=True,
                    unit_divisor=1024, position=position, leave=leave, dynamic_ncols=True)

    def file(self, name: str, total: int, initial: int = 0) -> "FileBar":
        """A bar for one file; its updates also advance the total bar."""
        bar = self._make(total, initial, name, 1, leave=False) if self.enabled else _NullBar()
        if initial:
            with self._lock:
                self._total.update(initial)
        return FileBar(self, bar)

    def close(self) -> None:
        self._total.close()


class FileBar:
    """Progress of one file; ``update`` is safe to call from several threads."""

    def __init__(self, owner: Bars, bar) -> None:
        self._owner = owner
        self._bar = bar

    def update(self, n: int) -> None:
        with self._owner._lock:
            self._bar.update(n)
            self._owner._total.update(n)

    def close(self) -> None:
        with self._owner._lock:
            self._bar.close()
