"""Model families by name: one folder and one entry each."""

from __future__ import annotations

import importlib

from fedcore.families.base import ModelFamily

_FAMILIES = {
    "diffusion": "fedcore.families.diffusion.family:DiffusionFamily",
    "marginal": "fedcore.families.marginal.family:MarginalFamily",
    "hybrid": "fedcore.families.hybrid.family:HybridFamily",
}
FAMILY_NAMES: tuple[str, ...] = tuple(_FAMILIES)


def get_family(name: str) -> ModelFamily:
    """The family called ``name`` (imported on demand, so a hub step loads only what it runs)."""
    try:
        module, cls = _FAMILIES[name].split(":")
    except KeyError:
        raise ValueError(f"unknown model family {name!r}; valid: {', '.join(FAMILY_NAMES)}") from None
    return getattr(importlib.import_module(module), cls)()


def family_of(config) -> ModelFamily:
    return get_family(config.family)
