"""Progress on rank 0: a tqdm bar (terminals only), logging lines, optional TensorBoard scalars."""
import logging
import sys
import time
from typing import Any, Dict, Optional

logger = logging.getLogger(__name__)


class ProgressReporter:
    """Reports training progress from the main process; every method is a no-op elsewhere.

    Args:
        enabled: True on rank 0 only.
        progress_bar: show a tqdm bar (still only when stderr is a terminal).
        tensorboard_dir: write scalars there when the ``tensorboard`` package is installed.
        experiment_name: TensorBoard run name.
    """

    def __init__(self, *, enabled: bool, progress_bar: bool, tensorboard_dir: Optional[str], experiment_name: str):
        self.enabled = enabled
        self._bar: Any = None
        self._writer: Any = None
        self._redirect: Any = None  # tqdm's logging redirection while the bar is shown
        self._show_bar = enabled and progress_bar and _is_terminal()
        if enabled and tensorboard_dir:
            self._writer = _tensorboard_writer(tensorboard_dir, experiment_name)
        self._window_start = time.perf_counter()
        self._window_steps = 0

    def start(self, total_steps: int, initial_step: int) -> None:
        """Open the bar at ``initial_step`` of ``total_steps``."""
        if self._show_bar:
            from tqdm.auto import tqdm

            from tqdm.contrib.logging import logging_redirect_tqdm

            self._bar = tqdm(total=total_steps, initial=initial_step, desc="train", unit="step",
                             file=sys.stderr, dynamic_ncols=True)
            # Console log lines go through tqdm.write while the bar is shown, so they do not tear it.
            self._redirect = logging_redirect_tqdm()
            self._redirect.__enter__()
        self._window_start, self._window_steps = time.perf_counter(), 0

    def step(self) -> None:
        """One optimizer step done."""
        self._window_steps += 1
        if self._bar is not None:
            self._bar.update(1)

    def log_train(self, step: int, total: int, epoch: int, scalars: Dict[str, float]) -> None:
        """A logging line, bar postfix and TensorBoard scalars for the last window."""
        now = time.perf_counter()
        rate = self._window_steps / max(now - self._window_start, 1e-9)
        self._window_start, self._window_steps = now, 0
        if not self.enabled:
            return
        parts = [f"{k} {_fmt(v)}" for k, v in scalars.items()]
        logger.info("step %d/%d | epoch %d | %s | %.2f steps/s", step, total, epoch, " | ".join(parts), rate)
        if self._bar is not None:
            self._bar.set_postfix({k: _fmt(v) for k, v in scalars.items() if k in ("loss", "lr")}, refresh=False)
        self._scalars("train", scalars, step)

    def log_eval(self, step: int, metrics: Dict[str, float], best: str) -> None:
        """A logging line and TensorBoard scalars for one evaluation."""
        if not self.enabled:
            return
        logger.info("eval at step %d | %s | %s", step, " | ".join(f"{k} {_fmt(v)}" for k, v in metrics.items()), best)
        self._scalars("eval", metrics, step)

    def close(self) -> None:
        """Close the bar and flush TensorBoard."""
        if self._bar is not None:
            self._redirect.__exit__(None, None, None)
            self._bar.close()
            self._bar = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _scalars(self, prefix: str, scalars: Dict[str, float], step: int) -> None:
        if self._writer is not None:
            for key, value in scalars.items():
                self._writer.add_scalar(f"{prefix}/{key}", value, step)


def _is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def _tensorboard_writer(directory: str, experiment_name: str) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        logger.warning("tensorboard_dir is set but the tensorboard package is not installed; no TensorBoard logs")
        return None
    return SummaryWriter(log_dir=f"{directory}/{experiment_name}")


def _fmt(value: float) -> str:
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.3e}"
    return f"{value:.4f}"
