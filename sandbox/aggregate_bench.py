"""``bench aggregate``: peak memory and time of the Aggregate handler over N hospitals' sealed updates.

For each N, a sandbox with N hospitals: the run's setup is done by the real runtime steps against
the emulator (InitRun, each hospital's statistics release, SetupMerge, the round-1 budget gate);
N round-1 updates are made by sealing perturbed copies of model 0 under each hospital's context,
as a hospital would seal its own. Then ``functions.aggregate.handler`` runs in a process of its own
(``aggregate_probe``, standing for a Lambda container) with the function's environment and role,
once cold and once warm (after a call on another run's round, prepared the same way). Each row sets
the handler's traced peak beside its baselines from the same run: the model's size and the size of
all N updates (a handler that held every update at once would read 1 or more against the latter; a
streaming one falls as N grows).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fedcore.datasets import load_actg175
from fedcore.federation.release import ReleaseMeta, attach_meta, model_context, update_context
from fedcore.privacy import InMemoryLedgerStore, PrivacyLedger
from fedcore.runtime import layout
from fedcore.runtime.budget_gate import budget_gate
from fedcore.runtime.init_run import init_run
from fedcore.runtime.run_state import load_run, spoke_plans
from fedcore.runtime.setup_merge import setup_merge
from fedcore.runtime.spoke_policy import SpokePolicy
from fedcore.runtime.spoke_release import ReleaseSettings, make_release
from fedcore.sealing import open_model, seal_update
from sandbox.sandbox import Sandbox

DEFAULT_SPOKES = (5, 20)
QUICK_SPOKES = (2,)  # the smallest round: a quorum of two
QUICK_MODEL = {"hidden_dim": 32}  # DiffusionConfig overrides under --quick
CONTAINERS = ("cold", "warm")
WARM_UP_RUN = "bench-warm-up"  # the round a warm container served before the measured one
PROBE = Path(__file__).with_name("aggregate_probe.py")  # run by path, not imported: it imports the handler
MARKER = "MEASURED "  # aggregate_probe.MARKER


def run_aggregate_bench(spokes: Sequence[int] = DEFAULT_SPOKES, model: dict | None = None,
                        workdir: Path = Path("out/bench-aggregate")) -> list[dict]:
    """One row per (hospitals, cold or warm container), in that order."""
    if not spokes or min(spokes) < 1:
        raise ValueError(f"--spokes needs one or more hospital counts >= 1, got {list(spokes)}")
    return [row for n in spokes for row in measure(n, model or {}, Path(workdir) / f"{n}-spokes")]


def measure(spokes: int, model: dict, workdir: Path) -> list[dict]:
    with Sandbox(spokes, workdir=workdir) as sandbox:
        dataset = load_actg175()
        parts = np.array_split(np.random.default_rng(0).permutation(len(dataset.frame)), spokes)
        tables = {s: dataset.frame.iloc[idx].to_csv(index=False).encode() for s, idx in zip(sandbox.spoke_ids, parts)}
        environment = _function_environment(sandbox)
        rows = []
        for container in CONTAINERS:  # a run each: a second call on the same round would do nothing
            run_id = f"bench-{container}"
            sizes = _prepare_round(sandbox, run_id, tables, dataset.schema, model)
            earlier = []
            if container == "warm":
                _prepare_round(sandbox, WARM_UP_RUN, tables, dataset.schema, model)
                earlier = [_event(WARM_UP_RUN, sandbox.spoke_ids)]
            measured = _invoke(_event(run_id, sandbox.spoke_ids), earlier, environment, workdir)
            updates_mib = spokes * sizes["update_mib"]
            rows.append({"spokes": spokes, "container": container, **sizes, "updates_mib": round(updates_mib, 3),
                         **measured,
                         "peak_to_model": round(measured["traced_peak_mib"] / sizes["model_mib"], 2),
                         "peak_to_updates": round(measured["traced_peak_mib"] / updates_mib, 3)})
    return rows


def _function_environment(sandbox: Sandbox) -> dict[str, str]:
    """The Aggregate function's environment and its role's credentials, pointed at the emulator."""
    function = sandbox.hub.functions["aggregate"]
    return {**{k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}, **function.environment,
            **sandbox.emulator.credentials(function.role_arn).environment(),
            "AWS_ENDPOINT_URL": sandbox.emulator.endpoint_url,
            "AWS_REGION": sandbox.hub.region, "AWS_DEFAULT_REGION": sandbox.hub.region,
            "POWERTOOLS_METRICS_DISABLED": "true"}


def _event(run_id: str, spoke_ids: list[str]) -> dict:
    """The state machine's Aggregate input for round 1 with every hospital's job reported done."""
    return {"run_id": run_id, "round": 1, "quorum": min(2, len(spoke_ids)),
            "reports": [{"spoke_id": s, "status": "SUCCEEDED"} for s in spoke_ids]}


def _invoke(event: dict, earlier: list[dict], environment: dict[str, str], workdir: Path) -> dict:
    """The probe's measurement of ``event``, in a container that has served ``earlier`` first. The installed
    packages only: no PYTHONPATH, and ``-P`` keeps the probe's own folder off sys.path."""
    command = [sys.executable, "-P", str(PROBE), json.dumps(event), *map(json.dumps, earlier)]
    done = subprocess.run(command, cwd=workdir, env=environment, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the aggregate handler's process failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    line = next(line for line in done.stdout.splitlines() if line.startswith(MARKER))
    return json.loads(line[len(MARKER):])


def _prepare_round(sandbox: Sandbox, run_id: str, tables: dict[str, bytes], schema, model: dict) -> dict:
    """Set up ``run_id`` with the real steps and leave one sealed round-1 update per hospital."""
    services = sandbox.operator_services()
    spokes = len(tables)
    config = {"rounds": 1, "quorum": min(2, spokes), "model": {"family": "diffusion", **model}}
    started = init_run(services, run_id, config, schema, sandbox.hub.spokes, 8.0)
    for spoke, table in tables.items():  # each hospital's setup release
        settings = ReleaseSettings(run_id, 0, spoke, "stats", started["config_sha256"])
        make_release(settings, services.blobs, table, services.keys, PrivacyLedger(InMemoryLedgerStore(), 1e-5),
                     SpokePolicy(epsilon_cap=8.0))
    setup_merge(services, run_id, [])
    budget_gate(services, run_id, 1, sandbox.hub.spokes)
    model0 = open_model(services.blobs.get(layout.model_key(run_id, 0)), model_context(run_id, 0), services.keys)
    plans = spoke_plans(load_run(services, run_id))
    rng = np.random.default_rng(1)
    update_bytes = 0
    for spoke in tables:
        weights = {k: (v + rng.normal(0, 1e-3, v.shape)).astype(v.dtype) for k, v in model0.items()}
        meta = ReleaseMeta(num_examples=plans[spoke].rows, mechanisms=plans[spoke].mechanisms(1))
        blob = seal_update(attach_meta(weights, meta), update_context(run_id, 1, spoke), services.keys)
        services.blobs.put_new(layout.update_key(run_id, 1, spoke), blob)
        update_bytes = len(blob)
    return {"parameters": int(sum(v.size for v in model0.values())),
            "model_mib": round(sum(v.nbytes for v in model0.values()) / 2**20, 3),
            "update_mib": round(update_bytes / 2**20, 3)}
