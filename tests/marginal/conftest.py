"""Small tables and domains for the marginal-synthesizer tests."""

import numpy as np
import pandas as pd
import pytest

from fedcore.marginal import build_domain
from fedcore.preprocessing.table_stats import compute_table_stats
from fedcore.schema import CategoricalColumn, NumericColumn, Schema


@pytest.fixture(scope="session")
def small_schema() -> Schema:
    return Schema(columns=(
        NumericColumn(name="age", min=0, max=100, integer=True),
        NumericColumn(name="dose", min=0.0, max=10.0),
        CategoricalColumn(name="sex", categories=("f", "m")),
        CategoricalColumn(name="arm", categories=(0, 1, 2)),
    ))


def make_small_frame(rows: int, seed: int) -> pd.DataFrame:
    """age drives dose; arm drives sex (strong pairs); a few missing doses."""
    rng = np.random.default_rng(seed)
    age = np.clip(rng.normal(50, 15, rows), 0, 100).round()
    dose = np.clip(age / 10 + rng.normal(0, 0.5, rows), 0, 10)
    dose[rng.random(rows) < 0.2] = np.nan
    arm = rng.integers(0, 3, rows)
    sex = np.where(rng.random(rows) < np.array([0.1, 0.5, 0.9])[arm], "m", "f")
    return pd.DataFrame({"age": age, "dose": dose, "sex": pd.Series(sex, dtype=object),
                         "arm": pd.Series(arm.tolist(), dtype=object)})


@pytest.fixture(scope="session")
def small_frame() -> pd.DataFrame:
    return make_small_frame(2000, seed=0)


@pytest.fixture(scope="session")
def small_domain(small_schema, small_frame):
    stats = compute_table_stats(small_frame, small_schema, None, np.random.default_rng(0))
    return build_domain(small_schema, stats, max_cells=6)
