"""One invocation of the Aggregate handler, measured inside the process that makes it (``bench aggregate``).

The process stands for the function's Lambda container: the bench starts it with the function's
environment, by path and with ``-P`` (``python -P .../aggregate_probe.py EVENT [--warm]``), never as
``python -m fedcore.sandbox...``, which would first import the sandbox package (moto, boto3) into the
container being measured. It prints one line, ``MEASURED {json}``: the call's seconds, tracemalloc's
peak over the call, and the process's peak RSS (VmHWM) before and after it. A cold container loads
service models and lazy imports during the call; ``--warm`` does those first.
"""

from __future__ import annotations

import json
import sys
import time
import tracemalloc

from functions.aggregate import handler
from functions.hub_environment import step_services

MARKER = "MEASURED "  # the handler's own logs share stdout


class LambdaContext:
    function_name = "aggregate"
    memory_limit_in_mb = 4096
    aws_request_id = "bench-aggregate"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:111111111111:function:aggregate"


def high_water_mib() -> float:
    """VmHWM: the peak RSS of this process image (``ru_maxrss`` would carry the parent's over exec)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return round(int(line.split()[1]) / 1024, 1)


def warm_up(event: dict) -> None:
    """What an earlier invocation would have left loaded: imports, and each client's service model."""
    import fedcore.aggregation.flower_strategies  # noqa: F401
    from fedcore.federation.release import model_context
    from fedcore.runtime import layout
    from fedcore.sealing import open_model

    services = step_services("aggregate")
    run_id = event["run_id"]
    open_model(services.blobs.get(layout.model_key(run_id, 0)), model_context(run_id, 0), services.keys)
    services.blobs.list_keys(layout.updates_prefix(run_id, 0))
    services.runs.get_run(run_id)
    services.ledger.spent(event["reports"][0]["spoke_id"])
    list(services.audit.entries(1))[:1]


def main(argv: list[str]) -> int:
    event, warm = json.loads(argv[0]), "--warm" in argv[1:]
    step_services("aggregate")  # the container's adapters exist before the invocation
    if warm:
        warm_up(event)
    before = high_water_mib()
    tracemalloc.start()
    started = time.perf_counter()
    result = handler(event, LambdaContext())
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    after = high_water_mib()
    print(MARKER + json.dumps({"quorum_met": result["quorum_met"], "aggregated": len(result["spokes"]),
                               "seconds": round(seconds, 3), "traced_peak_mib": round(peak / 2**20, 1),
                               "peak_rss_before_call_mib": before, "peak_rss_after_call_mib": after}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
