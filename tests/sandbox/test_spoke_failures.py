"""A hospital's job fails (crash, corrupt table, wrong schema): the round goes on with the quorum,
the failure is audited, and only released updates are charged."""

from __future__ import annotations

import sys

import pytest

from sandbox_helpers import audit, charged_rounds, round_metrics, run, tiny_config, update_key

pytestmark = pytest.mark.slow


def crash_training_at(spoke: str):
    def hook(job):
        if job.spoke_id == spoke and job.environment["TRAINER_MODE"] == "train":
            job.argv = [sys.executable, "-c", "raise SystemExit('CUDA error: the device was lost')"]
    return hook


def test_a_crashed_job_leaves_the_round_to_the_quorum_and_is_audited_and_not_charged(sandbox):
    # Arrange
    sandbox.add_job_hook(crash_training_at("hosp-c"))

    # Act
    result, services = run(sandbox, "crash-1", tiny_config())

    # Assert
    assert result.status == "SUCCEEDED"
    assert services.runs.get_run("crash-1")["status"] == "COMPLETED"
    metrics = round_metrics(services, "crash-1", 1)
    assert metrics["spokes"] == ["hosp-a", "hosp-b"] and metrics["failed"] == ["hosp-c"]
    (failure,) = audit(services, "spoke.failed", "crash-1")
    assert failure.details["spoke"] == "hosp-c" and failure.details["round"] == 1
    assert "the device was lost" in failure.details["error"]
    assert charged_rounds(services.ledger, "hosp-c", "crash-1") == [0]  # setup only: nothing released
    assert charged_rounds(services.ledger, "hosp-a", "crash-1") == [0, 1]
    assert charged_rounds(services.ledger, "hosp-b", "crash-1") == [0, 1]
    assert not services.blobs.exists(update_key("crash-1", 1, "hosp-c"))


def test_a_table_of_the_wrong_schema_fails_the_setup_job_with_a_clear_message(sandbox):
    # Arrange: hospital b's table has lost two columns
    spoke = sandbox.deployment.spokes["hosp-b"]
    s3 = sandbox.spoke_client("hosp-b", "s3")
    good = s3.get_object(Bucket=spoke.data_bucket, Key=spoke.data_key)["Body"].read()
    header, *rows = good.decode().splitlines()
    keep = [i for i, name in enumerate(header.split(",")) if name not in ("age", "wtkg")]
    narrowed = "\n".join(",".join(line.split(",")[i] for i in keep) for line in [header, *rows]) + "\n"
    sandbox.upload_table("hosp-b", narrowed.encode())

    # Act
    try:
        result, services = run(sandbox, "schema-1", tiny_config())
    finally:
        sandbox.upload_table("hosp-b", good)

    # Assert: b is out from the setup round on; a and c trained
    assert result.status == "SUCCEEDED"
    (failure,) = audit(services, "spoke.failed", "schema-1")
    assert failure.details["spoke"] == "hosp-b" and failure.details["round"] == 0
    assert "does not match the run's schema" in failure.details["error"]
    assert round_metrics(services, "schema-1", 1)["spokes"] == ["hosp-a", "hosp-c"]
    assert charged_rounds(services.ledger, "hosp-b", "schema-1") == []
    jobs = sandbox.spoke_client("hosp-b", "batch").list_jobs(jobQueue=spoke.job_queues["cpu"], jobStatus="FAILED")
    (job,) = [j for j in jobs["jobSummaryList"] if j["jobName"] == "stats-r0-hosp-b"][-1:]
    assert "does not match the run's schema" in job["statusReason"]


def test_a_corrupt_table_mid_run_marks_the_spoke_failed_for_that_round(sandbox):
    # Arrange: after the setup round, hospital a's file is overwritten with bytes that are no CSV
    spoke = sandbox.deployment.spokes["hosp-a"]
    s3 = sandbox.spoke_client("hosp-a", "s3")
    good = s3.get_object(Bucket=spoke.data_bucket, Key=spoke.data_key)["Body"].read()

    def corrupt_before_training(function: str, event: dict):
        if function == "budget_gate" and event["round"] == 1:
            sandbox.upload_table("hosp-a", b"\x00\x9f\x92\x96 not a table \xff\xfe\n\x00\x00")
    sandbox.add_invoke_hook(corrupt_before_training)

    # Act
    try:
        result, services = run(sandbox, "corrupt-1", tiny_config())
    finally:
        sandbox.upload_table("hosp-a", good)

    # Assert
    assert result.status == "SUCCEEDED"
    metrics = round_metrics(services, "corrupt-1", 1)
    assert metrics["failed"] == ["hosp-a"] and metrics["spokes"] == ["hosp-b", "hosp-c"]
    (failure,) = audit(services, "spoke.failed", "corrupt-1")
    assert failure.details["round"] == 1
    assert "cannot take part in round 1" in failure.details["error"]
    assert charged_rounds(services.ledger, "hosp-a", "corrupt-1") == [0]
