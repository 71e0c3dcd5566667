"""What ``bench quality`` measures: data set, model families, epsilons and seeds."""

from __future__ import annotations

from dataclasses import dataclass

from fedcore.datasets import BUILTIN_DATASETS

NO_DP = None  # the epsilon of a run without differential privacy


@dataclass(frozen=True)
class QualityGrid:
    """One bench: every (family, epsilon, seed) run, plus floor and ceiling rows per seed."""

    data: str = "actg175"  # a built-in data set; the fixed MST references exist for actg175 only
    families: tuple[str, ...] = ("marginal",)  # names from fedcore.families.FAMILY_NAMES
    epsilons: tuple[float | None, ...] = (1.0, 3.0, 10.0)  # per hospital, whole run; None = no DP
    seeds: int = 1  # seeds 0 .. seeds-1; each seed also draws its own holdout split and hospitals
    spokes: int = 3  # simulated hospitals, Dirichlet split as `simulate` does
    rows: int | None = None  # synthetic rows per run; None = as many as the training rows

    def __post_init__(self) -> None:
        from fedcore.families import FAMILY_NAMES  # imported here: the registry imports nothing heavy

        if self.data not in BUILTIN_DATASETS:
            raise ValueError(f"--data must be one of {list(BUILTIN_DATASETS)}, got {self.data!r}")
        unknown = [f for f in self.families if f not in FAMILY_NAMES]
        if unknown or not self.families:
            raise ValueError(f"unknown or no model families {unknown}; valid: {', '.join(FAMILY_NAMES)}")
        if not self.epsilons or any(e is not None and e <= 0 for e in self.epsilons):
            raise ValueError("epsilons must be positive numbers or 'none'")
        if self.seeds < 1 or self.spokes < 1:
            raise ValueError("seeds and spokes must be at least 1")
        if self.rows is not None and self.rows < 1:
            raise ValueError("rows must be at least 1")

    def runs(self) -> list[tuple[str, float | None, int]]:
        """(family, epsilon, seed) of every federated run, in the order the bench runs them."""
        return [(f, e, s) for s in range(self.seeds) for f in self.families for e in self.epsilons]


def parse_epsilons(text: str) -> tuple[float | None, ...]:
    """``"1,3,none"`` -> ``(1.0, 3.0, None)``; ``none`` (or ``nodp``) is a run without DP."""
    values: list[float | None] = []
    for part in (p.strip().lower() for p in text.split(",") if p.strip()):
        if part in ("none", "nodp", "no-dp"):
            values.append(NO_DP)
            continue
        try:
            values.append(float(part))
        except ValueError:
            raise ValueError(f"--epsilons: {part!r} is neither a number nor 'none'") from None
    if not values:
        raise ValueError("--epsilons is empty")
    return tuple(dict.fromkeys(values))  # repeated values once, order kept
