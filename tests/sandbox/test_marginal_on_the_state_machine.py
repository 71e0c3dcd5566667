"""The marginal family through the synthesized state machine: select and measure rounds as Batch
jobs, private-pgm fitted in the Aggregate Lambda, and the budget gate stopping a run before a limit."""

from __future__ import annotations

import pytest

from fedcore.families import get_family
from fedcore.privacy import compute_epsilon
from fedcore.run_config import RunConfig
from fedcore.runtime.generate import find_model_version, generate_from_version
from sandbox_helpers import audit, charged_rounds, limits_restored, run

pytestmark = pytest.mark.slow

MARGINAL_RUN = {"schema": "actg175", "model": {"family": "marginal", "marginal": {"fit_iterations": 200}},
                "privacy": {"target_epsilon": 1.0}}


def test_a_marginal_run_on_the_state_machine_selects_measures_publishes_and_lands_on_the_target(sandbox):
    result, services = run(sandbox, "marginal-1", MARGINAL_RUN)

    assert result.status == "SUCCEEDED"
    record = services.runs.get_run("marginal-1")
    assert record["status"] == "COMPLETED" and record["model_version"] == "marginal-1-r0002"
    assert [m["kind"] for m in sorted(services.runs.list_rounds("marginal-1"), key=lambda m: m["round"])] == [
        "select", "measure"]
    version = find_model_version(services, "marginal-1-r0002")
    assert version["family"] == "marginal"
    for spoke in sandbox.spoke_ids:
        assert charged_rounds(services.ledger, spoke, "marginal-1") == [0, 1, 2]
        assert version["epsilon"][spoke] == pytest.approx(1.0, abs=0.01) and version["epsilon"][spoke] <= 1.0 + 1e-9
    rows = generate_from_version(services, version, 50, {}, seed=3, conditions={"arms": 0})
    assert len(rows) == 50 and set(rows["arms"]) == {0}


def test_the_budget_gate_stops_a_marginal_run_before_a_hospitals_limit(sandbox):
    setup, select, _ = get_family("marginal").release_mechanisms(
        RunConfig.model_validate({k: v for k, v in MARGINAL_RUN.items() if k != "schema"}))
    with limits_restored(sandbox) as ledger:  # a and b can afford the setup and the selection, not the measurement
        for spoke in ("hosp-a", "hosp-b"):
            earlier = [r for charge in ledger.history(spoke) for r in charge.records]
            ledger.set_limit(spoke, compute_epsilon(earlier + [setup, select], 1e-5) + 1e-6)
        result, services = run(sandbox, "marginal-2", MARGINAL_RUN)
        spent = {s: services.ledger.spent(s) for s in sandbox.spoke_ids}
        capped = {s: services.ledger.limit(s) for s in sandbox.spoke_ids}

    assert result.status == "SUCCEEDED"
    record = services.runs.get_run("marginal-2")
    assert record["status"] == "BUDGET_EXHAUSTED" and record.get("model_version") is None
    assert all(spent[s] <= capped[s] + 1e-9 for s in sandbox.spoke_ids)
    gates = {e.details["round"]: e.details for e in audit(services, "budget.gate", "marginal-2")}
    assert gates[2]["quorum_met"] is False and {"hosp-a", "hosp-b"} <= set(gates[2]["dropped"])
    for spoke in ("hosp-a", "hosp-b"):
        assert charged_rounds(services.ledger, spoke, "marginal-2") == [0, 1]
    assert not any(r.job_name.startswith("train-r2-") for r in sandbox.batch.runs if r.run_id == "marginal-2")


def test_demo_serve_answers_researchers_under_the_api_functions_own_role(sandbox, monkeypatch, capsys):
    import re

    import boto3
    import uvicorn
    from fastapi.testclient import TestClient

    from functions.api_app.local_server import serve_local

    if not sandbox.operator_services().runs.list_model_versions():
        run(sandbox, "marginal-3", MARGINAL_RUN)
    for name, value in sandbox.api_environment().items():  # what `demo --serve` sets before serving
        monkeypatch.setenv(name, value)
    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **kw: served.update(app=app))
    try:
        serve_local(None, sandbox.hub.state_machine_arn, 8765, spokes=sandbox.spoke_ids)
        researcher = re.search(r"researcher token:\s+(\S+)", capsys.readouterr().out).group(1)
        client = TestClient(served["app"])
        headers = {"Authorization": f"Bearer {researcher}"}
        models = client.get("/models", headers=headers)
        assert models.status_code == 200 and models.json()["models"], models.text
        rows = client.post("/generate", headers=headers, json={"rows": 20, "seed": 1})
        assert rows.status_code == 200 and rows.json()["rows"] == 20, rows.text
    finally:
        monkeypatch.undo()
        boto3.setup_default_session()  # later tests get the environment's own credentials again
