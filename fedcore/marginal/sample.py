"""Synthetic rows from the fitted marginal model, optionally conditioned on column values.

Forward sampling over the junction tree (as mbi's ``MarkovRandomField.synthetic_data``, but
with the caller's ``numpy.random.Generator``): cliques are visited root first, and each new
column is drawn from its conditional given the columns already drawn in its clique, read off
the calibrated clique marginals. A condition is exact: mbi re-calibrates the model with the
other values of that column made impossible (log-potential -inf, Shafer-Shenoy message
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
    """Clique marginals of the model given column == code for each evidence item.

    The potentials are gathered onto the junction tree's maximal cliques and the other values
    of each conditioned column get log-potential -inf (probability 0); mbi's Shafer-Shenoy
    message passing then calibrates them. The program's structure depends on the model only,
    so it compiles once per model and process, whatever is conditioned on.
    """
    import jax.numpy as jnp

    from fedcore.marginal.fit import import_mbi

    mbi = import_mbi()
    from mbi import marginal_oracles

    maximal = list(model.marginals)
    tables = {m: np.zeros(domain.clique_shape(m)) for m in maximal}
    for clique, potential in model.potentials.items():
        home = next(m for m in maximal if set(clique) <= set(m))
        tables[home] = tables[home] + broadcast(potential, clique, home)
    for name, code in evidence.items():
        home = next(m for m in maximal if name in m)
        ruled_out = np.arange(domain.column(name).size) != code
        index = [slice(None)] * len(home)
        index[home.index(name)] = ruled_out
        tables[home][tuple(index)] = -np.inf
    mbi_domain = mbi.Domain(domain.names, domain.shape)
    factors = {m: mbi.Factor(mbi_domain.project(m), jnp.asarray(t)) for m, t in tables.items()}
    beliefs = marginal_oracles.message_passing_shafer_shenoy(mbi.CliqueVector(mbi_domain, maximal, factors), 1.0)
    return {m: np.asarray(beliefs[m].values, np.float64) for m in maximal}


def broadcast(table: np.ndarray, clique: Clique, onto: Clique) -> np.ndarray:
    """A table over ``clique`` as a table over the superset ``onto`` (constant along the rest)."""
    order = [clique.index(c) for c in onto if c in clique]
    moved = np.transpose(table, order)  # axes in onto's order
    shape = [table.shape[clique.index(c)] if c in clique else 1 for c in onto]
    return moved.reshape(shape)


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
            own = project(table, clique, (column,))  # for parent cells without mass (float underflow)
            fallback = np.broadcast_to(own / own.sum() if own.sum() > 0 else 1.0 / len(own), joint.shape).copy()
            cdf = np.cumsum(np.divide(joint, totals, out=fallback, where=totals > 0), axis=-1)
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
