"""Spoke stacks: private data, private network, GPU Batch, and the two roles the hub relies on."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from cdk.naming import Names

pytestmark = pytest.mark.cdk

ENDPOINTS = ("ecr.api", "ecr.dkr", "logs", "sts", "kms", "ecs", "ecs-agent", "ecs-telemetry")


def test_one_spoke_stack_per_hospital(synthesized):
    assert sorted(synthesized.spokes) == sorted(spoke.id for spoke in synthesized.config.spokes)


def test_data_bucket_is_under_the_spokes_own_key_and_denies_the_hub(spoke_templates, synthesized, q):
    for spoke in synthesized.config.spokes:
        _assert_private_data(spoke_templates[spoke.id], synthesized.spokes[spoke.id], spoke, synthesized, q)


def _assert_private_data(template, raw, spoke, synthesized, q):
    keys = q.resources(raw, "AWS::KMS::Key")
    (key_id,) = keys
    template.has_resource_properties("AWS::S3::Bucket", {
        "BucketName": Names(synthesized.config).data_bucket(spoke),
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {
            "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]}}}]},
        "VersioningConfiguration": {"Status": "Enabled"},
    })
    hub_root = {"AWS": f"arn:aws:iam::{synthesized.config.hub_account}:root"}
    template.has_resource_properties("AWS::S3::BucketPolicy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Effect": "Deny", "Principal": hub_root, "Action": "s3:*"})])}})
    key_statements = keys[key_id]["Properties"]["KeyPolicy"]["Statement"]
    assert any(s["Effect"] == "Deny" and s["Principal"] == hub_root for s in key_statements)
    assert keys[key_id]["Properties"]["EnableKeyRotation"] is True


def test_spoke_network_has_endpoints_and_no_internet_egress(spoke_templates, synthesized):
    for spoke in synthesized.config.spokes:
        template = spoke_templates[spoke.id]
        for absent in ("AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::EgressOnlyInternetGateway"):
            template.resource_count_is(absent, 0)
        template.has_resource_properties("AWS::EC2::VPCEndpoint", {"VpcEndpointType": "Gateway"})
        for service in ENDPOINTS:
            template.has_resource_properties("AWS::EC2::VPCEndpoint", {
                "VpcEndpointType": "Interface", "ServiceName": f"com.amazonaws.{spoke.region}.{service}"})


def test_gpu_compute_environment_scales_to_zero(spoke_templates, synthesized):
    batch = synthesized.config.batch
    for template in spoke_templates.values():
        template.has_resource_properties("AWS::Batch::ComputeEnvironment", {
            "Type": "managed",
            "ComputeResources": Match.object_like({
                "MinvCpus": 0, "MaxvCpus": batch.max_vcpus, "InstanceTypes": list(batch.instance_types),
                "Ec2Configuration": [{"ImageType": "ECS_AL2023_NVIDIA"}],
            }),
        })
        template.has_resource_properties("AWS::EC2::LaunchTemplate", {"LaunchTemplateData": Match.object_like({
            "MetadataOptions": Match.object_like({"HttpTokens": "required"}),
            "BlockDeviceMappings": [Match.object_like({"Ebs": Match.object_like({"Encrypted": True})})],
        })})


def test_job_definition_runs_the_trainer_on_gpus_with_a_timeout(spoke_templates, synthesized):
    config = synthesized.config
    names = Names(config)
    for spoke in config.spokes:
        spoke_templates[spoke.id].has_resource_properties("AWS::Batch::JobDefinition", {
            "JobDefinitionName": names.job_definition(spoke),
            "Timeout": {"AttemptDurationSeconds": config.batch.job_timeout_minutes * 60},
            "ContainerProperties": Match.object_like({
                "ResourceRequirements": Match.array_with([{"Type": "GPU", "Value": str(config.batch.job_gpus)}]),
                "Environment": Match.array_with([
                    {"Name": "HUB_BUCKET", "Value": names.hub_bucket},
                    {"Name": "HUB_KMS_KEY_ID", "Value": names.hub_key_alias_arn},
                    {"Name": "DATA_KEY", "Value": config.batch.data_key},
                ]),
            }),
        })
        spoke_templates[spoke.id].has_resource_properties("AWS::Batch::JobQueue", {
            "JobQueueName": names.job_queue(spoke)})


def test_job_role_reaches_only_its_data_models_and_own_updates(synthesized, q):
    names = Names(synthesized.config)
    for spoke in synthesized.config.spokes:
        statements = [s for s in q.statements(synthesized.spokes[spoke.id]) if s["Effect"] == "Allow"]
        puts = [r for s in statements if "s3:PutObject" in q.as_list(s["Action"]) for r in q.as_list(s["Resource"])]
        gets = [r for s in statements if "s3:GetObject" in q.as_list(s["Action"]) for r in q.as_list(s["Resource"])]
        seals = [s for s in statements if s["Resource"] == names.hub_key_arn_pattern
                 and q.as_list(s["Action"]) == ["kms:GenerateDataKey"]]

        assert puts == [f"{names.hub_bucket_arn}/updates/*/*/{spoke.id}*"]
        assert f"{names.hub_bucket_arn}/models/*" in gets
        assert not [g for g in gets if isinstance(g, str) and "/updates/" in g]
        assert len(seals) == 1
        assert seals[0]["Condition"]["StringEquals"] == {"kms:EncryptionContext:spoke": spoke.id}
        assert seals[0]["Condition"]["ForAnyValue:StringEquals"] == {"kms:ResourceAliases": names.hub_key_alias}


def test_launch_role_is_trusted_only_by_the_hub_state_machine_role(spoke_templates, synthesized):
    names = Names(synthesized.config)
    for spoke in synthesized.config.spokes:
        spoke_templates[spoke.id].has_resource_properties("AWS::IAM::Role", {
            "RoleName": names.launch_role(spoke),
            "AssumeRolePolicyDocument": {"Statement": [{
                "Action": "sts:AssumeRole",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{synthesized.config.hub_account}:root"},
                "Condition": {"ArnEquals": {"aws:PrincipalArn": names.state_machine_role_arn},
                              "StringEquals": {"sts:ExternalId": names.state_machine_arn}},
            }], "Version": "2012-10-17"},
        })


def test_launch_role_may_only_submit_describe_and_terminate_jobs(synthesized, q):
    names = Names(synthesized.config)
    for spoke in synthesized.config.spokes:
        raw = synthesized.spokes[spoke.id]
        roles = q.resources(raw, "AWS::IAM::Role")
        (role_id,) = [lid for lid, r in roles.items() if r["Properties"].get("RoleName") == names.launch_role(spoke)]
        (queue_id,) = q.resources(raw, "AWS::Batch::JobQueue")
        statements = [s for p in q.resources(raw, "AWS::IAM::ManagedPolicy").values()
                      if {"Ref": role_id} in p["Properties"]["Roles"] for s in p["Properties"]["PolicyDocument"]["Statement"]]
        actions = {a for s in statements for a in q.as_list(s["Action"])}
        (submit,) = [s for s in statements if s["Action"] == "batch:SubmitJob"]

        assert actions == {"batch:SubmitJob", "batch:DescribeJobs", "batch:TerminateJob"}
        assert {"Fn::GetAtt": [queue_id, "JobQueueArn"]} in submit["Resource"]
        assert all(r == {"Fn::GetAtt": [queue_id, "JobQueueArn"]} or ":job-definition/" in r
                   for r in submit["Resource"])
