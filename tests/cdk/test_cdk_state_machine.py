"""Structure of the round loop's Amazon States Language (DESIGN.md section 3)."""

from __future__ import annotations

import json
from collections import deque
from typing import Any, Iterator

import pytest

from cdk.asl_export import export_asl, lambda_handlers, referenced_ids

pytestmark = pytest.mark.cdk

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
BATCH_SYNC = "arn:aws:states:::batch:submitJob.sync"
GATE = "functions.budget_gate.handler"


@pytest.fixture(scope="module")
def asl(synthesized) -> dict[str, Any]:
    """The definition with each function ARN ending in its handler, e.g. ...:function:functions.aggregate.handler."""
    handlers = lambda_handlers(synthesized.hub)
    resolve = {lid: f"arn:aws:lambda:eu-west-1:111111111111:function:{handlers.get(lid, lid)}"
               for lid in referenced_ids(synthesized.hub)}
    return json.loads(export_asl(synthesized.hub, resolve))


def all_states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, including those inside Map item processors."""
    for name, state in states.items():
        yield name, state
        if state["Type"] == "Map":
            yield from all_states(state["ItemProcessor"]["States"])


def handler_of(state: dict[str, Any]) -> str | None:
    if state.get("Resource") == LAMBDA_INVOKE:
        return state["Parameters"]["FunctionName"].rsplit(":", 1)[-1]
    return None


def successors(state: dict[str, Any]) -> list[str]:
    nexts = [state.get("Next"), state.get("Default")]
    nexts += [choice["Next"] for choice in state.get("Choices", [])]
    nexts += [catch["Next"] for catch in state.get("Catch", [])]
    return [n for n in nexts if n]


def runs_batch(state: dict[str, Any]) -> bool:
    return state["Type"] == "Map" and any(
        s.get("Resource") == BATCH_SYNC for _, s in all_states(state["ItemProcessor"]["States"]))


def test_every_task_has_a_timeout_and_retries_with_backoff(asl):
    tasks = [(name, s) for name, s in all_states(asl["States"]) if s["Type"] == "Task"]
    assert len(tasks) >= 10
    for name, task in tasks:
        assert isinstance(task.get("TimeoutSeconds"), int) and task["TimeoutSeconds"] > 0, name
        assert task.get("Retry"), name
        for retry in task["Retry"]:
            assert retry["BackoffRate"] > 1 and retry["MaxAttempts"] >= 1 and retry["IntervalSeconds"] >= 1, name
            assert "States.ALL" not in retry["ErrorEquals"], f"{name} retries non-transient errors"


def test_tasks_use_only_lambda_invoke_and_batch_submit_job_sync(asl):
    resources = {s["Resource"] for _, s in all_states(asl["States"]) if s["Type"] == "Task"}
    assert resources == {LAMBDA_INVOKE, BATCH_SYNC}


def test_spoke_tasks_run_in_the_spokes_account_from_the_map_item(asl):
    jobs = [s for _, s in all_states(asl["States"]) if s.get("Resource") == BATCH_SYNC]
    assert len(jobs) == 2  # the setup statistics job and the training job
    for job in jobs:
        assert job["Credentials"] == {"RoleArn.$": "$.spoke.launch_role_arn"}
        assert job["Parameters"]["JobQueue.$"] == "$.spoke.job_queue_arn"
        assert job["Parameters"]["JobDefinition.$"] == "$.spoke.job_definition"
        env = {e["Name"]: e for e in job["Parameters"]["ContainerOverrides"]["Environment"]}
        assert {"RUN_ID", "ROUND", "SPOKE_ID", "TRAINER_MODE"} <= set(env)
    assert sorted(j["Parameters"]["ContainerOverrides"]["Environment"][-1]["Value"] for j in jobs) == ["stats", "train"]


def test_batch_task_timeout_covers_the_job_timeout(asl, synthesized):
    jobs = [s for _, s in all_states(asl["States"]) if s.get("Resource") == BATCH_SYNC]
    assert all(j["TimeoutSeconds"] >= synthesized.config.batch.job_timeout_minutes * 60 for j in jobs)


def test_maps_tolerate_failed_spokes_with_a_catch_per_item(asl):
    maps = [s for _, s in all_states(asl["States"]) if s["Type"] == "Map"]
    assert len(maps) == 2
    for spoke_map in maps:
        inner = spoke_map["ItemProcessor"]["States"]
        assert spoke_map["ItemSelector"]["spoke.$"] == "$$.Map.Item.Value"
        for name, state in inner.items():
            if state["Type"] != "Task":
                continue
            (catch,) = state["Catch"]
            assert catch["ErrorEquals"] == ["States.ALL"], name
            handler = inner[catch["Next"]]  # the failure is recorded inside the item, not raised
            assert handler["Type"] == "Pass" and handler.get("End") is True
            assert handler["Parameters"]["status"] == "FAILED"
            assert handler["Parameters"]["spoke_id.$"] == "$.spoke.spoke_id"


def test_budget_gate_comes_before_any_training(asl):
    gates = {name for name, s in asl["States"].items() if handler_of(s) == GATE}
    assert gates
    seen, queue = set(), deque([asl["StartAt"]])
    while queue:  # walk the graph as if the budget gates were not there
        name = queue.popleft()
        if name in seen or name in gates:
            continue
        seen.add(name)
        assert not runs_batch(asl["States"][name]), f"{name} runs jobs without passing a budget gate"
        queue.extend(successors(asl["States"][name]))
    assert any(runs_batch(s) for s in asl["States"].values())


def test_training_maps_iterate_over_the_spokes_the_gate_kept(asl):
    for state in asl["States"].values():
        if runs_batch(state):
            assert state["ItemsPath"] == "$.gate.eligible_spokes"


def test_loop_runs_aggregate_then_back_to_the_budget_gate_or_finalize(asl):
    states = asl["States"]
    (aggregate,) = [s for s in states.values() if handler_of(s) == "functions.aggregate.handler"]
    outcome = states[aggregate["Next"]]
    assert outcome["Type"] == "Choice"
    targets = [states[c["Next"]] for c in outcome["Choices"]] + [states[outcome["Default"]]]
    assert any(handler_of(t) == GATE for t in targets)
    assert any(handler_of(t) == "functions.finalize.handler" for t in targets)


def test_budget_exhaustion_ends_cleanly_and_lost_quorum_fails(asl):
    states = asl["States"]
    finals = {s["Parameters"]["Payload"]["status"]: states[s["Next"]]["Type"]
              for s in states.values() if handler_of(s) == "functions.finalize.handler"}
    assert finals == {"COMPLETED": "Succeed", "BUDGET_EXHAUSTED": "Succeed", "QUORUM_LOST": "Fail", "FAILED": "Fail"}


def test_every_round_loop_step_records_failures_before_failing(asl):
    states = asl["States"]
    for name, state in states.items():
        if state["Type"] in ("Task", "Map") and handler_of(state) != "functions.finalize.handler":
            (catch,) = state["Catch"]
            recorder = states[catch["Next"]]
            assert catch["ErrorEquals"] == ["States.ALL"] and catch["ResultPath"] == "$.error", name
            assert handler_of(recorder) == "functions.finalize.handler"
            assert recorder["Parameters"]["Payload"] == {"run_id.$": "$.run_id", "status": "FAILED",
                                                         "detail.$": "$.error"}


def test_init_run_receives_the_execution_input_and_the_deployments_spokes(asl, synthesized):
    init = asl["States"][asl["StartAt"]]
    assert handler_of(init) == "functions.init_run.handler"
    payload = dict(init["Parameters"]["Payload"])
    spokes = payload.pop("spokes")
    assert payload == {"run_id.$": "$.run_id", "config.$": "$.config"}
    # written into the definition (no ".$": nothing in an execution's input can add or change a hospital)
    assert [s["spoke_id"] for s in spokes] == [s.id for s in synthesized.config.spokes]
    assert all(s["launch_role_arn"].startswith(f"arn:aws:iam::{s['account']}:role/") for s in spokes)
    assert init["ResultSelector"] == {"spokes.$": "$.Payload.spokes", "compute_class.$": "$.Payload.compute_class",
                                      "config_sha256.$": "$.Payload.config_sha256"}


def test_spoke_jobs_go_to_the_queue_and_job_definition_init_run_chose_for_the_run(asl):
    # InitRun answers each spoke with its run's queue and job definition (fedcore.runtime.init_run.launch_entries);
    # those entries, not the deployment's descriptors, reach every SubmitJob: InitRun -> gates -> maps -> job.
    states = asl["States"]
    init = states[asl["StartAt"]]
    gates = [s for s in states.values() if handler_of(s) == GATE]
    maps = [s for s in states.values() if runs_batch(s)]
    jobs = [s for _, s in all_states(states) if s.get("Resource") == BATCH_SYNC]

    assert init["ResultPath"] == "$.run" and init["ResultSelector"]["spokes.$"] == "$.Payload.spokes"
    assert len(gates) == 2 and all(g["Parameters"]["Payload"]["spokes.$"] == "$.run.spokes" for g in gates)
    assert all(g["ResultPath"] == "$.gate" and g["ResultSelector"]["eligible_spokes.$"] == "$.Payload.eligible_spokes"
               for g in gates)
    assert len(maps) == 2 and all(m["ItemsPath"] == "$.gate.eligible_spokes" for m in maps)
    assert all(m["ItemSelector"]["spoke.$"] == "$$.Map.Item.Value" for m in maps)
    assert len(jobs) == 2
    for job in jobs:
        assert job["Parameters"]["JobQueue.$"] == "$.spoke.job_queue_arn"
        assert job["Parameters"]["JobDefinition.$"] == "$.spoke.job_definition"
        assert "queues" not in json.dumps(job)  # never one class's entry of the deployment's descriptor


def test_step_payloads_carry_only_what_the_handlers_read(asl):
    # rounds and quorum are the run's config, which the steps read from the run's record
    payloads = {name: state["Parameters"]["Payload"] for name, state in all_states(asl["States"])
                if handler_of(state) in ("functions.budget_gate.handler", "functions.setup_merge.handler",
                                         "functions.aggregate.handler")}
    assert {name: set(payload) for name, payload in payloads.items()} == {
        "SetupBudgetGate": {"run_id.$", "round", "spokes.$"}, "BudgetGate": {"run_id.$", "round.$", "spokes.$"},
        "SetupMerge": {"run_id.$", "round.$", "reports.$"}, "Aggregate": {"run_id.$", "round.$", "reports.$"}}


def test_every_spoke_job_gets_the_recorded_config_hash(asl):
    maps = [state for _, state in all_states(asl["States"]) if state["Type"] == "Map"]
    jobs = [state for _, state in all_states(asl["States"]) if state.get("Resource") == BATCH_SYNC]
    assert maps and all(m["ItemSelector"]["config_sha256.$"] == "$.run.config_sha256" for m in maps)
    for job in jobs:
        env = {e["Name"]: e for e in job["Parameters"]["ContainerOverrides"]["Environment"]}
        assert env["CONFIG_SHA256"] == {"Name": "CONFIG_SHA256", "Value.$": "$.config_sha256"}


def test_the_job_overrides_the_hub_sends_are_settings_the_trainer_keeps_and_carry_no_privacy_setting(asl):
    # The trainer drops every variable outside its allow-list, so a name missing there would be lost.
    from containers.trainer.environment import SETTINGS

    jobs = [state for _, state in all_states(asl["States"]) if state.get("Resource") == BATCH_SYNC]
    names = {e["Name"] for job in jobs for e in job["Parameters"]["ContainerOverrides"]["Environment"]}

    assert jobs and names == {"RUN_ID", "ROUND", "SPOKE_ID", "TRAINER_MODE", "CONFIG_SHA256"}
    assert names <= set(SETTINGS)
