"""Model family ``hybrid``: a diffusion model pretrained on the marginal model's rows, then DP-SGD."""

from fedcore.families.hybrid.family import HybridFamily

__all__ = ["HybridFamily"]
