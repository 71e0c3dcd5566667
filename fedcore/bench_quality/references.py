"""Reference rows: the floor (columns drawn independently), and central MST measured elsewhere.

The ceiling (real holdout rows) is scored in ``scoring.score_holdout_as_synthetic``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Central MST (McKenna et al. 2021, "Winning the NIST Contest") on ACTG 175 at epsilon 3, one
# data holder, measured outside this repository: neither library installs with the project's
# pins (smartnoise-synth 1.0.8 needs mbi<2; the project pins mbi==2.0.0). Printed as given.
FIXED_MST_REFERENCES = (
    {"family": "MST (smartnoise-synth 1.0.8, central)", "data": "actg175", "epsilon": 3.0,
     "column_pair_trends": 0.919, "column_shapes": 0.972, "tstr_over_trtr": 0.92},
    {"family": "MST (dpmm 0.1.9, central)", "data": "actg175", "epsilon": 3.0,
     "column_pair_trends": 0.899, "column_shapes": 0.960, "tstr_over_trtr": 0.92},
)
FIXED_LABEL = "reference (measured elsewhere, fixed)"


def independent_columns(train: pd.DataFrame, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """The floor: each column drawn with replacement from the training rows, independently of the others.

    Every column's distribution survives; every relationship between columns is gone.
    """
    if train.empty:
        raise ValueError("the floor needs at least one training row")
    picks = {name: train[name].to_numpy()[rng.integers(len(train), size=rows)] for name in train.columns}
    return pd.DataFrame(picks, columns=train.columns)


def fixed_references(data: str) -> list[dict]:
    """The fixed MST rows for ``data`` (none for data sets they were not measured on)."""
    return [dict(r) for r in FIXED_MST_REFERENCES if r["data"] == data]
