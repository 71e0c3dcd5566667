"""A small table with strong, known pair structure."""

import numpy as np
import pandas as pd


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
