"""Envelope encryption: round trips, tamper evidence, context binding (replay), wrong keys."""

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedcore.sealing import (
    ContextMismatchError,
    KeyUnwrapError,
    LocalKeyProvider,
    SealContext,
    SealError,
    TamperedError,
    open_sealed,
    seal,
)

PROVIDER = LocalKeyProvider(bytes(range(32)))
CONTEXT = SealContext(run="run-1", round=3, spoke="hospital-a", kind="update")


@settings(max_examples=50, deadline=None)
@given(plaintext=st.binary(max_size=2048))
def test_round_trip_returns_the_plaintext(plaintext):
    # Act
    opened = open_sealed(seal(plaintext, CONTEXT, PROVIDER), CONTEXT, PROVIDER)

    # Assert
    assert opened == plaintext


def test_sealing_twice_gives_different_blobs():
    # Fresh data key and nonce per blob: equal plaintexts must not be linkable.
    assert seal(b"same", CONTEXT, PROVIDER) != seal(b"same", CONTEXT, PROVIDER)


def test_every_single_bit_flip_fails_to_open():
    # Arrange
    blob = seal(b"weights of one round", CONTEXT, PROVIDER)
    opened_by_mistake = []

    # Act
    for byte_index in range(len(blob)):
        for bit in range(8):
            corrupted = bytearray(blob)
            corrupted[byte_index] ^= 1 << bit
            try:
                open_sealed(bytes(corrupted), CONTEXT, PROVIDER)
            except SealError:
                continue
            opened_by_mistake.append((byte_index, bit))

    # Assert
    assert opened_by_mistake == []


def test_flipping_a_ciphertext_bit_is_reported_as_tampering():
    # Arrange
    blob = bytearray(seal(b"payload", CONTEXT, PROVIDER))
    blob[-1] ^= 0x01

    # Act / Assert
    with pytest.raises(TamperedError):
        open_sealed(bytes(blob), CONTEXT, PROVIDER)


@pytest.mark.parametrize(
    "wrong",
    [
        SealContext(run="run-2", round=3, spoke="hospital-a", kind="update"),
        SealContext(run="run-1", round=4, spoke="hospital-a", kind="update"),
        SealContext(run="run-1", round=3, spoke="hospital-b", kind="update"),
        SealContext(run="run-1", round=3, spoke="hospital-a", kind="model"),
    ],
    ids=["run", "round", "spoke", "kind"],
)
def test_opening_under_another_context_raises_context_mismatch(wrong):
    # Arrange
    blob = seal(b"payload", CONTEXT, PROVIDER)

    # Act / Assert
    with pytest.raises(ContextMismatchError, match="run='run-1' round=3 spoke='hospital-a'"):
        open_sealed(blob, wrong, PROVIDER)


def test_replaying_round_r_blob_as_round_r_plus_1_fails():
    # Arrange
    round_r = SealContext(run="run-1", round=7, spoke="hospital-a", kind="update")
    blob = seal(b"update of round 7", round_r, PROVIDER)

    # Act / Assert
    with pytest.raises(ContextMismatchError):
        open_sealed(blob, SealContext(run="run-1", round=8, spoke="hospital-a", kind="update"), PROVIDER)


def test_rewriting_the_header_context_still_fails():
    # Arrange: an attacker edits round 3 -> 4 in the header to replay into round 4
    blob = seal(b"payload", CONTEXT, PROVIDER)
    forged = blob.replace(b'"round":"3"', b'"round":"4"')
    round_4 = SealContext(run="run-1", round=4, spoke="hospital-a", kind="update")

    # Act / Assert
    assert forged != blob
    with pytest.raises(SealError):
        open_sealed(forged, round_4, PROVIDER)


def test_wrong_master_key_cannot_open():
    # Arrange
    blob = seal(b"payload", CONTEXT, PROVIDER)
    other = LocalKeyProvider(bytes(32))

    # Act / Assert
    with pytest.raises(KeyUnwrapError):
        open_sealed(blob, CONTEXT, other)


def test_truncated_and_foreign_blobs_raise_seal_errors():
    # Arrange
    blob = seal(b"payload", CONTEXT, PROVIDER)

    # Act / Assert
    for bad in (b"", b"not a blob at all", blob[:10], blob[:-1], blob[:40]):
        with pytest.raises(SealError):
            open_sealed(bad, CONTEXT, PROVIDER)


def test_unsupported_format_version_is_rejected():
    # Arrange
    blob = bytearray(seal(b"payload", CONTEXT, PROVIDER))
    blob[6] = 99  # version byte after the 6-byte magic

    # Act / Assert
    with pytest.raises(SealError, match="unsupported sealed-blob version 99"):
        open_sealed(bytes(blob), CONTEXT, PROVIDER)


def test_header_is_canonical_json_with_the_documented_fields():
    # Arrange
    import json

    blob = seal(b"payload", CONTEXT, PROVIDER)
    _, _, header_length = struct.unpack_from(">6sBI", blob)

    # Act
    header = json.loads(blob[11 : 11 + header_length])

    # Assert
    assert set(header) == {"version", "cipher", "context", "wrapped_key", "nonce", "plaintext_sha256"}
    assert header["context"] == {"run": "run-1", "round": "3", "spoke": "hospital-a", "kind": "update"}
    assert PROVIDER.export_master_key().hex() not in blob.hex()


def test_error_messages_never_contain_key_material():
    # Arrange
    blob = bytearray(seal(b"payload", CONTEXT, PROVIDER))
    blob[-1] ^= 0x01

    # Act
    with pytest.raises(TamperedError) as raised:
        open_sealed(bytes(blob), CONTEXT, PROVIDER)

    # Assert
    message = str(raised.value)
    assert "hospital-a" in message
    assert PROVIDER.export_master_key().hex() not in message
    assert "<hidden>" in repr(PROVIDER)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"run": "", "round": 1, "spoke": "a", "kind": "update"},
        {"run": "r", "round": -1, "spoke": "a", "kind": "update"},
        {"run": "r", "round": True, "spoke": "a", "kind": "update"},
        {"run": "r", "round": 1, "spoke": "", "kind": "update"},
        {"run": "r", "round": 1, "spoke": "a", "kind": "weights"},
    ],
)
def test_seal_context_rejects_invalid_fields(kwargs):
    with pytest.raises(ValueError):
        SealContext(**kwargs)


def test_kms_context_has_only_string_values():
    assert CONTEXT.as_kms_context() == {"run": "run-1", "round": "3", "spoke": "hospital-a", "kind": "update"}
