"""The survival task: a federated DP discrete-time hazard model."""
