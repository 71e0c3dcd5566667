"""The DP measurements the hub holds for a published synthesis version, read back for the researcher.

Everything served here is post-processing of the hospitals' DP releases, merged over every admitted
hospital (DESIGN.md sections 4 and 9): the merged noisy setup histograms, and the marginal family's
noisy measured 2-way tables, published beside its model. Post-processing costs no privacy (Dwork & Roth
2014, Proposition 2.1), so serving them charges no ledger. Nothing per hospital is read: no spoke's
release is opened, only what the hub stored after merging. A run without DP released exact counts, so
its measurements are never served.
"""

from __future__ import annotations

from fedcore.federation.release import model_context
from fedcore.runtime import layout
from fedcore.runtime.generate import open_published_model, serving_task
from fedcore.runtime.ports import HubServices
from fedcore.runtime.run_state import load_run, read_encoder, run_config
from fedcore.sealing import open_model

NO_DP = "the run trained without DP, so its statistics are exact counts: they are never served"
NO_HISTOGRAMS = ("this family keeps only the transform it derived from the noisy setup histograms "
                 "(quantiles, category lists), not the histograms themselves")
NO_MARGINALS = {
    "marginal": "this version was published before the hub kept the measured 2-way tables beside the model",
    "hybrid": "a hybrid version publishes the diffusion network pretrained on its fitted marginal model; "
              "the measured 2-way tables are not kept",
}
NOT_MARGINAL = "only the marginal and hybrid families measure 2-way tables"


def dp_measurements(services: HubServices, record: dict) -> dict:
    """Setup histograms and 2-way measurements of a synthesis version, each None with its reason when the
    hub does not hold it (or the run had no DP); ModelKindError for a version that does not generate rows."""
    task = serving_task(record, "generate")
    run_id, family = record["run_id"], record.get("family", "diffusion")
    answer = {"version": record["version"], "family": family}
    if not run_config(load_run(services, run_id)).privacy.enabled:
        return answer | {"histograms": None, "histograms_reason": NO_DP, "marginals": None, "marginals_reason": NO_DP}
    encoder = read_encoder(services.blobs, run_id)
    histograms = task.setup_histograms(
        encoder,
        lambda: open_model(services.blobs.get(layout.model_key(run_id, 0)), model_context(run_id, 0), services.keys))
    marginals = task.measured_marginals(encoder, lambda: open_published_model(services, record))
    return answer | {
        "histograms": histograms,
        "histograms_reason": None if histograms is not None else NO_HISTOGRAMS,
        "marginals": marginals,
        "marginals_reason": None if marginals is not None else NO_MARGINALS.get(family, NOT_MARGINAL),
    }
