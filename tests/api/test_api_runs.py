"""Runs: start and stop through Step Functions (moto), list and inspect from the runs table."""

from __future__ import annotations

import json

from apigw import ADMIN, RESEARCHER, Gateway
from conftest import RUN_ID, STATE_MACHINE_NAME


def _audit(services, action):
    return [e for e in services.audit.entries() if e.action == action]


def test_admin_starts_a_run_as_a_step_functions_execution_named_after_it(hub):
    services, app, sfn = hub
    body = {"run_id": "trial-7", "rounds": 3, "target_epsilon": 2.5, "strategy": "fedavg",
            "model": {"family": "diffusion", "hidden_dim": 64, "num_blocks": 2}, "schema": "actg175"}
    reply = Gateway(app)("POST", "/runs", ADMIN, body=body)
    assert reply.status == 202, reply.text
    started = reply.json()
    assert started["run_id"] == "trial-7" and started["status"] == "STARTING"
    assert started["execution_arn"].endswith(f":execution:{STATE_MACHINE_NAME}:trial-7")
    assert "console.aws.amazon.com/states/home?region=eu-west-1" in started["console_url"]
    execution = sfn.describe_execution(executionArn=started["execution_arn"])
    assert execution["name"] == "trial-7" and execution["status"] == "RUNNING"
    sent = json.loads(execution["input"])
    assert sent["run_id"] == "trial-7" and sent["config"]["rounds"] == 3 and sent["config"]["schema"] == "actg175"
    assert sent["config"]["privacy"]["target_epsilon"] == 2.5 and sent["config"]["privacy"]["delta"] == 1e-5
    assert sent["config"]["model"] == {"family": "diffusion", "hidden_dim": 64, "num_blocks": 2} and "run_id" not in sent["config"]
    [entry] = _audit(services, "run.start_requested")
    assert entry.actor == "user:alice" and entry.details["caller"]["sub"] == ADMIN["sub"]
    assert entry.details["run_id"] == "trial-7" and entry.details["execution_arn"] == started["execution_arn"]


def test_a_run_id_is_generated_when_none_is_given(hub):
    _, app, sfn = hub
    reply = Gateway(app)("POST", "/runs", ADMIN, body={})
    assert reply.status == 202, reply.text
    run_id = reply.json()["run_id"]
    assert run_id.startswith("run-") and sfn.describe_execution(executionArn=reply.json()["execution_arn"])


def test_invalid_run_settings_are_refused_before_anything_starts(hub):
    services, app, sfn = hub
    gateway = Gateway(app)
    replies = {
        "unknown model setting": gateway("POST", "/runs", ADMIN, body={"model": {"width": 3}}),
        "bad model value": gateway("POST", "/runs", ADMIN, body={"model": {"hidden_dim": "wide"}}),
        "fedprox without mu": gateway("POST", "/runs", ADMIN, body={"strategy": "fedprox"}),
        "quorum above spokes": gateway("POST", "/runs", ADMIN, body={"quorum": 4}),
    }
    unknown_spoke = gateway("POST", "/runs", ADMIN, body={"spokes": ["s0", "elsewhere"]})
    subset = gateway("POST", "/runs", ADMIN, body={"spokes": ["s0", "s1"]})
    bad_strategy = gateway("POST", "/runs", ADMIN, body={"strategy": "best"})
    for name, reply in replies.items():
        assert (reply.status, reply.code) == (422, "invalid_run_config"), name
    assert (unknown_spoke.status, unknown_spoke.code) == (422, "unknown_spokes")
    assert (subset.status, subset.code) == (422, "spoke_subset_unsupported")
    assert (bad_strategy.status, bad_strategy.code) == (422, "invalid_request")
    assert sfn.list_executions(stateMachineArn=app.state.api_context.settings.state_machine_arn)["executions"] == []
    assert _audit(services, "run.start_requested") == []


def test_an_existing_run_id_is_a_409(hub):
    _, app, _ = hub
    gateway = Gateway(app)
    recorded = gateway("POST", "/runs", ADMIN, body={"run_id": RUN_ID})
    assert gateway("POST", "/runs", ADMIN, body={"run_id": "again"}).status == 202
    started_twice = gateway("POST", "/runs", ADMIN, body={"run_id": "again"})
    assert (recorded.status, recorded.code) == (409, "run_exists")
    assert (started_twice.status, started_twice.code) == (409, "run_exists")


def test_runs_list_and_detail_show_status_rounds_metrics_and_epsilon(hub):
    services, app, _ = hub
    gateway = Gateway(app)
    listed = gateway("GET", "/runs", RESEARCHER)
    detail = gateway("GET", f"/runs/{RUN_ID}", RESEARCHER)
    assert listed.status == 200 and [r["run_id"] for r in listed.json()["runs"]] == [RUN_ID]
    run = detail.json()
    assert detail.status == 200 and run["status"] == "COMPLETED" and run["current_round"] == 1
    assert run["rounds"] == 1 and run["model_version"] == f"{RUN_ID}-r0001"
    [round_1] = run["metrics"]
    assert round_1["round"] == 1 and round_1["spokes"] == ["s0", "s1", "s2"]
    # a DP run: no hospital releases an exact loss, and no exact row total reaches a researcher (issue 9 item 6)
    assert round_1["loss"] is None and "total_examples" not in round_1
    assert run["epsilon"] == services.runs.get_run(RUN_ID)["epsilon"] and set(run["epsilon"]) == {"s0", "s1", "s2"}


def test_a_started_run_is_visible_before_init_run_records_it(hub):
    _, app, _ = hub
    gateway = Gateway(app)
    gateway("POST", "/runs", ADMIN, body={"run_id": "fresh"})
    reply = gateway("GET", "/runs/fresh", RESEARCHER)
    assert reply.status == 200 and reply.json()["status"] == "STARTING" and reply.json()["metrics"] == []
    missing = gateway("GET", "/runs/never", RESEARCHER)
    assert (missing.status, missing.code) == (404, "run_not_found")


def test_admin_stops_a_running_run_and_the_stop_is_audited(hub):
    services, app, sfn = hub
    gateway = Gateway(app)
    arn = gateway("POST", "/runs", ADMIN, body={"run_id": "to-stop"}).json()["execution_arn"]
    services.runs.create_run("to-stop", {"status": "RUNNING", "spokes": ["s0"], "current_round": 0,
                                         "config": {"rounds": 2}, "created_at": "2026-01-01T00:00:00+00:00"})
    reply = gateway("POST", "/runs/to-stop/stop", ADMIN)
    assert reply.status == 200, reply.text
    assert reply.json() == {"run_id": "to-stop", "execution_arn": arn, "status": "ABORTED"}
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    [entry] = _audit(services, "run.stop_requested")
    assert entry.actor == "user:alice" and entry.details["run_id"] == "to-stop"
    assert gateway("GET", "/runs/to-stop", RESEARCHER).json()["status"] == "ABORTED"  # record said RUNNING
    again = gateway("POST", "/runs/to-stop/stop", ADMIN)
    unknown = gateway("POST", "/runs/nothing/stop", ADMIN)
    assert (again.status, again.code) == (409, "run_not_running")
    assert (unknown.status, unknown.code) == (404, "run_not_found")
    assert len(_audit(services, "run.stop_requested")) == 1


def test_metrics_history_is_paginated_and_filtered_by_run(hub):
    services, app, _ = hub
    services.runs.create_run("r2", {"status": "RUNNING", "spokes": ["s0", "s1"], "current_round": 2,
                                    "config": {"rounds": 5}, "created_at": "2999-01-01T00:00:00+00:00"})
    for round_ in (1, 2):
        services.runs.put_round("r2", round_, {"loss": 0.5, "spokes": ["s0"], "epsilon": {"s0": 0.1 * round_}})
    gateway = Gateway(app)
    first = gateway("GET", "/metrics/history", RESEARCHER, query={"limit": 2})
    second = gateway("GET", "/metrics/history", RESEARCHER, query={"limit": 2, "offset": 2})
    only_r2 = gateway("GET", "/metrics/history", RESEARCHER, query={"run_id": "r2"})
    missing = gateway("GET", "/metrics/history", RESEARCHER, query={"run_id": "zzz"})
    assert [(m["run_id"], m["round"]) for m in first.json()["metrics"]] == [(RUN_ID, 1), ("r2", 1)]
    assert first.json()["next_offset"] == 2
    assert [(m["run_id"], m["round"]) for m in second.json()["metrics"]] == [("r2", 2)]
    assert second.json()["next_offset"] is None
    assert [m["round"] for m in only_r2.json()["metrics"]] == [1, 2]
    assert (missing.status, missing.code) == (404, "run_not_found")
