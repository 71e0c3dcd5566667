"""Checking a hospital's encoded table against the layout and turning it into tensors."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from fedcore.preprocessing.encoded import EncodedTable, TabularLayout


def check_table(data: EncodedTable, layout: TabularLayout) -> None:
    """Raise ``ValueError`` if ``data`` does not fit ``layout`` or holds non-finite values."""
    if len(data) == 0:
        raise ValueError("cannot train on an empty table")
    if data.num.shape[1] != layout.num_features:
        raise ValueError(f"table has {data.num.shape[1]} numeric features, layout expects {layout.num_features}")
    cards = np.asarray(layout.cat_cardinalities, dtype=np.int64)
    if data.cat.shape[1] != len(cards):
        raise ValueError(f"table has {data.cat.shape[1]} categorical features, layout expects {len(cards)}")
    if not np.isfinite(data.num).all():
        raise ValueError("numeric features contain NaN or infinite values")
    if data.cat.size and ((data.cat < 0).any() or (data.cat >= cards[None, :]).any()):
        bad = sorted({int(j) for j in np.nonzero((data.cat < 0) | (data.cat >= cards[None, :]))[1]})
        raise ValueError(f"category indices out of range in categorical features {bad}")


def table_dataset(data: EncodedTable) -> TensorDataset:
    """Copies of the table as a (num float32, cat int64) TensorDataset on CPU."""
    num = torch.as_tensor(np.array(data.num, dtype=np.float32, copy=True))  # (N, Dn)
    cat = torch.as_tensor(np.array(data.cat, dtype=np.int64, copy=True))  # (N, Dc)
    return TensorDataset(num, cat)


def shuffled_loader(dataset: TensorDataset, batch_size: int, generator: torch.Generator,
                    pin_memory: bool = False) -> DataLoader:
    """Batches of ``batch_size`` rows in an order drawn from ``generator``; Opacus turns this
    loader into Poisson sampling with q = 1/len(loader), drawing from the same generator (and keeps
    ``pin_memory``: page-locked batches, so a copy to the GPU with ``non_blocking=True`` overlaps compute)."""
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=generator, drop_last=False,
                      pin_memory=pin_memory)
