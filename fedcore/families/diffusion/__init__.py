"""Model family ``diffusion``: the mixed-type tabular diffusion model, DP-SGD and FedAvg.

The family is ``family.DiffusionFamily`` (the registry imports it by name); importing the package loads
nothing, so a run config reads the family's settings (``config.py``) without its code.
"""
