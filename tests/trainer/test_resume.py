"""Exact resume: a run SIGKILLed after a checkpoint and resumed ends bitwise equal to an uninterrupted one."""
import json
import signal

import pytest
import torch

from flagai_lite.errors import TrainerError

# 64 examples / batch 8 = 8 steps per epoch; step 11 is mid-epoch (epoch 1, micro-batch 3), after the
# evaluation at step 8, with dropout on: data position, RNG, optimizer and schedule must all be restored.
OPTIONS = dict(epochs=3, batch_size=8, lr=5e-3, warm_up=0.1, weight_decay=0.1, eval_interval=4,
               save_interval=11)


def test_killed_run_resumes_bitwise_equal(child, launch, tmp_path):
    reference, ref_state, ref_rec = child.run(dict(OPTIONS, save_dir=str(tmp_path / "ref")), n_valid=8)

    save_dir = tmp_path / "run"
    spec = {"options": dict(OPTIONS, save_dir=str(save_dir)), "dropout": 0.1, "n_valid": 0,
            "kill_at_step": 11, "out": str(tmp_path / "child")}
    killed = launch(spec)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    summary = json.loads((save_dir / "latest" / "trainer_state.json").read_text())
    assert (summary["step"], summary["epoch"], summary["batch_in_epoch"]) == (11, 1, 3)

    resumed, state, rec = child.run(dict(OPTIONS, save_dir=str(save_dir), resume=True), n_valid=8)
    assert state.step == ref_state.step == 24
    for key, value in reference.state_dict().items():
        assert torch.equal(resumed.state_dict()[key], value), key
    assert rec.lrs == ref_rec.lrs[11:]
    assert [e for e in rec.evals] == [e for e in ref_rec.evals if e["step"] > 11]


def test_resume_refuses_a_changed_data_order(child, tmp_path):
    child.run(dict(max_steps=2, batch_size=8, save_dir=str(tmp_path)))
    with pytest.raises(TrainerError, match="batch_size"):
        child.run(dict(max_steps=4, batch_size=4, save_dir=str(tmp_path), resume=True))


def test_resume_without_a_checkpoint_starts_from_zero(child, tmp_path, caplog):
    _, state, _ = child.run(dict(max_steps=2, batch_size=8, save_dir=str(tmp_path / "new"), resume=True))
    assert state.step == 2
    assert "does not exist; starting from step 0" in caplog.text


def test_resuming_a_finished_run_does_nothing(child, tmp_path):
    model, _, _ = child.run(dict(max_steps=3, batch_size=8, save_dir=str(tmp_path)))
    again, state, rec = child.run(dict(max_steps=3, batch_size=8, save_dir=str(tmp_path), resume=True))
    assert state.step == 3 and rec.lrs == []
    for key, value in model.state_dict().items():
        assert torch.equal(again.state_dict()[key], value), key
