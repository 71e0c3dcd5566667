"""The hub and the spoke stacks agree on each hospital's two queues, and InitRun picks the run's from them."""

from __future__ import annotations

import json

import pytest

from cdk.config import COMPUTE_CLASSES
from cdk.naming import Names
from fedcore.runtime.init_run import launch_entries

pytestmark = pytest.mark.cdk


def _init_run_spokes(synthesized, q) -> list[dict]:
    """The deployment's descriptors, as the round loop's definition passes them to InitRun."""
    (machine,) = q.resources(synthesized.hub, "AWS::StepFunctions::StateMachine").values()
    definition = machine["Properties"]["DefinitionString"]
    text = "".join(part if isinstance(part, str) else "0" for part in definition["Fn::Join"][1]) \
        if isinstance(definition, dict) else definition  # references (function ARNs) do not matter here
    return json.loads(text)["States"]["InitRun"]["Parameters"]["Payload"]["spokes"]


def test_no_hub_function_carries_the_descriptors_and_every_environment_fits_lambdas_limit(synthesized, q):
    for function in q.resources(synthesized.hub, "AWS::Lambda::Function").values():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        assert "SPOKES" not in variables and "launch_role_arn" not in json.dumps(variables)
        # Lambda's limit is 4 KB of names and values; references resolve to ARNs of at most ~150 characters
        size = sum(len(k) + (len(v) if isinstance(v, str) else 150) for k, v in variables.items())
        assert size < 1500, size  # ~12 bytes per hospital in SPOKE_IDS: hundreds of hospitals fit


def test_the_hubs_descriptor_of_each_spoke_names_the_queues_and_job_definitions_of_its_stack(synthesized, q):
    descriptors = {d["spoke_id"]: d for d in _init_run_spokes(synthesized, q)}
    for spoke in synthesized.config.spokes:
        raw = synthesized.spokes[spoke.id]
        queues = {r["Properties"]["JobQueueName"] for r in q.resources(raw, "AWS::Batch::JobQueue").values()}
        definitions = {r["Properties"]["JobDefinitionName"]
                       for r in q.resources(raw, "AWS::Batch::JobDefinition").values()}
        offered = descriptors[spoke.id]["queues"]
        batch = f"arn:aws:batch:{spoke.region}:{spoke.account}"

        assert sorted(offered) == sorted(COMPUTE_CLASSES)
        assert {o["job_queue_arn"] for o in offered.values()} == {f"{batch}:job-queue/{name}" for name in queues}
        assert {o["job_definition"] for o in offered.values()} == definitions
        assert "job_queue_arn" not in descriptors[spoke.id]  # only a run's entry names one queue


@pytest.mark.parametrize("compute_class", COMPUTE_CLASSES)
def test_a_runs_entries_carry_its_class_queue_and_job_definition_in_every_hospital(synthesized, q, compute_class):
    names = Names(synthesized.config)

    entries = launch_entries(_init_run_spokes(synthesized, q), compute_class)

    assert [e["spoke_id"] for e in entries] == [s.id for s in synthesized.config.spokes]
    for entry, spoke in zip(entries, synthesized.config.spokes):
        assert entry["compute_class"] == compute_class
        assert entry["job_queue_arn"] == names.job_queue_arn(spoke, compute_class)
        assert entry["job_definition"] == names.job_definition(spoke, compute_class)
        assert entry["launch_role_arn"] == f"arn:aws:iam::{spoke.account}:role/{names.launch_role(spoke)}"
