"""Spoke stacks: private data, private network, a CPU and a GPU Batch queue, and the two roles the hub relies on."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from aws_cdk.assertions import Capture, Match

from cdk.components import hub_keys
from cdk.config import COMPUTE_CLASSES
from cdk.naming import Names
from fedcore.runtime.spoke_policy import SpokePolicy, policy_parameter_name

pytestmark = pytest.mark.cdk

REPO_ROOT = Path(__file__).resolve().parents[2]

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


def _by_class(raw, q, names, spoke):
    """{compute class: (queue, compute environment, launch template, job definition)}, followed by reference
    from each class's named queue and job definition."""
    found = {}
    for compute_class in COMPUTE_CLASSES:
        queues = [r for r in q.resources(raw, "AWS::Batch::JobQueue").values()
                  if r["Properties"]["JobQueueName"] == names.job_queue(spoke, compute_class)]
        (queue,) = queues
        (order,) = queue["Properties"]["ComputeEnvironmentOrder"]
        environment = raw["Resources"][order["ComputeEnvironment"]["Fn::GetAtt"][0]]
        template_id = environment["Properties"]["ComputeResources"]["LaunchTemplate"]["LaunchTemplateId"]["Ref"]
        (definition,) = [r for r in q.resources(raw, "AWS::Batch::JobDefinition").values()
                         if r["Properties"]["JobDefinitionName"] == names.job_definition(spoke, compute_class)]
        found[compute_class] = (queue, environment, raw["Resources"][template_id], definition)
    return found


def test_each_spoke_has_a_cpu_and_a_gpu_queue_each_on_its_own_compute_environment(synthesized, q):
    names = Names(synthesized.config)
    for spoke in synthesized.config.spokes:
        raw = synthesized.spokes[spoke.id]
        classes = _by_class(raw, q, names, spoke)

        for kind in ("AWS::Batch::ComputeEnvironment", "AWS::Batch::JobQueue", "AWS::Batch::JobDefinition"):
            assert len(q.resources(raw, kind)) == 2, kind
        assert classes["cpu"][1] is not classes["gpu"][1]
        assert names.job_queue(spoke, "cpu") != names.job_queue(spoke, "gpu")


@pytest.mark.parametrize(("compute_class", "image_type"), [("gpu", "ECS_AL2023_NVIDIA"), ("cpu", "ECS_AL2023")])
def test_each_class_scales_to_zero_on_its_own_instances_with_imdsv2_and_encrypted_disks(
        synthesized, q, compute_class, image_type):
    settings = synthesized.config.batch.compute(compute_class)
    names = Names(synthesized.config)
    for spoke in synthesized.config.spokes:
        raw = synthesized.spokes[spoke.id]
        _, environment, launch_template, _ = _by_class(raw, q, names, spoke)[compute_class]
        resources = environment["Properties"]["ComputeResources"]
        data = launch_template["Properties"]["LaunchTemplateData"]
        (group_id,) = [g["Fn::GetAtt"][0] for g in resources["SecurityGroupIds"]]
        egress = raw["Resources"][group_id]["Properties"]["SecurityGroupEgress"]

        assert environment["Properties"]["Type"] == "managed" and resources["Type"] == "EC2"
        assert (resources["MinvCpus"], resources["MaxvCpus"]) == (0, settings.max_vcpus)
        assert resources["InstanceTypes"] == list(settings.instance_types)
        assert resources["Ec2Configuration"] == [{"ImageType": image_type}]
        assert data["MetadataOptions"] == {"HttpTokens": "required", "HttpPutResponseHopLimit": 1}
        assert [m["Ebs"]["Encrypted"] for m in data["BlockDeviceMappings"]] == [True]
        assert data["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"] == settings.volume_gib
        assert [(e["IpProtocol"], e["FromPort"], e["ToPort"]) for e in egress] == [("tcp", 443, 443)]


def test_gpus_are_required_by_the_gpu_job_definition_only(synthesized, q):
    config = synthesized.config
    names = Names(config)
    for spoke in config.spokes:
        classes = _by_class(synthesized.spokes[spoke.id], q, names, spoke)
        needs = {c: {r["Type"]: r["Value"] for r in d["Properties"]["ContainerProperties"]["ResourceRequirements"]}
                 for c, (_, _, _, d) in classes.items()}

        assert needs["gpu"] == {"GPU": str(config.batch.gpu.job_gpus), "VCPU": str(config.batch.gpu.job_vcpus),
                                "MEMORY": str(config.batch.gpu.job_memory_mib)}
        assert needs["cpu"] == {"VCPU": str(config.batch.cpu.job_vcpus), "MEMORY": str(config.batch.cpu.job_memory_mib)}


def test_both_job_definitions_run_the_same_trainer_with_the_same_role_logs_timeout_and_retries(synthesized, q):
    config = synthesized.config
    names = Names(config)
    shared = ("Image", "Environment", "JobRoleArn", "ExecutionRoleArn")
    for spoke in config.spokes:
        definitions = {c: d["Properties"] for c, (_, _, _, d) in
                       _by_class(synthesized.spokes[spoke.id], q, names, spoke).items()}
        cpu, gpu = definitions["cpu"], definitions["gpu"]

        assert {k: cpu["ContainerProperties"][k] for k in shared} == {k: gpu["ContainerProperties"][k] for k in shared}
        assert (cpu["ContainerProperties"]["LogConfiguration"]["Options"]["awslogs-group"]
                == gpu["ContainerProperties"]["LogConfiguration"]["Options"]["awslogs-group"])
        assert cpu["RetryStrategy"] == gpu["RetryStrategy"] and cpu["RetryStrategy"]["EvaluateOnExit"]
        for definition in (cpu, gpu):
            assert definition["Timeout"] == {"AttemptDurationSeconds": config.batch.job_timeout_minutes * 60}
        assert {"Name": "HUB_BUCKET", "Value": names.hub_bucket} in gpu["ContainerProperties"]["Environment"]
        assert {"Name": "HUB_KMS_KEY_ID", "Value": names.hub_key_alias_arn} in gpu["ContainerProperties"]["Environment"]
        assert {"Name": "DATA_KEY", "Value": config.batch.data_key} in gpu["ContainerProperties"]["Environment"]


def test_job_role_reaches_only_its_data_ledger_models_and_own_updates(synthesized, q):
    names = Names(synthesized.config)
    for spoke in synthesized.config.spokes:
        statements = [s for s in q.statements(synthesized.spokes[spoke.id]) if s["Effect"] == "Allow"]
        puts = [r for s in statements if "s3:PutObject" in q.as_list(s["Action"]) for r in q.as_list(s["Resource"])]
        gets = [r for s in statements if "s3:GetObject" in q.as_list(s["Action"]) for r in q.as_list(s["Resource"])]
        seals = [s for s in statements if s["Resource"] == names.hub_key_arn_pattern  # not S3's own key use
                 and q.as_list(s["Action"]) == ["kms:GenerateDataKey"] and "kms:ViaService" not in str(s)]
        ledger = f"/{names.local_ledger_key(spoke)}"

        assert [p for p in puts if isinstance(p, str)] == [f"{names.hub_bucket_arn}/updates/*/*/{spoke.id}"]
        assert [p["Fn::Join"][1][-1] for p in puts if not isinstance(p, str)] == [ledger]
        assert sorted(g for g in gets if isinstance(g, str)) == sorted(
            f"{names.hub_bucket_arn}/{key}" for key in hub_keys.TRAINER_READS)  # models/ keys only
        assert sorted(g["Fn::Join"][1][-1] for g in gets if not isinstance(g, str)) == sorted(
            [ledger, f"/{synthesized.config.batch.data_key}"])
        assert not [g for g in gets if isinstance(g, str) and "/updates/" in g]
        assert len(seals) == 1
        assert seals[0]["Condition"]["StringEquals"] == {"kms:EncryptionContext:spoke": spoke.id,
                                                         "kms:EncryptionContext:kind": "update"}
        assert seals[0]["Condition"]["ForAnyValue:StringEquals"] == {"kms:ResourceAliases": names.hub_key_alias}


def test_the_local_ledger_key_granted_is_the_one_the_trainer_writes():
    from fedcore.aws.s3_ledger import S3LedgerStore
    from cdk.naming import LOCAL_LEDGER_KEY

    store = S3LedgerStore("any-bucket", client=object())

    assert store._key("hosp-a") == LOCAL_LEDGER_KEY.format(spoke_id="hosp-a")


def test_each_spoke_stack_holds_the_hospitals_own_policy_from_its_config(spoke_templates, synthesized):
    names = Names(synthesized.config)
    for spoke in synthesized.config.spokes:
        value = Capture()
        spoke_templates[spoke.id].has_resource_properties("AWS::SSM::Parameter", {
            "Name": policy_parameter_name(spoke.id), "Type": "String", "Value": value})

        assert names.spoke_policy_parameter(spoke) == policy_parameter_name(spoke.id)
        assert SpokePolicy.from_json(value.as_string()) == SpokePolicy(
            epsilon_cap=spoke.epsilon_limit, allow_no_dp=False, max_delta=synthesized.config.training.delta)
    assert {s.id: s.epsilon_limit for s in synthesized.config.spokes}["hosp-b"] == 6.0  # its own, not the default


def test_a_hospital_that_opts_out_of_dp_gets_that_in_its_own_policy(synthesized):
    # Arrange: hosp-a opts out in its config entry; the app builds its stack alone.
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from cdk.config import read_cdk_json_context
    from cdk.stacks.spoke_stack import SpokeStack

    config = synthesized.config
    spoke = dataclasses.replace(config.spokes[0], allow_no_dp=True, epsilon_limit=2.5, max_delta=1e-6)
    app = cdk.App(context=read_cdk_json_context(REPO_ROOT / "cdk.json"))

    # Act
    template = Template.from_stack(SpokeStack(app, "OptOut", config=config, spoke=spoke))

    # Assert
    value = Capture()
    template.has_resource_properties("AWS::SSM::Parameter", {"Name": policy_parameter_name(spoke.id),
                                                             "Value": value})
    assert SpokePolicy.from_json(value.as_string()) == SpokePolicy(epsilon_cap=2.5, allow_no_dp=True, max_delta=1e-6)


def test_only_the_job_role_reads_the_policy_and_nothing_in_either_stack_may_write_it(synthesized, q):
    names = Names(synthesized.config)
    hub_ssm = [s for s in q.statements(synthesized.hub) if any("ssm:" in a for a in q.as_list(s["Action"]))]
    assert hub_ssm == []
    for spoke in synthesized.config.spokes:
        raw = synthesized.spokes[spoke.id]
        roles = q.resources(raw, "AWS::IAM::Role")
        (job_role_id,) = [lid for lid, r in roles.items() if r["Properties"].get("RoleName") == names.job_role(spoke)]
        (launch_role_id,) = [lid for lid, r in roles.items()
                             if r["Properties"].get("RoleName") == names.launch_role(spoke)]

        def statements_of(role_id: str) -> list[dict]:
            return [s for p in q.resources(raw, "AWS::IAM::ManagedPolicy").values()
                    if {"Ref": role_id} in p["Properties"]["Roles"]
                    for s in p["Properties"]["PolicyDocument"]["Statement"]]

        ssm = [s for s in q.statements(raw) if any(a.startswith("ssm:") or a == "*" for a in q.as_list(s["Action"]))]
        parameter_arn = names.spoke_policy_parameter_arn(spoke)

        assert ssm == [{"Action": "ssm:GetParameter", "Effect": "Allow", "Resource": parameter_arn}]
        assert ssm[0] in statements_of(job_role_id)
        assert parameter_arn == (f"arn:aws:ssm:{spoke.region}:{spoke.account}:parameter"
                                 f"{policy_parameter_name(spoke.id)}")
        launch_actions = {a for s in statements_of(launch_role_id) for a in q.as_list(s["Action"])}
        assert launch_actions == {"batch:SubmitJob", "batch:DescribeJobs", "batch:TerminateJob"}


def test_the_job_definition_carries_no_privacy_setting_and_only_allow_listed_names(spoke_templates, synthesized, q):
    from containers.trainer.environment import PASSED_BY_WRAPPER

    for spoke in synthesized.config.spokes:
        definitions = q.resources(synthesized.spokes[spoke.id], "AWS::Batch::JobDefinition").values()
        assert len(definitions) == 2  # one per compute class
        for definition in definitions:
            names = {e["Name"] for e in definition["Properties"]["ContainerProperties"]["Environment"]}

            assert names == {"HUB_BUCKET", "HUB_KMS_KEY_ID", "DATA_BUCKET", "DATA_KEY", "AWS_DEFAULT_REGION"}
            assert names <= set(PASSED_BY_WRAPPER)


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
        statements = [s for p in q.resources(raw, "AWS::IAM::ManagedPolicy").values()
                      if {"Ref": role_id} in p["Properties"]["Roles"] for s in p["Properties"]["PolicyDocument"]["Statement"]]
        actions = {a for s in statements for a in q.as_list(s["Action"])}

        assert actions == {"batch:SubmitJob", "batch:DescribeJobs", "batch:TerminateJob"}


def test_launch_role_submits_only_this_hospitals_two_job_definitions_to_its_two_queues(spoke_templates, synthesized, q):
    names = Names(synthesized.config)
    for spoke in synthesized.config.spokes:
        # Arrange: the one SubmitJob grant in the stack (the launch role's), and the hospital's queues.
        template, raw = spoke_templates[spoke.id], synthesized.spokes[spoke.id]
        resources = Capture()
        template.has_resource_properties("AWS::IAM::ManagedPolicy", {"PolicyDocument": {"Statement": Match.array_with([
            Match.object_like({"Action": "batch:SubmitJob", "Effect": "Allow", "Resource": resources})])}})
        queue_ids = q.resources(raw, "AWS::Batch::JobQueue")
        submits = [s for s in q.statements(raw) if "batch:SubmitJob" in q.as_list(s["Action"])]
        granted = resources.as_array()
        patterns = [r for r in granted if isinstance(r, str)]
        batch = f"arn:aws:batch:{spoke.region}:{spoke.account}"
        own = [names.job_definition(spoke, c) for c in COMPUTE_CLASSES]
        others = [f"{batch}:job-definition/{own[0]}-debug:1", f"{batch}:job-definition/shell:1",
                  f"{batch}:job-definition/{names.job_definition(synthesized.config.spokes[-1], 'gpu')}x:1",
                  f"{batch}:job-definition/{names.prefix}-{spoke.id}-trainer:1"]

        # Act / Assert
        assert len(submits) == 1 and len(queue_ids) == 2
        assert sorted(r["Fn::GetAtt"][0] for r in granted if not isinstance(r, str)) == sorted(queue_ids)
        assert all(r["Fn::GetAtt"][1] == "JobQueueArn" for r in granted if not isinstance(r, str))
        assert not any("job-queue" in p for p in patterns)  # no other queue, by name or pattern
        for definition in own:
            assert any(q.iam_matches(p, f"{batch}:job-definition/{definition}:7") for p in patterns)
            assert any(q.iam_matches(p, f"{batch}:job-definition/{definition}") for p in patterns)
        for other in others:
            assert not any(q.iam_matches(p, other) for p in patterns), other
