"""A published model version as a directory a researcher can take away and generate or predict from.

``simulate`` writes ``DIR/model/``; ``python -m fedcore generate --model DIR/model`` (synthesis) or
``python -m fedcore predict --model DIR/model`` (risk, survival) reads it, and the API serves the same
files as a zip. The directory holds what the hub publishes for the version, opened from its seal:

- ``weights.safetensors``: the model's named tensors (diffusion or network weights, marginal potentials);
- ``encoder.json``: the task's shared encoding from the setup round (preprocessor or domain);
- ``schema.json``: the run's table schema;
- ``model_card.json``: the version record (task, family, run, round, metrics and fairness report of a
  predictive task, epsilon per hospital, delta) and the SHA-256 of each file above, checked on every
  load so a changed file is refused.

Everything here is post-processing of DP releases (or of a run without DP, as its card says).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fedcore.runtime.generate import open_published_model, serving_task
from fedcore.runtime.ports import HubServices
from fedcore.runtime.run_state import read_encoder, read_schema
from fedcore.schema import Schema
from fedcore.serialization import dump_tensors, load_tensors
from fedcore.tasks.registry import task_of_version

WEIGHTS, ENCODER, SCHEMA, CARD = "weights.safetensors", "encoder.json", "schema.json", "model_card.json"
CARD_FORMAT = 1
# version-record fields that stay at the hub (storage keys, the sealed blob's hash)
_HUB_ONLY = ("model_key", "preprocessor_key", "sha256")


class ModelDirectoryError(ValueError):
    """The directory is not a model version fedcore wrote, or a file in it was changed."""


@dataclass(frozen=True)
class ModelDirectory:
    """A model version read back and checked: what a task's ``generate`` or ``predict`` needs."""

    card: dict
    encoder: dict
    schema: Schema
    tensors: dict[str, np.ndarray]

    @property
    def task(self):
        """The task (or synthesis family) that published the version: its ``generate``/``predict`` serve it."""
        return task_of_version(self.card["version"])

    @property
    def family(self) -> str | None:
        """The synthesis family; None for a predictive task."""
        return self.card["version"].get("family")

    @property
    def kind(self) -> str:
        """What the model is, for people: its synthesis family or its task."""
        return self.family or str(self.card["version"].get("task", "synthesis"))


def model_directory_files(services: HubServices, record: dict) -> dict[str, bytes]:
    """The directory's files for the published version ``record``, its model card last (by name)."""
    files = {
        WEIGHTS: dump_tensors(open_published_model(services, record)),
        ENCODER: _json_bytes(read_encoder(services.blobs, record["run_id"])),
        SCHEMA: _json_bytes(read_schema(services.blobs, record["run_id"]).to_dict()),
    }
    return files | {CARD: _json_bytes(_card(record, files))}


def model_card(services: HubServices, record: dict) -> dict:
    """The model card of a published version, exactly as its directory's ``model_card.json`` holds it."""
    return json.loads(model_directory_files(services, record)[CARD])


def write_model_directory(out: Path, services: HubServices, record: dict) -> Path:
    """Open the published version ``record`` and write it under ``out`` (created; files replaced)."""
    files = model_directory_files(services, record)
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / name).write_bytes(data)
    return out


def model_directory_zip(services: HubServices, record: dict) -> bytes:
    """The directory as a zip (for download), its files under ``<version>/``: unzipped, it loads with
    :func:`load_model_directory`. The same version always gives the same bytes (fixed timestamps)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in model_directory_files(services, record).items():
            info = zipfile.ZipInfo(f"{record['version']}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def _card(record: dict, files: dict[str, bytes]) -> dict:
    task = task_of_version(record)
    return {
        "format": CARD_FORMAT,
        "task": record.get("task", "synthesis"),
        "serves": task.serves,
        "version": {k: v for k, v in record.items() if k not in _HUB_ONLY},
        "privacy": _privacy_summary(record),
        "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }


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
    """Synthetic rows from a model directory: the same family code the API's generation runs
    (ModelKindError for a predictive model)."""
    task = serving_task(model.card["version"], "generate")
    return task.generate(model.encoder, model.tensors, model.card["version"], model.schema, rows, seed,
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
