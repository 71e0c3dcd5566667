"""Synthetic rows from a published model version: the path the API and the demo share."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fedcore.federation.release import model_context
from fedcore.runtime.ports import HubServices
from fedcore.runtime.run_state import read_encoder, read_schema
from fedcore.sealing import open_model
from fedcore.tasks.registry import task_of_version


class NoPublishedModelError(LookupError):
    """No model version has been published yet (or the named one does not exist)."""


class ModelKindError(ValueError):
    """The version does not serve the request: a predictive model asked for rows, or a synthesis model
    asked for predictions."""


def find_model_version(services: HubServices, version: str | None = None, serves: str | None = None) -> dict:
    """The named version, or the latest one; ``serves`` ("generate" or "predict") narrows "the latest"
    to the versions that serve it (a named version is returned whatever it serves)."""
    versions = services.runs.list_model_versions()
    if not versions:
        raise NoPublishedModelError("no model has been published yet; finish a training run first")
    if version is None:
        if serves is not None:
            versions = [v for v in versions if task_of_version(v).serves == serves]
            if not versions:
                raise NoPublishedModelError(f"no published model version serves {serves!r} yet")
        return max(versions, key=lambda v: (v["created_at"], v["version"]))
    for record in versions:
        if record["version"] == version:
            return record
    raise NoPublishedModelError(f"no published model version {version!r}")


def serving_task(record: dict, serves: str):
    """The task that published ``record``; ModelKindError unless it serves ``serves``."""
    task = task_of_version(record)
    if task.serves != serves:
        does = "generates synthetic rows" if task.serves == "generate" else "predicts"
        raise ModelKindError(f"model version {record['version']} is a {_kind(record)} model: it {does}; "
                             f"it cannot {'generate rows' if serves == 'generate' else 'predict'}")
    return task


def _kind(record: dict) -> str:
    task = record.get("task", "synthesis")
    return f"synthesis ({record.get('family', 'diffusion')})" if task == "synthesis" else task


def open_published_model(services: HubServices, record: dict) -> dict[str, np.ndarray]:
    """The named tensors of a published version, opened from their seal (bound to its run and round)."""
    return open_model(services.blobs.get(record["model_key"]), model_context(record["run_id"], record["round"]),
                      services.keys)


def generate_from_version(
    services: HubServices, record: dict, rows: int, sampling, seed: int,
    conditions: dict[str, object] | None = None,
) -> pd.DataFrame:
    """Rows from a published version; ``sampling`` is a SamplingConfig (diffusion) or options dict."""
    task = serving_task(record, "generate")
    model = open_published_model(services, record)
    return task.generate(read_encoder(services.blobs, record["run_id"]), model, record,
                         read_schema(services.blobs, record["run_id"]), rows, seed, conditions, sampling)
