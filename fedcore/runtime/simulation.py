"""``simulate``'s federation: the runtime steps driven in one process over in-memory stores.

Each simulated hospital gets its own ledger and its own policy (its cap is the run's limit;
``--no-dp`` is each simulated hospital opting out of DP itself, as a real one would in its
own account). Sealing uses a local AES key provider instead of KMS; nothing else differs
from the serverless path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pandas as pd

from fedcore.audit import AuditLog, InMemoryAuditStore
from fedcore.privacy import InMemoryLedgerStore, PrivacyLedger
from fedcore.run_config import RunConfig
from fedcore.runtime.driver import EventHandler, LocalHospital, drive_run
from fedcore.runtime.generate import find_model_version
from fedcore.runtime.memory_stores import InMemoryBlobStore, InMemoryRunStore
from fedcore.runtime.ports import HubServices
from fedcore.runtime.spoke_policy import SpokePolicy
from fedcore.schema import Schema
from fedcore.sealing.key_provider import LocalKeyProvider


@dataclass
class SimulationResult:
    status: str
    services: HubServices  # the hub's stores after the run (models, ledger, audit, runs)
    model_version: dict | None  # the published version, None if nothing was published
    run: dict  # the runs-table record
    rounds: list[dict] = field(default_factory=list)  # per-round metrics as Aggregate recorded them
    hospital_ledgers: dict[str, PrivacyLedger] = field(default_factory=dict)


def in_memory_services(config: RunConfig) -> HubServices:
    return HubServices(
        blobs=InMemoryBlobStore(),
        keys=LocalKeyProvider(os.urandom(32)),
        ledger=PrivacyLedger(InMemoryLedgerStore(), config.privacy.delta, config.privacy.accountant),
        audit=AuditLog(InMemoryAuditStore()),
        runs=InMemoryRunStore(),
    )


def simulate_federation(
    partitions: dict[str, pd.DataFrame | bytes | dict[str, bytes]],  # a table, or a task's own data (images)
    schema: Schema,
    config: RunConfig,
    on_event: EventHandler | None = None,
    services: HubServices | None = None,
    run_id: str = "run-local",
) -> SimulationResult:
    if len(partitions) < config.quorum:
        raise ValueError(f"{len(partitions)} hospitals cannot meet a quorum of {config.quorum}")
    services = services or in_memory_services(config)
    limit = config.privacy.target_epsilon  # each simulated hospital's cap and ledger limit
    policy = SpokePolicy(epsilon_cap=limit, allow_no_dp=not config.privacy.enabled,
                         max_delta=config.privacy.delta)
    hospitals = [
        LocalHospital(name, frame if isinstance(frame, (bytes, dict)) else frame.to_csv(index=False).encode(), policy,
                      PrivacyLedger(InMemoryLedgerStore(), config.privacy.delta, config.privacy.accountant))
        for name, frame in partitions.items()
    ]
    final = drive_run(services, run_id, config.model_dump(mode="json"), schema, hospitals, limit, seed=config.seed,
                      on_event=on_event)
    version = find_model_version(services, final["model_version"]) if final["model_version"] else None
    return SimulationResult(
        status=final["status"], services=services, model_version=version, run=services.runs.get_run(run_id),
        rounds=sorted(services.runs.list_rounds(run_id), key=lambda m: m["round"]),
        hospital_ledgers={h.spoke_id: h.ledger for h in hospitals},
    )
