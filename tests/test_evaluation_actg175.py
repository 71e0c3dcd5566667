"""The evaluators on a real clinical table (ACTG 175 from lifelines, 2139 x 26, cd496 37% NaN)."""

from __future__ import annotations

from pathlib import Path

import lifelines
import numpy as np
import pandas as pd
import pytest

from fedcore.evaluation import dcr_share, evaluate, quality_scores, utility_scores
from fedcore.schema import Schema

NUMERIC = {  # name: (min, max), clinical ranges
    "age": (12, 90), "wtkg": (30, 200), "preanti": (0, 3000), "cd40": (0, 1500),
    "cd420": (0, 1500), "cd496": (0, 1500), "cd80": (0, 6500), "cd820": (0, 6500), "days": (0, 1300),
}
CATEGORICAL = {
    "hemo": [0, 1], "homo": [0, 1], "drugs": [0, 1], "karnof": [70, 80, 90, 100], "oprior": [0, 1],
    "z30": [0, 1], "zprior": [0, 1], "race": [0, 1], "gender": [0, 1], "str2": [0, 1],
    "strat": [1, 2, 3], "symptom": [0, 1], "treat": [0, 1], "offtrt": [0, 1], "r": [0, 1],
    "cens": [0, 1], "arms": [0, 1, 2, 3],
}


@pytest.fixture(scope="module")
def actg() -> tuple[pd.DataFrame, Schema]:
    path = Path(lifelines.__file__).parent / "datasets" / "ACTG175.csv"
    frame = pd.read_csv(path).drop(columns=["Unnamed: 0", "pidnum"])
    columns = [
        {"name": n, "kind": "numeric", "min": lo, "max": hi} for n, (lo, hi) in NUMERIC.items()
    ] + [{"name": n, "kind": "categorical", "categories": c} for n, c in CATEGORICAL.items()]
    return frame, Schema(name="actg175", columns=columns, target="cens")


@pytest.fixture(scope="module")
def thirds(actg) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Three disjoint random 700-row parts: a training set, a holdout and 'fresh' patients."""
    frame, _ = actg
    order = np.random.default_rng(7).permutation(len(frame))
    return tuple(frame.iloc[order[i * 700:(i + 1) * 700]].reset_index(drop=True) for i in range(3))


def _shuffled_columns(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame({c: rng.permutation(frame[c].to_numpy()) for c in frame.columns})


def test_quality_of_real_against_itself_is_one(actg):
    frame, schema = actg

    scores = quality_scores(frame, frame, schema)

    assert scores["column_shapes"] == pytest.approx(1.0)
    assert scores["column_pair_trends"] == pytest.approx(1.0)
    assert set(scores["per_column"]) == set(schema.names)
    assert scores["per_column"]["cd496"]["score"] == pytest.approx(1.0)  # NaN-heavy column scored


def test_quality_pair_trends_drop_when_columns_are_independent(actg, thirds):
    frame, schema = actg
    first, second, _ = thirds
    independent = _shuffled_columns(second, np.random.default_rng(0))

    split = quality_scores(first, second, schema)
    shuffled = quality_scores(first, independent, schema)

    assert shuffled["column_shapes"] == pytest.approx(split["column_shapes"], abs=1e-9)  # same marginals
    assert split["column_pair_trends"] > 0.9
    assert shuffled["column_pair_trends"] < split["column_pair_trends"] - 0.1


def test_tstr_matches_trtr_when_synthetic_is_a_disjoint_real_split(actg, thirds):
    _, schema = actg
    train, test, stand_in = thirds

    scores = utility_scores(train, test, stand_in, schema, "cens", seed=0)

    assert scores["metric"] == "roc_auc"
    assert scores["trtr"] > 0.85
    assert scores["tstr"] == pytest.approx(scores["trtr"], abs=0.04)
    assert scores["ratio"] == pytest.approx(scores["tstr"] / scores["trtr"])


def test_tstr_falls_to_chance_when_the_synthetic_target_is_permuted(actg, thirds):
    _, schema = actg
    train, test, stand_in = thirds
    labels = stand_in["cens"].to_numpy()
    scrambled = [stand_in.assign(cens=np.random.default_rng(s).permutation(labels)) for s in range(4)]

    runs = [utility_scores(train, test, frame, schema, "cens", seed=0) for frame in scrambled]

    # One run on 700 noise labels scatters by about +-0.05 around 0.5; the mean of four is tight.
    assert np.mean([r["tstr"] for r in runs]) == pytest.approx(0.5, abs=0.06)
    assert all(r["tstr"] < r["trtr"] - 0.2 for r in runs)


def test_dcr_share_is_one_when_synthetic_rows_copy_training_rows(actg, thirds):
    _, schema = actg
    train, holdout, _ = thirds

    result = dcr_share(train, holdout, train.copy(), schema, seed=0)

    assert result["dcr_share"] > 0.98
    assert result["dcr_median_train"] == 0.0
    assert result["dcr_median_holdout"] > 0.0


def test_dcr_share_is_a_half_for_fresh_rows_from_the_same_population(actg, thirds):
    _, schema = actg
    train, holdout, fresh = thirds

    result = dcr_share(train, holdout, fresh, schema, seed=0)

    assert result["dcr_share"] == pytest.approx(0.5, abs=0.06)
    assert result["dcr_median_train"] == pytest.approx(result["dcr_median_holdout"], rel=0.2)


def test_evaluate_runs_on_real_data_with_missing_values(actg, thirds):
    frame, schema = actg
    train, holdout, stand_in = thirds
    assert frame["cd496"].isna().sum() > 700  # the data really has NaN
    before = train.copy()

    report = evaluate(train, holdout, stand_in, schema, target=None, seed=3)

    assert set(report) == {"quality", "utility", "privacy"}
    assert 0.9 < report["quality"]["column_shapes"] <= 1.0
    assert report["utility"]["target"] == "cens"
    assert 0.0 <= report["privacy"]["dcr_share"] <= 1.0
    pd.testing.assert_frame_equal(train, before)  # inputs are not mutated
