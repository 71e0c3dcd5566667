"""A published model version as a directory a researcher can take away and generate from.

``simulate`` writes ``DIR/model/``; ``python -m fedcore generate --model DIR/model`` reads it.
The directory holds what the hub publishes for the version, opened from its seal:

- ``weights.safetensors``: the model's named tensors (diffusion weights or marginal potentials);
- ``encoder.json``: the family's shared encoding from the setup round (preprocessor or domain);
- ``schema.json``: the run's table schema;
- ``model_card.json``: the version record (family, run, round, epsilon per hospital, delta) and
  the SHA-256 of each file above, checked on every load so a changed file is refused.

Everything here is post-processing of DP releases (or of a run without DP, as its card says).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fedcore.families import get_family
from fedcore.runtime.generate import open_published_model
from fedcore.runtime.ports import HubServices
from fedcore.runtime.run_state import read_encoder, read_schema
from fedcore.schema import Schema
from fedcore.serialization import dump_tensors, load_tensors

WEIGHTS, ENCODER, SCHEMA, CARD = "weights.safetensors", "encoder.json", "schema.json", "model_card.json"
CARD_FORMAT = 1
# version-record fields that stay at the hub (storage keys, the sealed blob's hash)
_HUB_ONLY = ("model_key", "preprocessor_key", "sha256")


class ModelDirectoryError(ValueError):
    """The directory is not a model version fedcore wrote, or a file in it was changed."""


@dataclass(frozen=True)
class ModelDirectory:
    """A model version read back and checked: what a family's ``generate`` needs."""

    card: dict
    encoder: dict
    schema: Schema
    tensors: dict[str, np.ndarray]

    @property
    def family(self) -> str:
        return str(self.card["version"]["family"])


def write_model_directory(out: Path, services: HubServices, record: dict) -> Path:
    """Open the published version ``record`` and write it under ``out`` (created; files replaced)."""
    files = {
        WEIGHTS: dump_tensors(open_published_model(services, record)),
        ENCODER: _json_bytes(read_encoder(services.blobs, record["run_id"])),
        SCHEMA: _json_bytes(read_schema(services.blobs, record["run_id"]).to_dict()),
    }
    card = {
        "format": CARD_FORMAT,
        "version": {k: v for k, v in record.items() if k not in _HUB_ONLY},
        "privacy": _privacy_summary(record),
        "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / name).write_bytes(data)
    (out / CARD).write_bytes(_json_bytes(card))
    return out


def load_model_directory(path: Path) -> ModelDirectory:
    """Read ``path`` back, refusing a missing file, an unknown format or a file whose hash changed."""
    path = Path(path)
    if not path.is_dir():
        raise ModelDirectoryError(f"{path} is not a directory; pass the model/ directory simulate wrote")
    card = _read_json(path / CARD, path)
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT or not isinstance(card.get("sha256"), dict):
        raise ModelDirectoryError(f"{path / CARD} is not a fedcore model card (format {CARD_FORMAT})")
    data = {}
    for name in (WEIGHTS, ENCODER, SCHEMA):
        file = path / name
        if not file.is_file():
            raise ModelDirectoryError(f"{file} is missing")
        data[name] = file.read_bytes()
        if hashlib.sha256(data[name]).hexdigest() != card["sha256"].get(name):
            raise ModelDirectoryError(f"{file} does not match the SHA-256 in {CARD}: it was changed after publishing")
    try:
        return ModelDirectory(card=card, encoder=json.loads(data[ENCODER]),
                              schema=Schema.from_dict(json.loads(data[SCHEMA])), tensors=load_tensors(data[WEIGHTS]))
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelDirectoryError(f"{path} holds a model fedcore cannot read: {exc}") from exc


def generate_from_directory(model: ModelDirectory, rows: int, seed: int,
                            conditions: dict[str, object] | None = None, sampling=None):
    """Synthetic rows from a model directory: the same family code the API's generation runs."""
    return get_family(model.family).generate(model.encoder, model.tensors, model.card["version"], model.schema, rows, seed,
                           conditions, sampling)


def _privacy_summary(record: dict) -> dict:
    epsilon = record.get("epsilon") or {}
    return {"dp": bool(epsilon), "epsilon_per_hospital": epsilon, "delta": record.get("delta"),
            "max_epsilon": max(epsilon.values()) if epsilon else None}


def _json_bytes(value) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()


def _read_json(file: Path, path: Path):
    if not file.is_file():
        raise ModelDirectoryError(f"{path} has no {CARD}; pass the model/ directory simulate wrote")
    try:
        return json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelDirectoryError(f"{file} is not valid JSON: {exc}") from exc
