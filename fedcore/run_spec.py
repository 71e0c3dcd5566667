"""A run's one spec: its identity (``run_id``), its table's schema and its settings (RunConfig).

The id names the run everywhere (the Step Functions execution, the runs table, ``models/<run>/``);
it is not a setting, so RunConfig does not hold it. Configs stored before this split carry
``run_id`` inside the config: accepted only when it is the spec's own id, and dropped.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer, model_validator

from fedcore.run_config import RunConfig
from fedcore.schema import Schema

RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$"  # also a Step Functions execution name and an S3 prefix


class RunIdMismatchError(ValueError):
    """A config carries a ``run_id`` other than the run's own."""


class ConfigCopyMismatchError(RuntimeError):
    """The published copy of a run's config is not the one its runs-table record holds."""


def without_run_id(run_id: str, config: Any) -> Any:
    """``config`` with a stored ``run_id`` dropped when it is ``run_id``; another id is refused."""
    if not isinstance(config, dict) or "run_id" not in config:
        return config
    if config["run_id"] != run_id:
        raise RunIdMismatchError(f"the config names run {config['run_id']!r} but belongs to run {run_id!r}; "
                                 "a run's id is the spec's run_id, not a setting")
    return {key: value for key, value in config.items() if key != "run_id"}


def config_of(run_id: str, config: Any) -> RunConfig:
    """The RunConfig of run ``run_id`` from a stored or sent config dict (with or without ``run_id``)."""
    return RunConfig.model_validate(without_run_id(run_id, config))


def config_bytes(config: RunConfig) -> bytes:
    """The published form of a config (``models/<run>/config.json``): what its SHA-256 is taken over."""
    return json.dumps(config.model_dump(mode="json"), sort_keys=True).encode()


def config_sha256(config: RunConfig) -> str:
    return hashlib.sha256(config_bytes(config)).hexdigest()


def check_config_copy(run_id: str, data: bytes, expected_sha256: str) -> RunConfig:
    """The published copy ``data`` as a RunConfig, refused unless its SHA-256 is ``expected_sha256``."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise ConfigCopyMismatchError(f"models/{run_id}/config.json has SHA-256 {actual}, not the run's "
                                      f"{expected_sha256}: the published config was changed; refusing it")
    return config_of(run_id, json.loads(data))


class RunSpec(BaseModel):
    """What starts a run: InitRun validates one and stores it (config in the runs table, the copy and the
    schema under ``models/<run>/``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str = Field(pattern=RUN_ID_PATTERN)
    schema_: Schema = Field(alias="schema")
    config: RunConfig

    @model_validator(mode="before")
    @classmethod
    def _config_without_run_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("run_id"), str):
            return data | {"config": without_run_id(data["run_id"], data.get("config"))}
        return data

    @model_validator(mode="after")
    def _task_fits_schema(self) -> "RunSpec":
        """The task's columns (target, time, event, exclude) are the schema's, before any privacy is spent."""
        from fedcore.tasks.registry import task_of

        task_of(self.config).check_schema(self.config, self.schema_)
        return self

    @field_serializer("schema_")
    def _schema_as_dict(self, schema: Schema) -> dict:
        return schema.to_dict()  # as models/<run>/schema.json holds it

    @property
    def schema(self) -> Schema:  # the field is schema_ only because BaseModel has a schema() of its own
        return self.schema_

    @property
    def config_sha256(self) -> str:
        """SHA-256 of the config's published copy, recorded with the run so every reader of the copy can check it."""
        return config_sha256(self.config)
