"""Privacy-ledger accounts in DynamoDB, one item per spoke, optimistic concurrency.

The account is stored as JSON text (``account``) next to a numeric ``version``; every put is
conditional on the version read, so two writers can never both charge from the same state.
Table key: ``pk`` (S) = the spoke id, ``sk`` (S) = ``"account"``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.exceptions import ClientError

from fedcore.privacy import ConcurrentUpdateError

ACCOUNT = "account"


class DynamoLedgerStore:
    def __init__(self, table_name: str, client=None) -> None:
        self.table = table_name
        self._ddb = client or boto3.client("dynamodb")

    def get_account(self, spoke: str) -> dict[str, Any] | None:
        item = self._ddb.get_item(TableName=self.table, Key=_key(spoke), ConsistentRead=True).get("Item")
        if item is None:
            return None
        account = json.loads(item["account"]["S"])
        account["version"] = int(item["version"]["N"])
        return account

    def put_account(self, account: Mapping[str, Any], expected_version: int | None) -> int:
        spoke = account.get("spoke")
        if not isinstance(spoke, str) or not spoke:
            raise ValueError("an account needs a non-empty 'spoke' string")
        new_version = 1 if expected_version is None else expected_version + 1
        body = dict(account)
        body["version"] = new_version
        item = {
            **_key(spoke),
            "version": {"N": str(new_version)},
            "account": {"S": json.dumps(body, sort_keys=True, allow_nan=False)},
        }
        if expected_version is None:
            condition, values = "attribute_not_exists(pk)", {}
        else:
            condition, values = "version = :expected", {":expected": {"N": str(expected_version)}}
        kwargs = {"TableName": self.table, "Item": item, "ConditionExpression": condition}
        if values:
            kwargs["ExpressionAttributeValues"] = values
        try:
            self._ddb.put_item(**kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ConcurrentUpdateError(
                    f"ledger account {spoke!r} changed since version {expected_version}"
                ) from exc
            raise
        return new_version

    def list_spokes(self) -> list[str]:
        spokes: list[str] = []
        paginator = self._ddb.get_paginator("scan")
        for page in paginator.paginate(TableName=self.table, ProjectionExpression="pk"):
            spokes.extend(item["pk"]["S"] for item in page.get("Items", []))
        return sorted(spokes)


def _key(spoke: str) -> dict:
    return {"pk": {"S": spoke}, "sk": {"S": ACCOUNT}}
