"""Table schema: what each column is, its bounds or categories.

A schema is the contract every hospital's table must satisfy. It is declared in YAML/JSON
or inferred from a CSV (``--schema auto``); bounds declared here also clip generated values.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Literal, Union

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Category = Union[int, str]


class SchemaError(ValueError):
    """A schema file is malformed, or a table does not satisfy its schema."""


class NumericColumn(BaseModel):
    """A numeric column with declared bounds; ``integer`` columns are rounded on output.

    ``values`` makes the column discrete: tables may hold only these values, and generated
    values are snapped to the nearest of them (a score in steps of 0.5, a dose level).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    kind: Literal["numeric"] = "numeric"
    min: float
    max: float
    integer: bool = False
    values: tuple[float, ...] | None = None  # the support of a discrete column, sorted; None = continuous

    @field_validator("values")
    @classmethod
    def _sort_values(cls, values: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if values is None:
            return None
        if len(values) < 2:
            raise ValueError("values must list at least 2 allowed values (a constant is a one-category categorical)")
        if len(set(values)) != len(values):
            raise ValueError(f"values must be unique; got {list(values)}")
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"values must be finite; got {list(values)}")
        return tuple(sorted(values))

    @model_validator(mode="after")
    def _check_bounds(self) -> "NumericColumn":
        if not self.min < self.max:
            raise ValueError(f"column {self.name!r}: min ({self.min}) must be below max ({self.max})")
        if self.values is not None:
            outside = [v for v in self.values if not self.min <= v <= self.max]
            if outside:
                raise ValueError(
                    f"column {self.name!r}: values {outside} lie outside [min, max] = [{self.min}, {self.max}]"
                )
            if self.integer and any(v != round(v) for v in self.values):
                raise ValueError(f"column {self.name!r}: an integer column's values must be whole numbers")
        return self

    @property
    def is_discrete(self) -> bool:
        return self.values is not None

    def snap(self, x: np.ndarray) -> np.ndarray:
        """Each value replaced by the nearest allowed value (NaN stays NaN); identity when continuous."""
        x = np.asarray(x, dtype=float)
        if self.values is None:
            return x.copy()
        support = np.asarray(self.values)
        midpoints = (support[1:] + support[:-1]) / 2
        snapped = support[np.searchsorted(midpoints, x, side="left")]
        return np.where(np.isnan(x), np.nan, snapped)


class CategoricalColumn(BaseModel):
    """A categorical column with its full list of allowed categories."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    kind: Literal["categorical"] = "categorical"
    categories: tuple[Category, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_categories(self) -> "CategoricalColumn":
        if len(set(self.categories)) != len(self.categories):
            raise ValueError(f"column {self.name!r}: categories must be unique")
        return self


Column = Union[NumericColumn, CategoricalColumn]


class Schema(BaseModel):
    """An ordered list of columns. ``target`` names the column used for utility scoring and the
    predictive tasks' default label; ``sensitive`` names categorical columns whose groups the
    predictive tasks' fairness reports compare (e.g. gender, race)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "table"
    columns: tuple[Column, ...] = Field(min_length=1)
    target: str | None = None
    sensitive: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _check_names(self) -> "Schema":
        names = [c.name for c in self.columns]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate column names: {duplicates}")
        if self.target is not None and self.target not in names:
            raise ValueError(f"target column {self.target!r} is not in the schema")
        kinds = {c.name: c.kind for c in self.columns}
        for name in self.sensitive:
            if name not in kinds:
                raise ValueError(f"sensitive column {name!r} is not in the schema")
            if kinds[name] != "categorical":
                raise ValueError(f"sensitive column {name!r} must be categorical (its groups are compared)")
        if len(set(self.sensitive)) != len(self.sensitive):
            raise ValueError(f"sensitive lists a column twice: {list(self.sensitive)}")
        return self

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def numeric_columns(self) -> list[NumericColumn]:
        return [c for c in self.columns if isinstance(c, NumericColumn)]

    @property
    def categorical_columns(self) -> list[CategoricalColumn]:
        return [c for c in self.columns if isinstance(c, CategoricalColumn)]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"no column named {name!r}; columns are {self.names}")

    def to_dict(self) -> dict:
        data = self.model_dump(mode="json")
        for column in data["columns"]:
            if column.get("kind") == "numeric" and column.get("values") is None:
                del column["values"]  # a continuous column reads exactly as before ``values`` existed
        if not data["sensitive"]:
            del data["sensitive"]  # likewise a schema without sensitive columns
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Schema":
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise SchemaError(f"invalid schema: {exc}") from exc


def load_schema(path: str | Path) -> Schema:
    """Load a schema from a ``.yaml``/``.yml`` or ``.json`` file."""
    path = Path(path)
    if not path.is_file():
        raise SchemaError(f"schema file not found: {path}")
    text = path.read_text()
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise SchemaError(f"cannot parse schema file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise SchemaError(f"schema file {path} must hold a mapping with a 'columns' list")
    return Schema.from_dict(data)


def save_schema(schema: Schema, path: str | Path) -> None:
    path = Path(path)
    data = schema.to_dict()
    if path.suffix == ".json":
        path.write_text(json.dumps(data, indent=2))
    else:
        path.write_text(yaml.safe_dump(data, sort_keys=False))
