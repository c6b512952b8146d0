"""Trainer: finetune any model of the forward/save/load contract on one CPU or GPU, or many through torchrun.

A model qualifies when ``model(**batch)`` returns a dict with ``"loss"`` (given labels),
``model.save_pretrained(dir)`` writes a directory ``Model.from_pretrain(dir)`` loads, and its
``state_dict`` keys are the saved ones (tied aliases, listed in ``model.tied_weights``, may be left out).
"""
import contextlib
import logging
import math
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence

import torch
from torch import nn

from ..errors import ConfigError, TrainerError
from .config import TrainerConfig
from .data import ShardSampler, check_dataset, make_loader, move_to_device
from .distributed import DistContext
from .evaluation import PredictFn, check_metric_methods, evaluate
from .optim import build_optimizer, build_scheduler
from .progress import ProgressReporter
from .state import (
    FORMAT_VERSION, TrainerState, capture_rng, load_model_weights, load_training_state, recover_dir,
    restore_rng, save_checkpoint, seed_everything,
)

logger = logging.getLogger(__name__)

# Options that may change between a run and its resumption without breaking exactness.
_FREE_ON_RESUME = {"resume", "progress_bar", "log_interval", "tensorboard_dir", "experiment_name", "num_workers"}
# Options that fix which sample sits where; a resumed run must keep them.
_FIXED_ON_RESUME = ("batch_size", "gradient_accumulation_steps", "seed")


class TrainerCallback:
    """Hooks into :meth:`Trainer.train`; override any. All run on every process except ``on_save``."""

    def on_train_begin(self, trainer: "Trainer", state: TrainerState) -> None:
        """After setup (and resume), before the first step; ``trainer.wrapped_model`` exists."""

    def on_step_end(self, trainer: "Trainer", state: TrainerState) -> None:
        """After each optimizer step (``state.lr`` is the step's learning rate)."""

    def on_evaluate(self, trainer: "Trainer", state: TrainerState, metrics: Dict[str, float]) -> None:
        """After each evaluation."""

    def on_save(self, trainer: "Trainer", state: TrainerState, path: Path) -> None:
        """After ``path`` (save_dir/latest or save_dir/best) was written; rank 0 only."""

    def on_train_end(self, trainer: "Trainer", state: TrainerState) -> None:
        """After the last step, evaluation and save."""


class Trainer:
    """FlagAI-style trainer: ``Trainer(env_type="pytorch", epochs=3, lr=2e-5, ...).train(model, data)``.

    Args:
        config: a :class:`TrainerConfig` (e.g. from :func:`load_train_config`); keyword options win over it.
        **options: any TrainerConfig field (env_type, epochs, max_steps, batch_size, lr, weight_decay,
            warm_up, gradient_accumulation_steps, precision, log_interval, eval_interval, save_interval,
            save_dir, best_metric, resume, seed, ...). See configs/base.yaml.

    Raises:
        ConfigError: an unknown option (the closest valid one is suggested) or a bad value.
        TrainerError: the environment does not fit (DDP without torchrun, CUDA missing, fp16 on CPU).
    """

    def __init__(self, config: Optional[TrainerConfig] = None, **options: Any):
        if config is not None and not isinstance(config, TrainerConfig):
            raise ConfigError(f"config must be a TrainerConfig, got {type(config).__name__}")
        base = config.to_dict() if config is not None else {}
        self.config = TrainerConfig.from_dict({**base, **options}, source="Trainer options")
        cfg = self.config
        self.dist = DistContext.from_env(cfg.env_type, cfg.pytorch_device, cfg.ddp_backend)
        _check_precision(cfg.precision, self.dist.device)
        self.state = TrainerState()
        self.model: Optional[nn.Module] = None
        self.wrapped_model: Optional[nn.Module] = None  # the DDP wrapper, or the model itself
        self.optimizer: Optional[torch.optim.Optimizer] = None
        self.scheduler: Optional[torch.optim.lr_scheduler.LambdaLR] = None
        self.scaler: Optional[torch.amp.GradScaler] = None

    # ------------------------------------------------------------------ where this process is
    @property
    def rank(self) -> int:
        """This process's rank (0 without DDP)."""
        return self.dist.rank

    @property
    def world_size(self) -> int:
        """Number of processes."""
        return self.dist.world_size

    @property
    def is_main_process(self) -> bool:
        """True on rank 0, the process that logs and writes checkpoints."""
        return self.dist.is_main

    @property
    def device(self) -> torch.device:
        """The device this process trains on."""
        return self.dist.device

    # ------------------------------------------------------------------ public API
    def train(
        self,
        model: nn.Module,
        train_dataset: Any,
        valid_dataset: Any = None,
        collate_fn: Optional[Callable] = None,
        metric_methods: Optional[Sequence[Any]] = None,
        *,
        predict_fn: Optional[PredictFn] = None,
        callbacks: Optional[Sequence[TrainerCallback]] = None,
    ) -> TrainerState:
        """Train ``model`` in place; evaluate, log and checkpoint as configured.

        Args:
            model: see the module docstring for the contract.
            train_dataset / valid_dataset: map-style datasets whose items ``collate_fn`` (default:
                torch's default_collate) turns into a dict of ``model.forward`` keywords.
            metric_methods: ``[(name, fn(predictions, labels) -> float)]`` computed on ``valid_dataset``
                (see :mod:`flagai_lite.trainer.evaluation`); the eval loss is reported as ``"loss"``.
            predict_fn: ``(outputs, batch) -> (predictions, labels)`` per batch, for the metrics.
            callbacks: :class:`TrainerCallback` objects.

        Returns:
            The final :class:`TrainerState` (step, epoch, last metrics, best metric and step).

        Raises:
            TrainerError: bad model, datasets, metrics or checkpoint, found before the first step.
        """
        metrics = check_metric_methods(metric_methods)
        self._check_inputs(model, train_dataset, valid_dataset, metrics)
        self.dist.init()
        reporter = ProgressReporter(enabled=self.dist.is_main, progress_bar=self.config.progress_bar,
                                    tensorboard_dir=self.config.tensorboard_dir,
                                    experiment_name=self.config.experiment_name)
        run = _Run(self, model, train_dataset, valid_dataset, collate_fn, metrics, predict_fn,
                   list(callbacks or ()), reporter)
        try:
            run.setup()
            run.loop()
            self.dist.barrier()  # no process leaves before rank 0 has written the last checkpoint
            for cb in run.callbacks:
                cb.on_train_end(self, self.state)
        finally:
            reporter.close()
            self.dist.shutdown()
        return self.state

    def evaluate(
        self,
        model: nn.Module,
        dataset: Any,
        collate_fn: Optional[Callable] = None,
        metric_methods: Optional[Sequence[Any]] = None,
        *,
        predict_fn: Optional[PredictFn] = None,
    ) -> Dict[str, float]:
        """Mean loss and metrics of ``model`` (moved to this process's device) on ``dataset``."""
        check_dataset(dataset, "dataset")
        self.dist.init()
        model.to(self.dist.device)
        return evaluate(model, dataset, dist_ctx=self.dist, batch_size=self.eval_batch_size,
                        collate_fn=collate_fn, num_workers=self.config.num_workers, autocast=self.autocast,
                        metric_methods=check_metric_methods(metric_methods), predict_fn=predict_fn)

    @property
    def eval_batch_size(self) -> int:
        """Evaluation batch size per process."""
        return self.config.eval_batch_size or self.config.batch_size

    def autocast(self) -> Any:
        """The mixed-precision context of the configured precision (a null context for fp32)."""
        if self.config.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.config.precision == "bf16" else torch.float16
        return torch.autocast(self.dist.device.type, dtype=dtype)

    # ------------------------------------------------------------------ checks
    def _check_inputs(self, model: nn.Module, train_dataset: Any, valid_dataset: Any,
                      metrics: List[Any]) -> None:
        cfg = self.config
        if not isinstance(model, nn.Module):
            raise TrainerError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if cfg.save_dir is not None and not callable(getattr(model, "save_pretrained", None)):
            raise TrainerError(f"save_dir is set but {type(model).__name__} has no save_pretrained(dir)")
        check_dataset(train_dataset, "train_dataset")
        if valid_dataset is not None:
            check_dataset(valid_dataset, "valid_dataset")
            names = ["loss"] + [name for name, _ in metrics]
            if cfg.best_metric not in names:
                raise TrainerError(f"best_metric {cfg.best_metric!r} is not computed; evaluation reports {names}")


class _Run:
    """One call of Trainer.train: the loop and its bookkeeping."""

    def __init__(self, trainer: Trainer, model: nn.Module, train_dataset: Any, valid_dataset: Any,
                 collate_fn: Optional[Callable], metrics: List[Any], predict_fn: Optional[PredictFn],
                 callbacks: List[TrainerCallback], reporter: ProgressReporter):
        self.trainer, self.cfg, self.dist = trainer, trainer.config, trainer.dist
        self.model, self.train_dataset, self.valid_dataset = model, train_dataset, valid_dataset
        self.collate_fn, self.metrics, self.predict_fn = collate_fn, metrics, predict_fn
        self.callbacks, self.reporter = callbacks, reporter
        self.save_dir = Path(self.cfg.save_dir) if self.cfg.save_dir is not None else None
        self.sampler = ShardSampler(len(train_dataset), num_replicas=self.dist.world_size, rank=self.dist.rank,
                                    shuffle=True, seed=self.cfg.seed)
        self.num_batches = math.ceil(self.sampler.shard_length / self.cfg.batch_size)  # micro-batches per epoch
        steps_per_epoch = math.ceil(self.num_batches / self.cfg.gradient_accumulation_steps)
        self.total_steps = self.cfg.max_steps or self.cfg.epochs * steps_per_epoch
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=self.dist.device)
        self.loss_count = 0
        self.grad_norm: Optional[torch.Tensor] = None

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        t, cfg, dist_ctx = self.trainer, self.cfg, self.dist
        seed_everything(cfg.seed + dist_ctx.rank)
        self.model.to(dist_ctx.device)
        self.model.train()
        t.model = self.model
        t.optimizer = build_optimizer(self.model, cfg)
        t.scheduler = build_scheduler(t.optimizer, cfg, self.total_steps)
        t.scaler = torch.amp.GradScaler(dist_ctx.device.type) if cfg.precision == "fp16" else None
        t.state = TrainerState(total_steps=self.total_steps)
        rng = self._resume() if cfg.resume else None
        t.wrapped_model = self._wrap()
        self._log_start()
        for cb in self.callbacks:
            cb.on_train_begin(t, t.state)
        if rng is not None:
            restore_rng(rng)  # last: nothing between here and the first step draws random numbers

    def _wrap(self) -> nn.Module:
        if not self.dist.distributed:
            return self.model
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [self.dist.device.index] if self.dist.device.type == "cuda" else None
        return DistributedDataParallel(self.model, device_ids=device_ids,
                                       find_unused_parameters=self.cfg.ddp_find_unused_parameters)

    def _resume(self) -> Optional[Dict[str, Any]]:
        """Load save_dir/latest into model, optimizer, scheduler, scaler and state; this rank's RNG state."""
        t, latest = self.trainer, self.save_dir / "latest"
        if self.dist.is_main:
            recover_dir(latest)
            recover_dir(self.save_dir / "best")
        self.dist.barrier()
        if not latest.is_dir():
            if self.dist.is_main:
                logger.warning("resume: %s does not exist; starting from step 0", latest)
            return None
        saved = load_training_state(latest)
        self._check_resumable(saved, latest)
        load_model_weights(self.model, latest)
        t.optimizer.load_state_dict(saved["optimizer"])
        t.scheduler.load_state_dict(saved["scheduler"])
        if t.scaler is not None and saved["scaler"] is not None:
            t.scaler.load_state_dict(saved["scaler"])
        t.state = TrainerState.from_dict(saved["state"])
        t.state.total_steps = self.total_steps
        if self.dist.is_main:
            logger.info("resumed from %s at step %d (epoch %d, micro-batch %d of the epoch)", latest,
                        t.state.step, t.state.epoch, t.state.batch_in_epoch)
        return saved["rng"][self.dist.rank]

    def _check_resumable(self, saved: Dict[str, Any], where: Path) -> None:
        before, now = saved["config"], self.cfg.to_dict()
        fixed = [k for k in _FIXED_ON_RESUME if before.get(k) != now[k]]
        if saved["world_size"] != self.dist.world_size:
            fixed.append(f"world size ({saved['world_size']} -> {self.dist.world_size})")
        if saved["num_examples"] != len(self.train_dataset):
            fixed.append(f"train_dataset length ({saved['num_examples']} -> {len(self.train_dataset)})")
        if fixed:
            raise TrainerError(
                f"{where}: cannot resume exactly, the data order changed with {fixed}; keep them, or train into "
                "a new save_dir"
            )
        changed = sorted(k for k in now if k not in _FREE_ON_RESUME and before.get(k) != now[k])
        if changed and self.dist.is_main:
            logger.warning("resuming with changed options %s; the run will differ from an uninterrupted one",
                           {k: (before.get(k), now[k]) for k in changed})

    def _log_start(self) -> None:
        if not self.dist.is_main:
            return
        cfg, state = self.cfg, self.trainer.state
        global_batch = cfg.batch_size * self.dist.world_size * cfg.gradient_accumulation_steps
        logger.info(
            "training %s: %d examples; batch %d x %d processes x %d accumulation = %d; %d optimizer steps "
            "(%d micro-batches per epoch per process); device %s, precision %s",
            type(self.model).__name__, len(self.train_dataset), cfg.batch_size, self.dist.world_size,
            cfg.gradient_accumulation_steps, global_batch, self.total_steps, self.num_batches,
            self.dist.device, cfg.precision,
        )
        self.reporter.start(self.total_steps, state.step)

    # ------------------------------------------------------------------ loop
    def loop(self) -> None:
        state, cfg = self.trainer.state, self.cfg
        while state.step < self.total_steps and (cfg.max_steps or state.epoch < cfg.epochs):
            self.sampler.set_epoch(state.epoch, start=state.batch_in_epoch * cfg.batch_size)
            loader = make_loader(self.train_dataset, self.sampler, batch_size=cfg.batch_size,
                                 collate_fn=self.collate_fn, num_workers=cfg.num_workers, seed=cfg.seed + state.epoch)
            batches = iter(loader)
            epoch_end = False
            while not epoch_end and state.step < self.total_steps:
                n_micro = min(cfg.gradient_accumulation_steps, self.num_batches - state.batch_in_epoch)
                state.lr = self.trainer.optimizer.param_groups[0]["lr"]
                self._optimizer_step(batches, n_micro)
                state.step += 1
                state.batch_in_epoch += n_micro
                epoch_end = state.batch_in_epoch == self.num_batches
                if epoch_end:
                    state.epoch, state.batch_in_epoch = state.epoch + 1, 0
                self._after_step(epoch_end)

    def _optimizer_step(self, batches: Iterator[Any], n_micro: int) -> None:
        """Forward/backward ``n_micro`` micro-batches, then one clip, optimizer and scheduler step."""
        t, wrapped = self.trainer, self.trainer.wrapped_model
        for i in range(n_micro):
            batch = move_to_device(next(batches), self.dist.device)
            # DDP all-reduces gradients only on the last micro-batch of the step.
            last = i == n_micro - 1
            with (wrapped.no_sync() if self.dist.distributed and not last else contextlib.nullcontext()):
                with t.autocast():
                    outputs = wrapped(**batch)
                loss = _loss_of(outputs)
                scaled = loss / n_micro
                (t.scaler.scale(scaled) if t.scaler is not None else scaled).backward()
            self.loss_sum += loss.detach()
            self.loss_count += 1
        if t.scaler is not None:
            t.scaler.unscale_(t.optimizer)
        if self.cfg.clip_grad > 0:
            self.grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.clip_grad)
        if t.scaler is not None:
            t.scaler.step(t.optimizer)
            t.scaler.update()
        else:
            t.optimizer.step()
        t.scheduler.step()
        t.optimizer.zero_grad(set_to_none=True)

    def _after_step(self, epoch_end: bool) -> None:
        state, cfg = self.trainer.state, self.cfg
        final = state.step >= self.total_steps
        self.reporter.step()
        for cb in self.callbacks:
            cb.on_step_end(self.trainer, state)
        if state.step % cfg.log_interval == 0 or final:
            self._log()
        if self.valid_dataset is not None and (final or _due(state.step, cfg.eval_interval, epoch_end)):
            self._evaluate()
        if self.save_dir is not None and (final or _due(state.step, cfg.save_interval, epoch_end)):
            self._save_latest()

    # ------------------------------------------------------------------ reporting and checkpoints
    def _log(self) -> None:
        totals = torch.stack([self.loss_sum, self.loss_sum.new_tensor(float(self.loss_count))])
        loss_sum, count = self.dist.all_reduce_sum(totals).tolist()
        self.loss_sum.zero_()
        self.loss_count = 0
        state = self.trainer.state
        state.loss = loss_sum / max(count, 1.0)
        scalars = {"loss": state.loss, "lr": state.lr}
        if self.grad_norm is not None:
            scalars["grad_norm"] = float(self.grad_norm)
        self.reporter.log_train(state.step, self.total_steps, state.epoch, scalars)

    def _evaluate(self) -> None:
        t, state, cfg = self.trainer, self.trainer.state, self.cfg
        metrics = evaluate(self.model, self.valid_dataset, dist_ctx=self.dist, batch_size=t.eval_batch_size,
                           collate_fn=self.collate_fn, num_workers=cfg.num_workers, autocast=t.autocast,
                           metric_methods=self.metrics, predict_fn=self.predict_fn)
        state.metrics = metrics
        if cfg.best_metric not in metrics:
            raise TrainerError(f"best_metric {cfg.best_metric!r} is not among the evaluation results {list(metrics)} "
                               "(the model returned no loss on valid_dataset?)")
        value = metrics[cfg.best_metric]
        best = state.best_metric
        if not math.isnan(value) and (best is None or (value > best if cfg.maximize_best else value < best)):
            state.best_metric, state.best_step = value, state.step
            if self.save_dir is not None and self.dist.is_main:
                summary = {"step": state.step, "epoch": state.epoch, "best_metric": cfg.best_metric,
                           "value": value, "metrics": metrics}
                self._write(self.save_dir / "best", summary, None)
        best_text = "no best yet" if state.best_metric is None else (
            f"best {cfg.best_metric} {state.best_metric:.6g} at step {state.best_step}")
        self.reporter.log_eval(state.step, metrics, best_text)
        for cb in self.callbacks:
            cb.on_evaluate(t, state, metrics)

    def _save_latest(self) -> None:
        t, state = self.trainer, self.trainer.state
        rng = self.dist.all_gather_object(capture_rng())
        if not self.dist.is_main:
            return
        training_state = {
            "format": FORMAT_VERSION,
            "state": state.to_dict(),
            "optimizer": t.optimizer.state_dict(),
            "scheduler": t.scheduler.state_dict(),
            "scaler": t.scaler.state_dict() if t.scaler is not None else None,
            "rng": rng,
            "world_size": self.dist.world_size,
            "num_examples": len(self.train_dataset),
            "config": self.cfg.to_dict(),
        }
        summary = {**state.to_dict(), "best_metric_name": self.cfg.best_metric, "world_size": self.dist.world_size,
                   "config": self.cfg.to_dict()}
        self._write(self.save_dir / "latest", summary, training_state)

    def _write(self, path: Path, summary: Dict[str, Any], training_state: Optional[Dict[str, Any]]) -> None:
        save_checkpoint(path, self.model, summary, training_state)
        logger.info("saved %s (step %d)", path, self.trainer.state.step)
        for cb in self.callbacks:
            cb.on_save(self.trainer, self.trainer.state, path)


def _due(step: int, interval: int, epoch_end: bool) -> bool:
    """Every ``interval`` steps; at the end of every epoch when ``interval`` is 0."""
    return step % interval == 0 if interval > 0 else epoch_end


def _loss_of(outputs: Any) -> torch.Tensor:
    loss = outputs.get("loss") if isinstance(outputs, Mapping) else None
    if loss is None:
        raise TrainerError(
            "the model returned no 'loss': forward must return a dict with 'loss' when the batch holds labels "
            f"(got {list(outputs) if isinstance(outputs, Mapping) else type(outputs).__name__})"
        )
    return loss


def _check_precision(precision: str, device: torch.device) -> None:
    if precision == "fp16" and device.type != "cuda":
        raise TrainerError(
            f"precision 'fp16' (autocast + GradScaler) needs a CUDA device, and this process trains on {device}; "
            "use 'bf16' or 'fp32' on CPU"
        )
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise TrainerError(f"precision 'bf16' is not supported by {torch.cuda.get_device_name(device)}; use 'fp16'")
