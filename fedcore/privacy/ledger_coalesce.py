"""Keeping a ledger account bounded: coalescing the charges of finished runs.

A DynamoDB item holds at most 400 KB and every charge adds about 200 bytes, so an account
that kept every charge would refuse all charges after about 2,000 of them. Coalescing moves
a run's charges into one entry per budget period: its mechanisms, where those with the same
(noise multiplier, sample rate) are merged by summing their steps. Composition does exactly
that (``fedcore.privacy.accountant.coalesce``), so no epsilon changes. The entry keeps the
run's charged rounds (as ranges, e.g. ``"0-6"``), so a retried charge of a coalesced
(run, round) is still recognised as a replay.

When: ``PrivacyLedger`` coalesces on write, once the account's JSON passes a size threshold,
every run except the few most recently charged ones (a run still charging is not finished).
Ledgers on every path (hub, spokes, simulation) do it without any step knowing when a run ends.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fedcore.privacy.accountant import StepRecord, coalesce

__all__ = ["account_bytes", "coalesce_runs", "coalesced_entry_of", "coalesced_records", "decode_rounds",
           "encode_rounds", "runs_to_coalesce"]


def account_bytes(account: Mapping[str, Any]) -> int:
    """Size of the account as the stores write it (JSON), in bytes."""
    return len(json.dumps(account, sort_keys=True, allow_nan=False).encode())


def encode_rounds(rounds: Iterable[int]) -> str:
    """Sorted, distinct rounds as ranges: ``[0, 1, 2, 5]`` -> ``"0-2,5"``."""
    ordered = sorted(set(rounds))
    parts: list[str] = []
    start = previous = None
    for r in ordered:
        if previous is not None and r == previous + 1:
            previous = r
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = r
    if start is not None:
        parts.append(str(start) if start == previous else f"{start}-{previous}")
    return ",".join(parts)


def decode_rounds(text: str) -> list[int]:
    rounds: list[int] = []
    for part in filter(None, text.split(",")):
        low, _, high = part.partition("-")
        rounds.extend(range(int(low), int(high or low) + 1))
    return rounds


def runs_to_coalesce(account: Mapping[str, Any], keep_recent: int) -> list[str]:
    """Runs with open charges, except the ``keep_recent`` whose latest charge is newest."""
    last_seen: dict[str, int] = {}
    for position, charge in enumerate(account["charges"]):
        last_seen[charge["run"]] = position
    by_recency = sorted(last_seen, key=last_seen.__getitem__)
    return by_recency[: max(0, len(by_recency) - keep_recent)]


def coalesce_runs(account: dict[str, Any], runs: Iterable[str]) -> None:
    """Move the open charges of ``runs`` into the account's coalesced entries (one per period)."""
    runs = set(runs)
    moving = [c for c in account["charges"] if c["run"] in runs]
    if not moving:
        return
    account["charges"] = [c for c in account["charges"] if c["run"] not in runs]
    entries = {e["period"]: e for e in account.setdefault("coalesced", [])}
    for period in sorted({c["period"] for c in moving}):
        charges = [c for c in moving if c["period"] == period]
        entry = entries.get(period)
        if entry is None:
            entry = {"period": period, "records": [], "runs": {}, "charged_at": ""}
            account["coalesced"].append(entry)
            entries[period] = entry
        records = [StepRecord.from_dict(r) for r in entry["records"]]
        records += [StepRecord.from_dict(r) for c in charges for r in _raw_records(c)]
        entry["records"] = [r.to_dict() for r in coalesce(records)]
        for run in sorted({c["run"] for c in charges}):
            rounds = decode_rounds(entry["runs"].get(run, ""))
            rounds += [int(c["round"]) for c in charges if c["run"] == run]
            entry["runs"][run] = encode_rounds(rounds)
        entry["charged_at"] = max([entry["charged_at"], *(c["charged_at"] for c in charges)])
    account["coalesced"].sort(key=lambda e: e["period"])


def coalesced_entry_of(account: Mapping[str, Any], run: str, round_: int) -> dict[str, Any] | None:
    """The coalesced entry that holds the charge of (run, round), or None."""
    for entry in account.get("coalesced", ()):
        if run in entry["runs"] and round_ in decode_rounds(entry["runs"][run]):
            return entry
    return None


def coalesced_records(account: Mapping[str, Any], period: int | None = None) -> list[StepRecord]:
    """The mechanisms of the coalesced entries (of one period, or of all)."""
    return [StepRecord.from_dict(r) for e in account.get("coalesced", ())
            if period is None or e["period"] == period for r in e["records"]]


def same_parameters(entry: Mapping[str, Any], records: Sequence[StepRecord]) -> bool:
    """Whether every mechanism of a replayed charge appears, with its parameters, in a coalesced entry.

    The entry no longer knows each round's own records, so this is what a replay of a coalesced
    key can be checked against: a different noise multiplier or sample rate is a conflict.
    """
    known = {(r["noise_multiplier"], r["sample_rate"]) for r in entry["records"]}
    return all((r.noise_multiplier, r.sample_rate) in known for r in records)


def _raw_records(charge: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return charge["records"] if "records" in charge else [charge["record"]]
