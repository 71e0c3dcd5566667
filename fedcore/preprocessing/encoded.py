"""The model-facing form of a table: numeric features and categorical indices."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TabularLayout:
    """Shape of the encoded feature space shared by every hospital and the model."""

    num_features: int  # count of Gaussian-diffused numeric features
    cat_cardinalities: tuple[int, ...]  # number of categories of each categorical feature

    def __post_init__(self) -> None:
        if self.num_features < 0:
            raise ValueError("num_features must be >= 0")
        if any(k < 1 for k in self.cat_cardinalities):
            raise ValueError("every categorical feature needs at least one category")
        if self.num_features == 0 and not self.cat_cardinalities:
            raise ValueError("a layout needs at least one feature")

    def to_dict(self) -> dict:
        return {"num_features": self.num_features, "cat_cardinalities": list(self.cat_cardinalities)}

    @classmethod
    def from_dict(cls, data: dict) -> "TabularLayout":
        return cls(int(data["num_features"]), tuple(int(k) for k in data["cat_cardinalities"]))


@dataclass(frozen=True)
class EncodedTable:
    """Rows in the global feature space: ``num`` (N, Dn) float32, ``cat`` (N, Dc) int64."""

    num: np.ndarray  # (N, Dn) float32, roughly standard normal after the global transform
    cat: np.ndarray  # (N, Dc) int64, category index per categorical feature

    def __post_init__(self) -> None:
        if self.num.ndim != 2 or self.cat.ndim != 2:
            raise ValueError("num and cat must be 2-D arrays")
        if self.num.shape[0] != self.cat.shape[0]:
            raise ValueError(f"row count mismatch: num has {self.num.shape[0]}, cat has {self.cat.shape[0]}")

    def __len__(self) -> int:
        return int(self.num.shape[0])
