"""``image``: a federated DP classifier of medical images (ResNet-18 with GroupNorm), DESIGN.md section 1."""
