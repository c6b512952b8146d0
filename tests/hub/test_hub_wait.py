"""Waiting ranks (LOCAL_RANK > 0) follow the outcome rank 0 records, without torch."""
from __future__ import annotations

import time

import pytest
from hub_helpers import FAST

from flagai_lite.errors import HubError, ModelNotFoundError
from flagai_lite.hub import download
from flagai_lite.hub.distributed import record_outcome, wait_for_peer
from flagai_lite.hub.options import HubOptions


@pytest.fixture
def options():
    return HubOptions.resolve(wait_timeout=0.5, progress=False)


def test_waiter_returns_when_rank_0_accepted_a_loadable_directory(file_hub, tmp_path, options):
    model_dir = download("tiny", tmp_path, endpoint=file_hub.as_uri(), **FAST)
    (model_dir / "vocab.txt").unlink()
    record_outcome(model_dir, None)
    wait_for_peer("tiny", model_dir, None, options)
    with pytest.raises(HubError, match="nothing progressed for 0.5s .*still missing: vocab.txt"):
        wait_for_peer("tiny", model_dir, ["vocab.txt"], options)  # asked for explicitly: still missing


def test_waiter_raises_rank_0_error_at_once(tmp_path, options):
    model_dir = tmp_path / "m"
    record_outcome(model_dir, ModelNotFoundError("model 'm' is not on the hub"))
    start = time.monotonic()
    with pytest.raises(ModelNotFoundError, match="LOCAL_RANK 0 failed to download m: model 'm' is not on the hub"):
        wait_for_peer("m", model_dir, None, HubOptions.resolve(wait_timeout=30, progress=False))
    assert time.monotonic() - start < 1


def test_waiter_ignores_records_of_other_runs(tmp_path, options, monkeypatch):
    model_dir = tmp_path / "m"
    monkeypatch.setenv("MASTER_PORT", "1111")
    record_outcome(model_dir, ModelNotFoundError("old run"))
    monkeypatch.setenv("MASTER_PORT", "2222")
    with pytest.raises(HubError, match="nothing progressed"):
        wait_for_peer("m", model_dir, None, options)
