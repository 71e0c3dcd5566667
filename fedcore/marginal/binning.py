"""Coarse cells for a numeric column from its noisy setup histogram (post-processing only).

The setup round releases an equal-width histogram per numeric column (DESIGN.md section 4).
A graphical model over 32 fine bins per column would spread the 2-way measurement noise over
32 x 32 cells, so, as MST compresses its domain before measuring 2-way marginals (McKenna et
al. 2021, section 4: cells with a noisy count under 3 sd are merged), adjacent fine bins are
merged into at most ``max_cells`` coarse cells of roughly equal noisy mass, and a cell too
light to tell from noise is merged into its lighter neighbour.
"""

from __future__ import annotations

import numpy as np

MIN_CELL_SD = 2.0  # a coarse cell's noisy mass must exceed this many sd of the noise on its sum
MIN_CELL_SHARE = 0.02  # ... and this share of the column's mass (no near-empty cells without DP)


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


def decoding_weights(fine: np.ndarray) -> tuple[float, ...]:
    """Weight of each fine bin when decoding a coarse cell's rows: its noisy setup count,
    clipped at 0. Noise leaves some weight on empty tail bins, so decoded values reach towards
    the declared bounds; on ACTG 175 at epsilon 3 that scored better than cutting the tails
    (SDMetrics bins each table over its own min and max, and a synthetic range narrower than
    the real one shifted every bin): pair trends 0.82 against 0.75-0.79 for supports grown
    from the mode over bins above 1-2 noise sd, or above-1-sd bins only.
    """
    return tuple(float(w) for w in np.clip(np.asarray(fine, dtype=np.float64), 0.0, None))
