"""Hub Lambda functions, network and state machine settings."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

pytestmark = pytest.mark.cdk

HANDLERS = ("init_run", "setup_merge", "budget_gate", "aggregate", "finalize", "api")


def _functions(synthesized, q):
    """The container-image functions (CDK's own custom-resource provider is a zip function)."""
    return {lid: f for lid, f in q.resources(synthesized.hub, "AWS::Lambda::Function").items()
            if f["Properties"].get("PackageType") == "Image"}


def test_every_handler_is_a_container_image_function(synthesized, q):
    commands = sorted(f["Properties"]["ImageConfig"]["Command"][0] for f in _functions(synthesized, q).values())
    assert commands == sorted(f"functions.{module}.handler" for module in HANDLERS)


def test_functions_use_the_lambda_dockerfile_as_an_unbuilt_asset(synthesized):
    # Assets are recorded for publishing, not built: the assembly names the Dockerfile.
    assets = json.loads((synthesized.outdir / f"{synthesized.config.prefix}-hub.assets.json").read_text())
    sources = [image["source"] for image in assets["dockerImages"].values()]
    assert sources and all(source["dockerFile"] == "containers/lambda/Dockerfile" for source in sources)


@pytest.mark.parametrize("module", HANDLERS)
def test_function_is_traced_reserved_in_vpc_with_dead_letter_queue(hub_template, synthesized, module):
    concurrency = (synthesized.config.api.reserved_concurrency if module == "api"
                   else synthesized.config.operations.function_concurrency)
    hub_template.has_resource_properties("AWS::Lambda::Function", {
        "ImageConfig": {"Command": [f"functions.{module}.handler"]},
        "TracingConfig": {"Mode": "Active"},
        "ReservedConcurrentExecutions": concurrency,
        "DeadLetterConfig": {"TargetArn": Match.any_value()},
        "VpcConfig": {"SubnetIds": Match.any_value(), "SecurityGroupIds": Match.any_value()},
        "LoggingConfig": Match.object_like({"LogGroup": Match.any_value()}),
    })


def test_function_log_groups_are_encrypted_with_retention(synthesized, q):
    groups = q.resources(synthesized.hub, "AWS::Logs::LogGroup")
    for function in _functions(synthesized, q).values():
        (group_id,) = [lid for lid in groups
                       if function["Properties"]["LoggingConfig"]["LogGroup"] == {"Ref": lid}]
        props = groups[group_id]["Properties"]
        assert "KmsKeyId" in props
        assert props["RetentionInDays"] == synthesized.config.operations.log_retention_days


def test_every_log_group_in_every_stack_is_encrypted_with_retention(synthesized, q):
    for template in (synthesized.hub, *synthesized.spokes.values()):
        for group in q.resources(template, "AWS::Logs::LogGroup").values():
            assert {"KmsKeyId", "RetentionInDays"} <= set(group["Properties"])


def test_dead_letter_queue_is_kms_encrypted(hub_template):
    hub_template.has_resource_properties("AWS::SQS::Queue", {"KmsMasterKeyId": Match.any_value()})


def test_hub_network_has_no_internet_path_and_private_endpoints(hub_template, synthesized):
    for absent in ("AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::EgressOnlyInternetGateway"):
        hub_template.resource_count_is(absent, 0)
    hub_template.resource_count_is("AWS::EC2::FlowLog", 1)
    for service in ("s3", "dynamodb"):
        hub_template.has_resource_properties("AWS::EC2::VPCEndpoint", {
            "VpcEndpointType": "Gateway",
            "ServiceName": {"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, f".{service}"]]},
        })
    for service in ("kms", "states", "xray"):
        hub_template.has_resource_properties("AWS::EC2::VPCEndpoint", {
            "VpcEndpointType": "Interface",
            "ServiceName": f"com.amazonaws.{synthesized.config.hub_region}.{service}",
            "PrivateDnsEnabled": True,
        })


def test_state_machine_logs_all_events_without_execution_data_and_traces(hub_template, synthesized):
    hub_template.has_resource_properties("AWS::StepFunctions::StateMachine", {
        "StateMachineName": f"{synthesized.config.prefix}-round-loop",
        "StateMachineType": "STANDARD",
        "LoggingConfiguration": {"Level": "ALL", "IncludeExecutionData": False, "Destinations": Match.any_value()},
        "TracingConfiguration": {"Enabled": True},
    })


def test_state_machine_role_invokes_only_round_loop_functions_and_assumes_only_launch_roles(synthesized, q):
    sm = next(iter(q.resources(synthesized.hub, "AWS::StepFunctions::StateMachine").values()))
    role_id = sm["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    statements = [s for lid, p in q.resources(synthesized.hub, "AWS::IAM::ManagedPolicy").items()
                  if {"Ref": role_id} in p["Properties"]["Roles"] for s in p["Properties"]["PolicyDocument"]["Statement"]]
    invoked = [r["Fn::GetAtt"][0] for s in statements if s["Action"] == "lambda:InvokeFunction"
               for r in q.as_list(s["Resource"])]
    commands = {lid: f["Properties"]["ImageConfig"]["Command"][0] for lid, f in _functions(synthesized, q).items()}
    assumed = [r for s in statements if s["Action"] == "sts:AssumeRole" for r in q.as_list(s["Resource"])]

    assert sorted(commands[lid] for lid in invoked) == sorted(
        f"functions.{m}.handler" for m in HANDLERS if m != "api")
    assert sorted(assumed) == sorted(
        f"arn:aws:iam::{s.account}:role/{synthesized.config.prefix}-{s.id}-launch" for s in synthesized.config.spokes)
