"""``python -m fedcore demo`` end to end, with a tiny model: files, report keys, an intact audit chain."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from fedcore.cli.main import main
from fedcore.datasets import load_actg175

pytestmark = pytest.mark.slow

TINY = json.dumps({"epochs_per_round": 1, "model": {"family": "diffusion", "hidden_dim": 32, "num_blocks": 1}})


def test_the_demo_runs_the_round_loop_and_writes_a_scored_report(tmp_path, capsys):
    # Arrange
    out = tmp_path / "demo"

    # Act
    code = main(["demo", "--rounds", "2", "--config", TINY, "--rows", "200", "--out", str(out)])

    # Assert: the run completed through the state machine
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["run"]["status"] == "COMPLETED" and report["run"]["rounds_completed"] == 2
    assert report["run"]["execution_name"].startswith("demo-")
    for key in ("column_shapes", "column_pair_trends"):
        assert key in report["quality"]
    for key in ("tstr", "trtr"):
        assert key in report["utility"]
    privacy = report["privacy"]
    assert set(privacy["epsilon"]) == {"hosp-a", "hosp-b", "hosp-c"} and privacy["delta"] == 1e-5
    assert 0 <= privacy["dcr_share"] <= 1
    assert [r["round"] for r in report["rounds"]] == [1, 2]
    assert all({"loss", "spokes", "seconds"} <= set(r) for r in report["rounds"])
    # ... the synthetic table has the data set's columns, from the published model version
    synthetic = pd.read_csv(out / "synthetic.csv")
    assert len(synthetic) == 200 and list(synthetic.columns) == load_actg175().schema.names
    assert report["generation"]["model_version"] == report["run"]["model_version"]
    # ... the history is the console's, and the exported audit chain verifies
    history = json.loads((out / "execution_history.json").read_text())
    assert history[0]["type"] == "ExecutionStarted" and history[-1]["type"] == "ExecutionSucceeded"
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    capsys.readouterr()
    assert main(["audit", "verify", str(out / "audit.jsonl")]) == 0
    assert capsys.readouterr().out.strip() == f"ok {report['sandbox']['audit_entries']} entries"
    assert main(["audit", "verify", str(out / "audit.jsonl"), "--head", report["sandbox"]["audit_head"]]) == 0


def test_the_image_demo_runs_through_the_state_machine_and_scores_the_held_out_images(tmp_path):
    # Arrange: a few built-in images at 32 px, one round (the default run is 2,000 images at 64 px)
    out = tmp_path / "image"
    config = json.dumps({"task": {"name": "image", "image": {"size": 32}}})

    # Act
    code = main(["demo", "--task", "image", "--images", "120", "--rounds", "1", "--config", config,
                 "--out", str(out)])

    # Assert
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["run"]["status"] == "COMPLETED" and report["task"] == "image"
    assert set(report["privacy"]["epsilon"]) == {f"hosp-{c}" for c in "abcde"}  # five hospitals by default
    assert all(0 < eps <= 3.0 * 1.001 for eps in report["privacy"]["epsilon"].values())
    assert 0.0 <= report["metrics"]["final"]["auc"] <= 1.0
    assert [r["kind"] for r in report["metrics"]["rounds"]] == ["train", "evaluate"]
    assert report["model_card"]["task"] == "image"
