"""What travels between a spoke and the hub: sealed bytes, their context and metadata.

Torch-free, so the hub's aggregation path never loads the model code.
The sealed release carries, besides tensors, the spoke's privacy spend and row count.

The metadata travels inside the sealed, authenticated payload (reserved ``_meta/`` names),
so the hub charges the ledger from numbers the spoke cannot later deny and nobody in
between can alter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fedcore.privacy import StepRecord
from fedcore.sealing import SealContext

META = "_meta/"
HUB = "hub"  # the "spoke" value in the encryption context of a global model


def model_context(run_id: str, round_: int) -> SealContext:
    return SealContext(run=run_id, round=round_, spoke=HUB, kind="model")


def update_context(run_id: str, round_: int, spoke: str) -> SealContext:
    return SealContext(run=run_id, round=round_, spoke=spoke, kind="update")


@dataclass(frozen=True)
class ReleaseMeta:
    """What a release says about itself (authenticated, inside the sealed payload).

    ``mechanisms`` is the release's DP record (DESIGN.md section 3): every Gaussian mechanism
    it applied, as (noise multiplier relative to its L2 sensitivity, sample rate, steps).
    Empty means released without DP, which only a hospital's own opt-out allows.
    """

    num_examples: int
    mechanisms: tuple[StepRecord, ...] = ()
    mean_loss: float | None = None

    @property
    def private(self) -> bool:
        return bool(self.mechanisms)


def attach_meta(tensors: dict[str, np.ndarray], meta: ReleaseMeta) -> dict[str, np.ndarray]:
    out = dict(tensors)
    out[f"{META}num_examples"] = np.array([meta.num_examples], dtype=np.int64)
    if meta.mechanisms:
        out[f"{META}mechanisms"] = np.array(
            [[m.noise_multiplier, m.sample_rate, m.steps] for m in meta.mechanisms], dtype=np.float64
        )  # (k, 3)
    if meta.mean_loss is not None:
        out[f"{META}mean_loss"] = np.array([meta.mean_loss], dtype=np.float64)
    return out


def split_meta(tensors: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], ReleaseMeta]:
    """Separate the payload from its metadata; ValueError if the metadata is malformed."""
    payload = {k: v for k, v in tensors.items() if not k.startswith(META)}
    meta = {k[len(META):]: v for k, v in tensors.items() if k.startswith(META)}
    unknown = set(meta) - {"num_examples", "mechanisms", "mean_loss"}
    if unknown:
        raise ValueError(f"release metadata has unknown fields {sorted(unknown)}")
    try:
        num_examples = int(meta["num_examples"][0])
        mechanisms: tuple[StepRecord, ...] = ()
        if "mechanisms" in meta:
            table = np.asarray(meta["mechanisms"], dtype=np.float64)
            if table.ndim != 2 or table.shape[1] != 3 or table.shape[0] < 1:
                raise ValueError(f"mechanisms must be a (k, 3) table, got shape {table.shape}")
            mechanisms = tuple(StepRecord(float(s), float(q), _whole(n)) for s, q, n in table)
        loss = float(meta["mean_loss"][0]) if "mean_loss" in meta else None
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ValueError(f"release metadata is malformed: {exc}") from exc
    if num_examples < 1:
        raise ValueError(f"release claims {num_examples} examples")
    return payload, ReleaseMeta(num_examples, mechanisms, loss)


def _whole(value: float) -> int:
    if not float(value).is_integer():
        raise ValueError(f"steps must be a whole number, got {value}")
    return int(value)


@dataclass(frozen=True)
class SealedRelease:
    """What a hospital sends to the hub for one round: sealed bytes and nothing else.

    ``meta`` is the spoke's own copy of what is sealed inside ``blob``; the hub never trusts
    it and reads the authenticated copy from the payload instead.
    """

    spoke: str
    round: int
    blob: bytes  # sealed named tensors, with ReleaseMeta inside
    meta: ReleaseMeta | None = None
    seconds: float = 0.0
