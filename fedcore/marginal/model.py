"""The fitted marginal model as named float tensors, checked on load.

A private-pgm model (McKenna, Sheldon & Miklau 2019) is a Markov random field: log-potentials
over the measured cliques. Alongside them the model keeps the calibrated marginals over the
maximal cliques of its junction tree (post-processing of the potentials), so unconditional
sampling is numpy only; conditional sampling re-calibrates from the potentials. Everything is
``dict[str, np.ndarray]``, so the model is sealed and published like any other (no pickle).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from fedcore.marginal.domain import MarginalDomain

Clique = tuple[str, ...]

POTENTIAL_PREFIX = "potential/"
CLIQUE_MARGINAL_PREFIX = "clique_marginal/"
TOTAL = "total"
# The noisy 2-way tables the model was fitted to ("measured/a|b", and "measured/noise_std"): published beside
# it for the researcher (DP releases' post-processing), never read by the model itself.
MEASURED_PREFIX = "measured/"
MARGINAL_RTOL = 1e-3  # float32 inference: marginals agree on totals and separators to 0.1%


@dataclass(frozen=True)
class MarginalModel:
    potentials: dict[Clique, np.ndarray]  # clique -> log-potential table, axes in clique order
    marginals: dict[Clique, np.ndarray]  # junction-tree maximal clique -> calibrated counts
    total: float  # rows the model represents

    def to_tensors(self) -> dict[str, np.ndarray]:
        tensors = {POTENTIAL_PREFIX + "|".join(c): np.asarray(t, np.float64) for c, t in self.potentials.items()}
        tensors |= {CLIQUE_MARGINAL_PREFIX + "|".join(c): np.asarray(t, np.float64) for c, t in self.marginals.items()}
        tensors[TOTAL] = np.array([self.total], dtype=np.float64)
        return tensors

    @classmethod
    def from_tensors(cls, tensors: Mapping[str, np.ndarray], domain: MarginalDomain) -> "MarginalModel":
        """Rebuild a published model, checking it against ``domain`` (ValueError on any mismatch)."""
        potentials, marginals = {}, {}
        for name, value in tensors.items():
            if name == TOTAL or name.startswith(MEASURED_PREFIX):
                continue
            for prefix, into in ((POTENTIAL_PREFIX, potentials), (CLIQUE_MARGINAL_PREFIX, marginals)):
                if name.startswith(prefix):
                    into[tuple(name[len(prefix):].split("|"))] = np.asarray(value)
                    break
            else:
                raise ValueError(f"unexpected tensor {name!r} in a marginal model")
        if TOTAL not in tensors or np.shape(tensors[TOTAL]) != (1,):
            raise ValueError("a marginal model needs a 'total' tensor of shape (1,)")
        model = cls(potentials=potentials, marginals=marginals, total=float(np.asarray(tensors[TOTAL])[0]))
        model.check_against(domain)
        return model

    def check_against(self, domain: MarginalDomain) -> None:
        """Shapes from the domain, finite values, every column covered, and marginals that are
        non-negative, sum to ``total`` and agree where maximal cliques overlap."""
        if not np.isfinite(self.total) or self.total <= 0:
            raise ValueError(f"the model total must be finite and > 0, got {self.total}")
        for kind, tables in (("potential", self.potentials), ("clique marginal", self.marginals)):
            for clique, table in tables.items():
                shape = domain.clique_shape(clique)
                if np.shape(table) != shape or not np.issubdtype(np.asarray(table).dtype, np.floating):
                    raise ValueError(f"{kind} {clique} must be floats of shape {shape}, got {np.shape(table)}")
                if not np.all(np.isfinite(table)):
                    raise ValueError(f"{kind} {clique} holds non-finite values")
            covered = set().union(*map(set, tables)) if tables else set()
            if covered != set(domain.names):
                raise ValueError(f"the model's {kind}s leave out columns {sorted(set(domain.names) - covered)}")
        tolerance = MARGINAL_RTOL * self.total
        for clique, table in self.marginals.items():
            if table.min() < -tolerance or abs(table.sum() - self.total) > tolerance:
                raise ValueError(f"clique marginal {clique} must be non-negative and sum to {self.total}")
        for first in self.marginals:
            for second in self.marginals:
                shared = tuple(c for c in first if c in second)
                if first < second and shared:
                    a = project(self.marginals[first], first, shared)
                    b = project(self.marginals[second], second, shared)
                    if np.abs(a - b).max() > tolerance:
                        raise ValueError(f"clique marginals {first} and {second} disagree on {shared}")


def project(table: np.ndarray, clique: Clique, onto: Clique) -> np.ndarray:
    """Sum a table over ``clique`` down to the columns ``onto``, axes in ``onto``'s order."""
    keep = [clique.index(c) for c in onto]
    summed = np.sum(table, axis=tuple(i for i in range(len(clique)) if i not in keep))
    order = sorted(keep)
    return np.transpose(summed, [order.index(k) for k in keep]) if len(keep) > 1 else summed
