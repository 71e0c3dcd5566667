"""Coarse cells for a numeric column from its noisy setup histogram (post-processing only).

The setup round releases an equal-width histogram per numeric column (DESIGN.md section 4).
A graphical model over 32 fine bins per column would spread the 2-way measurement noise over
32 x 32 cells, so, as MST compresses its domain before measuring 2-way marginals (McKenna et
al. 2021; its code merges cells whose noisy count is under 3 sd), adjacent fine bins are
merged into at most ``max_cells`` coarse cells of roughly equal noisy mass, and a cell too
light to tell from noise is merged into its lighter neighbour. The fine counts, denoised,
also give the shape in which decoding spreads values inside a coarse cell.
"""

from __future__ import annotations

import numpy as np

MIN_CELL_SD = 2.0  # a coarse cell's noisy mass must exceed this many sd of the noise on its sum
MIN_CELL_SHARE = 0.02  # ... and this share of the column's mass (no near-empty cells without DP)
TAIL_DECAY = 0.5  # decoding weight kept per fine bin beyond the fitted support (0.3-0.7 scored alike)


def coarse_cuts(fine: np.ndarray, noise_std: float, max_cells: int) -> tuple[int, ...]:
    """Fine-bin indices where each coarse cell starts, then ``len(fine)``: (0, ..., bins).

    ``fine`` holds the merged noisy counts of the fine bins (no missing cell); ``noise_std``
    is the std of the noise on each of them.
    """
    fine = np.asarray(fine, dtype=np.float64)
    bins = len(fine)
    mass = np.clip(fine, 0.0, None)  # negative noisy counts mean "about empty"
    total = float(mass.sum())
    if total <= 0.0:
        return (0, bins)
    before = np.cumsum(mass)[:-1]  # (bins - 1,): mass before the cut at position 1 .. bins - 1
    # Cut where the mass before the cut is closest to each k / max_cells quantile.
    targets = total * np.arange(1, max_cells) / max_cells
    positions = 1 + np.argmin(np.abs(before[None, :] - targets[:, None]), axis=1)
    cuts = sorted({0, bins} | {int(p) for p in positions})
    return _merge_light_cells(cuts, mass, noise_std, total)


def _merge_light_cells(cuts: list[int], mass: np.ndarray, noise_std: float, total: float) -> tuple[int, ...]:
    """Merge the lightest under-threshold cell into its lighter neighbour until none is left."""
    while len(cuts) > 2:
        starts, stops = np.array(cuts[:-1]), np.array(cuts[1:])
        cell_mass = np.array([mass[a:b].sum() for a, b in zip(starts, stops)])
        needed = np.maximum(MIN_CELL_SD * noise_std * np.sqrt(stops - starts), MIN_CELL_SHARE * total)
        ratio = cell_mass / needed
        worst = int(np.argmin(ratio))
        if ratio[worst] >= 1.0:
            break
        if worst == 0:
            neighbour = 1
        elif worst == len(cell_mass) - 1:
            neighbour = worst - 1
        else:
            neighbour = worst - 1 if cell_mass[worst - 1] <= cell_mass[worst + 1] else worst + 1
        del cuts[max(worst, neighbour)]  # drop the cut between the two cells
    return tuple(int(c) for c in cuts)


def decoding_weights(fine: np.ndarray, noise_std: float) -> tuple[float, ...]:
    """Weight of each fine bin when decoding a coarse cell's rows: the noisy setup counts,
    denoised under the assumption that a column is unimodal at the fine-bin level.

    Without noise the counts are used as they are. With noise, the unimodal least-squares fit
    (isotonic regressions up to and down from the best split, ``unimodal_fit``) pools the noise
    of empty tail bins towards zero, and beyond the fitted support the weight halves per bin, so
    a cell reaching into a tail puts few values far out (real tails thin out). Only the shape
    inside each cell is affected: the cells' masses come from the model, so a bimodal column
    stays bimodal across cells. On ACTG 175 at epsilon 3 (7 seeds) this raised pair trends from
    0.86 to 0.88 and column shapes from 0.961 to 0.966 over clipped noisy counts: those spread a
    tail cell's rows evenly to the declared bound, 10x too many beyond the real 99.5% quantile.
    """
    fine = np.asarray(fine, dtype=np.float64)
    if noise_std <= 0:
        return tuple(float(w) for w in np.clip(fine, 0.0, None))
    weights = np.clip(unimodal_fit(fine), 0.0, None)
    support = np.flatnonzero(weights > 0)
    if len(support):
        first, last = support[0], support[-1]
        steps = np.arange(len(fine))
        weights[last + 1 :] = weights[last] * TAIL_DECAY ** (steps[last + 1 :] - last)
        weights[:first] = weights[first] * TAIL_DECAY ** (first - steps[:first])
    return tuple(float(w) for w in weights)


def unimodal_fit(values: np.ndarray) -> np.ndarray:
    """Least-squares fit that rises then falls: the best split of an increasing isotonic fit
    and a decreasing one (unimodal regression, Stout 2008; isotonic fits by PAVA)."""
    best, best_error = None, np.inf
    for split in range(len(values) + 1):
        fit = np.concatenate([_increasing_fit(values[:split]), _increasing_fit(values[split:][::-1])[::-1]])
        error = float(np.sum((fit - values) ** 2))
        if error < best_error:
            best, best_error = fit, error
    return best


def _increasing_fit(values: np.ndarray) -> np.ndarray:
    """Isotonic (non-decreasing) least-squares fit by pool-adjacent-violators."""
    means: list[float] = []
    sizes: list[int] = []
    for value in values:
        means.append(float(value))
        sizes.append(1)
        while len(means) > 1 and means[-2] > means[-1]:
            size = sizes[-2] + sizes[-1]
            means[-2:] = [(means[-2] * sizes[-2] + means[-1] * sizes[-1]) / size]
            sizes[-2:] = [size]
    return np.repeat(means, sizes) if means else np.zeros(0)
