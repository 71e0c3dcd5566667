"""What the image task needs from the stacks: API Gateway passes image and zip bodies as bytes, and a
hospital's trainer can read an image folder under its data prefix (and nothing else of its bucket)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.cdk


def test_the_api_passes_images_and_the_model_zip_as_binary(hub_template):
    hub_template.has_resource_properties("AWS::ApiGateway::RestApi", {
        "BinaryMediaTypes": ["image/png", "application/x-npz", "application/zip"]})


def _job_role_statements(config, data_key: str) -> list[dict]:
    """The trainer job role's statements for ``data_key``, synthesized in a probe stack."""
    import aws_cdk as cdk
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_s3 as s3
    from aws_cdk.assertions import Template

    from cdk.components.spoke_roles import trainer_job_role
    from cdk.naming import Names

    stack = cdk.Stack(cdk.App(), "Probe", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    bucket = s3.Bucket(stack, "Data", bucket_name="probe-data")
    trainer_job_role(stack, "JobRole", names=Names(config), spoke=config.spokes[0], data_bucket=bucket,
                     data_key=data_key, spoke_key=kms.Key(stack, "Key"))
    policies = Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy")
    return [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]


def _object_reads(statements: list[dict]) -> list[str]:
    import json

    return [json.dumps(r) for s in statements if s["Action"] == "s3:GetObject"
            for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]


@pytest.mark.parametrize(("data_key", "reads"), [("patients/table.csv", "/patients/table.csv"),
                                                 ("patients/images/", "/patients/images/*")])
def test_the_trainer_reads_its_data_object_or_every_object_under_its_data_prefix(synthesized, data_key, reads):
    statements = _job_role_statements(synthesized.config, data_key)

    objects = _object_reads(statements)

    own = [r for r in objects if "Data" in r]  # objects of its own data bucket (the rest are the hub's)
    assert len(own) == 2 and any(reads in r for r in own)  # its data and its own ledger, nothing wider
    decrypt = next(s for s in statements if s["Action"] == "kms:Decrypt")
    assert any(reads in str(arn) for arn in decrypt["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"])
