"""One task per training method; ``data.kind`` picks it."""

from __future__ import annotations

from ..config import RunConfig
from .attributes import AttributesTask
from .base import Task
from .moments import MomentsTask
from .rebuild import RebuildTask
from .restore import RestoreTask

TASKS: dict[str, type[Task]] = {
    "onthefly": RestoreTask,
    "facemotion": RestoreTask,
    "paired": RestoreTask,
    "moments": MomentsTask,
    "attributes": AttributesTask,
    "rebuild": RebuildTask,
}


def task_for(config: RunConfig) -> type[Task]:
    """The task class that trains ``config``'s data kind."""
    return TASKS[config.data.kind]


__all__ = [
    "TASKS",
    "AttributesTask",
    "MomentsTask",
    "RebuildTask",
    "RestoreTask",
    "Task",
    "task_for",
]
