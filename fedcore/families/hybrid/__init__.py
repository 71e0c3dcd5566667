"""Model family ``hybrid``: a diffusion model pretrained on the marginal model's rows, then DP-SGD.

The family is ``family.HybridFamily`` (the registry imports it by name); importing the package loads
nothing, so a run config reads the family's settings (``config.py``) without its code.
"""
