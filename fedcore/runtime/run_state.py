"""Reading a run's durable state: its config, plans, preprocessor and latest model."""

from __future__ import annotations

import json

from fedcore.federation.privacy_plan import SpokePrivacyPlan
from fedcore.preprocessing.preprocessor import GlobalPreprocessor
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


def spoke_plans(run: dict) -> dict[str, SpokePrivacyPlan | None]:
    return {s: (SpokePrivacyPlan.from_dict(p) if p else None) for s, p in (run.get("plans") or {}).items()}


def read_run_config(blobs: BlobStore, run_id: str) -> RunConfig:
    """The config as published to the spokes (``models/<run>/config.json``)."""
    return RunConfig.model_validate(json.loads(blobs.get(layout.config_key(run_id))))


def read_preprocessor(blobs: BlobStore, run_id: str) -> GlobalPreprocessor:
    return GlobalPreprocessor.from_dict(json.loads(blobs.get(layout.preprocessor_key(run_id))))


def read_schema(blobs: BlobStore, run_id: str) -> Schema:
    return Schema.from_dict(json.loads(blobs.get(layout.schema_key(run_id))))
