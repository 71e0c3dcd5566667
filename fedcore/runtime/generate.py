"""Synthetic rows from a published model version: the path the API and the demo share."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fedcore.families import get_family
from fedcore.federation.release import model_context
from fedcore.runtime.ports import HubServices
from fedcore.runtime.run_state import read_encoder, read_schema
from fedcore.sealing import open_model


class NoPublishedModelError(LookupError):
    """No model version has been published yet (or the named one does not exist)."""


def find_model_version(services: HubServices, version: str | None = None) -> dict:
    versions = services.runs.list_model_versions()
    if not versions:
        raise NoPublishedModelError("no model has been published yet; finish a training run first")
    if version is None:
        return max(versions, key=lambda v: (v["created_at"], v["version"]))
    for record in versions:
        if record["version"] == version:
            return record
    raise NoPublishedModelError(f"no published model version {version!r}")


def open_published_model(services: HubServices, record: dict) -> dict[str, np.ndarray]:
    """The named tensors of a published version, opened from their seal (bound to its run and round)."""
    return open_model(services.blobs.get(record["model_key"]), model_context(record["run_id"], record["round"]),
                      services.keys)


def generate_from_version(
    services: HubServices, record: dict, rows: int, sampling, seed: int,
    conditions: dict[str, object] | None = None,
) -> pd.DataFrame:
    """Rows from a published version; ``sampling`` is a SamplingConfig (diffusion) or options dict."""
    model = open_published_model(services, record)
    family = get_family(record.get("family", "diffusion"))
    return family.generate(read_encoder(services.blobs, record["run_id"]), model, record,
                           read_schema(services.blobs, record["run_id"]), rows, seed, conditions, sampling)
