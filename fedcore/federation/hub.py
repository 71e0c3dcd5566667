"""What the hub does with releases: gate on budgets, open, check, charge, merge setup statistics.

Pure fedcore (no AWS, no torch): the serverless steps call these. Every release is opened
under the context it must have (run, round, spoke), so a replayed or swapped release fails
authentication. A release is charged by the hospital's authenticated plan (at least the
planned spend, whatever it claims), weighted by the plan's rows, and rejected with a reason
when it fails to open, carries no DP record in a DP run, comes from a hospital the budget
gate did not admit, or fails the family's validation; the round goes on if the quorum remains.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from fedcore.families.base import AcceptedRelease, SpokePlan, Tensors
from fedcore.federation.release import ReleaseMeta, SealedRelease, model_context, split_meta, update_context
from fedcore.preprocessing.table_stats import TableStats, merge_table_stats
from fedcore.privacy import BudgetDecision, PrivacyLedger, StepRecord
from fedcore.privacy.accountant import compute_epsilon
from fedcore.schema import Schema
from fedcore.sealing import open_update, seal_model
from fedcore.sealing.errors import SealError
from fedcore.sealing.key_provider import KeyProvider
from fedcore.serialization import SerializationError

logger = logging.getLogger(__name__)

MIN_ROWS = 2  # fewer rows cannot be sampled, scaled or planned; such a hospital is dropped
_TOTAL_SLACK_SD = 6.0  # a noisy total further than this many noise sd from the planned rows is refused


class QuorumNotMetError(RuntimeError):
    """Fewer valid hospital contributions than the quorum: the round cannot complete."""


@dataclass(frozen=True)
class GateResult:
    eligible: tuple[str, ...]  # the hospitals whose next release stays within their limits
    decisions: dict[str, BudgetDecision]  # every hospital's ledger decision
    quorum_met: bool


def spokes_within_budget(ledger: PrivacyLedger, planned: dict[str, tuple[StepRecord, ...]], quorum: int) -> GateResult:
    """The hospitals whose planned release stays within their limits (the others are dropped), and the quorum."""
    decisions = {spoke: ledger.check(spoke, list(mechanisms)) for spoke, mechanisms in planned.items()}
    eligible = tuple(spoke for spoke, d in decisions.items() if d.allowed)
    for spoke, decision in decisions.items():
        if not decision.allowed:
            logger.info("budget gate drops %s: epsilon would reach %.3f > limit %.3f",
                        spoke, decision.epsilon_after, decision.limit)
    return GateResult(eligible=eligible, decisions=decisions, quorum_met=len(eligible) >= quorum)


def spend_to_charge(planned: tuple[StepRecord, ...], claimed: tuple[StepRecord, ...] | None,
                    delta: float, accountant: str) -> tuple[StepRecord, ...]:
    """At least the planned spend: the claim only when it spends more (a hospital cannot skip its charge)."""
    if not claimed or claimed == planned:
        return planned
    if not planned:
        return claimed
    spend = lambda records: compute_epsilon(list(records), delta, accountant)  # noqa: E731
    return claimed if spend(claimed) > spend(planned) else planned


ChargeRelease = Callable[[str, "ReleaseMeta | None"], None]


def release_charger(ledger: PrivacyLedger, run_id: str, round_: int,
                    planned: dict[str, tuple[StepRecord, ...]], delta: float, accountant: str) -> ChargeRelease:
    """Charge every released object once, under (spoke, run, round): its plan, or its claim if larger.

    An object that fails to authenticate was still released by somebody under that spoke's
    name; charging the spoke's planned spend is the conservative choice.
    """

    def charge(spoke: str, meta: "ReleaseMeta | None") -> None:
        records = spend_to_charge(planned.get(spoke, ()), meta.mechanisms if meta else None, delta, accountant)
        if records:
            ledger.charge(spoke, run_id, round_, records)

    return charge


def open_release(run_id: str, round_: int, release: SealedRelease, provider: KeyProvider):
    """Open a sealed release under the context it must have; (payload, authenticated meta).

    Every failure to parse or authenticate is a ``SealError``/``SerializationError``/``ValueError``
    for this one object, never an error of the round.
    """
    tensors = open_update(release.blob, update_context(run_id, round_, release.spoke), provider)
    return split_meta(tensors)


def check_dp_record(meta: ReleaseMeta, planned: tuple[StepRecord, ...], private_run: bool) -> None:
    if private_run and not meta.mechanisms:
        raise ValueError("release carries no DP record in a DP run")
    if private_run and meta.mechanisms != planned:
        raise ValueError(f"release spent {meta.mechanisms}, its plan is {planned}")


def merge_setup_stats(
    run_id: str,
    releases: Iterable[SealedRelease],
    schema: Schema,
    provider: KeyProvider,
    quorum: int,
    setup_mechanisms: tuple[StepRecord, ...],
    on_release: ChargeRelease,
    statistics: bool = True,
) -> tuple[TableStats | None, dict[str, str], dict[str, ReleaseMeta]]:
    """Open every hospital's round-0 statistics, check them, and sum them.

    A hospital is dropped (and still charged) when its release fails to open, has fewer than
    MIN_ROWS rows, was noised other than the run's setup mechanism says, or has column totals
    that its claimed row count cannot explain. Returns the merged statistics, the rejections and
    the accepted releases' metadata (their row counts become the plans' rows). With ``statistics``
    False (a task without setup statistics) a release must carry nothing but its row count, and the
    merged statistics are None.
    """
    accepted: list[TableStats] = []
    metas: dict[str, ReleaseMeta] = {}
    rejected: dict[str, str] = {}
    for release in releases:
        meta = None
        try:
            payload, meta = open_release(run_id, 0, release, provider)
            check_dp_record(meta, setup_mechanisms, bool(setup_mechanisms))
            if statistics:
                stats = TableStats.from_tensors(payload, schema)
                _check_setup_stats(stats, meta.num_examples, setup_mechanisms, len(schema.columns))
            else:
                stats = _check_count_only(payload, meta)
            accepted.append(stats)
            metas[release.spoke] = meta
        except (SealError, SerializationError, ValueError, KeyError, RecursionError) as exc:
            rejected[release.spoke] = f"{type(exc).__name__}: {exc}"[:500]
            logger.warning("setup statistics from %s rejected: %s", release.spoke, str(exc)[:200])
        finally:
            on_release(release.spoke, meta)
    if len(accepted) < quorum:
        raise QuorumNotMetError(f"setup round: {len(accepted)} valid statistics, quorum is {quorum}; rejected: {rejected}")
    return (merge_table_stats(accepted) if statistics else None), rejected, metas


def _check_count_only(payload: dict, meta: ReleaseMeta) -> None:
    """A round-0 release of a task without setup statistics: no tensors, no DP record, enough rows."""
    if payload:
        raise ValueError(f"this task's round 0 releases no statistics; the release carries {sorted(payload)[:5]}")
    if meta.mechanisms:
        raise ValueError("this task's round 0 spends no privacy; the release claims mechanisms")
    if meta.num_examples < MIN_ROWS:
        raise ValueError(f"a hospital needs at least {MIN_ROWS} rows, this one has {meta.num_examples}")


def _check_setup_stats(stats: TableStats, rows: int, mechanisms: tuple[StepRecord, ...], columns: int) -> None:
    if rows < MIN_ROWS:
        raise ValueError(f"a hospital needs at least {MIN_ROWS} rows, this one has {rows}")
    expected_std = mechanisms[0].noise_multiplier * np.sqrt(columns) if mechanisms else 0.0
    if not np.isclose(stats.noise_std, expected_std, rtol=1e-9, atol=1e-12):
        raise ValueError(f"statistics carry noise std {stats.noise_std}, the run's setup mechanism gives {expected_std}")
    for name, counts in stats.counts.items():
        slack = _TOTAL_SLACK_SD * expected_std * np.sqrt(counts.size) + 1e-6
        if abs(float(counts.sum()) - rows) > slack:
            raise ValueError(f"column {name!r} counts {counts.sum():.1f} rows, the hospital claims {rows}")


def seal_global_model(run_id: str, round_: int, weights: dict[str, np.ndarray], provider: KeyProvider) -> bytes:
    return seal_model(weights, model_context(run_id, round_), provider)


@dataclass
class ReleaseTally:
    """What happened to each release of a round while it was streamed (the hub's record; the
    aggregator keeps its own totals of the updates it combined in ``fedcore.aggregation.RoundTally``)."""

    round: int
    accepted: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)
    bytes_in: int = 0

    def reject(self, spoke: str, error: Exception) -> None:
        """Record ``spoke``'s release as rejected, also after it was accepted (the aggregator's checks
        run as the accepted releases stream in)."""
        if spoke in self.accepted:
            self.accepted.remove(spoke)
        self.rejected[spoke] = f"{type(error).__name__}: {error}"[:500]
        logger.warning("round %d: release from %s rejected: %s", self.round, spoke, str(error)[:200])


def open_round(
    run_id: str,
    round_: int,
    releases: Iterable[SealedRelease],
    provider: KeyProvider,
    plans: dict[str, SpokePlan],
    admitted: set[str],
    private_run: bool,
    validate: Callable[[Tensors, SpokePlan], None],
    on_release: ChargeRelease,
    tally: ReleaseTally,
) -> Iterator[AcceptedRelease]:
    """Stream a round's releases one at a time: open, charge, check, then yield the accepted ones.

    ``tally.reject`` may still take one back while it is aggregated (``HubRound.reject``)."""
    for release in releases:
        tally.bytes_in += len(release.blob)
        meta = None
        try:
            payload, meta = open_release(run_id, round_, release, provider)
            if release.spoke not in admitted:
                raise ValueError("the budget gate did not admit this hospital to the round")
            plan = plans[release.spoke]
            check_dp_record(meta, plan.mechanisms(round_), private_run)
            validate(payload, plan)
        except (SealError, SerializationError, ValueError, KeyError, RecursionError) as exc:
            tally.reject(release.spoke, exc)
            continue
        finally:
            on_release(release.spoke, meta)
        tally.accepted.append(release.spoke)
        # a DP run keeps no exact loss even if a spoke sent one: nothing un-noised is stored at the hub
        loss = None if private_run else meta.mean_loss
        yield AcceptedRelease(release.spoke, payload, plan.rows, plan.mechanisms(round_), loss)


def require_quorum(round_: int, tally: ReleaseTally, quorum: int) -> None:
    if len(tally.accepted) < quorum:
        raise QuorumNotMetError(f"round {round_}: {len(tally.accepted)} valid releases {sorted(tally.accepted)}, "
                                f"quorum is {quorum}; rejected: {tally.rejected}")
