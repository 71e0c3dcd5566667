"""Updates altered in the hub bucket between training and aggregation are rejected and audited,
and the round goes on with the updates that remain."""

from __future__ import annotations

import json
import struct

import pytest

from fedcore.sealing.canonical_json import canonical_json
from sandbox_helpers import audit, charged_rounds, round_metrics, run, tiny_config, update_key

pytestmark = pytest.mark.slow

_PREFIX = struct.Struct(">6sBI")  # the sealed blob's magic, version and header length


def before_aggregating(round_: int, action):
    def hook(function: str, event: dict):
        if function == "aggregate" and event["round"] == round_:
            action(event["run_id"])
    return hook


def test_a_flipped_bit_in_a_stored_update_is_rejected_and_audited(sandbox):
    # Arrange
    blobs = sandbox.operator_services().blobs

    def flip_a_bit(run_id: str) -> None:
        key = update_key(run_id, 1, "hosp-a")
        blob = bytearray(blobs.get(key))
        blob[-40] ^= 0x01  # inside the AES-GCM ciphertext
        blobs.put(key, bytes(blob))
    sandbox.add_invoke_hook(before_aggregating(1, flip_a_bit))

    # Act
    result, services = run(sandbox, "bitflip-1", tiny_config())

    # Assert
    assert result.status == "SUCCEEDED"
    metrics = round_metrics(services, "bitflip-1", 1)
    assert metrics["spokes"] == ["hosp-b", "hosp-c"]
    assert metrics["rejected"]["hosp-a"].startswith("TamperedError: authentication failed")
    (rejection,) = audit(services, "update.rejected", "bitflip-1")
    assert rejection.details["spoke"] == "hosp-a" and rejection.details["round"] == 1
    assert charged_rounds(services.ledger, "hosp-a", "bitflip-1") == [0, 1]  # released, so charged (its plan)
    assert services.blobs.exists("models/bitflip-1/0001.sealed")


def test_replayed_and_swapped_updates_are_rejected_by_their_encryption_context(sandbox):
    # Arrange: before round 2 is aggregated, hospital a's slot gets its own round-1 update, and
    # hospital c's slot gets hospital b's round-2 update with its header rewritten to claim "hosp-c".
    blobs = sandbox.operator_services().blobs

    def replay_and_swap(run_id: str) -> None:
        blobs.put(update_key(run_id, 2, "hosp-a"), blobs.get(update_key(run_id, 1, "hosp-a")))
        blobs.put(update_key(run_id, 2, "hosp-c"), _relabel(blobs.get(update_key(run_id, 2, "hosp-b")), "hosp-c"))
    sandbox.add_invoke_hook(before_aggregating(2, replay_and_swap))

    # Act: quorum 1, so hospital b's genuine update carries the round alone
    result, services = run(sandbox, "replay-1", tiny_config(rounds=2, quorum=1))

    # Assert
    assert result.status == "SUCCEEDED"
    metrics = round_metrics(services, "replay-1", 2)
    assert metrics["spokes"] == ["hosp-b"]
    assert metrics["rejected"]["hosp-a"].startswith("ContextMismatchError")
    assert "round=1" in metrics["rejected"]["hosp-a"]
    assert metrics["rejected"]["hosp-c"].startswith("KeyUnwrapError")  # KMS refuses the claimed context
    rejected = {(e.details["spoke"], e.details["round"]) for e in audit(services, "update.rejected", "replay-1")}
    assert rejected == {("hosp-a", 2), ("hosp-c", 2)}
    assert services.runs.get_run("replay-1")["status"] == "COMPLETED"


def _relabel(blob: bytes, spoke: str) -> bytes:
    """The same sealed bytes with the header's context claiming another spoke (a forgery)."""
    magic, version, length = _PREFIX.unpack_from(blob)
    header = json.loads(blob[_PREFIX.size:_PREFIX.size + length])
    header["context"] = {**header["context"], "spoke": spoke}
    forged = canonical_json(header)
    return _PREFIX.pack(magic, version, len(forged)) + forged + blob[_PREFIX.size + length:]
