import json

import pandas as pd
import pytest

from fedcore.datasets import builtin_schema, load_actg175
from fedcore.schema import CategoricalColumn, NumericColumn, Schema, SchemaError, load_schema, save_schema
from fedcore.schema_inference import SchemaInferenceError, infer_schema
from fedcore.table import TableError, conform_table, load_table


def test_schema_rejects_inverted_bounds_and_duplicate_names():
    with pytest.raises(ValueError, match="min"):
        NumericColumn(name="age", min=90, max=18)
    with pytest.raises(ValueError, match="duplicate"):
        Schema(columns=[NumericColumn(name="a", min=0, max=1), CategoricalColumn(name="a", categories=[1])])
    with pytest.raises(ValueError, match="target"):
        Schema(columns=[NumericColumn(name="a", min=0, max=1)], target="b")


def test_schema_round_trips_through_yaml_and_json(tmp_path):
    schema = builtin_schema("healthcare")
    for suffix in (".yaml", ".json"):
        path = tmp_path / f"s{suffix}"
        save_schema(schema, path)
        assert load_schema(path) == schema


def test_malformed_schema_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"columns": [{"name": "x", "kind": "numeric", "min": 0}]}))
    with pytest.raises(SchemaError, match="invalid schema"):
        load_schema(path)
    path.write_text("{not json")
    with pytest.raises(SchemaError, match="cannot parse"):
        load_schema(path)


def test_healthcare_reference_schema_declares_the_record():
    schema = builtin_schema("healthcare")
    assert schema.column("Age").min == 18 and schema.column("Age").max == 90
    assert schema.column("TotalCost").max == 300000
    assert set(schema.column("Diagnosis").categories) == {
        "Diabetes", "Hypertension", "Healthy", "HeartDisease", "ChronicKidneyDisease", "Cancer"}
    assert len(schema.numeric_columns) == 9 and len(schema.categorical_columns) == 5


def test_actg175_loads_without_ids_and_keeps_missing_values():
    dataset = load_actg175()
    assert dataset.frame.shape == (2139, 26)
    assert "pidnum" not in dataset.frame.columns
    assert dataset.frame["cd496"].isna().sum() == 797
    assert dataset.schema.target == "cens"


def test_inference_flags_unusable_columns_by_name():
    frame = pd.DataFrame({
        "patient_id": [f"P{i:04d}" for i in range(100)],
        "empty": [None] * 100,
        "constant": [7] * 100,
        "age": [20 + (i * 7) % 60 for i in range(100)],
        "record_no": list(range(1000, 1100)),
        "sex": ["M", "F"] * 50,
    })
    with pytest.raises(SchemaInferenceError) as info:
        infer_schema(frame)
    message = str(info.value)
    assert "'patient_id'" in message and "identifier" in message
    assert "'empty'" in message and "missing" in message
    assert "'constant'" in message and "single value" in message
    assert "'record_no'" in message
    assert "'age'" not in message


def test_inference_types_columns_and_tolerates_missing_values():
    frame = pd.DataFrame({
        "bmi": [20.5, 31.2, None, 25.0] * 25,
        "visits": list(range(100)),
        "stage": [1, 2, 3, None] * 25,
        "sex": ["M", "F", "F", None] * 25,
    })
    frame["visits"] = frame["visits"] % 40
    schema = infer_schema(frame)
    assert isinstance(schema.column("bmi"), NumericColumn)
    assert isinstance(schema.column("visits"), NumericColumn) and schema.column("visits").integer
    assert schema.column("stage").categories == (1, 2, 3)
    assert schema.column("sex").categories == ("F", "M")


def test_conform_table_reports_wrong_schema_and_bad_values():
    schema = builtin_schema("healthcare")
    with pytest.raises(TableError, match="lacks schema columns"):
        conform_table(pd.DataFrame({"Age": [30]}), schema)
    frame = pd.DataFrame({c.name: [c.categories[0] if hasattr(c, "categories") else c.min] for c in schema.columns})
    bad = frame.assign(Gender=["Robot"])
    with pytest.raises(TableError, match="Robot"):
        conform_table(bad, schema)
    bad = frame.assign(BMI=["heavy"])
    with pytest.raises(TableError, match="non-numeric"):
        conform_table(bad, schema)


def test_conform_table_clips_out_of_bound_numbers_and_keeps_input_unchanged():
    schema = builtin_schema("healthcare")
    frame = pd.DataFrame({c.name: [c.categories[0] if hasattr(c, "categories") else c.min] for c in schema.columns})
    frame["Age"] = [150]
    before = frame.copy()
    out = conform_table(frame, schema)
    assert out["Age"].iloc[0] == 90
    pd.testing.assert_frame_equal(frame, before)


def test_malformed_csv_is_a_clear_error(tmp_path):
    schema = builtin_schema("healthcare")
    path = tmp_path / "x.csv"
    path.write_bytes(b"")
    with pytest.raises(TableError, match="empty"):
        load_table(path, schema)
    with pytest.raises(TableError, match="not found"):
        load_table(tmp_path / "missing.csv", schema)
