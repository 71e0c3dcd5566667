"""Settings of the marginal family (``model.marginal`` in a run config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MarginalConfig(BaseModel):
    """MST-style federated marginals (McKenna et al. 2021; FLAIM, Maddock et al. 2023)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # share of the family's budget for the selection scores; the setup round takes
    # privacy.setup_epsilon_share and the measurements take the rest
    # 0.5: ACTG 175 pair trends at epsilon 1 0.801 vs 0.775 at 0.3 (4 seeds, each seed better), equal at
    # epsilon 3 (0.875 vs 0.871) and on healthcare (fedcore/model/README.md); 0.3 beat 0.1 (0.865 vs 0.837)
    select_share: float = Field(0.5, gt=0, lt=1)
    max_cells: int = Field(16, ge=2, le=256)  # cells per numeric column after merging setup bins
    fit_iterations: int = Field(1000, ge=10, le=100_000)  # private-pgm mirror-descent iterations
