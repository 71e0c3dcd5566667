"""One invocation of the Aggregate handler, measured inside the process that makes it (``bench aggregate``).

The process stands for the function's Lambda container: the bench starts it with the function's
environment, by path and with ``-P`` (``python -P .../aggregate_probe.py EVENT [EARLIER_EVENT]``),
never as ``python -m sandbox...``, which would first import the sandbox package (moto, the emulator)
into the container being measured. Like the Lambda runtime it calls only the handler,
``functions.aggregate.handler``: a cold container builds its adapters, loads service models and makes
its lazy imports during the measured call; a warm one has served ``EARLIER_EVENT`` (another run's
round) first. It prints one line, ``MEASURED {json}``: the call's seconds, tracemalloc's peak over the
call, and the process's peak RSS (VmHWM) before and after it.
"""

from __future__ import annotations

import json
import sys
import time
import tracemalloc

from functions.aggregate import handler

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


def main(argv: list[str]) -> int:
    event = json.loads(argv[0])
    for earlier in argv[1:]:  # a warm container: what an earlier invocation loaded stays loaded
        handler(json.loads(earlier), LambdaContext())
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
