"""What a task's round plan is to the round loop: its rounds, its releases, its aggregation.

Every task implements this interface (DESIGN.md section 1): the synthesis task through its model
families (``fedcore.families``), the predictive tasks in ``fedcore.tasks``.

DESIGN.md section 3: a spoke job makes one sealed release per (run, round); what a round
releases comes from the family's round plan, which the state machine never sees: the
runtime steps call this interface, and adding a family touches its own folder and the
registry only. Round 0 is always the setup release (DP statistics, section 4; a task with no
setup statistics releases only its public row count there).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from fedcore.privacy.accountant import StepRecord

RoundKind = Literal["setup", "select", "measure", "train", "evaluate"]
Tensors = dict[str, np.ndarray]


@dataclass(frozen=True)
class SpokePlan:
    """Everything one hospital releases in a run, decided from the run's settings and its row count.

    The hub publishes it after the setup round; it weights and charges each release by this
    plan, never by claims inside a release (DESIGN.md section 9).
    """

    rows: int
    releases: tuple[tuple[StepRecord, ...], ...]  # mechanisms of round r at index r (0 = setup); () = no DP
    training: dict[str, Any] | None = None  # DP-SGD settings of training rounds (family-specific)

    def mechanisms(self, round_: int) -> tuple[StepRecord, ...]:
        if not 0 <= round_ < len(self.releases):
            raise ValueError(f"round {round_} is outside this plan (rounds 0..{len(self.releases) - 1})")
        return self.releases[round_]

    def to_dict(self) -> dict:
        return {"rows": self.rows, "releases": [[m.to_dict() for m in ms] for ms in self.releases],
                "training": self.training}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SpokePlan":
        return cls(int(data["rows"]), tuple(tuple(StepRecord.from_dict(m) for m in ms) for ms in data["releases"]),
                   data.get("training"))


@dataclass(frozen=True)
class SpokeRound:
    """What a hospital's job knows when it makes a release for round >= 1."""

    run_id: str
    round: int
    kind: RoundKind
    config: Any  # RunConfig
    schema: Any  # Schema
    frame: pd.DataFrame  # the hospital's own rows, conformed to the schema
    encoder: dict  # the family's shared encoding, published after setup (JSON)
    previous: Tensors  # the global model after round - 1
    plan: SpokePlan
    private: bool  # False only when the hospital itself opted out and the run asked for no DP
    rng: np.random.Generator  # DP noise and sampling randomness
    seed: int  # for torch generators in training


@dataclass(frozen=True)
class SpokeOutput:
    payload: Tensors
    mean_loss: float | None = None


@dataclass(frozen=True)
class AcceptedRelease:
    """A release that opened under its context and passed the family's validation."""

    spoke: str
    payload: Tensors
    rows: int  # from the hospital's authenticated plan, not from the release
    mechanisms: tuple[StepRecord, ...]  # what it was charged for
    mean_loss: float | None = None


@dataclass(frozen=True)
class HubRound:
    run_id: str
    round: int
    kind: RoundKind
    config: Any  # RunConfig
    schema: Any  # Schema
    encoder: dict
    previous: Tensors
    plans: dict[str, SpokePlan]
    state: Tensors | None = None  # the aggregator's state after round - 1 (e.g. FedAdam moments)
    # the hub's answer to a release found invalid while aggregating (spoke, why): it is rejected and the
    # round goes on; None: the round fails
    reject: Callable[[str, ValueError], None] | None = None


@dataclass(frozen=True)
class RoundResult:
    model: Tensors
    loss: float | None = None
    state: Tensors | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    stop: bool = False  # the task ends the run after this round (early stopping); Finalize comes next


class ModelFamily(ABC):
    """One model family: its rounds, its releases at the spokes and its aggregation at the hub."""

    name: ClassVar[str]

    @abstractmethod
    def round_kinds(self, config) -> tuple[RoundKind, ...]:
        """Kinds of rounds 1..n (round 0 is always the setup release)."""

    @abstractmethod
    def setup_mechanisms(self, config) -> tuple[StepRecord, ...]:
        """The setup release's mechanisms under DP; data-independent (every spoke and the hub agree)."""

    @abstractmethod
    def plan_spoke(self, config, rows: int) -> SpokePlan:
        """Every release of a hospital with ``rows`` rows, landing its run on the target epsilon."""

    @abstractmethod
    def build_setup(self, config, schema, merged_stats) -> tuple[dict, Tensors]:
        """From the merged DP setup statistics: the shared encoder (JSON) and the model after round 0."""

    @abstractmethod
    def release(self, spoke_round: SpokeRound) -> SpokeOutput:
        """A hospital's release for one round (noised as its plan says)."""

    @abstractmethod
    def validate(self, hub_round: HubRound, payload: Tensors, plan: SpokePlan) -> None:
        """ValueError when a release's names, shapes, values or totals are not what this round expects
        (a family whose aggregation checks each release as it streams reports to ``hub_round.reject`` instead)."""

    @abstractmethod
    def aggregate(self, hub_round: HubRound, releases: Iterable[AcceptedRelease]) -> RoundResult:
        """Combine the round's accepted releases (streamed) into the next global model."""

    @abstractmethod
    def describe(self, config) -> dict:
        """What a published model version records about the model (JSON)."""

    serves: ClassVar[Literal["generate", "predict"]] = "generate"
    # False: round 0 releases no statistics and spends nothing, only the hospital's row count (public in
    # every plan); build_setup then gets None for the merged statistics
    setup_statistics: ClassVar[bool] = True
    reads_table: ClassVar[bool] = True  # False: the hospital's data is read by ``read_data``, not as a CSV

    def read_data(self, data, config):
        """A hospital's data (one object's bytes, or name -> bytes under a prefix) for a task that reads no
        table; ValueError with the reason when it cannot be used. ``len()`` of the result is its row count."""
        raise NotImplementedError(f"{self.name} reads a table")

    def generate(self, encoder: dict, model: Tensors, description: dict, schema, rows: int, seed: int,
                 conditions: dict[str, object] | None, sampling: dict[str, Any]) -> pd.DataFrame:
        """Synthetic rows from a published model; ``sampling`` holds request options (family-checked)."""
        raise ValueError(f"a {self.name} model predicts; it does not generate rows")

    def setup_histograms(self, encoder: dict, setup_model: Callable[[], Tensors]) -> list[dict] | None:
        """The merged noisy setup histograms the hub keeps after round 0, one per column, or None when the
        family keeps only what it derived from them; ``setup_model`` opens the round-0 model when needed."""
        return None

    def measured_marginals(self, encoder: dict, model: Callable[[], Tensors]) -> list[dict] | None:
        """The noisy measured tables published with the model that ``model`` opens (columns, labels, counts,
        noise_std), or None when the family publishes none."""
        return None

    def predict(self, encoder: dict, model: Tensors, description: dict, schema, frame: pd.DataFrame,
                times: list[float] | None = None) -> pd.DataFrame:
        """Predictions for conformed rows (class probabilities, or survival probabilities at ``times``)."""
        raise ValueError(f"a {self.name} model generates rows; it does not predict")

    def check_schema(self, config, schema) -> None:
        """ValueError when the run's settings do not fit its schema (checked before any privacy is spent)."""

    def published_round(self, config, rounds: list[dict]) -> int:
        """Which round's model a finished run publishes, from its stored round metrics: the last one here."""
        return max((m["round"] for m in rounds), default=0)

    def published_metrics(self, config, rounds: list[dict], published_round: int) -> dict:
        """What the model version records about how well the published model did (JSON)."""
        return {}

    def total_rounds(self, config) -> int:
        return len(self.round_kinds(config))

    def can_publish(self, config, last_round: int) -> bool:
        """Whether the model after ``last_round`` generates rows (a run may stop early)."""
        return last_round > 0
