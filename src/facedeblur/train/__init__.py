"""Training: configs and presets, the one loop and a task per method.

Also checkpoints, schedules and data streams.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError, UsageError
from ..io.outputs import is_empty, output_problem
from .config import RunConfig, load_config, preset_names
from .loop import Trainer
from .tasks import TASKS, Task

# Data settings that name folders a run reads, which its run folder may not lie inside.
DATA_FOLDER_FIELDS = ("train", "val", "mix_train", "mix_val", "shake_train")


def train(
    config: str | Path | RunConfig,
    overrides: list[str] = (),
    run_dir: str | Path | None = None,
    resume: str | Path | None = None,
    progress: bool = True,
) -> tuple[Path, dict]:
    """Train from a config file, preset name or ``RunConfig``; or resume a run directory.

    A new run needs a ``run_dir`` that is absent or empty and not inside its data folders
    (``io.outputs``); a folder that holds a run is continued with ``resume``, never
    overwritten. Returns (run directory, last validation metrics).
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
                f"{run_dir}: already holds a run; pass --resume {run_dir} or choose another -o"
            )
        problem = output_problem(run_dir, _data_folders(config))
        if problem:
            raise InputError(run_dir, problem)
        if not is_empty(run_dir):
            raise InputError(
                run_dir,
                "folder is not empty; choose a new or empty -o (a run continues with --resume)",
            )
    trainer = make_trainer(config, run_dir, resume=resume is not None, progress=progress)
    return run_dir, trainer.fit()


def _data_folders(config: RunConfig) -> list[Path]:
    """The folders a run reads its data from (``train``, ``val`` and the mixed-in ones)."""
    folders = []
    for name in DATA_FOLDER_FIELDS:
        value = getattr(config.data, name, "")
        folders += [Path(v) for v in (value if isinstance(value, list) else [value]) if v]
    return folders


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
