"""Model family ``marginal``: federated MST-style marginals fitted with private-pgm."""

from fedcore.families.marginal.family import MarginalFamily

__all__ = ["MarginalFamily"]
