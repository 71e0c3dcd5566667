"""``bench imports``: cold-start import time of each hub Lambda handler beside a plain ``import torch``.

Each measurement is a fresh interpreter (``python -c "import ..."``), as a Lambda cold start is.
Handlers and the torch baseline are alternated within every repetition, so drift on a shared
machine hits both alike, and the ratio handler / torch is reported next to whether the handler
loaded torch at all (the budget gate, aggregate and finalize steps of the marginal family must
not: their privacy math is torch-free).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

HANDLERS = ("init_run", "budget_gate", "setup_merge", "aggregate", "finalize", "api")
BASELINE = "torch"

# What the deployed functions find in their environment (values are never used at import time).
HANDLER_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench", "HUB_BUCKET": "bench-hub", "HUB_KMS_KEY_ID": "alias/bench",
    "RUNS_TABLE": "bench-runs", "LEDGER_TABLE": "bench-ledger", "AUDIT_TABLE": "bench-audit",
    "SPOKE_IDS": '["hosp-a", "hosp-b"]', "DEFAULT_EPSILON": "3.0", "DELTA": "1e-05",
    "ROUNDS": "6", "QUORUM": "2",
    "STATE_MACHINE_ARN": "arn:aws:states:eu-west-1:111111111111:stateMachine:bench",
    "METRICS_NAMESPACE": "bench", "POWERTOOLS_METRICS_NAMESPACE": "bench",
}
_PROBE = "import sys, time; t = time.perf_counter(); import {module}; " \
         "print(time.perf_counter() - t, 'torch' in sys.modules)"


def time_import(module: str, cwd: Path, env: dict[str, str]) -> tuple[float, bool]:
    """(seconds to import ``module`` in a fresh interpreter, whether torch got loaded)."""
    done = subprocess.run([sys.executable, "-c", _PROBE.format(module=module)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"importing {module} failed: {done.stderr.strip().splitlines()[-1:]}")
    seconds, torch_loaded = done.stdout.split()
    return float(seconds), torch_loaded == "True"


def run_import_bench(repeats: int = 3, handlers: tuple[str, ...] = HANDLERS) -> dict:
    """Median import seconds per handler and of ``import torch``, alternated ``repeats`` times."""
    import os

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, **HANDLER_ENVIRONMENT, "PYTHONPATH": str(root)}
    times: dict[str, list[float]] = {name: [] for name in (*handlers, BASELINE)}
    loads: dict[str, bool] = {}
    for _ in range(repeats):
        for name in handlers:
            seconds, loads[name] = time_import(f"functions.{name}", root, env)
            times[name].append(seconds)
            times[BASELINE].append(time_import("torch", root, env)[0])
    torch_seconds = statistics.median(times[BASELINE])
    result = {name: {"seconds": round(statistics.median(times[name]), 3), "loads_torch": loads[name],
                     "ratio_to_torch": round(statistics.median(times[name]) / torch_seconds, 3)}
              for name in handlers}
    result[BASELINE] = {"seconds": round(torch_seconds, 3), "loads_torch": True, "ratio_to_torch": 1.0}
    return result
