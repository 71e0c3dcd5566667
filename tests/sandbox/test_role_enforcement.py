"""The sandbox runs every function and job as its own role with moto's IAM access control on.

These checks need no run: they use the provisioned roles' credentials the way the Lambda and Batch
runtimes do, and show that a call the synthesized role does not allow is refused by the emulator.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError


def _as_role(sandbox, role_arn: str, service: str):
    credentials = sandbox.emulator.credentials(role_arn)
    return boto3.client(service, region_name=sandbox.hub.region, endpoint_url=sandbox.emulator.endpoint_url,
                        **credentials.client_kwargs())


def _refused(call) -> bool:
    try:
        call()
    except ClientError as exc:  # moto's DynamoDB answers its AccessDenied as an XML body botocore reads as "403"
        error = exc.response["Error"]
        return error["Code"] in ("AccessDenied", "AccessDeniedException") or "<Code>AccessDenied<" in error["Message"]
    return False


def test_a_function_may_write_only_the_keys_its_role_allows(module_sandbox):
    # Arrange
    hub = module_sandbox.hub
    init_run = _as_role(module_sandbox, hub.functions["init_run"].role_arn, "s3")

    # Act / Assert: InitRun publishes the run's config, and nothing under updates/ or runs/
    init_run.put_object(Bucket=hub.bucket, Key="models/role-check/config.json", Body=b"{}")
    assert _refused(lambda: init_run.put_object(Bucket=hub.bucket, Key="updates/role-check/0001/hosp-a", Body=b"x"))
    assert _refused(lambda: init_run.put_object(Bucket=hub.bucket, Key="runs/role-check/aggregator/0001.sealed",
                                                Body=b"x"))


def test_a_function_without_a_table_action_is_refused_it(module_sandbox):
    # Arrange: no hub function may delete or scan items (moto checks DynamoDB by action alone)
    hub = module_sandbox.hub
    ddb = _as_role(module_sandbox, hub.functions["finalize"].role_arn, "dynamodb")

    # Act / Assert
    assert _refused(lambda: ddb.scan(TableName=hub.ledger_table))
    assert _refused(lambda: ddb.delete_item(TableName=hub.audit_table, Key={"pk": {"S": "x"}, "sk": {"S": "y"}}))
    ddb.get_item(TableName=hub.ledger_table, Key={"pk": {"S": "x"}, "sk": {"S": "y"}})  # allowed: it reads it


@pytest.mark.parametrize("reader", ["hosp-a"])
def test_a_trainer_cannot_read_another_hospitals_data_or_updates(module_sandbox, reader):
    # Arrange
    spokes = module_sandbox.deployment.spokes
    other = next(s for s in spokes.values() if s.spoke_id != reader)
    s3 = _as_role(module_sandbox, spokes[reader].job_role_arn, "s3")

    # Act / Assert
    assert _refused(lambda: s3.get_object(Bucket=other.data_bucket, Key=other.data_key))
    assert _refused(lambda: s3.get_object(Bucket=module_sandbox.hub.bucket, Key=f"updates/r/0001/{other.spoke_id}"))
    assert _refused(lambda: s3.put_object(Bucket=module_sandbox.hub.bucket, Key=f"updates/r/0001/{other.spoke_id}",
                                          Body=b"x"))
    s3.get_object(Bucket=spokes[reader].data_bucket, Key=spokes[reader].data_key)  # its own table: allowed


def test_unsigned_requests_are_refused(module_sandbox):
    anonymous = boto3.client("s3", region_name=module_sandbox.hub.region,
                             endpoint_url=module_sandbox.emulator.endpoint_url,
                             aws_access_key_id="sandbox", aws_secret_access_key="sandbox")
    with pytest.raises(ClientError):
        anonymous.list_objects_v2(Bucket=module_sandbox.hub.bucket)
