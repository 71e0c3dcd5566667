"""Model family ``marginal``: federated MST-style marginals fitted with private-pgm.

The family is ``family.MarginalFamily`` (the registry imports it by name); importing the package loads
nothing, so a run config reads the family's settings (``config.py``) without its code.
"""
