"""Small tables and domains for the marginal-synthesizer tests (helpers in marginal_helpers.py)."""

import numpy as np
import pandas as pd
import pytest
from marginal_helpers import make_small_frame

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


@pytest.fixture(scope="session")
def small_frame() -> pd.DataFrame:
    return make_small_frame(2000, seed=0)


@pytest.fixture(scope="session")
def small_domain(small_schema, small_frame):
    stats = compute_table_stats(small_frame, small_schema, None, np.random.default_rng(0))
    return build_domain(small_schema, stats, max_cells=6)
