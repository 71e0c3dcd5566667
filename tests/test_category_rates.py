"""Category rates: each category of at least 1% of real rows, real vs synthetic."""

import json

import numpy as np
import pandas as pd
import pytest

from fedcore.evaluation.category_rates import category_rates
from fedcore.evaluation.report import to_jsonable
from fedcore.schema import CategoricalColumn, NumericColumn, Schema

SCHEMA = Schema(columns=[
    CategoricalColumn(name="dialysis", categories=["Yes", "No"]),
    CategoricalColumn(name="stage", categories=[1, 2, 3, 4]),
    NumericColumn(name="cigarettes", min=0, max=40, integer=True, values=[0, 10, 40]),
    NumericColumn(name="bmi", min=15, max=50),
])


def _frame(dialysis_yes: int, stage: list, cigarettes: list, rows: int = 1000) -> pd.DataFrame:
    return pd.DataFrame({
        "dialysis": ["Yes"] * dialysis_yes + ["No"] * (rows - dialysis_yes),
        "stage": stage,
        "cigarettes": cigarettes,
        "bmi": np.linspace(15, 50, rows),
    })


REAL = _frame(15, [1] * 600 + [2] * 300 + [3] * 95 + [4] * 5, [0.0] * 800 + [10.0] * 150 + [40.0] * 50)


def _entry(result, column, category):
    return next(e for e in result["columns"][column] if e["category"] == category)


def test_identical_tables_have_ratio_one_everywhere():
    result = category_rates(REAL, REAL, SCHEMA)

    assert result["outside"] == 0 and result["worst_ratio"] == pytest.approx(1.0)
    assert "bmi" not in result["columns"]
    assert _entry(result, "dialysis", "Yes") == {"category": "Yes", "real_rate": 0.015,
                                                 "synthetic_rate": 0.015, "ratio": 1.0, "within": True}


def test_categories_under_one_percent_are_not_checked():
    result = category_rates(REAL, REAL, SCHEMA)
    assert [e["category"] for e in result["columns"]["stage"]] == [1, 2, 3]  # stage 4 holds 0.5%
    assert result["checked"] == 2 + 3 + 3


def test_a_dropped_rare_category_is_the_worst_and_counted_outside():
    synthetic = _frame(0, [1] * 600 + [2] * 300 + [3] * 100, [0.0] * 800 + [10.0] * 150 + [40.0] * 50)

    result = category_rates(REAL, synthetic, SCHEMA)

    assert result["outside"] == 1
    assert result["worst"]["column"] == "dialysis" and result["worst"]["category"] == "Yes"
    assert result["worst_ratio"] == 0.0


def test_ratio_bounds_are_a_factor_of_one_and_a_half_both_ways():
    over = _frame(15, [1] * 500 + [2] * 450 + [3] * 50, [0.0] * 800 + [10.0] * 150 + [40.0] * 50)

    result = category_rates(REAL, over, SCHEMA)

    assert _entry(result, "stage", 2)["ratio"] == pytest.approx(1.5) and _entry(result, "stage", 2)["within"]
    assert _entry(result, "stage", 3)["ratio"] == pytest.approx(50 / 95) and not _entry(result, "stage", 3)["within"]
    assert result["outside"] == 1 and result["worst"]["category"] == 3


def test_discrete_numeric_values_are_counted_as_categories_and_off_support_values_are_not():
    synthetic = _frame(15, [1] * 600 + [2] * 300 + [3] * 100, [0.0] * 800 + [10.0] * 90 + [12.5] * 60 + [40.0] * 50)

    result = category_rates(REAL, synthetic, SCHEMA)

    assert [e["category"] for e in result["columns"]["cigarettes"]] == [0, 10, 40]
    assert _entry(result, "cigarettes", 10)["ratio"] == pytest.approx(90 / 150)
    assert not _entry(result, "cigarettes", 10)["within"]


def test_missing_values_count_in_the_denominator_and_labels_match_across_dtypes():
    synthetic = REAL.assign(stage=REAL["stage"].astype(str), dialysis=[None] * 500 + list(REAL["dialysis"][500:]))
    result = category_rates(REAL, synthetic, SCHEMA)
    assert _entry(result, "stage", 1)["ratio"] == pytest.approx(1.0)
    assert _entry(result, "dialysis", "No")["synthetic_rate"] == pytest.approx(0.5)  # 500 of 1000 rows
    assert _entry(result, "dialysis", "Yes")["synthetic_rate"] == 0.0


def test_result_is_json_serialisable_for_the_report():
    text = json.dumps(to_jsonable(category_rates(REAL, REAL.head(10), SCHEMA)), allow_nan=False)
    assert "worst_ratio" in text


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="min_share"):
        category_rates(REAL, REAL, SCHEMA, min_share=0)
    with pytest.raises(ValueError, match="synthetic table lacks"):
        category_rates(REAL, REAL.drop(columns=["stage"]), SCHEMA)


def test_quality_scores_carry_category_rates_against_the_reference_rows():
    from fedcore.evaluation.quality import quality_scores

    holdout = REAL.head(200)  # rates differ from the full table: stage 1 only
    scores = quality_scores(holdout, REAL, SCHEMA, seed=0, rates_reference=REAL)
    assert scores["category_rates"] == category_rates(REAL, REAL, SCHEMA)
    assert quality_scores(holdout, REAL, SCHEMA, seed=0)["category_rates"] == category_rates(holdout, REAL, SCHEMA)


@pytest.mark.slow  # a whole non-DP run of the default family on healthcare (about 30 s)
def test_non_dp_output_keeps_every_category_of_one_percent_at_its_rate(tmp_path):
    from fedcore.datasets import load_healthcare
    from fedcore.experiment import ExperimentSpec, run_experiment
    from fedcore.partition import train_holdout_split
    from fedcore.run_config import PrivacySettings, RunConfig

    spec = ExperimentSpec(data="healthcare", config=RunConfig(privacy=PrivacySettings(enabled=False)))
    run_experiment(spec, tmp_path)

    dataset = load_healthcare()
    train, _ = train_holdout_split(dataset.frame, spec.holdout_share, spec.config.seed)
    synthetic = pd.read_csv(tmp_path / "synthetic.csv")
    result = category_rates(train, synthetic, dataset.schema)
    assert result["outside"] == 0, result["worst"]


def test_evaluate_reports_category_rates_against_the_training_rows():
    from fedcore.evaluation import evaluate

    holdout = REAL.sample(frac=1.0, random_state=0).head(300)  # rates differ from the training rows'

    scores = evaluate(REAL, holdout, REAL, SCHEMA, "dialysis", seed=0)

    assert scores["quality"]["category_rates"] == category_rates(REAL, REAL, SCHEMA)
    assert scores["quality"]["category_rates"] != category_rates(holdout, REAL, SCHEMA)


@pytest.mark.slow  # one federated marginal run through the CLI: about a minute on a shared 2-core machine
def test_simulate_report_carries_category_rates_of_the_training_rows(tmp_path):
    import subprocess
    import sys

    from fedcore.datasets import load_actg175
    from fedcore.partition import train_holdout_split
    from fedcore.table import load_table

    out = tmp_path / "sim"
    result = subprocess.run([sys.executable, "-m", "fedcore", "simulate", "--data", "actg175", "--family", "marginal",
                             "--rows", "500", "--out", str(out)], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]

    reported = json.loads((out / "report.json").read_text())["quality"]["category_rates"]
    dataset = load_actg175()
    train, _ = train_holdout_split(dataset.frame, 0.2, 0)
    expected = category_rates(train, load_table(out / "synthetic.csv", dataset.schema), dataset.schema)
    assert reported["checked"] == expected["checked"] > 0
    for column, entries in expected["columns"].items():
        assert [e["real_rate"] for e in reported["columns"][column]] == pytest.approx([e["real_rate"] for e in entries])
        assert [e["synthetic_rate"] for e in reported["columns"][column]] == pytest.approx(
            [e["synthetic_rate"] for e in entries])
