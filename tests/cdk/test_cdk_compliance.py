"""cdk-nag (AwsSolutions, HIPAA.Security, NIST.800.53.R5), cfn-lint, and IAM hygiene on every template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdk import nag

pytestmark = pytest.mark.cdk

REASONS = {value for name, value in vars(nag.Reason).items() if not name.startswith("_")}
ASSET_ENTRIES = {".dockerignore", "pyproject.toml", "fedcore", "functions", "containers"}


def test_no_unacknowledged_nag_findings_in_any_stack(synthesized):
    findings = [
        f"{violation['ruleName']} at {construct['constructPath']}"
        for report in synthesized.validation_report["pluginReports"]
        for violation in report["violations"]
        for construct in violation["violatingConstructs"]
    ]
    assert findings == []


def test_rule_packs_report_findings_on_a_noncompliant_stack(tmp_path):
    # Arrange: a bare bucket breaks rules in all three packs, so an empty report above means
    # the packs ran and passed, not that they were never registered.
    import aws_cdk as cdk
    from aws_cdk import aws_s3 as s3

    app = cdk.App(outdir=str(tmp_path), context={"@aws-cdk/core:failSynthOnValidationErrors": False})
    s3.Bucket(cdk.Stack(app, "Canary"), "Bucket")
    nag.apply_rule_packs(app)
    # Act
    app.synth()
    # Assert
    report = json.loads((tmp_path / "validation-report.json").read_text())
    failing = {r["pluginName"] for r in report["pluginReports"] if r["violations"]}
    assert failing >= set(nag.RULE_PACKS)


def test_every_nag_acknowledgement_gives_one_of_the_listed_reasons(synthesized):
    acknowledged = {}
    for metadata_file in synthesized.outdir.glob("*.metadata.json"):
        for path, entries in json.loads(metadata_file.read_text()).items():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    acknowledged.update({(path, rule.split("::", 1)[-1]): reason
                                         for rule, reason in entry["data"].items()})
    ours = {key: reason for key, reason in acknowledged.items()
            if key[1].startswith(tuple(f"{pack}-" for pack in nag.RULE_PACKS))}
    assert ours
    for (path, rule), reason in ours.items():
        assert reason in REASONS, (path, rule)


def test_every_acknowledgement_suppresses_a_finding_that_would_otherwise_fail(synthesize, tmp_path, monkeypatch):
    # Arrange: record acknowledgements instead of applying them.
    recorded = []
    monkeypatch.setattr(nag, "acknowledge",
                        lambda scope, reason, *rule_ids: recorded.extend((scope.node.path, r) for r in rule_ids))
    # Act
    report = synthesize(tmp_path).validation_report
    # Assert: each one matches a finding at or below the construct it was put on, so none is stale.
    findings = [(violation["ruleName"], construct["constructPath"])
                for plugin in report["pluginReports"] for violation in plugin["violations"]
                for construct in violation["violatingConstructs"]]
    assert recorded
    for path, rule in recorded:
        assert any(rule == found and (where == path or where.startswith(path + "/")) for found, where in findings), (
            path, rule)


def test_cfn_lint_passes_on_every_template(synthesized):
    from cfnlint.api import ManualArgs, lint_file

    assert len(synthesized.template_files) == 1 + len(synthesized.config.spokes)
    config = ManualArgs(regions=[synthesized.config.hub_region])
    problems = [f"{path.name}: {match}" for path in synthesized.template_files
                for match in lint_file(Path(path), config=config)]
    assert problems == []


def test_no_inline_iam_policies_outside_cdk_custom_resource_providers(synthesized, q):
    for template in (synthesized.hub, *synthesized.spokes.values()):
        providers = {f["Properties"]["Role"]["Fn::GetAtt"][0]
                     for f in q.resources(template, "AWS::Lambda::Function").values()
                     if f["Properties"].get("Handler") == "__entrypoint__.handler"}
        inline = {lid for lid, role in q.resources(template, "AWS::IAM::Role").items() if "Policies" in role["Properties"]}
        assert not q.resources(template, "AWS::IAM::Policy")
        assert inline <= providers


def test_resource_star_is_used_only_for_actions_without_resource_level_permissions(synthesized, q):
    for template in (synthesized.hub, *synthesized.spokes.values()):
        for statement in q.statements(template):
            if statement["Effect"] == "Allow" and "*" in q.as_list(statement["Resource"]):
                assert set(q.as_list(statement["Action"])) <= nag.UNSCOPED_ACTIONS, statement


def test_no_wildcard_actions(synthesized, q):
    for template in (synthesized.hub, *synthesized.spokes.values()):
        actions = {a for s in q.statements(template) if s["Effect"] == "Allow" for a in q.as_list(s["Action"])}
        assert not [a for a in actions if "*" in a]


def test_container_assets_are_staged_without_venv_or_build_output(synthesized):
    staged = [d for d in synthesized.outdir.glob("asset.*") if (d / "containers").is_dir()]
    assert len(staged) == 2  # the Lambda image and the trainer image
    for directory in staged:
        assert {entry.name for entry in directory.iterdir()} <= ASSET_ENTRIES
        size = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
        assert size < 50 * 2**20
