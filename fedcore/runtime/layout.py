"""Where things live in the hub bucket (DESIGN.md section 2)."""

from __future__ import annotations


def update_key(run_id: str, round_: int, spoke: str) -> str:
    """A spoke's sealed update; round 0 holds its setup statistics."""
    return f"updates/{run_id}/{round_:04d}/{spoke}"


def updates_prefix(run_id: str, round_: int) -> str:
    return f"updates/{run_id}/{round_:04d}/"


def model_key(run_id: str, round_: int) -> str:
    """The sealed global model after ``round_`` (0 = the initial model)."""
    return f"models/{run_id}/{round_:04d}.sealed"


def preprocessor_key(run_id: str) -> str:
    return f"models/{run_id}/preprocessor.json"


def aggregator_state_key(run_id: str, round_: int) -> str:
    return f"runs/{run_id}/aggregator/{round_:04d}.sealed"


def synthetic_key(request_id: str) -> str:
    return f"generated/{request_id}.csv"


def config_key(run_id: str) -> str:
    """The run's config, readable by the spokes (they may read ``models/*`` only)."""
    return f"models/{run_id}/config.json"


def schema_key(run_id: str) -> str:
    """The table schema every spoke must conform to."""
    return f"models/{run_id}/schema.json"


def plans_key(run_id: str) -> str:
    """Each spoke's DP plan as the hub computed it at setup (spokes verify, then reuse it)."""
    return f"models/{run_id}/plans.json"
