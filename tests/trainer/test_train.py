"""Trainer on one CPU process: learning, checkpoints, best-metric tracking, accumulation, schedule, errors."""
import json
import math

import pytest
import torch

from flagai_lite.errors import ConfigError, TrainerError
from flagai_lite.model.gpt2 import GPT2Model
from flagai_lite.trainer import Trainer, accuracy
from flagai_lite.trainer.optim import lr_lambda, param_groups


def _same_weights(a, b, atol=0.0):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        if atol:
            torch.testing.assert_close(sa[key], sb[key], atol=atol, rtol=0, msg=key)
        else:
            assert torch.equal(sa[key], sb[key]), key


def test_loss_goes_down_and_checkpoints_load_with_from_pretrain(child, tmp_path):
    options = dict(epochs=4, batch_size=8, lr=1e-2, eval_interval=8, save_dir=str(tmp_path))
    model, state, rec = child.run(options, n_valid=16, metric_methods=[("acc", accuracy)],
                                  predict_fn=child.next_token_predictions)
    losses = [e["loss"] for e in rec.evals]
    assert [e["step"] for e in rec.evals] == [8, 16, 24, 32]
    assert losses[-1] < 0.8 * losses[0]
    assert state.best_step == 32 and state.best_metric == min(losses)  # loss: lower is better
    assert rec.saves.count(("latest", 32)) == 1 and ("best", 32) in rec.saves

    x = child.ShiftDataset(4, seed=5).ids
    model.eval()
    expected = model(input_ids=x)["logits"]
    for name in ("latest", "best"):
        loaded = GPT2Model.from_pretrain(tmp_path / name)
        assert torch.equal(loaded(input_ids=x)["logits"], expected), name
    best = json.loads((tmp_path / "best" / "trainer_state.json").read_text())
    assert best["step"] == 32 and best["best_metric"] == "loss" and best["value"] == state.best_metric
    saved = torch.load(tmp_path / "latest" / "trainer_state.pt", weights_only=True)
    assert saved["state"]["step"] == 32 and saved["state"]["epoch"] == 4
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left


@pytest.mark.parametrize("greater, expected_best", [(None, 4), (False, 2)])
def test_best_checkpoint_follows_the_metric_direction(child, tmp_path, greater, expected_best):
    scores = iter([0.5, 0.9, 0.7])
    options = dict(max_steps=6, batch_size=8, eval_interval=2, save_dir=str(tmp_path), best_metric="score",
                   greater_is_better=greater)
    _, state, rec = child.run(options, n_valid=8, metric_methods=[("score", lambda p, l: next(scores))])
    assert state.best_step == expected_best
    assert [s for name, s in rec.saves if name == "best"] == ([2, 4] if greater is None else [2])
    assert json.loads((tmp_path / "best" / "trainer_state.json").read_text())["step"] == expected_best


def test_metrics_see_every_example_once_in_order(child):
    seen = {}

    def record(predictions, labels):
        seen["labels"] = labels
        return accuracy(predictions, labels)

    _, state, _ = child.run(dict(max_steps=1, batch_size=4, eval_batch_size=4), n_valid=10,
                            metric_methods=[("acc", record)], predict_fn=child.next_token_predictions)
    expected = child.ShiftDataset(10, seed=1).ids[:, 1:]
    assert len(seen["labels"]) == 10 and all(torch.equal(a, b) for a, b in zip(seen["labels"], expected))
    assert 0.0 <= state.metrics["acc"] <= 1.0 and "loss" in state.metrics


def test_gradient_accumulation_equals_the_large_batch_and_steps_the_schedule_once(child):
    # adam_eps 1e-5: see test_ddp.py (Adam would amplify the key bias's rounding noise).
    common = dict(max_steps=6, lr=1e-2, warm_up_iters=2, lr_schedule="cosine", weight_decay=0.1, adam_eps=1e-5)
    big, big_state, big_rec = child.run(dict(common, batch_size=8), dropout=0.0)
    acc, acc_state, acc_rec = child.run(dict(common, batch_size=2, gradient_accumulation_steps=4), dropout=0.0)
    _same_weights(big, acc, atol=1e-6)
    factor = lr_lambda("cosine", 2, 6)
    expected_lrs = [1e-2 * factor(s) for s in range(6)]
    assert acc_rec.lrs == pytest.approx(expected_lrs) and big_rec.lrs == pytest.approx(expected_lrs)
    assert expected_lrs[:2] == pytest.approx([5e-3, 1e-2])  # warm-up over two optimizer steps
    assert acc_state.step == 6 and acc_state.batch_in_epoch == 24  # 6 steps x 4 micro-batches


def test_trainer_exposes_one_optimizer_step_per_accumulated_batch(child):
    seen = {}

    class Probe(child.TrainerCallback):
        def on_train_end(self, trainer, state):
            seen["adam_steps"] = {int(s["step"]) for s in trainer.optimizer.state.values()}
            seen["scheduler"] = trainer.scheduler.last_epoch

    # 40 examples / batch 8 = 5 micro-batches per epoch; accumulation 2 -> steps of 2, 2, 1 micro-batches.
    _, state, rec = child.run(dict(epochs=2, batch_size=8, gradient_accumulation_steps=2), n_train=40,
                              callbacks=[Probe()])
    assert state.step == 6 and state.epoch == 2 and len(rec.lrs) == 6
    assert seen == {"adam_steps": {6}, "scheduler": 6}


def test_no_weight_decay_on_biases_and_norm_weights(child):
    model = child.tiny_model()
    decay, no_decay = param_groups(model, 0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    assert all(p.dim() >= 2 for p in decay["params"]) and decay["weight_decay"] == 0.1
    assert no_decay["weight_decay"] == 0.0
    assert {"final_norm.weight", "final_norm.bias", "layers.0.attn.qkv_proj.bias"} <= {
        names[id(p)] for p in no_decay["params"]}
    assert "embeddings.word.weight" in {names[id(p)] for p in decay["params"]}


@pytest.mark.parametrize("schedule, end", [("linear", 0.1), ("cosine", 0.1), ("constant", 1.0)])
def test_lr_schedules(schedule, end):
    f = lr_lambda(schedule, 4, 104, min_ratio=0.1)
    assert [f(s) for s in range(4)] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert f(4) == pytest.approx(1.0) and f(104) == pytest.approx(end)
    if schedule == "cosine":
        assert f(54) == pytest.approx(0.55)


def test_bf16_autocast_trains_on_cpu_and_fp16_is_refused(child):
    _, state, _ = child.run(dict(max_steps=2, batch_size=4, precision="bf16"))
    assert state.step == 2 and math.isfinite(state.loss)
    with pytest.raises(TrainerError, match="fp16.*CUDA"):
        Trainer(fp16=True, pytorch_device="cpu")


def test_interrupted_save_keeps_the_previous_latest(child, tmp_path):
    calls = {"n": 0}
    original = GPT2Model.save_pretrained

    def flaky(self, directory, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            (directory / "model.safetensors").write_bytes(b"half a file")
            raise OSError("disk full")
        return original(self, directory, **kwargs)

    GPT2Model.save_pretrained = flaky
    try:
        with pytest.raises(OSError, match="disk full"):
            child.run(dict(max_steps=4, batch_size=8, save_interval=2, save_dir=str(tmp_path)))
    finally:
        GPT2Model.save_pretrained = original
    assert json.loads((tmp_path / "latest" / "trainer_state.json").read_text())["step"] == 2
    GPT2Model.from_pretrain(tmp_path / "latest")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest"]


def test_a_kill_between_the_renames_is_recovered_on_resume(child, tmp_path):
    child.run(dict(max_steps=2, batch_size=8, save_dir=str(tmp_path)))
    (tmp_path / "latest").rename(tmp_path / ".latest.old")  # killed after moving the old one aside
    (tmp_path / ".latest.tmp-123-abc").mkdir()  # and a half-written temporary
    _, state, _ = child.run(dict(max_steps=3, batch_size=8, save_dir=str(tmp_path), resume=True))
    assert state.step == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest"]


def test_bad_model_outputs_and_batches_fail_with_a_clear_error(child):
    class NoLoss(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, **batch):
            return {"logits": self.w}

    with pytest.raises(TrainerError, match="no 'loss'"):
        Trainer(max_steps=1, progress_bar=False).train(NoLoss(), child.ShiftDataset(4))
    with pytest.raises(TrainerError, match="dict of keyword arguments"):
        Trainer(max_steps=1, progress_bar=False).train(child.tiny_model(), [torch.zeros(3)] * 4)
    with pytest.raises(TrainerError, match="best_metric 'acc'"):
        Trainer(max_steps=1, best_metric="acc").train(child.tiny_model(), child.ShiftDataset(4),
                                                      child.ShiftDataset(4))


def test_unknown_trainer_option_is_named_with_a_suggestion():
    with pytest.raises(ConfigError, match="unknown option 'warmup'; did you mean 'warm_up'"):
        Trainer(warmup=0.1)


def test_environment_checks(monkeypatch):
    with pytest.raises(TrainerError, match="torchrun"):
        Trainer(env_type="pytorchDDP")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(TrainerError, match="pytorchDDP"):
        Trainer(env_type="pytorch")


def test_evaluate_on_its_own(child):
    trainer = Trainer(batch_size=4)
    metrics = trainer.evaluate(child.tiny_model(), child.ShiftDataset(10), metric_methods=[("acc", accuracy)],
                               predict_fn=child.next_token_predictions)
    assert set(metrics) == {"loss", "acc"} and metrics["loss"] > 0


def test_tensorboard_is_optional(child, tmp_path, caplog):
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        _, state, _ = child.run(dict(max_steps=1, batch_size=8, tensorboard_dir=str(tmp_path)))
        assert state.step == 1 and "tensorboard package is not installed" in caplog.text
    else:
        child.run(dict(max_steps=2, batch_size=8, log_interval=1, tensorboard_dir=str(tmp_path)))
        assert list(tmp_path.rglob("events.out.tfevents.*"))
