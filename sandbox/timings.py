"""Where a round's wall time goes in the sandbox: training, aggregation, and everything else.

A round's window runs from its budget gate being entered to its aggregation state being left
(Step Functions history). Training compute is the slowest hospital's local training (the trainer
logs it; jobs run in parallel), aggregation compute is what the Aggregate step measured itself.
The rest is orchestration overhead, split into: the trainer processes' own overhead (interpreter
and torch import, privacy planning, fetching and sealing), job submission and polling, the Lambda
steps beyond aggregation compute, and state transitions.
"""

from __future__ import annotations

import re
from pathlib import Path

from sandbox.batch_runtime import JobRun

_TRAINED = re.compile(r"local training: .*?, (\d+(?:\.\d+)?) s, dp=")
_JOB = re.compile(r"^(stats|train)-r(\d+)-")
_STEPS = {"SetupBudgetGate": ("gate", 0), "SetupStats": ("map", 0), "SetupMerge": ("merge", 0),
          "BudgetGate": ("gate", 1), "TrainRound": ("map", 1), "Aggregate": ("merge", 1)}


def round_timings(events: list[dict], jobs: list[JobRun], run_id: str, rounds: list[dict]) -> list[dict]:
    """Per round (0 = setup): wall seconds, training and aggregation compute, and the rest."""
    aggregate_seconds = {m["round"]: m.get("aggregate_seconds") or 0.0 for m in rounds}
    out = []
    for number, steps in _rounds(events):
        if "merge" not in steps:
            continue  # ended at its budget gate
        window = (steps["merge"][1] - steps["gate"][0]).total_seconds()
        step_seconds = {name: (end - start).total_seconds() for name, (start, end) in steps.items()}
        round_jobs = [j for j in jobs if j.run_id == run_id and (m := _JOB.match(j.job_name)) and int(m[2]) == number]
        trained = {j.spoke_id: _training_seconds(j.log_path) for j in round_jobs}
        training = max(trained.values(), default=0.0)
        slowest = max((j.seconds for j in round_jobs), default=0.0)
        aggregation = aggregate_seconds.get(number, 0.0) if number > 0 else 0.0
        overhead = max(0.0, window - training - aggregation)
        out.append({
            "round": number,
            "seconds": round(window, 2),
            "training_seconds": round(training, 2),
            "aggregation_seconds": round(aggregation, 2),
            "overhead_seconds": round(overhead, 2),
            "overhead_fraction": round(overhead / window, 3) if window else None,
            "overhead_parts": {
                "trainer_process": round(max(0.0, slowest - training), 2),
                "job_submit_and_poll": round(max(0.0, step_seconds.get("map", 0.0) - slowest), 2),
                "lambda_steps": round(max(0.0, step_seconds["gate"] + step_seconds["merge"] - aggregation), 2),
                "transitions": round(max(0.0, window - sum(step_seconds.values())), 2),
            },
            "job_process_seconds": {j.spoke_id: round(j.seconds, 2) for j in round_jobs},
            "job_training_seconds": {k: round(v, 2) for k, v in trained.items()},
        })
    return out


def _rounds(events: list[dict]):
    """(round, {"gate"|"map"|"merge": (entered, exited)}) in execution order, setup (0) first."""
    number, steps, entered = 0, {}, {}
    for event in events:
        details = event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails") or {}
        step = _STEPS.get(details.get("name"))
        if step is None:
            continue
        kind, first_round = step
        if event["type"].endswith("StateEntered"):
            if kind == "gate":
                if steps:
                    yield number, steps
                number, steps = (0 if first_round == 0 else number + 1), {}
            entered[kind] = event["timestamp"]
        elif event["type"].endswith("StateExited") and kind in entered:
            steps[kind] = (entered.pop(kind), event["timestamp"])
    if steps:
        yield number, steps


def _training_seconds(log_path: Path) -> float:
    try:
        found = _TRAINED.findall(Path(log_path).read_text(errors="replace"))
    except OSError:
        return 0.0
    return float(found[-1]) if found else 0.0
