"""The hospital's own privacy policy: its epsilon cap and whether it opted out of DP.

Only configuration the hospital owns may set it (a parameter in its own account, read by the
trainer with its own job role). Nothing the hub sends (run config, job environment overrides)
can lower the DP floor or raise the cap: the trainer never reads either from its environment.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Protocol


class SpokePolicyError(ValueError):
    """The hospital's policy is missing or malformed: the trainer refuses to release anything."""


@dataclass(frozen=True)
class SpokePolicy:
    epsilon_cap: float  # the hospital's own limit on its lifetime-period epsilon
    allow_no_dp: bool = False  # the hospital itself opted out of DP (only then may a run release without noise)
    max_delta: float = 1e-5  # the largest delta this hospital accepts; its own ledger accounts at this delta

    def __post_init__(self) -> None:
        if isinstance(self.epsilon_cap, bool) or not isinstance(self.epsilon_cap, (int, float)):
            raise SpokePolicyError(f"epsilon_cap must be a number, got {self.epsilon_cap!r}")
        if not math.isfinite(self.epsilon_cap) or self.epsilon_cap <= 0:
            raise SpokePolicyError(f"epsilon_cap must be finite and > 0, got {self.epsilon_cap!r}")
        if not isinstance(self.allow_no_dp, bool):
            raise SpokePolicyError(f"allow_no_dp must be true or false, got {self.allow_no_dp!r}")
        if isinstance(self.max_delta, bool) or not isinstance(self.max_delta, (int, float)) \
                or not 0 < self.max_delta < 1:
            raise SpokePolicyError(f"max_delta must be in (0, 1), got {self.max_delta!r}")

    def to_json(self) -> str:
        return json.dumps({"epsilon_cap": self.epsilon_cap, "allow_no_dp": self.allow_no_dp,
                           "max_delta": self.max_delta}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> "SpokePolicy":
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise SpokePolicyError(f"the hospital's policy is not JSON: {exc}") from exc
        if not isinstance(data, dict) or set(data) - {"epsilon_cap", "allow_no_dp", "max_delta"} \
                or "epsilon_cap" not in data:
            raise SpokePolicyError("the hospital's policy must be an object with epsilon_cap "
                                   "(and optionally allow_no_dp, max_delta)")
        return cls(epsilon_cap=data["epsilon_cap"], allow_no_dp=data.get("allow_no_dp", False),
                   max_delta=data.get("max_delta", 1e-5))


class SpokePolicySource(Protocol):
    def load(self, spoke_id: str) -> SpokePolicy:
        """The hospital's current policy; SpokePolicyError if it is missing or malformed."""


@dataclass(frozen=True)
class StaticSpokePolicy:
    """A fixed policy (the in-memory simulation, where the simulated hospital owns it)."""

    policy: SpokePolicy

    def load(self, spoke_id: str) -> SpokePolicy:
        return self.policy


def policy_parameter_name(spoke_id: str) -> str:
    """The SSM parameter in the hospital's own account that holds its policy (JSON)."""
    return f"/fedcore/spoke/{spoke_id}/policy"
