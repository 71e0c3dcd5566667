"""Model family ``diffusion``: the mixed-type tabular diffusion model, DP-SGD and FedAvg."""

from fedcore.families.diffusion.family import DiffusionFamily

__all__ = ["DiffusionFamily"]
