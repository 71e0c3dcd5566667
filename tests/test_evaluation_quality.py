"""SDMetrics quality scores on small tables: dtype consistency, missing values, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fedcore.evaluation import quality_scores
from fedcore.schema import Schema

SCHEMA = Schema(columns=[
    {"name": "age", "kind": "numeric", "min": 0, "max": 100},
    {"name": "stage", "kind": "categorical", "categories": [1, 2, 3]},
    {"name": "sex", "kind": "categorical", "categories": ["f", "m"]},
])


def _table(rng: np.random.Generator, n: int = 300) -> pd.DataFrame:
    """Related columns: age rises with stage, stage 1 is mostly women."""
    stage = rng.choice([1, 2, 3], n)
    female = rng.random(n) < np.where(stage == 1, 0.9, 0.2)
    return pd.DataFrame({
        "age": (15 * stage + rng.uniform(10, 30, n)).round(),
        "stage": stage,
        "sex": np.where(female, "f", "m"),
    })


def test_int_categories_match_their_string_and_float_spellings():
    real = _table(np.random.default_rng(0))
    respelled = real.assign(stage=real["stage"].astype(str), age=real["age"].astype(object))

    scores = quality_scores(real, respelled, SCHEMA)

    assert scores["column_shapes"] == pytest.approx(1.0)
    assert scores["per_column"]["stage"] == {"metric": "TVComplement", "score": pytest.approx(1.0)}


def test_missing_values_in_the_real_table_are_scored_not_fatal():
    real = _table(np.random.default_rng(1))
    real.loc[::3, "age"] = np.nan
    real.loc[::5, "stage"] = np.nan
    synthetic = _table(np.random.default_rng(2))

    scores = quality_scores(real, synthetic, SCHEMA)

    assert 0.8 < scores["column_shapes"] <= 1.0
    assert 0.0 <= scores["column_pair_trends"] <= 1.0
    assert scores["pairs_scored"] == scores["pairs_total"] == 3
    assert all(entry["score"] is not None for entry in scores["per_column"].values())


def test_a_wrong_marginal_lowers_its_column_score():
    real = _table(np.random.default_rng(3))
    synthetic = real.assign(sex="f")

    scores = quality_scores(real, synthetic, SCHEMA)

    assert scores["per_column"]["sex"]["score"] == pytest.approx((real["sex"] == "f").mean())
    assert scores["per_column"]["age"]["score"] == pytest.approx(1.0)


def test_subsampling_above_max_rows_is_seeded():
    real, synthetic = _table(np.random.default_rng(4)), _table(np.random.default_rng(5))

    first = quality_scores(real, synthetic, SCHEMA, seed=9, max_rows=100)
    second = quality_scores(real, synthetic, SCHEMA, seed=9, max_rows=100)

    assert first["rows_real"] == first["rows_synthetic"] == 100
    assert first == second


def test_a_missing_schema_column_is_named():
    real = _table(np.random.default_rng(6))

    with pytest.raises(ValueError, match="stage"):
        quality_scores(real, real.drop(columns="stage"), SCHEMA)


def test_pair_trends_are_undefined_when_no_real_pair_is_related():
    rng = np.random.default_rng(7)
    independent = pd.DataFrame({
        "age": rng.uniform(20, 80, 300),
        "stage": rng.choice([1, 2, 3], 300),
        "sex": rng.choice(["f", "m"], 300),
    })

    scores = quality_scores(independent, independent, SCHEMA)

    assert scores["column_pair_trends"] is None
    assert scores["pairs_scored"] == 0
    assert any("no column pair" in note for note in scores["warnings"])
