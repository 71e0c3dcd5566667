import json

import numpy as np

import pandas as pd
import pytest

from fedcore.datasets import builtin_schema, load_actg175
from fedcore.schema import CategoricalColumn, NumericColumn, Schema, SchemaError, load_schema, save_schema
from fedcore.table import TableError, conform_table, load_table, read_csv, read_csv_bytes


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
    assert len(schema.numeric_columns) == 10 and len(schema.categorical_columns) == 6
    assert schema.column("OnDialysis").categories == ("Yes", "No")
    assert schema.column("CigarettesPerDay").values == (0, 5, 10, 20, 40)


def test_actg175_loads_without_ids_and_keeps_missing_values():
    dataset = load_actg175()
    assert dataset.frame.shape == (2139, 26)
    assert "pidnum" not in dataset.frame.columns
    assert dataset.frame["cd496"].isna().sum() == 797
    assert dataset.schema.target == "cens"


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


def _row(schema):
    """One conforming row: each categorical's first category, each numeric's minimum."""
    return pd.DataFrame({c.name: [c.categories[0] if hasattr(c, "categories") else c.min] for c in schema.columns})


# -- discrete numeric columns -----------------------------------------------------------------
def test_discrete_values_are_sorted_and_validated():
    column = NumericColumn(name="dose", min=0, max=10, values=[5, 0, 2.5])
    assert column.values == (0.0, 2.5, 5.0) and column.is_discrete
    with pytest.raises(ValueError, match="unique"):
        NumericColumn(name="dose", min=0, max=10, values=[1, 1, 2])
    with pytest.raises(ValueError, match="at least 2"):
        NumericColumn(name="dose", min=0, max=10, values=[1])
    with pytest.raises(ValueError, match="outside"):
        NumericColumn(name="dose", min=0, max=10, values=[0, 12])
    with pytest.raises(ValueError, match="whole numbers"):
        NumericColumn(name="dose", min=0, max=10, integer=True, values=[0, 2.5])
    assert not NumericColumn(name="bmi", min=15, max=50).is_discrete


def test_discrete_values_survive_yaml_and_continuous_columns_do_not_gain_the_field(tmp_path):
    schema = Schema(columns=[NumericColumn(name="dose", min=0, max=10, values=[0, 2.5, 5]),
                             NumericColumn(name="bmi", min=15, max=50)])
    data = schema.to_dict()
    assert data["columns"][0]["values"] == [0.0, 2.5, 5.0]
    assert "values" not in data["columns"][1]
    path = tmp_path / "s.yaml"
    save_schema(schema, path)
    assert load_schema(path) == schema


def test_snap_picks_the_nearest_allowed_value_and_keeps_missing():
    column = NumericColumn(name="dose", min=0, max=10, values=[0, 2.5, 5, 10])
    snapped = column.snap(np.array([-1.0, 1.2, 1.3, 3.9, 7.4, 7.6, 99.0, np.nan]))
    np.testing.assert_array_equal(snapped[:-1], [0, 0, 2.5, 5, 5, 10, 10])
    assert np.isnan(snapped[-1])


def test_conform_rejects_values_outside_a_discrete_support_instead_of_clipping():
    schema = builtin_schema("healthcare")
    frame = pd.concat([_row(schema)] * 3, ignore_index=True)
    frame["CigarettesPerDay"] = [0, 15, 60]
    with pytest.raises(TableError, match=r"'CigarettesPerDay' holds 2 value\(s\) such as \[15.0, 60.0\]"):
        conform_table(frame, schema)


def test_conform_accepts_a_discrete_support_up_to_float_noise_and_missing_values():
    schema = builtin_schema("healthcare")
    frame = pd.concat([_row(schema)] * 3, ignore_index=True)
    frame["CigarettesPerDay"] = [20.000000000001, None, 40]
    out = conform_table(frame, schema)
    assert out["CigarettesPerDay"].iloc[0] == 20.0 and np.isnan(out["CigarettesPerDay"].iloc[1])
    assert out["CigarettesPerDay"].iloc[2] == 40.0


# -- duplicate headers --------------------------------------------------------------------------
def test_read_csv_refuses_a_repeated_header_naming_it(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("age,sex,age\n30,M,31\n")
    with pytest.raises(TableError, match=r"repeats column name\(s\) \['age'\]"):
        read_csv(path)
    with pytest.raises(TableError, match=r"\['age'\]"):
        read_csv_bytes(path.read_bytes())


def test_read_csv_keeps_distinct_names_that_pandas_would_use_for_a_rename(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text("\ufeffage,age.1\n30,31\n")
    assert list(read_csv(path).columns) == ["age", "age.1"]
    assert list(read_csv_bytes(b'"a,b",c\n1,2\n').columns) == ["a,b", "c"]


def test_conform_refuses_a_frame_with_repeated_columns():
    schema = builtin_schema("healthcare")
    frame = _row(schema)
    doubled = pd.concat([frame, frame[["Age"]]], axis=1)
    with pytest.raises(TableError, match=r"repeats column name\(s\) \['Age'\]"):
        conform_table(doubled, schema)


def test_blank_header_cells_are_not_called_repeats_and_bad_bytes_are_a_clear_error():
    frame = read_csv_bytes(b"a,,\n1,2,3\n")
    assert list(frame.columns) == ["a", "Unnamed: 1", "Unnamed: 2"]
    with pytest.raises(TableError, match="not a valid CSV"):
        read_csv_bytes(b"a,b\n\xff\xfe,1\n")
