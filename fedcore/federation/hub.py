"""What the hub does each round: gate on budgets, merge setup stats, aggregate updates.

Pure fedcore (no AWS): the serverless Lambdas and the in-process simulation both call these.
Every update is opened under the context it must have (run, round, spoke), so a replayed or
swapped update fails authentication; updates that fail to open or validate are rejected
with a reason, and the round goes on if the quorum remains.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from fedcore.aggregation import ClientUpdate
from fedcore.aggregation.validation import validate_update
from fedcore.federation.privacy_plan import SpokePrivacyPlan
from fedcore.federation.release import ReleaseMeta, SealedRelease, model_context, split_meta, update_context
from fedcore.preprocessing.preprocessor import GlobalPreprocessor, build_preprocessor
from fedcore.preprocessing.table_stats import TableStats, merge_table_stats
from fedcore.privacy import BudgetDecision, PrivacyLedger
from fedcore.schema import Schema
from fedcore.sealing import open_update, seal_model
from fedcore.sealing.errors import SealError
from fedcore.sealing.key_provider import KeyProvider
from fedcore.serialization import SerializationError

logger = logging.getLogger(__name__)


class QuorumNotMetError(RuntimeError):
    """Fewer valid hospital contributions than the quorum: the round cannot complete."""


@dataclass(frozen=True)
class GateResult:
    eligible: tuple[str, ...]
    decisions: dict[str, BudgetDecision]
    quorum_met: bool


@dataclass
class RoundOutcome:
    """A completed aggregation: the new global weights and what was accepted or rejected."""

    weights: dict[str, np.ndarray]
    sealed_model: bytes
    spokes: list[str]
    rejected: dict[str, str] = field(default_factory=dict)
    total_examples: int = 0
    loss: float | None = None
    bytes_in: int = 0


def budget_gate(
    ledger: PrivacyLedger, plans: dict[str, SpokePrivacyPlan], quorum: int
) -> GateResult:
    """Drop every hospital whose next round would cross its limit; report the quorum."""
    decisions = {spoke: ledger.check(spoke, [plan.round_record]) for spoke, plan in plans.items()}
    eligible = tuple(spoke for spoke, d in decisions.items() if d.allowed)
    for spoke, decision in decisions.items():
        if not decision.allowed:
            logger.info(
                "budget gate drops %s: epsilon would reach %.3f > limit %.3f",
                spoke, decision.epsilon_after, decision.limit,
            )
    return GateResult(eligible=eligible, decisions=decisions, quorum_met=len(eligible) >= quorum)


ReleaseCallback = Callable[[str, "ReleaseMeta | None"], None]


def _ignore_release(_spoke: str, _meta: "ReleaseMeta | None") -> None:
    return None


def release_charger(ledger: PrivacyLedger, run_id: str, round_: int, planned: dict) -> ReleaseCallback:
    """Charge every released update once: its sealed spend, or its plan if it will not open.

    An object that fails to authenticate was still released by somebody under that spoke's
    name; charging the spoke's planned spend is the conservative choice.
    """

    def charge(spoke: str, meta: "ReleaseMeta | None") -> None:
        record = meta.record if meta is not None else planned.get(spoke)
        if record is not None:
            ledger.charge(spoke, run_id, round_, record)

    return charge


def open_release(run_id: str, round_: int, release: SealedRelease, provider: KeyProvider):
    """Open a sealed release under the context it must have; (payload, authenticated meta)."""
    tensors = open_update(release.blob, update_context(run_id, round_, release.spoke), provider)
    return split_meta(tensors)


def merge_setup_stats(
    run_id: str,
    releases: Iterable[SealedRelease],
    schema: Schema,
    provider: KeyProvider,
    quorum: int,
    numeric_transform: str = "quantile",
    on_release: ReleaseCallback = _ignore_release,
) -> tuple[GlobalPreprocessor, dict[str, str], dict[str, ReleaseMeta]]:
    """Open every hospital's round-0 statistics, merge them, build the global preprocessor.

    ``on_release(spoke, meta)`` is called for every release (meta None when it failed to
    authenticate), so the caller can charge what was released even if it is rejected.
    Returns the preprocessor, the rejections and the accepted releases' metadata.
    """
    accepted: list[TableStats] = []
    metas: dict[str, ReleaseMeta] = {}
    rejected: dict[str, str] = {}
    for release in releases:
        meta = None
        try:
            payload, meta = open_release(run_id, 0, release, provider)
            accepted.append(TableStats.from_tensors(payload, schema))
            metas[release.spoke] = meta
        except (SealError, SerializationError, ValueError, KeyError) as exc:
            rejected[release.spoke] = f"{type(exc).__name__}: {exc}"
            logger.warning("setup statistics from %s rejected: %s", release.spoke, exc)
        finally:
            on_release(release.spoke, meta)
    if len(accepted) < quorum:
        raise QuorumNotMetError(f"setup round: {len(accepted)} valid statistics, quorum is {quorum}; rejected: {rejected}")
    return build_preprocessor(schema, merge_table_stats(accepted), numeric_transform), rejected, metas


def seal_global_model(run_id: str, round_: int, weights: dict[str, np.ndarray], provider: KeyProvider) -> bytes:
    return seal_model(weights, model_context(run_id, round_), provider)


def aggregate_round(
    run_id: str,
    round_: int,
    global_weights: dict[str, np.ndarray],
    releases: Iterable[SealedRelease],
    aggregator,
    provider: KeyProvider,
    quorum: int,
    on_release: ReleaseCallback = _ignore_release,
) -> RoundOutcome:
    """Open, validate and aggregate one round's updates, one at a time (streaming).

    ``on_release`` is called once per release as it is opened (meta None when it failed to
    authenticate), before validation, so the caller can charge every released update.
    """
    rejected: dict[str, str] = {}
    accepted: list[str] = []
    losses: list[tuple[float, int]] = []
    bytes_in = 0

    def opened() -> Iterator[ClientUpdate]:
        nonlocal bytes_in
        for release in releases:
            bytes_in += len(release.blob)
            meta = None
            try:
                weights, meta = open_release(run_id, round_, release, provider)
                validate_update(global_weights, weights)
            except (SealError, SerializationError, ValueError) as exc:
                rejected[release.spoke] = f"{type(exc).__name__}: {exc}"
                logger.warning("round %d: update from %s rejected: %s", round_, release.spoke, exc)
                continue
            finally:
                on_release(release.spoke, meta)
            accepted.append(release.spoke)
            if meta.mean_loss is not None:
                losses.append((meta.mean_loss, meta.num_examples))
            yield ClientUpdate(spoke=release.spoke, weights=weights, num_examples=meta.num_examples, metrics={})
    def quorum_error() -> QuorumNotMetError:
        return QuorumNotMetError(
            f"round {round_}: {len(accepted)} valid updates {sorted(accepted)}, quorum is {quorum}; "
            f"rejected: {rejected}"
        )

    try:
        result = aggregator.aggregate(global_weights, opened())
    except ValueError as exc:  # e.g. no valid update at all
        if len(accepted) < quorum:
            raise quorum_error() from exc
        raise
    if len(accepted) < quorum:
        raise quorum_error()
    loss = None
    if losses:
        loss = float(sum(l * n for l, n in losses) / sum(n for _, n in losses))
    return RoundOutcome(
        weights=result.weights,
        sealed_model=seal_global_model(run_id, round_, result.weights, provider),
        spokes=accepted,
        rejected=rejected,
        total_examples=int(result.total_examples),
        loss=loss,
        bytes_in=bytes_in,
    )
