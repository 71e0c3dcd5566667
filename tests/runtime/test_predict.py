"""Predictions from a published risk or survival version: the shared row checks, the directory and `fedcore predict`."""

import json

import numpy as np
import pandas as pd
import pytest

from fedcore.cli.main import main
from fedcore.cli.predict_cmd import parse_times
from fedcore.datasets import load_actg175
from fedcore.partition import partition_dirichlet
from fedcore.preprocessing.table_stats import compute_table_stats
from fedcore.run_config import RunConfig
from fedcore.runtime.generate import ModelKindError
from fedcore.runtime.model_directory import CARD, WEIGHTS, load_model_directory, write_model_directory
from fedcore.runtime.predict import (
    PredictionInputError, PredictionTimesError, check_times, conform_rows, predict_from_directory,
    predict_from_version,
)
from fedcore.runtime.simulation import simulate_federation
from fedcore.schema import CategoricalColumn, NumericColumn, Schema
from fedcore.table import conform_table
from fedcore.tasks.predictive.encoder import PredictiveEncoder
from fedcore.tasks.settings import TaskSettings

RISK = {"name": "risk", "target": "cens", "exclude": ["days"]}
SURVIVAL = {"name": "survival", "time": "days", "event": "cens"}
SECRET_AGE = 67.25  # a distinctive value: it must never appear in an error message

# -- the row checks, on a small schema with every kind of column (no training) -------------------------------------
TINY = Schema(name="tiny", columns=(
    NumericColumn(name="dose", min=0, max=10),
    NumericColumn(name="score", min=0, max=2, values=(0, 0.5, 1, 1.5, 2)),
    CategoricalColumn(name="site", categories=("north", "south")),
    CategoricalColumn(name="stage", categories=(1, 2, 3)),
    NumericColumn(name="follow_up", min=0, max=100),
    CategoricalColumn(name="outcome", categories=(0, 1)),
))


def _encoder(task: dict, schema: Schema, frame: pd.DataFrame) -> dict:
    stats = compute_table_stats(conform_table(frame, schema), schema, None, np.random.default_rng(0))
    return PredictiveEncoder.build(TaskSettings(**task), schema, stats, "quantile").to_dict()


@pytest.fixture(scope="module")
def tiny_encoder():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"dose": rng.uniform(0, 10, 200), "score": rng.choice([0, 0.5, 1, 1.5, 2], 200),
                          "site": rng.choice(["north", "south"], 200), "stage": rng.choice([1, 2, 3], 200),
                          "follow_up": rng.uniform(0, 100, 200), "outcome": rng.choice([0, 1], 200)})
    return _encoder({"name": "risk", "target": "outcome", "exclude": ["follow_up"]}, TINY, frame)


def _row(**values) -> dict:
    return {"dose": 2.5, "score": 0.5, "site": "north", "stage": 2} | values


def test_label_and_excluded_columns_are_ignored(tiny_encoder):
    rows = pd.DataFrame([_row(outcome=1, follow_up=50), _row(stage="3", dose="7")])
    conformed = conform_rows(rows, TINY, tiny_encoder)
    assert list(conformed.columns) == ["dose", "score", "site", "stage"]
    assert conformed["stage"].tolist() == [2, 3] and conformed["dose"].tolist() == [2.5, 7.0]


def test_an_unknown_column_is_named(tiny_encoder):
    with pytest.raises(PredictionInputError, match="column 'blood': not a column of the model's schema") as info:
        conform_rows(pd.DataFrame([_row(blood="A")]), TINY, tiny_encoder)
    assert [(p.column, p.row) for p in info.value.problems] == [("blood", None)]


def test_a_feature_column_left_out_is_named(tiny_encoder):
    rows = pd.DataFrame([{k: v for k, v in _row().items() if k != "site"}])
    with pytest.raises(PredictionInputError, match="column 'site'"):
        conform_rows(rows, TINY, tiny_encoder)


@pytest.mark.parametrize("column, value, problem", [
    ("site", "east", "not a declared category"),
    ("stage", 4, "not a declared category"),
    ("stage", True, "not a declared category"),
    ("dose", SECRET_AGE, "outside the schema's range [0, 10]"),
    ("dose", -1, "outside the schema's range"),
    ("dose", "a lot", "not a number"),
    ("dose", True, "not a number"),
    ("dose", float("inf"), "not a finite number"),
    ("score", 0.7, "not one of the column's values"),
])
def test_a_value_outside_the_schema_names_its_row_and_column_not_the_value(tiny_encoder, column, value, problem):
    rows = pd.DataFrame([_row(), _row(), _row(**{column: value})])
    with pytest.raises(PredictionInputError) as info:
        conform_rows(rows, TINY, tiny_encoder)
    assert f"row 3, column {column!r}: {problem}" in str(info.value)
    assert [(p.column, p.row) for p in info.value.problems] == [(column, 3)]
    assert str(value) not in str(info.value).replace("[0, 10]", "")


def test_every_bad_column_is_reported_once_with_its_first_row(tiny_encoder):
    rows = pd.DataFrame([_row(), _row(site="east", dose=11), _row(dose=12)])
    with pytest.raises(PredictionInputError) as info:
        conform_rows(rows, TINY, tiny_encoder)
    assert [(p.column, p.row) for p in info.value.problems] == [("dose", 2), ("site", 2)]
    assert "1 more row(s)" in str(info.value)


def test_missing_values_are_allowed(tiny_encoder):
    rows = pd.DataFrame([_row(dose=None, site=""), _row(stage=np.nan, score="  ")])
    conformed = conform_rows(rows, TINY, tiny_encoder)
    assert conformed.isna().sum().to_dict() == {"dose": 1, "score": 1, "site": 1, "stage": 1}


def test_no_rows_is_refused(tiny_encoder):
    with pytest.raises(PredictionInputError, match="no rows"):
        conform_rows(pd.DataFrame(columns=list(_row())), TINY, tiny_encoder)


def test_times_are_for_survival_models_and_inside_the_grid(tiny_encoder):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"dose": rng.uniform(0, 10, 300), "score": rng.choice([0, 1], 300),
                          "site": rng.choice(["north", "south"], 300), "stage": rng.choice([1, 2, 3], 300),
                          "follow_up": rng.uniform(0, 100, 300), "outcome": rng.choice([0, 1], 300)})
    survival = _encoder({"name": "survival", "time": "follow_up", "event": "outcome"}, TINY, frame)
    assert check_times(survival, [10, 20.5]) == [10.0, 20.5] and check_times(survival, None) is None
    for times, message in (([101], r"\[0, 100\]"), ([-1], r"\[0, 100\]"), ([10, 10], "distinct"),
                           ([float("nan")], r"\[0, 100\]")):
        with pytest.raises(PredictionTimesError, match=message):
            check_times(survival, times)
    with pytest.raises(PredictionTimesError, match="survival models"):
        check_times(tiny_encoder, [10])


def test_times_on_the_command_line_are_numbers():
    assert parse_times("100,200.5") == [100.0, 200.5] and parse_times(None) is None
    with pytest.raises(ValueError, match="--times"):
        parse_times("100,soon")


# -- published runs (one risk, one survival, one synthesis: about 10 s together) ------------------------------------
def _run(**settings):
    dataset = load_actg175()
    parts = partition_dirichlet(dataset.frame, 3, "arms", 0)
    config = RunConfig(**settings, rounds=1, privacy={"enabled": False}, training={"epochs": 1})
    result = simulate_federation({f"s{i}": p for i, p in enumerate(parts)}, dataset.schema, config, run_id="p1")
    assert result.status == "COMPLETED" and result.model_version is not None
    return result.services, result.model_version


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """{name: (services, version record, model directory)} for risk, survival and a diffusion synthesis."""
    out = {}
    for name, settings in (("risk", {"task": RISK}), ("survival", {"task": SURVIVAL}),
                           ("synthesis", {"model": {"family": "diffusion", "hidden_dim": 32, "num_blocks": 1}})):
        services, record = _run(**settings)
        out[name] = services, record, write_model_directory(tmp_path_factory.mktemp(name) / "model", services, record)
    return out


@pytest.fixture(scope="module")
def patients():
    """Rows as a researcher would send them: labels and excluded columns included, some values missing."""
    frame = load_actg175().frame.sample(40, random_state=3).reset_index(drop=True)
    frame.loc[[1, 5], "cd496"] = np.nan
    frame.loc[2, "race"] = np.nan
    return frame


@pytest.mark.slow
@pytest.mark.parametrize("task", ["risk", "survival"])
def test_the_directory_predicts_what_the_version_predicts(published, patients, task):
    services, record, directory = published[task]
    from_hub = predict_from_version(services, record, patients)
    from_directory = predict_from_directory(load_model_directory(directory), patients)
    pd.testing.assert_frame_equal(from_directory, from_hub)
    assert len(from_hub) == len(patients) and np.isfinite(from_hub.to_numpy()).all()


@pytest.mark.slow
def test_risk_gives_class_probabilities_that_sum_to_one(published, patients):
    services, record, _ = published["risk"]
    predictions = predict_from_version(services, record, patients)
    assert list(predictions.columns) == ["p_0", "p_1"]
    np.testing.assert_allclose(predictions.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.slow
def test_survival_falls_with_time_on_the_models_grid_and_at_given_times(published, patients):
    services, record, directory = published["survival"]
    grid = predict_from_version(services, record, patients)
    cuts = load_model_directory(directory).encoder["labels"]["cuts"]
    assert len(grid.columns) == len(cuts) and grid.columns[-1] == "s_1300"
    with pytest.raises(PredictionTimesError, match="same column"):
        predict_from_version(services, record, patients, [100.0000001, 100.0000002])
    at = predict_from_version(services, record, patients, [50, 400, 900])
    assert list(at.columns) == ["s_50", "s_400", "s_900"]
    for frame in (grid, at):
        assert (np.diff(frame.to_numpy(), axis=1) <= 1e-12).all() and ((frame >= 0) & (frame <= 1)).all().all()


@pytest.mark.slow
def test_the_card_shows_the_task_its_metrics_and_fairness(published):
    _, record, directory = published["risk"]
    card = json.loads((directory / CARD).read_text())
    assert (card["task"], card["serves"]) == ("risk", "predict")
    assert card["version"]["metrics"]["auc"] == pytest.approx(record["metrics"]["auc"])
    assert set(card["version"]["fairness"]) == {"gender", "race"}
    assert card["privacy"]["epsilon_per_hospital"] == {} and "model_key" not in card["version"]


@pytest.mark.slow
def test_predict_command_writes_only_the_predictions(published, patients, tmp_path, capsys):
    _, record, directory = published["survival"]
    data, out = tmp_path / "rows.csv", tmp_path / "out" / "predictions.csv"
    patients.to_csv(data, index=False)
    code = main(["predict", "--model", str(directory), "--data", str(data), "--out", str(out),
                 "--times", "100,200,400"])
    assert code == 0, capsys.readouterr().err
    written = pd.read_csv(out)
    assert list(written.columns) == ["s_100", "s_200", "s_400"] and len(written) == len(patients)
    expected = predict_from_directory(load_model_directory(directory), patients, [100, 200, 400])
    np.testing.assert_allclose(written.to_numpy(), expected.to_numpy(), rtol=1e-12)


@pytest.mark.slow
def test_predict_command_refuses_bad_input_with_exit_2(published, patients, tmp_path, capsys):
    risk, synthesis = published["risk"][2], published["synthesis"][2]
    data, out = tmp_path / "rows.csv", tmp_path / "out.csv"

    def predict(frame, model=risk, *extra):
        frame.to_csv(data, index=False)
        code = main(["predict", "--model", str(model), "--data", str(data), "--out", str(out), *extra])
        return code, capsys.readouterr().err

    bad = patients.astype({"age": object})
    bad.loc[2, "age"] = SECRET_AGE * 10
    for frame, model, extra, message in (
        (patients.assign(blood=1), risk, (), "column 'blood': not a column of the model's schema"),
        (bad, risk, (), "row 3, column 'age': outside the schema's range [12, 90]"),
        (patients, risk, ("--times", "100"), "times are for survival models"),
        (patients, synthesis, (), "synthesis (diffusion) model: it generates synthetic rows; it cannot predict"),
    ):
        code, err = predict(frame, model, *extra)
        assert code == 2 and message in err, err
        assert str(SECRET_AGE * 10) not in err
    assert not out.exists()


@pytest.mark.slow
def test_predict_command_refuses_a_changed_model_directory(published, patients, tmp_path, capsys):
    services, record, _ = published["risk"]
    directory = write_model_directory(tmp_path / "model", services, record)
    weights = (directory / WEIGHTS).read_bytes()
    (directory / WEIGHTS).write_bytes(weights[:-1] + bytes([weights[-1] ^ 1]))
    patients.to_csv(tmp_path / "rows.csv", index=False)
    code = main(["predict", "--model", str(directory), "--data", str(tmp_path / "rows.csv"),
                 "--out", str(tmp_path / "out.csv")])
    assert code == 2 and "does not match the SHA-256" in capsys.readouterr().err


@pytest.mark.slow
def test_generate_refuses_a_predictive_model(published, tmp_path, capsys):
    _, record, directory = published["risk"]
    code = main(["generate", "--model", str(directory), "--rows", "5", "--out", str(tmp_path / "rows.csv")])
    assert code == 2 and "risk model: it predicts; it cannot generate rows" in capsys.readouterr().err
    with pytest.raises(ModelKindError):
        predict_from_version(published["synthesis"][0], published["synthesis"][1], pd.DataFrame({"age": [40]}))


def test_predict_takes_no_abbreviated_options(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["predict", "--model", str(tmp_path), "--data", "x.csv", "--out", "y.csv", "--tim", "1"])
    assert info.value.code == 2 and "--tim" in capsys.readouterr().err
