"""Schema inference (``--schema auto`` and ``fedcore schema infer``): what it keeps, drops and refuses."""

import argparse
import logging

import numpy as np
import pandas as pd
import pytest
import yaml

from fedcore.cli import schema_cmd
from fedcore.preprocessing.preprocessor import build_preprocessor
from fedcore.preprocessing.table_stats import compute_table_stats
from fedcore.schema import NumericColumn, Schema
from fedcore.schema_inference import (
    INFERRED_SCHEMA_DP_WARNING, SchemaInferenceError, infer_schema, infer_schema_with_notes,
    inferred_schema_dp_warning,
)
from fedcore.table import TableError, conform_table

ROWS = 100


def _table() -> pd.DataFrame:
    return pd.DataFrame({
        "patient_id": [f"P{i:04d}" for i in range(ROWS)],
        "record_no": list(range(1000, 1000 + ROWS)),
        "site": ["north"] * ROWS,
        "version": [7] * ROWS,
        "age": [20 + (i * 7) % 60 for i in range(ROWS)],
        "score": [0.5, 1.5, 2.0, 3.5] * (ROWS // 4),
        "sex": ["M", "F"] * (ROWS // 2),
    })


def _notes(inferred) -> dict[str, str]:
    return {note.column: note.action for note in inferred.notes}


def test_identifiers_are_dropped_and_constants_kept_with_a_note_each():
    inferred = infer_schema_with_notes(_table())

    assert inferred.schema.names == ["site", "version", "age", "score", "sex"]
    assert _notes(inferred) == {"patient_id": "dropped_id", "record_no": "dropped_id", "site": "constant",
                                "version": "constant", "score": "discrete"}
    assert inferred.dropped == ["patient_id", "record_no"]
    assert inferred.schema.column("site").categories == ("north",)
    assert inferred.schema.column("version").categories == (7,)


def test_a_kept_constant_goes_through_conforming_statistics_and_decoding():
    frame = _table()
    schema = infer_schema_with_notes(frame).schema
    table = conform_table(frame, schema)
    stats = compute_table_stats(table, schema, None, np.random.default_rng(0))
    pre = build_preprocessor(schema, stats)

    back = pre.inverse_transform(pre.transform(table))

    assert (back["version"] == 7).all() and (back["site"] == "north").all()
    assert set(back["score"]) == {0.5, 1.5, 2.0, 3.5}


@pytest.mark.parametrize("cat_diffusion", ["gaussian_onehot", "multinomial"])
def test_a_kept_constant_and_a_discrete_column_survive_generation(cat_diffusion):
    from fedcore.model.config import DiffusionConfig, SamplingConfig
    from fedcore.model.weights import initial_weights
    from fedcore.synthesize import generate_synthetic

    frame = _table()
    schema = infer_schema_with_notes(frame).schema
    table = conform_table(frame, schema)
    pre = build_preprocessor(schema, compute_table_stats(table, schema, None, np.random.default_rng(0)))
    config = DiffusionConfig(hidden_dim=16, norm_groups=4, timesteps=10, cat_diffusion=cat_diffusion)
    weights = initial_weights(pre.layout, config, seed=0)

    synthetic = generate_synthetic(weights, pre, config, 300, SamplingConfig(steps=5), seed=0)

    assert (synthetic["version"] == 7).all() and (synthetic["site"] == "north").all()
    assert set(synthetic["score"]) <= {0.5, 1.5, 2.0, 3.5} and len(set(synthetic["score"])) > 1
    conform_table(synthetic, schema)  # generated rows satisfy the schema they came from


def test_float_constant_is_kept_as_one_category_that_conforms():
    frame = pd.DataFrame({"dose": [2.5] * 30, "age": np.arange(30) % 7 + 0.5 * (np.arange(30) % 5)})
    schema = infer_schema(frame)
    assert schema.column("dose").categories == ("2.5",)
    assert (conform_table(frame, schema)["dose"] == "2.5").all()


def test_floats_small_tables_and_incomplete_columns_are_never_identifiers():
    floats = pd.DataFrame({"x": np.linspace(0.0, 1.0, ROWS) + 0.001})
    assert isinstance(infer_schema(floats).column("x"), NumericColumn)
    small = pd.DataFrame({"code": [f"C{i}" for i in range(19)]})
    assert infer_schema(small).column("code").categories[0] == "C0"
    gap = pd.DataFrame({"n": [float(i) for i in range(ROWS - 1)] + [None]})
    assert infer_schema(gap).names == ["n"]


def test_unusable_columns_are_still_refused_by_name():
    frame = _table().assign(empty=[None] * ROWS, notes=[f"text {i % 50}" for i in range(ROWS)])
    with pytest.raises(SchemaInferenceError) as info:
        infer_schema_with_notes(frame)
    message = str(info.value)
    assert "'empty'" in message and "missing" in message
    assert "'notes'" in message and "50 distinct" in message
    assert "'patient_id'" not in message and "'site'" not in message


def test_an_identifier_target_is_refused_not_dropped():
    with pytest.raises(SchemaInferenceError, match="'patient_id': the target column"):
        infer_schema_with_notes(_table(), target="patient_id")


def test_few_level_numbers_are_discrete_and_integer_codes_stay_categorical():
    frame = pd.DataFrame({
        "score": [3.5, 0.5, 2.0, 1.5] * 25,
        "stage": [1, 2, 3, None] * 25,
        "bmi": np.linspace(18.0, 40.0, ROWS),
    })
    inferred = infer_schema_with_notes(frame)
    score = inferred.schema.column("score")
    assert isinstance(score, NumericColumn)
    assert score.values == (0.5, 1.5, 2.0, 3.5) and (score.min, score.max) == (0.5, 3.5)
    assert inferred.schema.column("stage").categories == (1, 2, 3)
    assert inferred.schema.column("bmi").values is None
    assert _notes(inferred) == {"score": "discrete"}


def test_a_handful_of_rows_does_not_make_a_continuous_column_discrete():
    frame = pd.DataFrame({"bmi": [20.5, 31.2, 25.0, 22.1, 27.3]})
    assert infer_schema(frame).column("bmi").values is None


def test_types_columns_and_tolerates_missing_values():
    frame = pd.DataFrame({
        "bmi": np.linspace(15.0, 45.0, ROWS),
        "visits": [i % 40 for i in range(ROWS)],
        "sex": ["M", "F", "F", None] * 25,
        "smoker": [True, False] * 50,
    })
    schema = infer_schema(frame)
    assert isinstance(schema.column("bmi"), NumericColumn)
    assert schema.column("visits").integer and schema.column("visits").values is None
    assert schema.column("sex").categories == ("F", "M")
    assert schema.column("smoker").categories == ("False", "True")
    assert conform_table(frame, schema)["smoker"].tolist()[:2] == ["True", "False"]


def test_infinite_values_are_refused_with_the_column_and_count():
    frame = pd.DataFrame({"ok": np.arange(30.0), "ratio": [np.inf, -np.inf, np.inf] + [1.5] * 27})
    with pytest.raises(SchemaInferenceError, match=r"'ratio': it holds 3 infinite value\(s\)"):
        infer_schema(frame)


def test_plain_infer_schema_logs_each_note(caplog):
    with caplog.at_level(logging.WARNING, logger="fedcore.schema_inference"):
        schema = infer_schema(_table())
    assert isinstance(schema, Schema)
    assert "'patient_id'" in caplog.text and "identifier" in caplog.text and "'site'" in caplog.text


def test_dp_warning_only_for_an_inferred_schema_under_dp():
    assert inferred_schema_dp_warning("auto", dp_enabled=True) == INFERRED_SCHEMA_DP_WARNING
    assert "outside the DP guarantee" in INFERRED_SCHEMA_DP_WARNING
    assert inferred_schema_dp_warning("auto", dp_enabled=False) is None
    assert inferred_schema_dp_warning("schema.yaml", dp_enabled=True) is None


# -- the CLI ------------------------------------------------------------------------------------
def _run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    schema_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.handler(args)


def test_cli_prints_reviewable_yaml_on_stdout_and_the_notes_on_stderr(tmp_path, capsys):
    path = tmp_path / "patients.csv"
    _table().to_csv(path, index=False)

    assert _run_cli(["schema", "infer", "--data", str(path), "--target", "sex"]) == 0

    out, err = capsys.readouterr()
    schema = Schema.from_dict(yaml.safe_load(out))
    assert schema.name == "patients" and schema.target == "sex"
    assert schema.column("score").values == (0.5, 1.5, 2.0, 3.5)
    assert "values:" in out and "patient_id" not in out
    for text in ("patient_id", "dropped", "site", "constant", "score", "discrete"):
        assert text in err


def test_cli_refuses_a_repeated_header_and_infinite_values(tmp_path):
    dup = tmp_path / "dup.csv"
    dup.write_text("age,sex,age\n30,M,31\n40,F,41\n")
    with pytest.raises(TableError, match=r"\['age'\]"):
        _run_cli(["schema", "infer", "--data", str(dup)])
    inf = tmp_path / "inf.csv"
    inf.write_text("age,ratio\n30,inf\n40,1.5\n50,2.5\n")
    with pytest.raises(SchemaInferenceError, match=r"'ratio': it holds 1 infinite"):
        _run_cli(["schema", "infer", "--data", str(inf)])



def test_simulate_with_schema_auto_says_what_it_did_and_warns_under_dp(tmp_path, capsys):
    from rich.console import Console

    from fedcore.cli.simulate_cmd import _show_inference

    csv = tmp_path / "ward.csv"
    rows = [f"P{i:03d},{20 + i % 50},ward-1,{i % 2}" for i in range(40)]
    csv.write_text("patient_id,age,site,flag\n" + "\n".join(rows) + "\n")
    _show_inference(Console(stderr=True, width=200), str(csv), dp=True)
    err = capsys.readouterr().err
    assert "patient_id" in err and "site" in err  # the dropped id and the constant are reported
    assert "outside the DP guarantee" in err
    _show_inference(Console(stderr=True, width=200), str(csv), dp=False)
    assert "outside the DP guarantee" not in capsys.readouterr().err
