"""The round loop in one process: the state machine's steps, in its order, over any stores.

``simulate`` runs this over in-memory stores; the sandbox and a deployment run the same steps
from the synthesized state machine (cdk/components/round_loop.py). Both orders are the same:
InitRun, BudgetGate(0), the setup jobs, SetupMerge, then BudgetGate, the spoke jobs and Aggregate
for each round, then Finalize. Only who calls the steps, and which stores they get, differ.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fedcore.privacy import PrivacyLedger
from fedcore.runtime.aggregate import aggregate
from fedcore.runtime.budget_gate import budget_gate
from fedcore.runtime.finalize import finalize
from fedcore.runtime.init_run import init_run
from fedcore.runtime.ports import HubServices
from fedcore.runtime.setup_merge import setup_merge
from fedcore.runtime.spoke_policy import SpokePolicy
from fedcore.runtime.spoke_release import ReleaseSettings, make_release

logger = logging.getLogger(__name__)

EventHandler = Callable[[str, dict], None]


@dataclass
class LocalHospital:
    """A hospital of the simulation: its rows, its own policy and its own ledger."""

    spoke_id: str
    table: bytes | dict[str, bytes]  # its CSV (or a task's data: an .npz, or name -> bytes under a prefix),
    # as its private bucket would hold it
    policy: SpokePolicy
    ledger: PrivacyLedger


def drive_run(
    services: HubServices,
    run_id: str,
    config: dict,
    schema,
    hospitals: list[LocalHospital],
    default_limit: float,
    seed: int | None = None,  # None: fresh OS entropy at every spoke (as deployed); an int: reproducible
    on_event: EventHandler | None = None,
) -> dict:
    """Run one whole run; returns Finalize's answer plus each round's step answers."""
    emit = on_event or (lambda _event, _data: None)
    spokes = [{"spoke_id": h.spoke_id} for h in hospitals]
    by_id = {h.spoke_id: h for h in hospitals}
    position = {h.spoke_id: i for i, h in enumerate(hospitals)}
    config_sha256 = init_run(services, run_id, config, schema, spokes, default_limit)["config_sha256"]
    steps: list[dict] = []

    def jobs(gate: dict, mode: str) -> list[dict]:
        results = []
        for spoke in gate["eligible_spokes"]:
            hospital = by_id[spoke["spoke_id"]]
            started = time.perf_counter()
            rng = None if seed is None else np.random.default_rng([seed, gate["round"], position[hospital.spoke_id]])
            try:
                settings = ReleaseSettings(run_id, gate["round"], hospital.spoke_id, mode, config_sha256)
                answer = make_release(settings, services.blobs, hospital.table, services.keys, hospital.ledger,
                                      hospital.policy, rng=rng)
                results.append(answer | {"seconds": round(time.perf_counter() - started, 3)})
            except Exception as exc:  # noqa: BLE001 - a failed job is a failed Map item, as in the state machine
                logger.warning("job of %s in round %d failed: %s", hospital.spoke_id, gate["round"], exc)
                results.append({"spoke_id": hospital.spoke_id, "status": "FAILED",
                                "error": f"{type(exc).__name__}: {exc}"[:500]})
            emit("spoke_done", {"round": gate["round"], "spoke": hospital.spoke_id, "result": results[-1]})
        return results

    gate = budget_gate(services, run_id, 0, spokes)
    if not gate["quorum_met"]:
        return _finish(services, run_id, "BUDGET_EXHAUSTED", steps, emit)
    emit("round_start", {"round": 0, "kind": "setup", "spokes": [s["spoke_id"] for s in gate["eligible_spokes"]]})
    progress = setup_merge(services, run_id, jobs(gate, "stats"))
    steps.append(progress | {"kind": "setup"})
    emit("round_done", steps[-1])
    while progress["quorum_met"] and progress["more_rounds"]:
        gate = budget_gate(services, run_id, progress["round"] + 1, spokes)
        if not gate["quorum_met"]:
            return _finish(services, run_id, "BUDGET_EXHAUSTED", steps, emit)
        emit("round_start", {"round": gate["round"], "spokes": [s["spoke_id"] for s in gate["eligible_spokes"]]})
        progress = aggregate(services, run_id, gate["round"], jobs(gate, "train"))
        steps.append(progress)
        emit("round_done", progress)
    status = "COMPLETED" if progress["quorum_met"] else "QUORUM_LOST"
    return _finish(services, run_id, status, steps, emit)


def _finish(services: HubServices, run_id: str, status: str, steps: list[dict], emit: EventHandler) -> dict:
    final = finalize(services, run_id, status)
    emit("stopped" if status != "COMPLETED" else "finished", final)
    return final | {"steps": steps}

