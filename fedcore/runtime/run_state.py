"""Reading a run's durable state: its config, plans, preprocessor and latest model."""

from __future__ import annotations

import json

from fedcore.families.base import SpokePlan
from fedcore.run_config import RunConfig
from fedcore.run_spec import ConfigCopyMismatchError, check_config_copy, config_of
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
    """The run's config from its runs-table record, the source (records from before RunSpec carry run_id)."""
    return config_of(run["run_id"], run["config"])


def published_config(services: HubServices, run: dict) -> RunConfig:
    """The copy spokes read (``models/<run>/config.json``), refused unless it is the record's config: by
    the recorded SHA-256, or for records from before it was kept, by the config itself."""
    data = services.blobs.get(layout.config_key(run["run_id"]))
    if "config_sha256" in run:
        return check_config_copy(run["run_id"], data, run["config_sha256"])
    published = config_of(run["run_id"], json.loads(data))
    if published != run_config(run):
        raise ConfigCopyMismatchError(f"models/{run['run_id']}/config.json is not the config of the run's record")
    return published


def spoke_plans(run: dict) -> dict[str, SpokePlan]:
    """Each admitted hospital's plan, as the hub recorded it after the setup round."""
    return {s: SpokePlan.from_dict(p) for s, p in (run.get("plans") or {}).items() if p}


def admitted_spokes(run: dict, round_: int) -> set[str]:
    """The hospitals the budget gate admitted to ``round_``."""
    return set((run.get("admitted") or {}).get(str(round_), ()))


def read_run_config(blobs: BlobStore, run_id: str, config_sha256: str) -> RunConfig:
    """The config as published to the spokes (``models/<run>/config.json``), refused unless its SHA-256 is
    ``config_sha256``: the one the hub recorded with the run and passed to the job."""
    return check_config_copy(run_id, blobs.get(layout.config_key(run_id)), config_sha256)


def read_encoder(blobs: BlobStore, run_id: str) -> dict:
    """The family's shared encoding, published after the setup round (JSON)."""
    return json.loads(blobs.get(layout.preprocessor_key(run_id)))


def read_preprocessor(blobs: BlobStore, run_id: str):
    """The diffusion family's global preprocessor."""
    from fedcore.preprocessing.preprocessor import GlobalPreprocessor

    return GlobalPreprocessor.from_dict(read_encoder(blobs, run_id))


def read_schema(blobs: BlobStore, run_id: str) -> Schema:
    return Schema.from_dict(json.loads(blobs.get(layout.schema_key(run_id))))
