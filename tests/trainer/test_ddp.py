"""DDP through torchrun (gloo on CPU): same result as one process with the same global batch; rank 0 writes."""
import json

import torch
from safetensors.torch import load_file

# Global batch 8 both ways: 2 processes x batch 2 x accumulation 2, against 1 process x batch 8.
# adam_eps 1e-5: the key bias has a zero true gradient (softmax ignores a shift), and with eps 1e-8 Adam
# would turn its rounding noise (which differs with the summation order) into full-size updates.
COMMON = dict(epochs=1, lr=1e-2, warm_up_iters=2, weight_decay=0.1, adam_eps=1e-5, log_interval=2,
              eval_interval=4, save_interval=4)


def test_two_processes_match_one_and_only_rank_0_writes(child, launch, tmp_path):
    out = tmp_path / "ddp"
    spec = {"options": dict(COMMON, env_type="pytorchDDP", batch_size=2, gradient_accumulation_steps=2,
                            save_dir=str(tmp_path / "ckpt")),
            "dropout": 0.0, "n_valid": 15, "out": str(out)}
    proc = launch(spec, nproc=2)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    single, state, _ = child.run(dict(COMMON, batch_size=8), dropout=0.0)
    assert state.step == 8
    for rank in (0, 1):
        weights = load_file(str(out / f"final_rank{rank}.safetensors"))
        for key, value in weights.items():
            torch.testing.assert_close(value, single.state_dict()[key], atol=1e-6, rtol=0, msg=key)
        info = json.loads((out / f"info_rank{rank}.json").read_text())
        # One gradient all-reduce per optimizer step (one bucket): none on the no_sync micro-batches.
        assert info == {"allreduce_calls": 8, "step": 8}

    saves = (out / "saves_rank0.txt").read_text().split()
    assert sum(".latest.tmp-" in s for s in saves) == 2  # steps 4 and 8 (written to a temporary, then renamed)
    assert sum(".best.tmp-" in s for s in saves) >= 1
    assert not (out / "saves_rank1.txt").exists()
    rank0_log = (out / "log_rank0.txt").read_text()
    assert "step 8/8" in rank0_log and "eval at step 8" in rank0_log and "examples 15" in rank0_log
    assert "flagai_lite.trainer" not in (out / "log_rank1.txt").read_text()
    latest = torch.load(tmp_path / "ckpt" / "latest" / "trainer_state.pt", weights_only=True)
    assert latest["world_size"] == 2 and len(latest["rng"]) == 2
