"""Retries and repeats change nothing; the exported audit chain shows any edit or deletion.

One run in this module has its Aggregate step fail once after the handler ran (the response was
lost, Lambda.ServiceException): the state machine's Retry must run it again, and that second
attempt, and any later manual re-invocation, must add no model, charge or audit entry.
"""

from __future__ import annotations

import json

import pytest

from fedcore.cli.main import main
from fedcore.runtime import layout
from sandbox.lambda_runtime import Fault
from sandbox_helpers import audit, charged_rounds, object_versions, run, tiny_config, write_text

pytestmark = pytest.mark.slow

RUN = "retry-1"


@pytest.fixture(scope="module")
def retried_run(module_sandbox):
    attempts = []

    def lose_first_aggregate_response(function: str, event: dict):
        if function == "aggregate":
            attempts.append(event["round"])
            return Fault.SERVICE_ERROR_AFTER if len(attempts) == 1 else None
        return None
    module_sandbox.add_invoke_hook(lose_first_aggregate_response)
    try:
        result, services = run(module_sandbox, RUN, tiny_config())
    finally:
        module_sandbox.clear_hooks()
    return result, services, attempts


def test_a_lambda_service_error_is_retried_by_the_state_machine(module_sandbox, retried_run):
    # Arrange
    result, services, attempts = retried_run
    events = module_sandbox.history(result.arn)

    # Act
    aggregate = _task_events(events, "Aggregate")

    # Assert
    assert result.status == "SUCCEEDED" and attempts == [1, 1]
    assert [e["type"] for e in aggregate] == ["TaskScheduled", "TaskStarted", "TaskFailed",
                                              "TaskScheduled", "TaskStarted", "TaskSucceeded"]
    assert aggregate[2]["taskFailedEventDetails"]["error"] == "Lambda.ServiceException"
    backoff = (aggregate[3]["timestamp"] - aggregate[2]["timestamp"]).total_seconds()
    assert backoff <= 2.5  # IntervalSeconds 2 with full jitter


def test_the_retried_aggregation_wrote_one_model_one_charge_and_one_audit_entry(module_sandbox, retried_run):
    # Arrange
    _, services, _ = retried_run

    # Act
    aggregated = audit(services, "round.aggregated", RUN)

    # Assert
    assert object_versions(module_sandbox, layout.model_key(RUN, 1)) == 1
    assert len(aggregated) == 1
    for spoke in module_sandbox.spoke_ids:
        assert charged_rounds(services.ledger, spoke, RUN) == [0, 1]


def test_invoking_the_aggregation_lambda_twice_more_changes_nothing(module_sandbox, retried_run):
    # Arrange
    _, services, _ = retried_run
    before = len(list(services.audit.entries()))
    charges = {s: len(services.ledger.history(s)) for s in module_sandbox.spoke_ids}
    event = {"run_id": RUN, "round": 1, "quorum": 2,
             "reports": [{"spoke_id": s, "status": "SUCCEEDED"} for s in module_sandbox.spoke_ids]}
    client = module_sandbox.hub_client("lambda")

    # Act
    answers = [json.load(client.invoke(FunctionName=module_sandbox.hub.functions["aggregate"].arn,
                                       Payload=json.dumps(event))["Payload"]) for _ in range(2)]

    # Assert
    assert answers[0] == answers[1] and answers[0]["quorum_met"] is True
    assert object_versions(module_sandbox, layout.model_key(RUN, 1)) == 1
    assert len(list(services.audit.entries())) == before
    assert {s: len(services.ledger.history(s)) for s in module_sandbox.spoke_ids} == charges


def test_audit_verify_accepts_the_exported_chain_and_names_an_edited_or_deleted_entry(
        module_sandbox, retried_run, tmp_path, capsys):
    # Arrange
    _, services, _ = retried_run
    exported = tmp_path / "audit.jsonl"
    count = services.audit.export_jsonl(exported)
    lines = exported.read_text().splitlines(keepends=True)
    entry = json.loads(lines[3])
    entry["details"]["eligible"] = ["hosp-a"]  # hide two hospitals from a budget-gate record
    edited = write_text(tmp_path / "edited.jsonl", [*lines[:3], json.dumps(entry) + "\n", *lines[4:]])
    deleted = write_text(tmp_path / "deleted.jsonl", [*lines[:2], *lines[3:]])  # entry 3 removed

    # Act
    codes = [main(["audit", "verify", str(path)]) for path in (exported, edited, deleted)]
    out = capsys.readouterr()

    # Assert
    assert codes == [0, 1, 1]
    assert f"ok {count} entries" in out.out
    assert "FAILED at entry 4: its content does not match its hash (edited)" in out.err
    assert "FAILED at entry 3: expected entry 3, found 4" in out.err


def test_audit_verify_detects_an_entry_edited_inside_the_table(module_sandbox, retried_run, tmp_path, capsys):
    # Arrange: someone with table access rewrites an entry in place
    _, services, _ = retried_run
    ddb = module_sandbox.hub_client("dynamodb")
    key = {"pk": {"S": "entries"}, "sk": {"S": f"{2:012d}"}}
    item = ddb.get_item(TableName=module_sandbox.hub.audit_table, Key=key)["Item"]
    entry = json.loads(item["entry"]["S"])
    entry["actor"] = "someone-else"
    ddb.put_item(TableName=module_sandbox.hub.audit_table, Item={**item, "entry": {"S": json.dumps(entry)}})
    exported = tmp_path / "after-edit.jsonl"
    services.audit.export_jsonl(exported)

    # Act
    code = main(["audit", "verify", str(exported)])

    # Assert
    assert code == 1
    assert "FAILED at entry 2" in capsys.readouterr().err


def _task_events(events: list[dict], state: str) -> list[dict]:
    """The Task events between entering and leaving ``state``."""
    inside, out = False, []
    for event in events:
        details = event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails") or {}
        if event["type"] == "TaskStateEntered" and details.get("name") == state:
            inside = True
        elif event["type"] == "TaskStateExited" and details.get("name") == state:
            return out
        elif inside and event["type"].startswith("Task"):
            out.append(event)
    return out
