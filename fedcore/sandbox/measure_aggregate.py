"""Peak memory of the Aggregate handler over N hospitals' sealed updates, in its own process.

    python -m fedcore.sandbox.measure_aggregate --spokes 5 20 [--model '{"hidden_dim": 256}']

For each N, a sandbox with N hospitals: the run's setup is done by the real runtime steps against
the emulator (InitRun, each hospital's statistics release, SetupMerge, the round-1 budget gate);
N round-1 updates are made by sealing perturbed copies of model 0 under each hospital's context,
as a hospital would seal its own. Then ``functions.aggregate.handler`` runs in a child process (a
Lambda container of its own) with the function's environment: tracemalloc's peak over the call
and the process's peak RSS (VmHWM) before and after it are reported, beside the model and update
sizes, for a cold container (first call: service models and lazy imports load during the call)
and a warm one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from fedcore.datasets import load_actg175
from fedcore.federation.release import ReleaseMeta, attach_meta
from fedcore.federation.release import model_context, update_context
from fedcore.privacy import InMemoryLedgerStore, PrivacyLedger
from fedcore.runtime import layout
from fedcore.runtime.budget_gate import budget_gate
from fedcore.runtime.init_run import init_run
from fedcore.runtime.run_state import load_run, spoke_plans
from fedcore.runtime.setup_merge import setup_merge
from fedcore.runtime.spoke_policy import SpokePolicy
from fedcore.runtime.spoke_release import ReleaseSettings, make_release
from fedcore.sandbox.sandbox import Sandbox
from fedcore.sealing import open_model, seal_update

REPO_ROOT = Path(__file__).resolve().parents[2]
_CHILD = """
import json, os, sys, time, tracemalloc
from functions.aggregate import handler
from functions.hub_environment import step_services
services = step_services("aggregate")  # the container's adapters exist before the invocation
if os.environ.get("WARM"):  # a warm container: clients have loaded their service models, imports are done
    import fedcore.aggregation.flower_strategies
    from fedcore.federation.release import model_context
    from fedcore.runtime import layout
    from fedcore.sealing import open_model
    event = json.loads(sys.argv[1])
    open_model(services.blobs.get(layout.model_key(event["run_id"], 0)), model_context(event["run_id"], 0),
               services.keys)
    services.blobs.list_keys(layout.updates_prefix(event["run_id"], 0))
    services.runs.get_run(event["run_id"]); services.ledger.spent(event["reports"][0]["spoke_id"])
    list(services.audit.entries(1))[:1]
class Context:
    function_name = "aggregate"; memory_limit_in_mb = 4096; aws_request_id = "measure"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:111111111111:function:aggregate"
def high_water_mib():  # VmHWM: peak RSS of this process image (ru_maxrss would carry the parent's over exec)
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    return round(int(line.split()[1]) / 1024, 1)
before = high_water_mib()
tracemalloc.start()
started = time.perf_counter()
result = handler(json.loads(sys.argv[1]), Context())
seconds = time.perf_counter() - started
peak = tracemalloc.get_traced_memory()[1]
after = high_water_mib()
print("MEASURED " + json.dumps({"quorum_met": result["quorum_met"], "spokes": len(result["spokes"]),
      "seconds": round(seconds, 3), "traced_peak_mib": round(peak / 2**20, 1),
      "peak_rss_before_call_mib": before, "peak_rss_after_call_mib": after}))
"""


def measure(spokes: int, model: dict, workdir: Path) -> dict:
    with Sandbox(spokes, workdir=workdir) as sandbox:
        dataset = load_actg175()
        parts = np.array_split(np.random.default_rng(0).permutation(len(dataset.frame)), spokes)
        tables = {s: dataset.frame.iloc[idx].to_csv(index=False).encode() for s, idx in zip(sandbox.spoke_ids, parts)}
        function = sandbox.hub.functions["aggregate"]
        role = sandbox.hub_client("lambda").get_function(FunctionName=function.name)["Configuration"]["Role"]
        env = {**{k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}, **function.environment,
               **sandbox.emulator.credentials(role).environment(), "AWS_ENDPOINT_URL": sandbox.emulator.endpoint_url,
               "AWS_REGION": sandbox.hub.region, "AWS_DEFAULT_REGION": sandbox.hub.region,
               "PYTHONPATH": str(REPO_ROOT), "POWERTOOLS_METRICS_DISABLED": "true"}
        measured = {}
        for container in ("cold", "warm"):  # one run each: a second call on the same round would do nothing
            run_id = f"memory-{container}"
            sizes = _prepare_round(sandbox, run_id, tables, dataset.schema, model)
            event = {"run_id": run_id, "round": 1, "quorum": min(2, spokes),
                     "reports": [{"spoke_id": s, "status": "SUCCEEDED"} for s in sandbox.spoke_ids]}
            done = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(event)], cwd=REPO_ROOT,
                                  env={**env, **({"WARM": "1"} if container == "warm" else {})},
                                  capture_output=True, text=True, check=True)
            line = next(line for line in done.stdout.splitlines() if line.startswith("MEASURED "))
            measured[container] = json.loads(line[len("MEASURED "):])
    return {"spokes": spokes, **sizes, "updates_total_mib": round(spokes * sizes["sealed_update_mib"], 1), **measured}


def _prepare_round(sandbox: Sandbox, run_id: str, tables: dict[str, bytes], schema, model: dict) -> dict:
    """Set up ``run_id`` with the real steps and leave one sealed round-1 update per hospital."""
    services = sandbox.operator_services()
    spokes = len(tables)
    init_run(services, run_id, {"rounds": 1, "quorum": min(2, spokes), "model": {"family": "diffusion", **model}},
             schema,
             sandbox.hub.spokes, 8.0)
    for spoke, table in tables.items():  # each hospital's setup release
        make_release(ReleaseSettings(run_id, 0, spoke, "stats"), services.blobs, table, services.keys,
                    PrivacyLedger(InMemoryLedgerStore(), 1e-5), SpokePolicy(epsilon_cap=8.0))
    setup_merge(services, run_id, [])
    budget_gate(services, run_id, 1, sandbox.hub.spokes)
    model0 = open_model(services.blobs.get(layout.model_key(run_id, 0)), model_context(run_id, 0), services.keys)
    plans = spoke_plans(load_run(services, run_id))
    rng = np.random.default_rng(1)
    update_bytes = 0
    for spoke in tables:
        weights = {k: (v + rng.normal(0, 1e-3, v.shape)).astype(v.dtype) for k, v in model0.items()}
        meta = ReleaseMeta(num_examples=plans[spoke].rows, mechanisms=plans[spoke].mechanisms(1), mean_loss=0.5)
        blob = seal_update(attach_meta(weights, meta), update_context(run_id, 1, spoke), services.keys)
        services.blobs.put_new(layout.update_key(run_id, 1, spoke), blob)
        update_bytes = len(blob)
    return {"parameters": int(sum(v.size for v in model0.values())),
            "model_mib": round(sum(v.nbytes for v in model0.values()) / 2**20, 2),
            "sealed_update_mib": round(update_bytes / 2**20, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spokes", type=int, nargs="+", default=[5, 20])
    parser.add_argument("--model", type=json.loads, default={}, help="DiffusionConfig overrides (default: defaults)")
    parser.add_argument("--workdir", type=Path, default=Path("out/measure-aggregate"))
    args = parser.parse_args(argv)
    for n in args.spokes:
        print(json.dumps(measure(n, args.model, args.workdir / f"{n}-spokes")), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
