"""The marginal family through the runtime steps: kinds, spend on target, gate, generation, API rules."""

import pytest

from fedcore.audit import verify_chain
from fedcore.privacy import InMemoryLedgerStore, PrivacyLedger
from fedcore.run_config import RunConfig
from fedcore.runtime.driver import LocalHospital, drive_run
from fedcore.runtime.finalize import run_epsilon
from fedcore.runtime.generate import find_model_version, generate_from_version
from fedcore.runtime.run_state import load_run, run_config
from fedcore.runtime.spoke_policy import SpokePolicy

MARGINAL = {"rounds": 1, "model": {"family": "marginal", "marginal": {"fit_iterations": 200}}}


def _hospitals(data, cap=3.0):
    return [LocalHospital(s, table, SpokePolicy(epsilon_cap=cap), PrivacyLedger(InMemoryLedgerStore(), 1e-5))
            for s, table in data.items()]


@pytest.mark.slow  # a whole run with a private-pgm fit (about 15 s)
def test_a_marginal_run_selects_measures_publishes_and_lands_on_the_target(services, actg_parts):
    schema, data = actg_parts
    final = drive_run(services, "m1", MARGINAL, schema, _hospitals(data), 3.0, seed=0)
    assert final["status"] == "COMPLETED" and final["model_version"] == "m1-r0002"
    assert [step["kind"] for step in final["steps"]] == ["setup", "select", "measure"]
    assert all(step["loss"] is None for step in final["steps"][1:])  # nothing trained: no loss
    record = find_model_version(services)
    assert record["family"] == "marginal"
    for spoke in data:  # setup + select + measure compose to the target (never above)
        assert record["epsilon"][spoke] == pytest.approx(3.0, abs=0.01) and record["epsilon"][spoke] <= 3.0 + 1e-9
        assert [len(c.records) for c in services.ledger.history(spoke)] == [1, 1, 1]
    run = load_run(services, "m1")
    for spoke in data:  # the ledger coalesces finished runs when an account grows: the run's epsilon survives it
        services.ledger.coalesce(spoke, ["m1"])
        assert services.ledger.history(spoke) == ()
        assert run_epsilon(services, "m1", run, spoke, run_config(run)) == pytest.approx(record["epsilon"][spoke])
    rows = generate_from_version(services, record, 200, {}, seed=1, conditions={"arms": 2})
    assert len(rows) == 200 and set(rows["arms"]) == {2}  # conditions hold exactly
    assert list(rows.columns) == schema.names
    assert verify_chain(list(services.audit.entries())).ok


def test_the_budget_gate_stops_a_marginal_run_before_a_limit(services, actg_parts):
    schema, data = actg_parts
    services.ledger.set_limit("s0", 2.0)  # below what the run needs: s0 is dropped before its measurement
    services.ledger.set_limit("s1", 2.0)
    final = drive_run(services, "m1", MARGINAL, schema, _hospitals(data), 3.0, seed=0)
    assert final["status"] == "BUDGET_EXHAUSTED" and final["model_version"] is None
    for spoke in ("s0", "s1"):
        assert services.ledger.spent(spoke) <= 2.0
    gates = [e for e in services.audit.entries() if e.action == "budget.gate"]
    assert not gates[-1].details["quorum_met"]


def test_default_family_is_marginal_with_and_without_dp_and_flat_diffusion_keys_mean_diffusion():
    assert RunConfig().family == "marginal"
    assert RunConfig(privacy={"enabled": False}).family == "marginal"  # measured best without DP too
    assert RunConfig(model={"hidden_dim": 64}).family == "diffusion"  # the old flat keys stay accepted
    assert RunConfig(model={"hidden_dim": 64}, privacy={"enabled": False}).family == "diffusion"
    with pytest.raises(ValueError, match="family"):
        RunConfig(model={"family": "gan"})
    with pytest.raises(ValueError, match="mean nothing"):
        RunConfig(model={"family": "diffusion", "marginal": {"max_cells": 4}})
