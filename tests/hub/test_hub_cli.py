"""`flagai-lite hub`: upload, download, ls and verify, with exit codes."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hub_helpers import same_files

from flagai_lite.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FLAGAI_HUB_PROGRESS": "0"}
    return subprocess.run([sys.executable, "-m", "flagai_lite.cli", *args], capture_output=True, text=True, env=env)


def test_upload_download_ls_verify_through_the_command(tiny_model, tmp_path):
    hub = (tmp_path / "hub").as_uri()
    assert run_cli("hub", "upload", str(tiny_model), "org/tiny", "--endpoint", hub).returncode == 0
    listed = run_cli("hub", "ls", "--endpoint", hub)
    assert listed.returncode == 0 and listed.stdout.split() == ["org/tiny"]
    done = run_cli("hub", "download", "org/tiny", "--dir", str(tmp_path / "dl"), "--endpoint", hub)
    assert done.returncode == 0, done.stderr
    model_dir = Path(done.stdout.strip())
    assert model_dir == tmp_path / "dl" / "org" / "tiny" and same_files(model_dir, tiny_model)
    assert run_cli("hub", "verify", str(model_dir)).stdout.startswith("ok: 3 files")


def test_verify_exit_code_on_mismatch(file_hub, tmp_path, capsys):
    from flagai_lite.hub import download

    model_dir = download("tiny", tmp_path, endpoint=file_hub.as_uri(), progress=False)
    assert main(["hub", "verify", str(model_dir)]) == 0
    weights = model_dir / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[100] ^= 1
    stat = weights.stat()
    weights.write_bytes(bytes(data))
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with size and mtime kept
    capsys.readouterr()
    assert main(["hub", "verify", str(model_dir)]) == 1
    err = capsys.readouterr().err
    assert "model.safetensors: sha256" in err and "1 of 3 files" in err
    (model_dir / "vocab.txt").unlink()
    assert main(["hub", "verify", str(model_dir)]) == 1
    assert "vocab.txt: missing" in capsys.readouterr().err
    assert main(["hub", "verify", str(tmp_path)]) == 1  # no manifest at all


def test_missing_model_is_an_error_exit(file_hub, tmp_path):
    done = run_cli("hub", "download", "tiyn", "--dir", str(tmp_path), "--endpoint", file_hub.as_uri())
    assert done.returncode == 1
    assert "error: model 'tiyn' is not on the hub" in done.stderr and "did you mean: tiny" in done.stderr
