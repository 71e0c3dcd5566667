"""The hub stack and the spoke stack."""
