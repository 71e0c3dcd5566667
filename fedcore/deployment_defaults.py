"""A deployment's run defaults, applied in one place to every run it starts.

The API (POST /runs), InitRun (which also receives runs started straight from Step Functions,
as the sandbox and ``demo`` do) and the local API server all fill a run config's missing
settings with ``DeploymentDefaults.apply``, so a run behaves the same whoever started it.

Privacy settings have one owner each:
- delta and accountant belong to each hospital's ledger account. An account is created with
  the deployment's delta and accountant (these defaults) and keeps them; a run whose privacy
  settings disagree with an account is refused at InitRun and at the budget gate, before
  anything is spent (``PrivacyLedger.require_settings``).
- the ledger limit belongs to the account too: set from the deployment's spoke config
  (``epsilon_limit``, else ``DEFAULT_EPSILON``) when the account is created, and by admins
  afterwards. A run config cannot set it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_ACCOUNTANT", "DEFAULT_DELTA", "DeploymentDefaults"]

DEFAULT_DELTA = 1e-5  # well below 1/rows for hospitals of a few hundred patients
DEFAULT_ACCOUNTANT = "rdp"  # RDP is conservative; PRV is tighter but slower


@dataclass(frozen=True)
class DeploymentDefaults:
    delta: float = DEFAULT_DELTA  # every ledger account of the deployment accounts at this delta
    accountant: str = DEFAULT_ACCOUNTANT  # and with this accountant
    rounds: int | None = None  # None: RunConfig's default
    quorum: int | None = None  # None: RunConfig's default

    def __post_init__(self) -> None:
        if isinstance(self.delta, bool) or not isinstance(self.delta, (int, float)) or not 0 < self.delta < 1:
            raise ValueError(f"delta must be in (0, 1), got {self.delta!r}")
        if self.accountant not in ("rdp", "prv"):
            raise ValueError(f"accountant must be 'rdp' or 'prv', got {self.accountant!r}")
        for name in ("rounds", "quorum"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DeploymentDefaults:
        """The hub functions' settings: ``DELTA`` (required), ``ACCOUNTANT``, ``ROUNDS``, ``QUORUM``."""
        env = os.environ if env is None else env
        return cls(delta=float(env["DELTA"]), accountant=env.get("ACCOUNTANT") or DEFAULT_ACCOUNTANT,
                   rounds=int(env["ROUNDS"]) if env.get("ROUNDS") else None,
                   quorum=int(env["QUORUM"]) if env.get("QUORUM") else None)

    def apply(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``config`` with every setting it leaves out taken from this deployment (a new dict)."""
        filled = dict(config)
        for name in ("rounds", "quorum"):
            if filled.get(name) is None and getattr(self, name) is not None:
                filled[name] = getattr(self, name)
        privacy = dict(filled.get("privacy") or {})
        privacy.setdefault("delta", self.delta)
        privacy.setdefault("accountant", self.accountant)
        filled["privacy"] = privacy
        return filled
