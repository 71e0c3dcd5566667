"""A spoke's own privacy ledger, kept in its private bucket (the hub cannot read or write it).

Each account is one JSON object; writes are conditional on the ETag read (S3 ``If-Match``)
or on absence (``If-None-Match: *``), the same optimistic concurrency as the hub's table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.exceptions import ClientError

from fedcore.privacy import ConcurrentUpdateError


class S3LedgerStore:
    def __init__(self, bucket: str, prefix: str = "privacy-ledger/", client=None) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self._s3 = client or boto3.client("s3")
        self._etags: dict[str, str] = {}

    def _key(self, spoke: str) -> str:
        return f"{self.prefix}{spoke}.json"

    def get_account(self, spoke: str) -> dict[str, Any] | None:
        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=self._key(spoke))
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise
        self._etags[spoke] = response["ETag"]
        return json.loads(response["Body"].read())

    def put_account(self, account: Mapping[str, Any], expected_version: int | None) -> int:
        spoke = account.get("spoke")
        if not isinstance(spoke, str) or not spoke:
            raise ValueError("an account needs a non-empty 'spoke' string")
        current = self.get_account(spoke)
        current_version = None if current is None else int(current["version"])
        if current_version != expected_version:
            raise ConcurrentUpdateError(f"local ledger {spoke!r} is at version {current_version}")
        new_version = 1 if expected_version is None else expected_version + 1
        body = json.dumps(dict(account) | {"version": new_version}, sort_keys=True, allow_nan=False).encode()
        condition = {"IfNoneMatch": "*"} if current is None else {"IfMatch": self._etags[spoke]}
        try:
            self._s3.put_object(Bucket=self.bucket, Key=self._key(spoke), Body=body, **condition)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise ConcurrentUpdateError(f"local ledger {spoke!r} changed concurrently") from exc
            raise
        return new_version

    def list_spokes(self) -> list[str]:
        paginator = self._s3.get_paginator("list_objects_v2")
        names = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for obj in page.get("Contents", []):
                names.append(obj["Key"][len(self.prefix):].removesuffix(".json"))
        return sorted(names)
