"""The built-in healthcare data set: seeded, conforming, and with real dependence between columns."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict

from fedcore.datasets import BUILTIN_DATASETS, builtin_schema, load_builtin_dataset, load_healthcare
from fedcore.datasets.healthcare import DEFAULT_ROWS, generate_healthcare
from fedcore.table import conform_table


@pytest.fixture(scope="module")
def healthcare():
    return load_healthcare()


def test_same_generator_seed_same_table_other_seed_other_table():
    first = generate_healthcare(np.random.default_rng(7), rows=500)
    again = generate_healthcare(np.random.default_rng(7), rows=500)
    other = generate_healthcare(np.random.default_rng(8), rows=500)
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)


def test_the_generator_leaves_the_global_rng_alone():
    np.random.seed(3)
    expected = np.random.random()
    np.random.seed(3)
    generate_healthcare(np.random.default_rng(0), rows=50)
    assert np.random.random() == expected


def test_the_table_conforms_to_the_reference_schema_without_clipping(healthcare):
    schema = builtin_schema("healthcare")
    raw = generate_healthcare(np.random.default_rng(1))
    assert list(raw.columns) == schema.names and len(raw) == DEFAULT_ROWS
    for column in schema.numeric_columns:
        assert raw[column.name].between(column.min, column.max).all(), column.name
    pd.testing.assert_frame_equal(conform_table(raw, schema), conform_table(conform_table(raw, schema), schema))
    assert healthcare.frame.notna().all().all() and healthcare.schema == schema


def test_loads_by_name_like_actg175(healthcare):
    assert "healthcare" in BUILTIN_DATASETS
    dataset = load_builtin_dataset("healthcare")
    assert dataset.name == "healthcare" and dataset.frame.shape == (DEFAULT_ROWS, 16)
    pd.testing.assert_frame_equal(dataset.frame, healthcare.frame)


def test_rare_binary_and_discrete_columns_exercise_category_rates(healthcare):
    frame = healthcare.frame
    dialysis = (frame["OnDialysis"] == "Yes").mean()
    assert 0.01 <= dialysis <= 0.02
    assert (frame.loc[frame["OnDialysis"] == "Yes", "Diagnosis"] == "ChronicKidneyDisease").mean() > 0.8
    shares = frame["CigarettesPerDay"].value_counts(normalize=True)
    assert set(shares.index) == {0, 5, 10, 20, 40} and shares.min() >= 0.01


def _auc_high_risk(frame: pd.DataFrame, features: list[str]) -> float:
    x = frame[features].to_numpy(float)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    y = (frame["RiskLevel"] == "High").to_numpy()
    proba = cross_val_predict(LogisticRegression(), x, y, cv=5, method="predict_proba")[:, 1]
    return roc_auc_score(y, proba)


def test_risk_level_is_predictable_from_age_bmi_and_glucose(healthcare):
    assert _auc_high_risk(healthcare.frame, ["Age", "BMI", "Glucose"]) > 0.8
    risk = healthcare.frame["RiskLevel"].sample(frac=1, random_state=0).to_numpy()
    shuffled = healthcare.frame.assign(RiskLevel=risk)
    assert _auc_high_risk(shuffled, ["Age", "BMI", "Glucose"]) < 0.6


def test_clinical_dependences_hold(healthcare):
    frame = healthcare.frame
    assert np.corrcoef(frame["Age"], frame["BloodPressure"])[0, 1] > 0.4
    assert np.corrcoef(frame["EncounterCount"], frame["TotalCost"])[0, 1] > 0.5
    by_diagnosis = frame.groupby("Diagnosis")
    assert by_diagnosis["Glucose"].mean()["Diabetes"] > by_diagnosis["Glucose"].mean()["Healthy"] + 40
    high = by_diagnosis["RiskLevel"].apply(lambda s: (s == "High").mean())
    assert high["Healthy"] < 0.05 < 0.3 < high["Diabetes"]


def test_data_healthcare_resolves_like_actg175(healthcare):
    from fedcore.experiment import load_data

    name, frame, schema = load_data("healthcare", None)

    assert name == "healthcare" and schema == builtin_schema("healthcare")
    pd.testing.assert_frame_equal(frame, healthcare.frame)
    with pytest.raises(ValueError, match="comes with its own schema"):
        load_data("healthcare", "actg175")
