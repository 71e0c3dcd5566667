"""Envelope-encryption data keys from AWS KMS, bound to the encryption context."""

from __future__ import annotations

from collections.abc import Mapping

import boto3
from botocore.exceptions import ClientError

from fedcore.sealing import DataKey, KeyUnwrapError
from fedcore.sealing.key_provider import validate_context


class KmsKeyProvider:
    """``GenerateDataKey`` (AES-256) and ``Decrypt`` under the context of DESIGN.md section 5.

    KMS authenticates the context with the wrapped key, so a data key wrapped for
    (run, round, spoke) cannot be unwrapped for any other; key policies can also restrict
    each spoke to ``kms:EncryptionContext:spoke = <its id>``.
    """

    def __init__(self, key_id: str, client=None) -> None:
        self.key_id = key_id
        self._kms = client or boto3.client("kms")

    def generate_data_key(self, context: Mapping[str, str]) -> DataKey:
        response = self._kms.generate_data_key(
            KeyId=self.key_id, KeySpec="AES_256", EncryptionContext=validate_context(context)
        )
        return DataKey(plaintext=response["Plaintext"], wrapped=response["CiphertextBlob"])

    def decrypt_data_key(self, wrapped: bytes, context: Mapping[str, str]) -> bytes:
        try:
            response = self._kms.decrypt(
                CiphertextBlob=wrapped, KeyId=self.key_id, EncryptionContext=validate_context(context)
            )
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code in ("InvalidCiphertextException", "IncorrectKeyException"):
                raise KeyUnwrapError(f"KMS refused to unwrap the data key for this context ({code})") from exc
            raise
        return response["Plaintext"]
