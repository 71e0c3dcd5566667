"""The whole federated run in one process: setup round, gated DP rounds, sealed updates.

Every hospital and the hub exchange only sealed bytes, through the same spoke and hub
functions the serverless runtime calls; only the transport (a list in memory instead of S3)
and the key provider (local instead of KMS) differ.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fedcore.aggregation.registry import make_aggregator
from fedcore.federation import hub, spoke
from fedcore.federation.privacy_plan import SpokePrivacyPlan, plan_spoke, setup_record
from fedcore.model.weights import initial_weights
from fedcore.preprocessing.preprocessor import GlobalPreprocessor
from fedcore.privacy import InMemoryLedgerStore, PrivacyLedger
from fedcore.run_config import RunConfig
from fedcore.schema import Schema
from fedcore.sealing.key_provider import LocalKeyProvider

logger = logging.getLogger(__name__)

EventHandler = Callable[[str, dict], None]

COMPLETED, BUDGET_EXHAUSTED, FAILED = "COMPLETED", "BUDGET_EXHAUSTED", "FAILED"


@dataclass
class FederationResult:
    status: str
    weights: dict[str, np.ndarray]
    preprocessor: GlobalPreprocessor
    plans: dict[str, SpokePrivacyPlan | None]
    rounds: list[dict] = field(default_factory=list)
    epsilon: dict[str, float | None] = field(default_factory=dict)
    epsilon_per_round: dict[str, list[float]] = field(default_factory=dict)
    setup_rejected: dict[str, str] = field(default_factory=dict)
    message: str = ""


def run_federation(
    partitions: dict[str, pd.DataFrame],
    schema: Schema,
    config: RunConfig,
    on_event: EventHandler | None = None,
    ledger: PrivacyLedger | None = None,
) -> FederationResult:
    """Run the setup round and ``config.rounds`` training rounds across ``partitions``."""
    emit = on_event or (lambda _event, _data: None)
    model_config, train_config = config.diffusion_config(), config.train_config()
    if len(partitions) < config.quorum:
        raise ValueError(f"{len(partitions)} hospitals cannot meet a quorum of {config.quorum}")
    dp = config.privacy.enabled
    provider = LocalKeyProvider(os.urandom(32))
    if ledger is None:
        ledger = PrivacyLedger(InMemoryLedgerStore(), config.privacy.delta, config.privacy.accountant)
    limit = config.privacy.epsilon_limit or config.privacy.target_epsilon
    for name in partitions:
        ledger.set_limit(name, limit)

    # Round 0: DP statistics -> one global preprocessor (DESIGN.md section 4).
    started = time.perf_counter()
    setup = setup_record(config) if dp else None
    rng = np.random.default_rng(config.seed)
    releases = []
    for i, (name, frame) in enumerate(partitions.items()):
        releases.append(
            spoke.release_setup_stats(name, config.run_id, frame, schema, setup, config.stats_bins, provider, rng)
        )
    preprocessor, setup_rejected, _ = hub.merge_setup_stats(
        config.run_id, releases, schema, provider, config.quorum, config.numeric_transform,
        on_release=hub.release_charger(ledger, config.run_id, 0, {n: setup for n in partitions}),
    )
    plans = {name: plan_spoke(config, len(frame)) if dp else None for name, frame in partitions.items()}
    weights = initial_weights(preprocessor.layout, model_config, seed=config.seed)
    sealed_model = hub.seal_global_model(config.run_id, 0, weights, provider)
    result = FederationResult(
        status=COMPLETED, weights=weights, preprocessor=preprocessor, plans=plans, setup_rejected=setup_rejected
    )
    _record_epsilon(result, ledger, partitions, dp)
    emit("setup", {"seconds": time.perf_counter() - started, "plans": plans, "epsilon": dict(result.epsilon)})

    aggregator = make_aggregator(config.strategy, **config.strategy_params)
    for round_ in range(1, config.rounds + 1):
        started = time.perf_counter()
        eligible = list(partitions)
        if dp:
            gate = hub.budget_gate(ledger, {n: p for n, p in plans.items() if p is not None}, config.quorum)
            eligible = list(gate.eligible)
            if not gate.quorum_met:
                result.status = BUDGET_EXHAUSTED
                result.message = f"round {round_}: only {eligible} within budget, quorum is {config.quorum}"
                emit("stopped", {"round": round_, "status": result.status, "message": result.message})
                break
        emit("round_start", {"round": round_, "spokes": eligible})
        round_releases = []
        for name in eligible:
            release = spoke.train_round(
                name, config.run_id, round_, partitions[name], preprocessor, sealed_model,
                model_config, train_config, plans[name], provider, seed=config.seed * 10_007 + round_ * 101 + len(round_releases),
            )
            round_releases.append(release)
            emit("spoke_done", {"round": round_, "spoke": name, "loss": release.meta.mean_loss})
        planned = {n: (p.round_record if p else None) for n, p in plans.items()}
        try:
            outcome = hub.aggregate_round(
                config.run_id, round_, weights, round_releases, aggregator, provider, config.quorum,
                on_release=hub.release_charger(ledger, config.run_id, round_, planned),
            )
        except hub.QuorumNotMetError as exc:
            result.status, result.message = FAILED, str(exc)
            emit("stopped", {"round": round_, "status": FAILED, "message": str(exc)})
            break
        weights, sealed_model = outcome.weights, outcome.sealed_model
        result.weights = weights
        _record_epsilon(result, ledger, partitions, dp)
        seconds = time.perf_counter() - started
        result.rounds.append(
            {
                "round": round_,
                "loss": outcome.loss,
                "spokes": outcome.spokes,
                "rejected": outcome.rejected,
                "seconds": round(seconds, 3),
                "bytes_in": outcome.bytes_in,
                "bytes_out": len(sealed_model),
                "epsilon": dict(result.epsilon),
            }
        )
        emit("round_done", result.rounds[-1])
    return result


def _record_epsilon(result: FederationResult, ledger: PrivacyLedger, partitions, dp: bool) -> None:
    for name in partitions:
        epsilon = ledger.spent(name) if dp else None
        result.epsilon[name] = epsilon
        if epsilon is not None:
            result.epsilon_per_round.setdefault(name, []).append(epsilon)
