"""A run's jobs go to the queue of its compute class in every hospital's account (the state machine the CDK
app synthesizes, run by the sandbox); the same trainer process runs them either way."""

from __future__ import annotations

import pytest

from sandbox_helpers import run, tiny_config

pytestmark = pytest.mark.slow


def _jobs_by_queue(sandbox, run_id: str) -> dict[str, set[str]]:
    """Each hospital's queues as its own account's Batch lists them: class -> names of ``run_id``'s jobs."""
    found: dict[str, set[str]] = {}
    for spoke_id, spoke in sandbox.deployment.spokes.items():
        batch = sandbox.spoke_client(spoke_id, "batch")
        for compute_class, queue in spoke.job_queues.items():
            ids = [j["jobId"] for j in batch.list_jobs(jobQueue=queue, jobStatus="SUCCEEDED")["jobSummaryList"]]
            described = batch.describe_jobs(jobs=ids)["jobs"] if ids else []
            found.setdefault(compute_class, set()).update(
                job["jobName"] for job in described
                if {"name": "RUN_ID", "value": run_id} in job["container"]["environment"])
    return found


@pytest.mark.parametrize(("task", "compute_class", "other"), [({}, "cpu", "gpu"), ({"compute": "gpu"}, "gpu", "cpu")])
def test_a_runs_jobs_are_submitted_to_its_compute_class_queue_in_every_hospital(sandbox, task, compute_class, other):
    # Arrange: a synthesis run is a cpu run unless its task asks for the gpu
    run_id = f"queue-{compute_class}"
    config = tiny_config(**({"task": task} if task else {}))

    # Act
    result, _ = run(sandbox, run_id, config)

    # Assert
    jobs = _jobs_by_queue(sandbox, run_id)
    assert result.status == "SUCCEEDED"
    assert jobs[compute_class] == {f"{mode}-r{round_}-{spoke}" for mode, round_ in (("stats", 0), ("train", 1))
                                   for spoke in sandbox.spoke_ids}
    assert jobs[other] == set()
    ran = [r for r in sandbox.batch.runs if r.run_id == run_id]
    assert {r.job_queue_arn for r in ran} == {s.job_queues[compute_class] for s in sandbox.deployment.spokes.values()}
