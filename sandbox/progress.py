"""What a running execution is doing, read the way an operator would: history and run store.

``snapshot`` turns Step Functions events plus the run's records into a ``RunProgress`` (the state
it is in, each hospital's job in the current round, the last loss, epsilon per hospital), and
``console_history`` renders events as the console lists them (JSON-safe, one dict per event).
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass, field

_JOB_NAME = re.compile(r"^(?P<mode>stats|train)-r(?P<round>\d+)-(?P<spoke>.+)$")


@dataclass(frozen=True)
class RunProgress:
    state: str  # the state last entered, e.g. "TrainRound"
    round: int  # the round in progress (0 = setup)
    rounds: int
    jobs: dict[str, str] = field(default_factory=dict)  # spoke -> RUNNING / SUCCEEDED / FAILED this round
    loss: float | None = None  # of the last aggregated round
    epsilon: dict[str, float] = field(default_factory=dict)  # spent per hospital after the last round
    rounds_done: int = 0
    status: str = "RUNNING"  # the run record's status


def snapshot(events: list[dict], run: dict | None, rounds: list[dict]) -> RunProgress:
    state, jobs, current = "", {}, 0
    names: dict[int, str] = {}  # TaskScheduled event id -> job name
    for event in events:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            state = event["stateEnteredEventDetails"]["name"]
        elif kind == "TaskScheduled" and event["taskScheduledEventDetails"].get("resourceType") == "batch":
            name = json.loads(event["taskScheduledEventDetails"]["parameters"]).get("JobName", "")
            match = _JOB_NAME.match(name)
            if match:
                if int(match["round"]) != current:
                    current, jobs = int(match["round"]), {}
                jobs[match["spoke"]] = "RUNNING"
                names[event["id"]] = match["spoke"]
        elif kind in ("TaskSucceeded", "TaskFailed") and _scheduled_spoke(event, events, names):
            jobs[_scheduled_spoke(event, events, names)] = "SUCCEEDED" if kind == "TaskSucceeded" else "FAILED"
    done = sorted(rounds, key=lambda m: m["round"])
    config = (run or {}).get("config", {})
    return RunProgress(
        state=state, round=current, rounds=int(config.get("rounds", 0)), jobs=jobs,
        loss=done[-1]["loss"] if done else None, epsilon=dict(done[-1].get("epsilon") or {}) if done else {},
        rounds_done=len(done), status=(run or {}).get("status", "STARTING"),
    )


def _scheduled_spoke(event: dict, events: list[dict], names: dict[int, str]) -> str | None:
    """The spoke of the Batch task this result belongs to (its TaskScheduled precedes it)."""
    previous = event.get("previousEventId")
    seen = 0
    while previous and seen < 10:  # Scheduled -> Started -> (Submitted) -> Succeeded/Failed
        if previous in names:
            return names[previous]
        previous = _by_id(events, previous).get("previousEventId")
        seen += 1
    return None


def _by_id(events: list[dict], event_id: int) -> dict:
    if 0 < event_id <= len(events) and events[event_id - 1]["id"] == event_id:
        return events[event_id - 1]
    return next((e for e in events if e["id"] == event_id), {})


def console_history(events: list[dict]) -> list[dict]:
    """Events as the console shows them: id, type, timestamp (ISO), previous id, and the details."""
    out = []
    for event in events:
        row = {}
        for key, value in event.items():
            row[key] = value.isoformat() if isinstance(value, datetime.datetime) else value
        out.append(row)
    return out
