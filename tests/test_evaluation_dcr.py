"""Distance to closest record: the distance definition, ties, and the equal-size sampling."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedcore.evaluation import dcr_share
from fedcore.evaluation.dcr import dcr_embedding
from fedcore.schema import Schema

SCHEMA = Schema(columns=[
    {"name": "dose", "kind": "numeric", "min": 0, "max": 50},
    {"name": "site", "kind": "categorical", "categories": ["x", "y", "z"]},
])

numbers = st.one_of(st.none(), st.floats(min_value=-10, max_value=60, allow_nan=False))
sites = st.one_of(st.none(), st.sampled_from(["x", "y", "z", "unlisted"]))


def _gower(a: tuple, b: tuple) -> float:
    """The documented row distance, written out directly."""
    (dose_a, site_a), (dose_b, site_b) = a, b
    if dose_a is None or dose_b is None:
        dose = 0.0 if dose_a is None and dose_b is None else 1.0
    else:
        dose = abs(min(max(dose_a, 0), 50) - min(max(dose_b, 0), 50)) / 50
    site = 0.0 if site_a == site_b else 1.0
    return (dose + site) / 2


@settings(max_examples=60, deadline=None)
@given(st.tuples(numbers, sites), st.tuples(numbers, sites))
def test_embedding_distance_is_the_documented_gower_distance(a, b):
    frame = pd.DataFrame([a, b], columns=["dose", "site"]).astype(object)

    embedded = dcr_embedding(frame, SCHEMA)

    assert np.abs(embedded[0] - embedded[1]).sum() / 2 == pytest.approx(_gower(a, b), abs=1e-12)


def _table(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame({"dose": rng.uniform(0, 50, n), "site": rng.choice(["x", "y", "z"], n)})


def test_a_synthetic_row_equidistant_from_both_sets_counts_half():
    train = _table(np.random.default_rng(0), 50)

    result = dcr_share(train, train.copy(), train.sample(20, random_state=1), SCHEMA, seed=0)

    assert result["dcr_share"] == 0.5
    assert result["dcr_ties"] == 20


def test_copies_score_one_and_fresh_rows_about_a_half():
    rng = np.random.default_rng(2)
    train, holdout, fresh = _table(rng, 400), _table(rng, 400), _table(rng, 400)

    copies = dcr_share(train, holdout, train, SCHEMA, seed=0)
    unseen = dcr_share(train, holdout, fresh, SCHEMA, seed=0)

    assert copies["dcr_share"] == 1.0
    assert unseen["dcr_share"] == pytest.approx(0.5, abs=0.07)


def test_the_larger_set_is_sampled_down_with_the_seed():
    rng = np.random.default_rng(3)
    train, holdout, synthetic = _table(rng, 300), _table(rng, 100), _table(rng, 80)

    first = dcr_share(train, holdout, synthetic, SCHEMA, seed=5)
    again = dcr_share(train, holdout, synthetic, SCHEMA, seed=np.random.default_rng(5))
    other = dcr_share(train, holdout, synthetic, SCHEMA, seed=6)

    assert first["dcr_rows"] == {"train": 100, "train_available": 300, "holdout": 100, "synthetic": 80}
    assert first == again
    assert first["dcr_median_train"] != other["dcr_median_train"]


def test_missing_values_are_handled():
    rng = np.random.default_rng(4)
    train, holdout = _table(rng, 60), _table(rng, 60)
    train.loc[::4, "dose"] = np.nan
    holdout.loc[::5, "site"] = None

    result = dcr_share(train, holdout, train, SCHEMA, seed=0)

    assert math.isfinite(result["dcr_median_holdout"])
    assert result["dcr_share"] > 0.9
