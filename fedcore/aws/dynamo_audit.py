"""The audit chain in DynamoDB: create-only items, never updated or deleted.

Key: ``pk`` (S) + ``sk`` (S). Entries live under ``pk = "entries"`` with ``sk`` the
zero-padded sequence number (so string order is sequence order); each event id also claims
an item ``pk = "event#<id>", sk = "event"`` in the same transaction, so one event is
recorded once even when a Lambda is retried. The app role only needs PutItem, GetItem
and Query; the stack denies UpdateItem and DeleteItem.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
from botocore.exceptions import ClientError

from fedcore.audit import AuditConflictError, AuditEntry

ENTRIES = "entries"


class DynamoAuditStore:
    def __init__(self, table_name: str, client=None) -> None:
        self.table = table_name
        self._ddb = client or boto3.client("dynamodb")

    def put_entry(self, entry: AuditEntry) -> None:
        entry_item = {
            **_entry_key(entry.seq),
            "entry": {"S": json.dumps(entry.to_dict(), sort_keys=True)},
            "action": {"S": entry.action},
            "timestamp": {"S": entry.timestamp},
        }
        event_item = {**_event_key(entry.event_id), "entry_seq": {"N": str(entry.seq)}}
        condition = "attribute_not_exists(pk)"
        try:
            self._ddb.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self.table, "Item": entry_item, "ConditionExpression": condition}},
                    {"Put": {"TableName": self.table, "Item": event_item, "ConditionExpression": condition}},
                ]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("TransactionCanceledException", "ConditionalCheckFailedException"):
                raise AuditConflictError(f"audit entry {entry.seq} or event {entry.event_id!r} exists") from exc
            raise

    def last_entry(self) -> AuditEntry | None:
        response = self._ddb.query(
            TableName=self.table,
            KeyConditionExpression="pk = :c",
            ExpressionAttributeValues={":c": {"S": ENTRIES}},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = response.get("Items", [])
        return _entry(items[0]) if items else None

    def find_event(self, event_id: str) -> AuditEntry | None:
        item = self._ddb.get_item(TableName=self.table, Key=_event_key(event_id), ConsistentRead=True).get("Item")
        if item is None:
            return None
        entry = self._ddb.get_item(
            TableName=self.table, Key=_entry_key(int(item["entry_seq"]["N"])), ConsistentRead=True
        ).get("Item")
        return _entry(entry) if entry else None

    def iter_entries(self, start_seq: int = 1) -> Iterator[AuditEntry]:
        paginator = self._ddb.get_paginator("query")
        pages = paginator.paginate(
            TableName=self.table,
            KeyConditionExpression="pk = :c AND sk >= :s",
            ExpressionAttributeValues={":c": {"S": ENTRIES}, ":s": _entry_key(start_seq)["sk"]},
            ConsistentRead=True,
        )
        for page in pages:
            for item in page.get("Items", []):
                yield _entry(item)


def _entry_key(seq: int) -> dict:
    return {"pk": {"S": ENTRIES}, "sk": {"S": f"{seq:012d}"}}


def _event_key(event_id: str) -> dict:
    return {"pk": {"S": f"event#{event_id}"}, "sk": {"S": "event"}}


def _entry(item: dict) -> AuditEntry:
    return AuditEntry.from_dict(json.loads(item["entry"]["S"]))
