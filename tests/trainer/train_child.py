"""Tiny GPT-2 training runs for the trainer tests: in-process (``run``) or as a subprocess.

As a script: ``python train_child.py SPEC.json`` (also under torchrun). The spec holds ``options``
(Trainer keyword options), ``dropout``, ``kill_at_step`` (SIGKILL itself right after save_dir/latest
of that step is written), ``out`` (a folder for per-rank logs, weights and records).
"""
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch
from torch.utils.data import Dataset

from flagai_lite.model.gpt2 import GPT2Config, GPT2Model
from flagai_lite.trainer import Trainer, TrainerCallback

VOCAB = 50
SEQ = 16


class ShiftDataset(Dataset):
    """Sequences start, start+1, ... (mod VOCAB): next-token prediction is learnable."""

    def __init__(self, n: int, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.ids = (torch.randint(0, VOCAB, (n, 1), generator=g) + torch.arange(SEQ)) % VOCAB  # (n, SEQ)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> Dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def tiny_model(dropout: float = 0.1) -> GPT2Model:
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=VOCAB, n_positions=32, n_embd=16, n_layer=2, n_head=2,
                        resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout)
    return GPT2Model.from_config(config)


def next_token_predictions(outputs, batch):
    """predict_fn: argmax of each position's logits against the next token."""
    return outputs["logits"][:, :-1].argmax(-1), batch["labels"][:, 1:]


class Recorder(TrainerCallback):
    """Records lr per step, evaluations and saves; optionally kills the process after a save."""

    def __init__(self, kill_at_step: Optional[int] = None):
        self.lrs: List[float] = []
        self.evals: List[Dict[str, float]] = []
        self.saves: List[tuple] = []
        self.kill_at_step = kill_at_step

    def on_step_end(self, trainer, state):
        self.lrs.append(state.lr)

    def on_evaluate(self, trainer, state, metrics):
        self.evals.append(dict(metrics, step=state.step))

    def on_save(self, trainer, state, path):
        self.saves.append((path.name, state.step))
        if path.name == "latest" and state.step == self.kill_at_step:
            os.kill(os.getpid(), signal.SIGKILL)


def run(options: Dict[str, Any], *, dropout: float = 0.1, n_train: int = 64, n_valid: int = 0,
        metric_methods=None, predict_fn=None, callbacks=(), kill_at_step: Optional[int] = None):
    """Train a tiny model; returns (model, state, recorder)."""
    model = tiny_model(dropout)
    recorder = Recorder(kill_at_step)
    trainer = Trainer(**{"progress_bar": False, **options})
    valid = ShiftDataset(n_valid, seed=1) if n_valid else None
    state = trainer.train(model, ShiftDataset(n_train), valid, metric_methods=metric_methods,
                          predict_fn=predict_fn, callbacks=[recorder, *callbacks])
    return model, state, recorder


# ------------------------------------------------------------------------------ subprocess side
class _CommCounter(TrainerCallback):
    """Counts DDP gradient all-reduces (one per bucket per synchronised backward)."""

    def __init__(self):
        self.calls = 0

    def on_train_begin(self, trainer, state):
        from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

        def hook(process_group, bucket):
            self.calls += 1
            return allreduce_hook(process_group, bucket)

        if hasattr(trainer.wrapped_model, "register_comm_hook"):
            trainer.wrapped_model.register_comm_hook(None, hook)


def _ordered_examples(predictions, labels) -> float:
    """Metric that checks it sees every validation example once, in dataset order."""
    expected = ShiftDataset(15, seed=1).ids[:, 1:]
    assert len(labels) == len(expected), (len(labels), len(expected))
    assert all(torch.equal(a, b) for a, b in zip(labels, expected))
    return float(len(labels))


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    torch.set_num_threads(int(os.environ.get("CHILD_THREADS", "1")))
    out = Path(spec["out"])
    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(filename=out / f"log_rank{rank}.txt", level=logging.INFO,
                        format="%(name)s %(levelname)s %(message)s")
    original_save = GPT2Model.save_pretrained

    def recording_save(self, directory, **kwargs):
        with open(out / f"saves_rank{rank}.txt", "a") as f:
            f.write(f"{directory}\n")
        return original_save(self, directory, **kwargs)

    GPT2Model.save_pretrained = recording_save
    counter = _CommCounter()
    metric_methods = [("examples", _ordered_examples)] if spec.get("n_valid") else None
    model, state, _ = run(spec["options"], dropout=spec["dropout"], n_valid=spec.get("n_valid", 0),
                          metric_methods=metric_methods, predict_fn=next_token_predictions,
                          callbacks=[counter], kill_at_step=spec.get("kill_at_step"))
    from safetensors.torch import save_file

    tensors = {k: v.contiguous() for k, v in model.state_dict().items() if k not in model.tied_weights}
    save_file(tensors, str(out / f"final_rank{rank}.safetensors"))
    (out / f"info_rank{rank}.json").write_text(json.dumps({"allreduce_calls": counter.calls, "step": state.step}))


if __name__ == "__main__":
    main(sys.argv[1])
