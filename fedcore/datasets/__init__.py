"""Built-in data sets and schemas that ship with fedcore (no downloads at run time)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from fedcore.datasets.healthcare import DEFAULT_ROWS, DEFAULT_SEED, generate_healthcare
from fedcore.schema import Schema, load_schema
from fedcore.table import conform_table

BUILTIN_SCHEMAS = ("actg175", "healthcare")
BUILTIN_DATASETS = ("actg175", "healthcare")


@dataclass(frozen=True)
class Dataset:
    name: str
    frame: pd.DataFrame
    schema: Schema


def builtin_schema(name: str) -> Schema:
    """Load a schema shipped with fedcore by name (``actg175`` or ``healthcare``)."""
    if name not in BUILTIN_SCHEMAS:
        raise ValueError(f"unknown built-in schema {name!r}; choose one of {list(BUILTIN_SCHEMAS)}")
    with resources.as_file(resources.files(__package__) / f"{name}.yaml") as path:
        return load_schema(path)


def actg175_csv_path() -> Path:
    """Path of the ACTG 175 table inside the installed lifelines package (MIT licensed)."""
    import lifelines  # imported here: only this data set needs it

    path = Path(lifelines.__file__).parent / "datasets" / "ACTG175.csv"
    if not path.is_file():
        raise FileNotFoundError(f"lifelines no longer ships ACTG175.csv at {path}")
    return path


def load_actg175() -> Dataset:
    """ACTG 175: 2139 patients, the row-number and patient-id columns dropped."""
    schema = builtin_schema("actg175")
    raw = pd.read_csv(actg175_csv_path())
    frame = raw.drop(columns=["Unnamed: 0", "pidnum"])
    return Dataset("actg175", conform_table(frame, schema), schema)


def load_healthcare(rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED) -> Dataset:
    """The reference healthcare record, drawn from a seeded causal model (see ``healthcare.py``)."""
    schema = builtin_schema("healthcare")
    frame = generate_healthcare(np.random.default_rng(seed), rows)
    return Dataset("healthcare", conform_table(frame, schema), schema)


def load_builtin_dataset(name: str) -> Dataset:
    if name == "actg175":
        return load_actg175()
    if name == "healthcare":
        return load_healthcare()
    raise ValueError(f"unknown built-in data set {name!r}; choose one of {list(BUILTIN_DATASETS)} or a CSV path")
