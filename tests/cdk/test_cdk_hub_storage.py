"""Hub key, bucket and tables: encryption, access per spoke, append-only audit."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Capture, Match

from cdk.components import hub_keys
from cdk.components.hub_tables import AUDIT_FORBIDDEN_ACTIONS
from cdk.naming import Names
from fedcore.runtime.layout import update_key

pytestmark = pytest.mark.cdk


def test_hub_key_rotates_and_is_retained(hub_template):
    # Arrange / Act: synthesized once per session.
    # Assert
    hub_template.has_resource("AWS::KMS::Key", {
        "Properties": {"EnableKeyRotation": True},
        "DeletionPolicy": "Retain",
    })


def test_key_policy_lets_each_spoke_job_role_seal_only_its_own_updates(synthesized, q):
    names = Names(synthesized.config)
    (key,) = q.resources(synthesized.hub, "AWS::KMS::Key").values()
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    for spoke in names.all_spoke_endpoints():
        by_spoke = [s for s in statements
                    if s.get("Condition", {}).get("ArnEquals", {}).get("aws:PrincipalArn") == spoke.job_role_arn]
        assert by_spoke, f"no key policy statement for {spoke.spoke_id}"
        for statement in by_spoke:
            assert statement["Principal"] == {"AWS": f"arn:aws:iam::{spoke.account}:root"}
        seals = [s for s in by_spoke if "kms:GenerateDataKey" in q.as_list(s["Action"])
                 and "kms:ViaService" not in s["Condition"].get("StringEquals", {})]
        assert len(seals) == 1
        assert seals[0]["Condition"]["StringEquals"] == {"kms:EncryptionContext:spoke": spoke.spoke_id,
                                                         "kms:EncryptionContext:kind": "update"}
        # Every other use is bound to a context that cannot stand for another spoke's update.
        for statement in by_spoke:
            conditions = statement["Condition"]
            assert ("kms:EncryptionContext:spoke" in conditions.get("StringEquals", {})
                    or conditions.get("StringEquals", {}).get("kms:EncryptionContext:kind") == "model"
                    or "kms:EncryptionContext:aws:s3:arn" in conditions.get("StringLike", {}))


def test_a_spoke_cannot_make_a_data_key_for_a_model_or_for_another_spokes_update(synthesized, q):
    # Arrange: the key policy, and the sealing requests a malicious hospital would make directly
    # (GenerateDataKey called by its job role, not through S3).
    names = Names(synthesized.config)
    (key,) = q.resources(synthesized.hub, "AWS::KMS::Key").values()
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    for spoke in names.all_spoke_endpoints():
        other = next(s.spoke_id for s in names.all_spoke_endpoints() if s.spoke_id != spoke.spoke_id)
        # Across accounts only statements that name the spoke's account (or anyone) can grant anything.
        to_spoke = [s for s in statements if s.get("Principal") in ({"AWS": f"arn:aws:iam::{spoke.account}:root"},
                                                                    {"AWS": "*"}, "*")]

        def allowed(spoke_value: str, kind: str) -> bool:
            context = {"aws:PrincipalArn": spoke.job_role_arn, "kms:EncryptionContext:spoke": spoke_value,
                       "kms:EncryptionContext:kind": kind, "kms:EncryptionContext:run": "r1",
                       "kms:EncryptionContext:round": "1"}
            return q.allows(to_spoke, "kms:GenerateDataKey", "*", context)

        # Act / Assert
        assert allowed(spoke.spoke_id, "update")
        assert not allowed(spoke.spoke_id, "model")  # a global model sealed by a hospital
        assert not allowed("hub", "model")  # the hub's own model context
        assert not allowed("hub-aggregator", "model")  # the aggregator's state
        assert not allowed(other, "update")  # another hospital's update


def test_hub_bucket_is_kms_versioned_private_logged_and_expires_old_updates(hub_template, synthesized):
    hub_template.has_resource_properties("AWS::S3::Bucket", {
        "BucketName": Names(synthesized.config).hub_bucket,
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [{
            "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": Match.any_value()},
        }]},
        "VersioningConfiguration": {"Status": "Enabled"},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "LoggingConfiguration": {"DestinationBucketName": Match.any_value()},
        "LifecycleConfiguration": {"Rules": Match.array_with([Match.object_like({
            "Prefix": "updates/",
            "ExpirationInDays": synthesized.config.operations.update_retention_days,
            "Status": "Enabled",
        })])},
    })


def test_hub_bucket_policy_denies_plain_http_and_scopes_each_spoke(synthesized, q):
    names = Names(synthesized.config)
    buckets = q.resources(synthesized.hub, "AWS::S3::Bucket")
    (hub_bucket_id,) = [lid for lid, b in buckets.items() if b["Properties"].get("BucketName") == names.hub_bucket]
    (policy,) = [p for p in q.resources(synthesized.hub, "AWS::S3::BucketPolicy").values()
                 if p["Properties"]["Bucket"] == {"Ref": hub_bucket_id}]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]

    assert any(s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
               for s in statements)
    for spoke in names.all_spoke_endpoints():
        mine = [s for s in statements
                if s.get("Condition", {}).get("ArnEquals", {}).get("aws:PrincipalArn") == spoke.job_role_arn]
        granted = {(action, r["Fn::Join"][1][-1])  # the object key pattern after the bucket ARN
                   for s in mine for action in q.as_list(s["Action"]) if action != "s3:ListBucket"
                   for r in q.as_list(s["Resource"])}
        assert granted == {*(("s3:GetObject", f"/{key}") for key in hub_keys.TRAINER_READS),
                           ("s3:PutObject", f"/updates/*/*/{spoke.spoke_id}")}
        assert all(key.startswith("models/") for key in hub_keys.TRAINER_READS)
        listings = [s["Condition"] for s in mine if "s3:ListBucket" in q.as_list(s["Action"])]
        assert [q.as_list(c["StringLike"]["s3:prefix"]) for c in listings] == [list(hub_keys.TRAINER_CHECKS)]


def test_no_hospital_can_pre_write_the_update_key_of_a_hospital_whose_id_extends_its_own(synthesized, q):
    # Arrange: every pattern that lets a spoke write to the hub bucket (its bucket policy grant, its job
    # role's IAM, and the key policy's S3 object context), and the keys a hospital would squat on to make
    # another hospital's create-only write fail.
    names = Names(synthesized.config)
    (key,) = q.resources(synthesized.hub, "AWS::KMS::Key").values()
    bucket_statements = [s for p in q.resources(synthesized.hub, "AWS::S3::BucketPolicy").values()
                         for s in p["Properties"]["PolicyDocument"]["Statement"]]
    for spoke in names.all_spoke_endpoints():
        mine = [s for s in bucket_statements
                if s.get("Condition", {}).get("ArnEquals", {}).get("aws:PrincipalArn") == spoke.job_role_arn]
        bucket_grants = [s["Resource"]["Fn::Join"][1][-1].lstrip("/") for s in mine
                         if "s3:PutObject" in q.as_list(s["Action"])]
        iam_grants = [r.removeprefix(f"{names.hub_bucket_arn}/")
                      for s in q.statements(synthesized.spokes[spoke.spoke_id])
                      if "s3:PutObject" in q.as_list(s["Action"])
                      for r in q.as_list(s["Resource"]) if isinstance(r, str) and r.startswith(names.hub_bucket_arn)]
        kms_grants = [pattern.removeprefix(f"{names.hub_bucket_arn}/")
                      for s in key["Properties"]["KeyPolicy"]["Statement"]
                      if s.get("Condition", {}).get("ArnEquals", {}).get("aws:PrincipalArn") == spoke.job_role_arn
                      for pattern in q.as_list(s["Condition"].get("StringLike", {}).get(
                          "kms:EncryptionContext:aws:s3:arn", [])) if "/updates/" in pattern]
        victims = [f"{spoke.spoke_id}b", f"{spoke.spoke_id}-2", *(s.spoke_id for s in names.all_spoke_endpoints()
                                                                   if s.spoke_id != spoke.spoke_id)]

        # Act / Assert
        for grants in (bucket_grants, iam_grants, kms_grants):
            assert grants, f"no update grant found for {spoke.spoke_id}"
            own = update_key("run-1", 1, spoke.spoke_id)
            assert all(q.iam_matches(g, own) for g in grants)
            for victim in victims:
                assert not any(q.iam_matches(g, update_key("run-1", 1, victim)) for g in grants), (grants, victim)


def test_tables_are_kms_encrypted_recoverable_and_protected(hub_template, synthesized):
    names = Names(synthesized.config)
    for kind in ("runs", "ledger", "audit"):
        hub_template.has_resource("AWS::DynamoDB::Table", {
            "Properties": Match.object_like({
                "TableName": names.table(kind),
                "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": Match.any_value()},
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "DeletionProtectionEnabled": True,
            }),
            "DeletionPolicy": "Retain",
        })


def test_tables_are_in_a_backup_plan(synthesized, q):
    (selection,) = q.resources(synthesized.hub, "AWS::Backup::BackupSelection").values()
    tables = q.resources(synthesized.hub, "AWS::DynamoDB::Table")
    selected = selection["Properties"]["BackupSelection"]["Resources"]
    assert all(any(q.refers_to(entry, lid) for entry in selected) for lid in tables)


def test_audit_table_denies_item_updates_and_deletes_to_everyone(hub_template, synthesized):
    actions = Capture()
    hub_template.has_resource_properties("AWS::DynamoDB::Table", {
        "TableName": Names(synthesized.config).table("audit"),
        "ResourcePolicy": {"PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": actions,
        })])}},
    })
    assert set(actions.as_array()) == set(AUDIT_FORBIDDEN_ACTIONS)


def test_no_role_may_update_or_delete_audit_items(synthesized, q):
    names = Names(synthesized.config)
    tables = q.resources(synthesized.hub, "AWS::DynamoDB::Table")
    (audit_id,) = [lid for lid, t in tables.items() if t["Properties"]["TableName"] == names.table("audit")]
    on_audit = [s for s in q.statements(synthesized.hub)
                if s["Effect"] == "Allow" and any(q.refers_to(r, audit_id) for r in q.as_list(s["Resource"]))]
    granted = {action for s in on_audit for action in q.as_list(s["Action"])}

    assert "dynamodb:PutItem" in granted  # appends happen
    assert not granted & set(AUDIT_FORBIDDEN_ACTIONS)
    assert not any(a.endswith("*") for a in granted)
