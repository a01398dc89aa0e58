"""Training: configs and presets, the one loop and a task per method.

Also checkpoints, schedules and data streams.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from .config import RunConfig, load_config, preset_names
from .loop import Trainer
from .tasks import TASKS, Task


def train(
    config: str | Path | RunConfig,
    overrides: list[str] = (),
    run_dir: str | Path | None = None,
    resume: str | Path | None = None,
    progress: bool = True,
) -> tuple[Path, dict]:
    """Train from a config file, preset name or ``RunConfig``; or resume a run directory.

    Returns (run directory, last validation metrics).
    """
    if resume is not None:
        run_dir = Path(resume)
        config = load_config(run_dir / "config.yaml", overrides)
    else:
        if not isinstance(config, RunConfig):
            config = load_config(config, overrides)
        run_dir = Path(run_dir) if run_dir else Path(config.out_dir) / config.name
        if (run_dir / "checkpoints" / "last.pt").exists():
            raise UsageError(
                f"{run_dir}: already holds a run; pass --resume {run_dir} "
                "or choose another --run-dir"
            )
    trainer = make_trainer(config, run_dir, resume=resume is not None, progress=progress)
    return run_dir, trainer.fit()


def make_trainer(
    config: RunConfig, run_dir: str | Path, resume: bool = False, progress: bool = True
) -> Trainer:
    """The training loop for ``config``, with the task its ``data.kind`` calls for.

    The tasks are ``tasks.TASKS``.
    """
    return Trainer(config, run_dir, resume=resume, progress=progress)


__all__ = [
    "TASKS",
    "RunConfig",
    "Task",
    "Trainer",
    "load_config",
    "make_trainer",
    "preset_names",
    "train",
]
