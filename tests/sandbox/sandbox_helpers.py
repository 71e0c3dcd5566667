"""Helpers of the sandbox tests: tiny runs and readers of the stored state.

Each run uses a tiny model and one local epoch so that a round costs seconds of training; most of
a run's time is the trainer processes starting (torch import). The target epsilon is small so that
several runs fit within every hospital's budget in one sandbox.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from fedcore.datasets import load_actg175
from fedcore.partition import partition_dirichlet
from fedcore.runtime import layout

TINY_RUN = {"schema": "actg175", "rounds": 1, "epochs_per_round": 1, "model": {"family": "diffusion", "hidden_dim": 32, "num_blocks": 1},
            "privacy": {"target_epsilon": 1.0, "setup_epsilon_share": 0.3}}  # about 1 epsilon per run
RUN_TIMEOUT = 600


def tiny_config(**overrides) -> dict:
    return {**TINY_RUN, **overrides}


def partitions(spokes: list[str]) -> dict[str, bytes]:
    dataset = load_actg175()
    parts = partition_dirichlet(dataset.frame, len(spokes), "arms", seed=0)
    return {spoke: part.to_csv(index=False).encode() for spoke, part in zip(spokes, parts)}


def run(sandbox, run_id: str, config: dict):
    """Start ``run_id`` and wait for it; return (execution result, hub services)."""
    execution = sandbox.start_run(run_id, config)
    return sandbox.wait(execution, timeout=RUN_TIMEOUT), sandbox.operator_services()


@contextlib.contextmanager
def limits_restored(sandbox) -> Iterator:
    """The hub ledger, with every hospital's limit put back afterwards (the module's sandbox is shared)."""
    ledger = sandbox.operator_services().ledger
    limits = {s: ledger.limit(s) for s in sandbox.spoke_ids}
    try:
        yield ledger
    finally:
        for spoke, limit in limits.items():
            ledger.set_limit(spoke, limit)


def audit(services, action: str | None = None, run_id: str | None = None) -> list:
    return [e for e in services.audit.entries()
            if (action is None or e.action == action) and (run_id is None or e.details.get("run_id") == run_id)]


def round_metrics(services, run_id: str, round_: int) -> dict:
    (metrics,) = [m for m in services.runs.list_rounds(run_id) if m["round"] == round_]
    return metrics


def charged_rounds(ledger, spoke: str, run_id: str) -> list[int]:
    return sorted(c.round for c in ledger.history(spoke) if c.run == run_id)


def object_versions(sandbox, key: str) -> int:
    """How many versions of ``key`` the (versioned) hub bucket holds: a create-only write leaves one."""
    listed = sandbox.hub_client("s3").list_object_versions(Bucket=sandbox.hub.bucket, Prefix=key)
    return len([v for v in listed.get("Versions", []) if v["Key"] == key])


def update_key(run_id: str, round_: int, spoke: str) -> str:
    return layout.update_key(run_id, round_, spoke)


def write_text(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(lines))
    return path
