"""asl_export: plain ASL from a synthesized template, references resolved through a mapping."""

from __future__ import annotations

import json

import pytest

from cdk.asl_export import UnresolvedReferenceError, export_asl, lambda_handlers, referenced_ids

pytestmark = pytest.mark.cdk

TEMPLATE = {
    "Resources": {
        "Fn1": {"Type": "AWS::Lambda::Function",
                "Properties": {"PackageType": "Image", "ImageConfig": {"Command": ["functions.init_run.handler"]}}},
        "Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"DefinitionString": {"Fn::Join": ["", [
            '{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:',
            {"Ref": "AWS::Partition"},
            ':states:::lambda:invoke","Parameters":{"FunctionName":"',
            {"Fn::GetAtt": ["Fn1", "Arn"]},
            '"},"End":true}}}',
        ]]}}},
    },
}
ARN = "arn:aws:lambda:eu-west-1:000000000000:function:init"


def test_references_and_partition_are_resolved():
    # Act
    asl = json.loads(export_asl(TEMPLATE, {"Fn1": ARN}))
    # Assert
    assert asl["States"]["A"]["Resource"] == "arn:aws:states:::lambda:invoke"
    assert asl["States"]["A"]["Parameters"]["FunctionName"] == ARN


def test_caller_may_override_pseudo_parameters():
    asl = json.loads(export_asl(TEMPLATE, {"Fn1": ARN, "AWS::Partition": "aws-cn"}))
    assert asl["States"]["A"]["Resource"] == "arn:aws-cn:states:::lambda:invoke"


def test_missing_reference_is_reported_by_name():
    with pytest.raises(UnresolvedReferenceError, match="Fn1"):
        export_asl(TEMPLATE, {})


def test_referenced_ids_and_handlers_tell_the_caller_what_to_map():
    assert referenced_ids(TEMPLATE) == {"Fn1", "AWS::Partition"}
    assert lambda_handlers(TEMPLATE) == {"Fn1": "functions.init_run.handler"}


def test_template_without_a_state_machine_is_rejected():
    with pytest.raises(ValueError, match="expected one state machine"):
        export_asl({"Resources": {}}, {})


def test_synthesized_hub_definition_exports_to_plain_asl(synthesized):
    # Arrange
    resolve = {lid: f"arn:aws:lambda:eu-west-1:111111111111:function:{lid}" for lid in referenced_ids(synthesized.hub)}
    # Act
    text = export_asl(synthesized.hub, resolve)
    # Assert
    assert "Fn::" not in text and "${Token" not in text
    assert json.loads(text)["StartAt"] == "InitRun"
    assert set(resolve) <= set(lambda_handlers(synthesized.hub)) | {"AWS::Partition", "AWS::Region", "AWS::AccountId"}
