"""Synthetic rows from the fitted marginal model, optionally conditioned on column values.

Forward sampling over the junction tree (as mbi's ``MarkovRandomField.synthetic_data``, but
with the caller's ``numpy.random.Generator``): cliques are visited root first, and each new
column is drawn from its conditional given the columns already drawn in its clique, read off
the calibrated clique marginals. A condition is exact: mbi re-calibrates the model with the
other values of that column made impossible (``mbi.Constraint``, Shafer-Shenoy message
passing), so every row has the asked value and the rest follow the conditional distribution;
no rejection sampling.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from fedcore.marginal.domain import MarginalDomain
from fedcore.marginal.model import Clique, MarginalModel, project


def sample_rows(
    model: MarginalModel,
    domain: MarginalDomain,
    rows: int,
    rng_or_seed: np.random.Generator | int,
    conditions: Mapping[str, object] | None = None,
) -> pd.DataFrame:
    """``rows`` synthetic rows decoded through ``domain``; ``conditions`` maps a categorical or
    listed-values column to the value every row must have (None asks for missing)."""
    if isinstance(rows, bool) or not isinstance(rows, (int, np.integer)) or rows < 0:
        raise ValueError(f"rows must be a non-negative int, got {rows!r}")
    rng = rng_or_seed if isinstance(rng_or_seed, np.random.Generator) else np.random.default_rng(rng_or_seed)
    evidence = condition_codes(domain, conditions or {})
    marginals = conditioned_marginals(model, domain, evidence) if evidence else model.marginals
    codes = forward_sample(marginals, domain, rows, rng)
    if np.any([np.any(codes[:, domain.names.index(n)] != code) for n, code in evidence.items()]):
        raise RuntimeError("conditioned sampling produced a row that breaks a condition")  # cannot happen
    return domain.decode(codes, rng)


def condition_codes(domain: MarginalDomain, conditions: Mapping[str, object]) -> dict[str, int]:
    """Cell code of each condition; ValueError naming an unknown column or value."""
    codes = {}
    for name, value in conditions.items():
        if name not in domain.names:
            raise ValueError(f"cannot condition on {name!r}: not a column; columns are {domain.names}")
        column = domain.column(name)
        if column.kind == "numeric":
            raise ValueError(
                f"cannot condition on {name!r}: it is a binned numeric column; conditions take "
                "categorical columns or numeric columns with listed values"
            )
        if value is None or (isinstance(value, float) and math.isnan(value)):
            if not column.has_missing_cell:
                raise ValueError(f"cannot condition {name!r} on missing: the model has no missing cell for it")
            codes[name] = column.cells
            continue
        matches = [i for i, v in enumerate(column.values) if v == value or str(v) == str(value)]
        if not matches:
            raise ValueError(f"cannot condition {name!r} on {value!r}: its values are {list(column.values)}")
        codes[name] = matches[0]
    return codes


def conditioned_marginals(
    model: MarginalModel, domain: MarginalDomain, evidence: Mapping[str, int]
) -> dict[Clique, np.ndarray]:
    """Clique marginals of the model given column == code for each evidence item (via mbi)."""
    import jax.numpy as jnp

    from fedcore.marginal.fit import import_mbi

    mbi = import_mbi()
    from mbi import marginal_oracles

    mbi_domain = mbi.Domain(domain.names, domain.shape)
    tables = {c: mbi.Factor(mbi_domain.project(c), jnp.asarray(t)) for c, t in model.potentials.items()}
    potentials = mbi.CliqueVector(mbi_domain, list(model.potentials), tables).expand(list(model.marginals))
    constraints = tuple(
        mbi.Constraint(mbi_domain.project((name,)), valid=np.array([[code]])) for name, code in evidence.items()
    )
    beliefs = marginal_oracles.message_passing_shafer_shenoy(potentials, 1.0, constraints=constraints)
    return {c: np.asarray(beliefs[c].values, np.float64) for c in model.marginals}


def forward_sample(
    marginals: Mapping[Clique, np.ndarray], domain: MarginalDomain, rows: int, rng: np.random.Generator
) -> np.ndarray:
    """Cell codes (rows, d) drawn from calibrated junction-tree clique marginals."""
    drawn: dict[str, np.ndarray] = {}
    for clique in clique_tree_order(list(marginals)):
        table = np.clip(marginals[clique], 0.0, None)
        for column in clique:
            if column in drawn:
                continue
            given = tuple(c for c in clique if c in drawn)
            joint = project(table, clique, given + (column,))  # (*given cells, column cells)
            totals = joint.sum(axis=-1, keepdims=True)
            uniform = np.full(joint.shape, 1.0 / joint.shape[-1])
            cdf = np.cumsum(np.divide(joint, totals, out=uniform, where=totals > 0), axis=-1)
            cdf_rows = cdf[tuple(drawn[c] for c in given)] if given else np.broadcast_to(cdf, (rows, len(cdf)))
            u = rng.random(rows) * cdf_rows[:, -1]  # (rows,), scaled so float rounding cannot overshoot
            drawn[column] = np.minimum((u[:, None] >= cdf_rows).sum(axis=1), joint.shape[-1] - 1)
    missing = set(domain.names) - set(drawn)
    if missing:
        raise ValueError(f"the model's clique marginals leave out columns {sorted(missing)}")
    return np.stack([drawn[name] for name in domain.names], axis=1).astype(np.int64)


def clique_tree_order(cliques: list[Clique]) -> list[Clique]:
    """Cliques in the visiting order of a maximum-weight spanning tree (weight = shared
    columns), by Prim's algorithm from the first clique. For the maximal cliques of a
    triangulated graph this is a junction tree, so every clique's already-drawn columns are
    its separator with the tree (running intersection)."""
    order, rest = [cliques[0]], list(cliques[1:])
    while rest:
        best = max(rest, key=lambda c: max(len(set(c) & set(o)) for o in order))
        order.append(best)
        rest.remove(best)
    return order
