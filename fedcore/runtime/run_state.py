"""Reading a run's durable state: its config, plans, preprocessor and latest model."""

from __future__ import annotations

import json

from fedcore.families.base import SpokePlan
from fedcore.run_config import RunConfig
from fedcore.runtime import layout
from fedcore.runtime.ports import BlobStore, HubServices
from fedcore.schema import Schema


class RunNotFoundError(KeyError):
    """No such run in the runs table."""


def load_run(services: HubServices, run_id: str) -> dict:
    run = services.runs.get_run(run_id)
    if run is None:
        raise RunNotFoundError(f"no run {run_id!r}")
    return run


def run_config(run: dict) -> RunConfig:
    return RunConfig.model_validate(run["config"])


def spoke_plans(run: dict) -> dict[str, SpokePlan]:
    """Each admitted hospital's plan, as the hub recorded it after the setup round."""
    return {s: SpokePlan.from_dict(p) for s, p in (run.get("plans") or {}).items() if p}


def admitted_spokes(run: dict, round_: int) -> set[str]:
    """The hospitals the budget gate admitted to ``round_``."""
    return set((run.get("admitted") or {}).get(str(round_), ()))


def read_run_config(blobs: BlobStore, run_id: str) -> RunConfig:
    """The config as published to the spokes (``models/<run>/config.json``)."""
    return RunConfig.model_validate(json.loads(blobs.get(layout.config_key(run_id))))


def read_encoder(blobs: BlobStore, run_id: str) -> dict:
    """The family's shared encoding, published after the setup round (JSON)."""
    return json.loads(blobs.get(layout.preprocessor_key(run_id)))


def read_preprocessor(blobs: BlobStore, run_id: str):
    """The diffusion family's global preprocessor."""
    from fedcore.preprocessing.preprocessor import GlobalPreprocessor

    return GlobalPreprocessor.from_dict(read_encoder(blobs, run_id))


def read_schema(blobs: BlobStore, run_id: str) -> Schema:
    return Schema.from_dict(json.loads(blobs.get(layout.schema_key(run_id))))
