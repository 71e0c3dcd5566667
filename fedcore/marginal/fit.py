"""Hub side: fit the graphical model to the summed noisy marginals with private-pgm.

As MST (McKenna et al. 2021) does, the noisy 1-way and 2-way counts become ``LinearMeasurement``s
weighted by their noise std, and private-pgm's mirror descent (McKenna, Sheldon & Miklau 2019,
Algorithm 1; ``mbi.estimation.MirrorDescent``, the package's recommended estimator) finds the
Markov random field whose marginals best fit them. Post-processing: no privacy cost.
mbi and JAX are imported here only, so importing ``fedcore.marginal`` stays light.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from collections.abc import Mapping

import numpy as np

from fedcore.marginal.domain import MarginalDomain
from fedcore.marginal.model import Clique, MarginalModel, project

logger = logging.getLogger(__name__)

DEFAULT_ITERATIONS = 1000  # mirror-descent steps; ACTG 175's tree model has converged by then
EXACT_STD = 1.0  # std assumed for noise-free counts (hospitals without DP): one count
FAST_COMPILE_FLAG = "--xla_backend_optimization_level=0"


def import_mbi():
    """Import mbi quietly: it warns that JAX runs in float32, which is ample for counts of
    thousands of rows (its own threshold is 100,000), and about the compilation cache.

    Before JAX first loads, XLA's backend optimization is turned off (unless XLA_FLAGS already
    sets it): compiling the fit dominates its time, and on ACTG 175 this cut the fit's CPU time
    from about 19 s to 14 s while the 1000 iterations themselves stayed under a second. JAX is used
    only here in fedcore, so no other code is affected.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if "jax" not in sys.modules and "xla_backend_optimization_level" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {FAST_COMPILE_FLAG}".strip()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="JAX", category=UserWarning, module="mbi")
        import mbi
    return mbi


def fit_marginal_model(
    domain: MarginalDomain,
    one_way: Mapping[str, tuple[np.ndarray, np.ndarray | float]],
    two_way: Mapping[Clique, tuple[np.ndarray, np.ndarray | float]],
    iterations: int = DEFAULT_ITERATIONS,
    total: float | None = None,
) -> MarginalModel:
    """Fit potentials to the noisy measurements: column -> (counts, std) and clique -> (counts, std).

    ``std`` is a scalar or one std per cell (1-way counts summed from the setup round's fine
    bins have per-cell stds). ``total`` is the number of rows if the hub knows it; otherwise
    mbi estimates it from the measurements.
    """
    if iterations < 1:
        raise ValueError("iterations must be >= 1")
    mbi = import_mbi()
    from mbi import estimation, junction_tree, marginal_oracles

    mbi_domain = mbi.Domain(domain.names, domain.shape)
    measurements = [_measurement(mbi, domain, (name,), counts, std) for name, (counts, std) in one_way.items()]
    measurements += [_measurement(mbi, domain, tuple(c), counts, std) for c, (counts, std) in two_way.items()]
    if not measurements:
        raise ValueError("nothing to fit: no measurements")
    if total is None:
        total = estimation.minimum_variance_unbiased_total(measurements)
    if not np.isfinite(total) or total <= 0:
        raise ValueError(f"total must be finite and > 0, got {total}")

    started = time.perf_counter()
    estimator = estimation.MirrorDescent()  # Armijo line search; converged by 1000 steps on ACTG 175
    fitted = estimator.estimate(mbi_domain, measurements, known_total=float(total), iters=iterations)
    potentials = fitted.potentials
    uncovered = [(n,) for n in domain.names if not any(n in c for c in potentials.cliques)]
    if uncovered:  # columns with no measurement at all: uniform, so sampling still covers them
        potentials = potentials.expand(list(potentials.cliques) + uncovered)
    tree, _ = junction_tree.make_junction_tree(mbi_domain, potentials.cliques)
    maximal = junction_tree.maximal_cliques(tree)
    fitted_cliques = {frozenset(c): c for c in fitted.marginals.cliques}
    if all(frozenset(m) in fitted_cliques for m in maximal):  # a tree: its cliques are the maximal ones
        beliefs = {m: project(np.asarray(fitted.marginals[fitted_cliques[frozenset(m)]].values, np.float64),
                              fitted_cliques[frozenset(m)], m) for m in maximal}
    else:
        calibrated = marginal_oracles.message_passing_hugin(potentials.expand(maximal), float(total))
        beliefs = {m: np.asarray(calibrated[m].values, np.float64) for m in maximal}
    model = MarginalModel(
        potentials={c: np.asarray(potentials[c].values, np.float64) for c in potentials.cliques},
        marginals=beliefs,
        total=float(total),
    )
    elapsed = time.perf_counter() - started
    logger.info("fitted a marginal model on %d measurements in %.1f s", len(measurements), elapsed)
    return model


def _measurement(mbi, domain: MarginalDomain, clique: Clique, counts, std):
    """A LinearMeasurement of ``clique``; per-cell stds become a weighted query (each cell
    divided by its std, then unit noise), so every cell is weighted by its precision."""
    shape = domain.clique_shape(clique)
    counts = np.asarray(counts, dtype=np.float64)
    if counts.shape != shape or not np.all(np.isfinite(counts)):
        raise ValueError(f"measurement of {clique} must be finite counts of shape {shape}, got {counts.shape}")
    std = np.broadcast_to(np.asarray(std, dtype=np.float64), shape).ravel()
    if not np.all(np.isfinite(std)) or np.any(std < 0):
        raise ValueError(f"the noise std of {clique} must be finite and >= 0")
    std = np.maximum(std, EXACT_STD)
    if np.all(std == std[0]):
        return mbi.LinearMeasurement(counts.ravel(), clique, float(std[0]))
    weights = 1.0 / std
    return mbi.LinearMeasurement(counts.ravel() * weights, clique, 1.0, query=mbi.WeightedQuery(weights))
