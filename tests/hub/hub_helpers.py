"""Helpers shared by the hub tests."""
from __future__ import annotations

import json
from pathlib import Path

CREDS = ("testing", "testing")
# Short timeouts and retries so that fault tests finish in a second or two.
FAST = {"timeout": (2.0, 2.0), "retries": 3, "backoff": 0.01, "progress": False, "wait_timeout": 20.0}


def make_model(path: Path, weight_elems: int = 60_000, seed: int = 0) -> Path:
    """A model directory: config.json, model.safetensors (safetensors.torch), vocab.txt."""
    import torch
    from safetensors.torch import save_file

    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps({"hidden_size": 8, "vocab_size": 5}))
    gen = torch.Generator().manual_seed(seed)
    save_file({"embed.weight": torch.randn(weight_elems // 8, 8, generator=gen)}, str(path / "model.safetensors"))
    (path / "vocab.txt").write_text("[PAD]\n[UNK]\nhello\nworld\n")
    return path


def same_files(a: Path, b: Path, names=("config.json", "model.safetensors", "vocab.txt")) -> bool:
    """True when both directories hold the same bytes under ``names``."""
    return all((a / n).read_bytes() == (b / n).read_bytes() for n in names)
