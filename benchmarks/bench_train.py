"""Trainer overhead: optimizer steps per second of flagai_lite's Trainer against a bare PyTorch loop.

Both do the same work: the same GPT-2 model, data order, batch, AdamW parameter groups, gradient
clipping and LambdaLR schedule. Each step is timed after a warm-up; a round's rate is 1 / its median
step time (robust to other jobs on a shared machine), the two loops alternate over a few rounds, and
the best round of each is compared.

    .venv/bin/python benchmarks/bench_train.py [--steps 60] [--rounds 3] [--threads N]
"""
import argparse
import statistics
import time

import torch
from torch.utils.data import DataLoader, Dataset

from flagai_lite.model.gpt2 import GPT2Config, GPT2Model
from flagai_lite.trainer import Trainer, TrainerCallback, TrainerConfig
from flagai_lite.trainer.data import ShardSampler, make_loader
from flagai_lite.trainer.optim import build_optimizer, build_scheduler

VOCAB, SEQ, BATCH, WARMUP = 1000, 64, 8, 5


class TokenDataset(Dataset):
    def __init__(self, n: int):
        self.ids = torch.randint(0, VOCAB, (n, SEQ), generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int):
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def new_model() -> GPT2Model:
    torch.manual_seed(0)
    return GPT2Model.from_config(GPT2Config(vocab_size=VOCAB, n_positions=SEQ, n_embd=128, n_layer=4, n_head=4))


class StepClock(TrainerCallback):
    def __init__(self):
        self.times = []

    def on_step_end(self, trainer, state):
        self.times.append(time.perf_counter())


def trainer_rate(data: Dataset, steps: int) -> float:
    clock = StepClock()
    Trainer(max_steps=steps, batch_size=BATCH, progress_bar=False).train(new_model(), data, callbacks=[clock])
    return _rate(clock.times)


def bare_rate(data: Dataset, steps: int) -> float:
    config = TrainerConfig(max_steps=steps, batch_size=BATCH)
    torch.manual_seed(config.seed)
    model = new_model()
    model.train()
    optimizer = build_optimizer(model, config)
    scheduler = build_scheduler(optimizer, config, steps)
    sampler = ShardSampler(len(data), seed=config.seed)
    loader: DataLoader = make_loader(data, sampler, batch_size=BATCH, collate_fn=None, num_workers=0, seed=config.seed)
    times = []
    for step, batch in zip(range(steps), loader):
        loss = model(**batch)["loss"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter())
    return _rate(times)


def _rate(times) -> float:
    """Steps per second from step end times: 1 / median step duration after the warm-up."""
    durations = [b - a for a, b in zip(times[WARMUP - 1:], times[WARMUP:])]
    return 1.0 / statistics.median(durations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = TokenDataset(args.steps * BATCH)
    rates = {"bare PyTorch loop": [], "flagai_lite Trainer": []}
    for _ in range(args.rounds):
        rates["bare PyTorch loop"].append(bare_rate(data, args.steps))
        rates["flagai_lite Trainer"].append(trainer_rate(data, args.steps))
    best = {k: max(v) for k, v in rates.items()}
    print(f"GPT-2 4x128, seq {SEQ}, batch {BATCH}, AdamW + clip + LambdaLR, {args.steps} steps "
          f"({WARMUP} warm-up) x {args.rounds} rounds, {torch.get_num_threads()} threads")
    print(f"| {'loop':<22} | {'steps/s (best)':>16} | {'rounds':<36} |")
    print(f"|{'-' * 24}|{'-' * 18}|{'-' * 38}|")
    for name, values in rates.items():
        print(f"| {name:<22} | {best[name]:>16.2f} | {', '.join(f'{v:.2f}' for v in values):<36} |")
    ratio = best["flagai_lite Trainer"] / best["bare PyTorch loop"]
    print(f"ratio Trainer / bare: {ratio:.3f}")
    from common import save_results

    save_results("train", {"ratios": {"Trainer / bare loop": ratio}, "steps_per_s": best})


if __name__ == "__main__":
    main()
