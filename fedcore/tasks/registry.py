"""Tasks by name: one folder and one entry each (DESIGN.md section 1).

The runtime steps ask ``task_of(config)`` for the run's round plan: its rounds, its releases at
the spokes, its aggregation at the hub, what it publishes and serves. ``synthesis`` is served by
the run's model family; every other task is one class in its own folder. Imported on demand, so
a hub step loads only what its run's task needs.
"""

from __future__ import annotations

import importlib

from fedcore.families.base import ModelFamily
from fedcore.families.registry import get_family

_TASKS = {
    "risk": "fedcore.tasks.risk.task:RiskTask",
    "survival": "fedcore.tasks.survival.task:SurvivalTask",
    "image": "fedcore.tasks.image.task:ImageTask",
}
TASK_NAMES: tuple[str, ...] = ("synthesis", *_TASKS)


def get_task(name: str, family: str | None = None) -> ModelFamily:
    """The round plan of task ``name`` (``family`` names synthesis's model family)."""
    if name == "synthesis":
        return get_family(family or "diffusion")
    try:
        module, cls = _TASKS[name].split(":")
    except KeyError:
        raise ValueError(f"unknown task {name!r}; valid: {', '.join(TASK_NAMES)}") from None
    return getattr(importlib.import_module(module), cls)()


def task_of(config) -> ModelFamily:
    """The round plan of a run's config (RunConfig)."""
    return get_task(config.task.name, config.family)


def task_of_version(record: dict) -> ModelFamily:
    """The round plan that published a model version (records before tasks are synthesis)."""
    return get_task(record.get("task", "synthesis"), record.get("family", "diffusion"))
