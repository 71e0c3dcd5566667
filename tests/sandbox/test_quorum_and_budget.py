"""A round without a reporting quorum fails the run and keeps the last good model; hospitals whose
budget is spent are dropped before training, and the run ends cleanly once quorum is out of reach."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from fedcore.federation.release import model_context
from fedcore.model.config import SamplingConfig
from fedcore.run_config import RunConfig
from fedcore.runtime import layout
from fedcore.runtime.run_state import read_preprocessor
from fedcore.sealing import open_model
from fedcore.synthesize import generate_synthetic
from sandbox_helpers import audit, charged_rounds, limits_restored, round_metrics, run, tiny_config, update_key

pytestmark = pytest.mark.slow


def test_fewer_reporting_spokes_than_the_quorum_fail_the_run_and_keep_the_last_good_model(sandbox):
    # Arrange: in round 2, hospitals a and b crash
    def crash_round_two(job):
        if job.spoke_id in ("hosp-a", "hosp-b") and job.environment["ROUND"] == "2":
            job.argv = [sys.executable, "-c", "raise SystemExit('node terminated')"]
    sandbox.add_job_hook(crash_round_two)

    # Act
    result, services = run(sandbox, "quorum-1", tiny_config(rounds=2))

    # Assert: the execution fails as QuorumLost and the run record says why
    assert (result.status, result.error) == ("FAILED", "QuorumLost")
    record = services.runs.get_run("quorum-1")
    assert record["status"] == "FAILED" and record["error"].startswith("quorum lost")
    assert [m["round"] for m in services.runs.list_rounds("quorum-1")] == [1]
    assert not services.blobs.exists(layout.model_key("quorum-1", 2))
    assert len(audit(services, "round.quorum_not_met", "quorum-1")) == 1
    assert {e.details["spoke"] for e in audit(services, "spoke.failed", "quorum-1")} == {"hosp-a", "hosp-b"}
    # ... and model 1 is intact, opens under its own context and generates rows
    weights = open_model(services.blobs.get(layout.model_key("quorum-1", 1)), model_context("quorum-1", 1),
                         services.keys)
    assert all(np.isfinite(w).all() for w in weights.values())
    config = RunConfig.model_validate(record["config"])
    rows = generate_synthetic(weights, read_preprocessor(services.blobs, "quorum-1"), config.model.diffusion,
                              20, SamplingConfig(steps=5), seed=0)
    assert len(rows) == 20 and not rows.isna().all().any()


def test_spent_budgets_drop_hospitals_before_training_and_end_the_run_when_quorum_is_out_of_reach(sandbox):
    # Arrange: an administrator caps a at what it has spent before round 2, and b before round 3
    with limits_restored(sandbox) as ledger:
        def cap_at_spent(function: str, event: dict):
            spoke = {2: "hosp-a", 3: "hosp-b"}.get(event.get("round")) if function == "budget_gate" else None
            if spoke:
                ledger.set_limit(spoke, ledger.spent(spoke))
        sandbox.add_invoke_hook(cap_at_spent)

        # Act
        result, services = run(sandbox, "budget-1", tiny_config(rounds=3))
        spent = {s: services.ledger.spent(s) for s in sandbox.spoke_ids}
        capped = {s: services.ledger.limit(s) for s in sandbox.spoke_ids}

    # Assert: a clean end after two rounds
    assert result.status == "SUCCEEDED"
    record = services.runs.get_run("budget-1")
    assert record["status"] == "BUDGET_EXHAUSTED" and record["rounds_completed"] == 2
    assert round_metrics(services, "budget-1", 2)["spokes"] == ["hosp-b", "hosp-c"]
    gates = {e.details["round"]: e.details for e in audit(services, "budget.gate", "budget-1")}
    assert gates[2]["eligible"] == ["hosp-b", "hosp-c"] and "hosp-a" in gates[2]["dropped"]
    assert gates[3]["eligible"] == ["hosp-c"] and gates[3]["quorum_met"] is False
    # ... nothing trained past a limit: no job, update or charge beyond it
    assert all(spent[s] <= capped[s] + 1e-9 for s in sandbox.spoke_ids)
    assert charged_rounds(services.ledger, "hosp-a", "budget-1") == [0, 1]
    assert charged_rounds(services.ledger, "hosp-b", "budget-1") == [0, 1, 2]
    assert not services.blobs.exists(update_key("budget-1", 2, "hosp-a"))
    assert not services.blobs.list_keys(layout.updates_prefix("budget-1", 3))
    trained = [r.job_name for r in sandbox.batch.runs if r.run_id == "budget-1"]
    assert "train-r2-hosp-a" not in trained and not any(name.startswith("train-r3-") for name in trained)
