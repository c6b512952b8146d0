"""torch.distributed runs: LOCAL_RANK 0 of each node downloads; the node's other ranks wait for it.

The wait is file-based (polling the model directory), not a collective, so it works with any
backend, does not need every rank to call :func:`download`, and cannot hang: a waiting rank gives up
when the download stops progressing for ``wait_timeout`` seconds, and fails at once with rank 0's
error when rank 0 records one (``.cache/outcome.json``). torch is never imported here: it is only looked up in sys.modules.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

from flagai_lite import errors
from flagai_lite.errors import HubError
from flagai_lite.hub.cache import cache_dir, last_activity, loadable, missing_files
from flagai_lite.hub.fsutil import atomic_write_text
from flagai_lite.hub.options import HubOptions

logger = logging.getLogger(__name__)

OUTCOME_NAME = "outcome.json"
_OUTCOME_MAX_AGE = 300.0  # seconds: older records belong to an earlier run


def local_rank() -> int | None:
    """LOCAL_RANK when torch.distributed is initialised with more than one rank, else None."""
    torch = sys.modules.get("torch")
    dist = getattr(torch, "distributed", None) if torch is not None else None
    try:
        if dist is None or not dist.is_available() or not dist.is_initialized() or dist.get_world_size() <= 1:
            return None
    except (RuntimeError, ValueError):
        return None
    value = os.environ.get("LOCAL_RANK", "")
    # Without LOCAL_RANK the node layout is unknown: every rank downloads and the file locks dedupe.
    return int(value) if value.isdigit() else None


def _run_token() -> str:
    keys = ("TORCHELASTIC_RUN_ID", "MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE")
    return "|".join(os.environ.get(k, "") for k in keys)


def record_outcome(model_dir: Path, exc: BaseException | None = None) -> None:
    """Tell this run's waiting ranks how rank 0's download ended (``exc`` None: the directory is usable)."""
    record = {"token": _run_token(), "ok": exc is None, "time": time.time(),
              "type": type(exc).__name__ if exc else None, "message": str(exc) if exc else None}
    try:
        atomic_write_text(cache_dir(model_dir) / OUTCOME_NAME, json.dumps(record), durable=False)
    except OSError:
        logger.warning("could not record the download outcome in %s", model_dir)


def _outcome(model_dir: Path, since: float) -> dict | None:
    try:
        record = json.loads((cache_dir(model_dir) / OUTCOME_NAME).read_text())
    except (OSError, ValueError):
        return None
    if record.get("token") != _run_token() or record.get("time", 0) < since:
        return None
    return record


def wait_for_peer(model_name: str, model_dir: Path, files: list[str] | None, options: HubOptions) -> None:
    """Block until LOCAL_RANK 0 has completed ``model_dir`` (the requested ``files``).

    Raises:
        HubError (or rank 0's error class): rank 0 failed, or no progress for ``options.wait_timeout`` s.
    """
    start = last = time.time()
    delay = 0.05
    logger.info("waiting for LOCAL_RANK 0 to download %s into %s", model_name, model_dir)
    while True:
        missing = missing_files(model_dir, files)
        if not missing:
            return
        outcome = _outcome(model_dir, start - _OUTCOME_MAX_AGE)
        if outcome is not None and outcome.get("ok"):
            if files is None and loadable(model_dir, missing):  # rank 0 accepted it without the hub
                return
        elif outcome is not None:
            cls = getattr(errors, str(outcome.get("type")), HubError)
            cls = cls if isinstance(cls, type) and issubclass(cls, HubError) else HubError
            raise cls(f"LOCAL_RANK 0 failed to download {model_name}: {outcome.get('message')}")
        last = max(last, last_activity(model_dir))
        if time.time() - last > options.wait_timeout:
            raise HubError(
                f"waited for LOCAL_RANK 0 to download {model_name} into {model_dir}, but nothing progressed for "
                f"{options.wait_timeout:g}s (FLAGAI_HUB_WAIT_TIMEOUT); still missing: "
                + ", ".join(sorted(missing_files(model_dir, files)))
            )
        time.sleep(delay)
        delay = min(0.5, delay * 2)
