"""Sealed blobs in the hub bucket, with create-only writes (S3 conditional PUT)."""

from __future__ import annotations

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from fedcore.runtime.ports import BlobExistsError, BlobNotFoundError


class S3BlobStore:
    def __init__(self, bucket: str, client=None) -> None:
        self.bucket = bucket
        # SigV4 explicitly: S3 refuses SigV2 presigned URLs for objects under SSE-KMS
        self._s3 = client or boto3.client("s3", config=Config(signature_version="s3v4"))

    def put_new(self, key: str, data: bytes) -> None:
        """Write only if absent (``If-None-Match: *``): a retry can never overwrite."""
        try:
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*")
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise BlobExistsError(f"s3://{self.bucket}/{key} already exists") from exc
            raise

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        try:
            return self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                raise BlobNotFoundError(f"s3://{self.bucket}/{key} does not exist") from exc
            raise

    def exists(self, key: str) -> bool:
        """Whether exactly ``key`` exists, asked as a listing with ``key`` as the prefix.

        Not HeadObject: S3 answers a HeadObject or GetObject of a missing key with 404 only to a caller
        that may list the whole bucket (the request carries no s3:prefix, so a prefix-limited ListBucket
        grant does not count) and with 403 otherwise. A listing needs only ListBucket with s3:prefix = key.
        A general purpose bucket lists in UTF-8 binary order, where a key sorts before every key it is a
        prefix of, so the first key listed is ``key`` itself if it exists (``a/b`` before ``a/b/c``, ``a/bc``).
        """
        listed = self._s3.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1).get("Contents", [])
        return bool(listed) and listed[0]["Key"] == key

    def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return sorted(keys)

    def presigned_get(self, key: str, expires_seconds: int) -> str:
        return self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_seconds
        )
