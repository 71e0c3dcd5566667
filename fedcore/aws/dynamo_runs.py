"""Runs, per-round metrics and published model versions in one DynamoDB table.

Key: ``pk`` (S) + ``sk`` (S). A run is ``pk = run#<id>, sk = run``; its rounds are
``sk = round#<0001>``; published models are ``pk = models, sk = <version>``. Records are JSON
text in ``body`` (no float-to-Decimal conversions); round and model items are create-only.
"""

from __future__ import annotations

import json

import boto3
from botocore.exceptions import ClientError

MODELS = "models"
RUNS_INDEX = "runs"  # a tiny item per run so listing runs needs no scan


class DynamoRunStore:
    def __init__(self, table_name: str, client=None) -> None:
        self.table = table_name
        self._ddb = client or boto3.client("dynamodb")

    def _put_new(self, pk: str, sk: str, body: dict) -> bool:
        try:
            self._ddb.put_item(
                TableName=self.table,
                Item={"pk": {"S": pk}, "sk": {"S": sk}, "body": {"S": json.dumps(body, sort_keys=True)}},
                ConditionExpression="attribute_not_exists(pk)",
            )
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise

    def _get(self, pk: str, sk: str) -> dict | None:
        item = self._ddb.get_item(
            TableName=self.table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        ).get("Item")
        return json.loads(item["body"]["S"]) if item else None

    def _query(self, pk: str, prefix: str = "") -> list[dict]:
        paginator = self._ddb.get_paginator("query")
        values = {":pk": {"S": pk}}
        condition = "pk = :pk"
        if prefix:
            condition += " AND begins_with(sk, :p)"
            values[":p"] = {"S": prefix}
        out = []
        for page in paginator.paginate(TableName=self.table, KeyConditionExpression=condition,
                                       ExpressionAttributeValues=values, ConsistentRead=True):
            out.extend(json.loads(item["body"]["S"]) for item in page.get("Items", []))
        return out

    def create_run(self, run_id: str, record: dict) -> bool:
        created = self._put_new(f"run#{run_id}", "run", dict(record) | {"run_id": run_id})
        if created:
            self._put_new(RUNS_INDEX, run_id, {"run_id": run_id})
        return created

    def get_run(self, run_id: str) -> dict | None:
        return self._get(f"run#{run_id}", "run")

    def update_run(self, run_id: str, fields: dict) -> None:
        for _ in range(10):  # optimistic: read, merge, write if unchanged
            item = self._ddb.get_item(
                TableName=self.table, Key={"pk": {"S": f"run#{run_id}"}, "sk": {"S": "run"}}, ConsistentRead=True
            ).get("Item")
            if item is None:
                raise KeyError(f"no run {run_id!r}")
            body = json.loads(item["body"]["S"]) | fields
            try:
                self._ddb.put_item(
                    TableName=self.table,
                    Item={"pk": item["pk"], "sk": item["sk"], "body": {"S": json.dumps(body, sort_keys=True)}},
                    ConditionExpression="body = :old",
                    ExpressionAttributeValues={":old": item["body"]},
                )
                return
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
        raise RuntimeError(f"run {run_id!r} kept changing; update abandoned")

    def put_round(self, run_id: str, round_: int, metrics: dict) -> bool:
        return self._put_new(f"run#{run_id}", f"round#{round_:04d}", dict(metrics) | {"run_id": run_id, "round": round_})

    def list_rounds(self, run_id: str) -> list[dict]:
        return self._query(f"run#{run_id}", "round#")

    def list_runs(self) -> list[dict]:
        runs = [self.get_run(item["run_id"]) for item in self._query(RUNS_INDEX)]
        return [r for r in runs if r is not None]

    def put_model_version(self, record: dict) -> bool:
        return self._put_new(MODELS, record["version"], record)

    def list_model_versions(self) -> list[dict]:
        return self._query(MODELS)
