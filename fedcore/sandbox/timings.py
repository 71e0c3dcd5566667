"""Where a round's wall time goes in the sandbox: training, aggregation, and everything else.

A round's window runs from its budget gate being entered to its aggregation state being left
(Step Functions history). Training compute is the slowest hospital's local training (the trainer
logs it; jobs run in parallel), aggregation compute is what the Aggregate step measured itself.
The rest is orchestration overhead: Lambda steps, state transitions, job submission and polling,
and each trainer process starting (interpreter, torch import) and fetching/sealing.
"""

from __future__ import annotations

import re
from pathlib import Path

from fedcore.sandbox.batch_runtime import JobRun

_TRAINED = re.compile(r"local training: .*?, (\d+(?:\.\d+)?) s, dp=")
_JOB = re.compile(r"^(stats|train)-r(\d+)-")
_WINDOWS = {"SetupBudgetGate": "SetupMerge", "BudgetGate": "Aggregate"}


def round_timings(events: list[dict], jobs: list[JobRun], run_id: str, rounds: list[dict]) -> list[dict]:
    """Per round (0 = setup): wall seconds, training and aggregation compute, and the rest."""
    jobs = [j for j in jobs if j.run_id == run_id]
    aggregate_seconds = {m["round"]: m.get("aggregate_seconds") or 0.0 for m in rounds}
    out = []
    for number, start, end in _windows(events):
        window = (end - start).total_seconds()
        round_jobs = [j for j in jobs if (m := _JOB.match(j.job_name)) and int(m[2]) == number]
        trained = {j.spoke_id: _training_seconds(j.log_path) for j in round_jobs}
        training = max(trained.values(), default=0.0)
        aggregation = aggregate_seconds.get(number, 0.0) if number > 0 else 0.0
        overhead = max(0.0, window - training - aggregation)
        out.append({
            "round": number,
            "seconds": round(window, 2),
            "training_seconds": round(training, 2),
            "aggregation_seconds": round(aggregation, 2),
            "overhead_seconds": round(overhead, 2),
            "overhead_fraction": round(overhead / window, 3) if window else None,
            "job_process_seconds": {j.spoke_id: round(j.seconds, 2) for j in round_jobs},
            "job_training_seconds": {k: round(v, 2) for k, v in trained.items()},
        })
    return out


def _windows(events: list[dict]):
    """(round, start, end) of each round that reached its merge step, setup (0) first."""
    start, closing, number = None, None, 0
    for event in events:
        details = event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails") or {}
        name = details.get("name")
        if event["type"] == "TaskStateEntered" and name in _WINDOWS:
            number = 0 if name == "SetupBudgetGate" else number + 1
            start, closing = event["timestamp"], _WINDOWS[name]
        elif event["type"] == "TaskStateExited" and name == closing and start is not None:
            yield number, start, event["timestamp"]
            start, closing = None, None


def _training_seconds(log_path: Path) -> float:
    try:
        found = _TRAINED.findall(Path(log_path).read_text(errors="replace"))
    except OSError:
        return 0.0
    return float(found[-1]) if found else 0.0
