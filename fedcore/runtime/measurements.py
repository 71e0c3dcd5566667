"""The DP measurements the hub holds for a published synthesis version, read back for the researcher.

Everything served here is post-processing of the hospitals' DP releases, merged over every admitted
hospital (DESIGN.md sections 4 and 9): the merged noisy setup histograms, and the marginal family's
noisy measured 2-way tables where the hub stores them. Post-processing costs no privacy (Dwork & Roth
2014, Proposition 2.1), so serving them charges no ledger. Nothing exact and nothing per hospital is read:
no spoke's release is opened, only what the hub stored after merging.
"""

from __future__ import annotations

from fedcore.federation.release import model_context
from fedcore.runtime import layout
from fedcore.runtime.generate import serving_task
from fedcore.runtime.ports import HubServices
from fedcore.runtime.run_state import read_encoder
from fedcore.sealing import open_model

NO_HISTOGRAMS = ("this family keeps only the transform it derived from the noisy setup histograms "
                 "(quantiles, category lists), not the histograms themselves")
NO_MARGINALS = ("the hub sums the hospitals' noisy 2-way tables and fits them into the model in the same "
                "step; the summed tables are not stored, so only the fitted model (its synthetic rows) remains")
NOT_MARGINAL = "only the marginal and hybrid families measure 2-way tables"


def dp_measurements(services: HubServices, record: dict) -> dict:
    """Setup histograms and 2-way measurements of a synthesis version, each None with its reason when the
    hub does not hold it; ModelKindError for a version that does not generate rows."""
    task = serving_task(record, "generate")
    run_id = record["run_id"]
    histograms = task.setup_histograms(
        read_encoder(services.blobs, run_id),
        lambda: open_model(services.blobs.get(layout.model_key(run_id, 0)), model_context(run_id, 0), services.keys))
    family = record.get("family", "diffusion")
    return {
        "version": record["version"],
        "family": family,
        "histograms": histograms,
        "histograms_reason": None if histograms is not None else NO_HISTOGRAMS,
        "marginals": None,
        "marginals_reason": NO_MARGINALS if family in ("marginal", "hybrid") else NOT_MARGINAL,
    }
