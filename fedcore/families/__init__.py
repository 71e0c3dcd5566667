"""Model families: what each round releases and how the hub combines it (DESIGN.md section 3)."""

from fedcore.families.registry import FAMILY_NAMES, family_of, get_family

__all__ = ["FAMILY_NAMES", "family_of", "get_family"]
