"""The predictive tasks through the round steps: plans, federated evaluation, accounting, attacks, publishing."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from fedcore.cli.main import build_parser
from fedcore.families.base import HubRound
from fedcore.partition import partition_dirichlet, train_holdout_split
from fedcore.privacy.accountant import compute_epsilon
from fedcore.run_config import RunConfig
from fedcore.run_spec import RunSpec
from fedcore.runtime.simulation import simulate_federation
from fedcore.tasks.predictive import plan
from fedcore.tasks.predictive.task import _early_stopping
from fedcore.tasks.registry import task_of

RISK = {"name": "risk", "target": "cens", "exclude": ["days"]}
SURVIVAL = {"name": "survival", "time": "days", "event": "cens"}


@pytest.fixture(scope="module")
def actg():
    from fedcore.experiment import load_data

    _, frame, schema = load_data("actg175", None)
    train, holdout = train_holdout_split(frame, 0.2, 0)
    parts = partition_dirichlet(train, 3, "arms", 0, 1.0)
    return schema, {f"hospital-{chr(97 + i)}": p for i, p in enumerate(parts)}, holdout


@pytest.fixture(scope="module")
def risk_run(actg):
    schema, partitions, _ = actg
    config = RunConfig(task=RISK, rounds=2, training={"epochs": 1, "batch_size": 128})
    return config, simulate_federation(partitions, schema, config, None, run_id="risk-dp")


def test_plan_charges_evaluation_from_round_two_and_an_evaluation_only_last_round():
    config = RunConfig(task=RISK, rounds=3)
    spoke_plan = task_of(config).plan_spoke(config, rows=600)
    kinds = [tuple(m.sample_rate == 1.0 for m in ms) for ms in spoke_plan.releases]
    assert kinds == [(True,), (False,), (False, True), (False, True), (True,)]  # setup, train, train+eval..., eval
    epsilon = compute_epsilon([m for ms in spoke_plan.releases for m in ms], config.privacy.delta,
                              config.privacy.accountant)
    assert epsilon == pytest.approx(config.privacy.target_epsilon, rel=2e-2)
    assert spoke_plan.training["rows"] == 600 - plan.validation_rows(config, 600)


def test_validation_split_is_fixed_per_run_capped_and_disjoint():
    config = RunConfig(task={**RISK, "evaluation": {"max_validation_rows": 50}})
    train, held = plan.validation_split("run-1", 1000, config)
    again = plan.validation_split("run-1", 1000, config)
    assert len(held) == 50 and not set(train) & set(held) and len(train) + len(held) == 1000
    assert np.array_equal(held, again[1])
    assert not np.array_equal(held, plan.validation_split("run-2", 1000, config)[1])


@pytest.mark.slow
def test_risk_run_evaluates_every_round_and_charges_exactly_its_plan(risk_run):
    config, result = risk_run
    assert result.status == "COMPLETED"
    kinds = [m["kind"] for m in result.rounds]
    assert kinds == ["train", "train", "evaluate"]
    assert "validation" not in result.rounds[0]  # round 1 receives the data-independent initial model
    for m in result.rounds[1:]:
        assert m["validation"]["model_round"] == m["round"] - 1
        assert 0.0 <= m["validation"]["auc"] <= 1.0
        assert set(m["validation"]["fairness"]) == {"gender", "race"}
        assert m["loss"] is None  # DP run: no exact loss leaves a hospital
    plans = result.run["plans"]
    for spoke, epsilon in result.model_version["epsilon"].items():
        releases = [m for ms in plans[spoke]["releases"] for m in ms]
        from fedcore.privacy.accountant import StepRecord

        expected = compute_epsilon([StepRecord.from_dict(m) for m in releases], config.privacy.delta,
                                   config.privacy.accountant)
        assert epsilon == pytest.approx(expected) and epsilon <= config.privacy.target_epsilon * 1.001
    card = result.model_version
    assert card["task"] == "risk" and card["round"] == 2 and card["metrics"]["model_round"] == 2
    assert set(card["fairness"]) == {"gender", "race"}


def _hub_round(config, encoder, previous, round_):
    from fedcore.datasets import builtin_schema

    return HubRound(run_id="r", round=round_, kind="train", config=config, schema=builtin_schema("actg175"),
                    encoder=encoder, previous=previous, plans={})


@pytest.mark.slow
def test_hub_rejects_a_release_that_skips_or_reshapes_its_evaluation_counts(risk_run):
    """A hospital cannot drop the evaluation it is charged for, nor smuggle other shapes into the sums."""
    from fedcore.runtime.run_state import read_encoder

    config, result = risk_run
    encoder = read_encoder(result.services.blobs, "risk-dp")
    from fedcore.runtime.generate import open_published_model

    weights = open_published_model(result.services, result.model_version)
    task = task_of(config)
    hub_round = _hub_round(config, encoder, weights, 2)
    shapes = task.count_shapes(__import__("fedcore.tasks.predictive.encoder", fromlist=["x"]).PredictiveEncoder
                               .from_dict(encoder), config)
    good = dict(weights) | {f"eval/{k}": np.zeros(s) for k, s in shapes.items()}
    task.validate(hub_round, good, None)
    with pytest.raises(ValueError, match="evaluation counts"):
        task.validate(hub_round, dict(weights), None)  # skipped the evaluation
    reshaped = dict(good) | {"eval/confusion": np.zeros((3, 3))}
    with pytest.raises(ValueError, match="shape"):
        task.validate(hub_round, reshaped, None)
    with pytest.raises(ValueError, match="finite"):
        task.validate(hub_round, dict(good) | {"eval/confusion": np.full((2, 2), np.nan)}, None)
    with pytest.raises(ValueError, match="evaluation-only"):
        task.validate(_hub_round(config, encoder, weights, 3), good, None)  # weights in the evaluation round


def test_early_stopping_counts_rounds_without_improvement():
    config = RunConfig(task={**RISK, "early_stopping_patience": 2}, rounds=10)
    state = {}
    stops = []
    for round_, auc in enumerate([0.6, 0.7, 0.69, 0.68, 0.9], start=2):
        stop, state = _early_stopping(config, state, auc, round_)
        stops.append(stop)
    assert stops == [False, False, False, True, False]
    rounds = [{"round": r, "kind": "train", "validation": {"auc": a, "model_round": r - 1}}
              for r, a in [(2, 0.6), (3, 0.7), (4, 0.65)]]
    assert task_of(config).published_round(config, rounds) == 2  # the best evaluated model
    plain = RunConfig(task=RISK, rounds=3)
    assert task_of(plain).published_round(plain, rounds) == 4  # without early stopping: the last trained model


@pytest.mark.parametrize("task, config_extra, message", [
    ({"name": "risk", "target": "days"}, {}, "categorical"),
    ({"name": "risk", "exclude": ["nope"]}, {}, "not a column"),
    ({"name": "risk", "exclude": ["cens"]}, {}, "label column"),
    ({"name": "survival", "time": "days"}, {}, "task.event"),
    ({"name": "survival", "time": "cens", "event": "cens"}, {}, "numeric"),
])
def test_task_settings_that_do_not_fit_the_schema_are_refused_before_any_release(task, config_extra, message):
    from fedcore.datasets import builtin_schema

    with pytest.raises(ValueError, match=message):
        RunSpec(run_id="r", schema=builtin_schema("actg175"), config=RunConfig(task=task, **config_extra))


def test_settings_of_the_wrong_task_or_family_are_refused():
    with pytest.raises(ValueError, match="predictive tasks"):
        RunConfig(task={"name": "synthesis", "target": "cens"})
    with pytest.raises(ValueError, match="model settings belong"):
        RunConfig(task=RISK, model={"family": "diffusion", "hidden_dim": 32})
    with pytest.raises(ValueError, match="fairfed"):
        RunConfig(strategy="fairfed")
    assert RunConfig(task=RISK, strategy="fairfed").strategy == "fairfed"


def test_cli_does_not_match_prefixes():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["simulate", "--target-eps", "3", "--out", "x"])
    args = build_parser().parse_args(["simulate", "--task", "risk", "--target", "cens", "--exclude", "days,r",
                                      "--exclude", "cd496", "--out", "x"])
    from fedcore.cli.simulate_cmd import task_from_args

    assert task_from_args(args) == {"name": "risk", "target": "cens", "exclude": ["days", "r", "cd496"]}


@pytest.mark.slow
def test_simulate_survival_writes_the_report_keys_and_model_directory(tmp_path):
    out = tmp_path / "surv"
    done = subprocess.run([sys.executable, "-m", "fedcore", "simulate", "--data", "actg175", "--task", "survival",
                           "--time", "days", "--event", "cens", "--spokes", "3", "--rounds", "1",
                           "--epochs-per-round", "1", "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    assert report["task"] == "survival"
    assert {"c_index", "integrated_brier"} <= set(report["metrics"]["final"])
    assert 0.5 < report["metrics"]["final"]["c_index"] <= 1.0
    assert {"central_same_model", "central_dp_same_model", "central_coxph"} == set(report["baseline"])
    assert {"gender", "race", "hospital_spread"} <= set(report["fairness"])
    assert {"demographic_parity_difference", "equalized_odds_difference", "groups"} <= set(report["fairness"]["gender"])
    assert [r["kind"] for r in report["metrics"]["rounds"]] == ["train", "evaluate"]
    assert (out / "model" / "model_card.json").is_file() and (out / "survival_curves.png").is_file()
    assert set(report["survival_curves"]) == {"0", "1", "2", "3"}
