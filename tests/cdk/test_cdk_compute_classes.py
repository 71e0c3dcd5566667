"""The hub and the spoke stacks agree on each hospital's two queues, and InitRun picks the run's from them."""

from __future__ import annotations

import json

import pytest

from cdk.config import COMPUTE_CLASSES
from cdk.naming import Names
from fedcore.runtime.init_run import launch_entries

pytestmark = pytest.mark.cdk


def _spokes_variable(synthesized, q) -> list[dict]:
    """SPOKES of the InitRun function, as the hub stack sets it."""
    (variables,) = [f["Properties"]["Environment"]["Variables"]
                    for f in q.resources(synthesized.hub, "AWS::Lambda::Function").values()
                    if f["Properties"].get("FunctionName") == Names(synthesized.config).function("init_run")]
    return json.loads(variables["SPOKES"])


def test_the_hubs_descriptor_of_each_spoke_names_the_queues_and_job_definitions_of_its_stack(synthesized, q):
    descriptors = {d["spoke_id"]: d for d in _spokes_variable(synthesized, q)}
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

    entries = launch_entries(_spokes_variable(synthesized, q), compute_class)

    assert [e["spoke_id"] for e in entries] == [s.id for s in synthesized.config.spokes]
    for entry, spoke in zip(entries, synthesized.config.spokes):
        assert entry["compute_class"] == compute_class
        assert entry["job_queue_arn"] == names.job_queue_arn(spoke, compute_class)
        assert entry["job_definition"] == names.job_definition(spoke, compute_class)
        assert entry["launch_role_arn"] == f"arn:aws:iam::{spoke.account}:role/{names.launch_role(spoke)}"
