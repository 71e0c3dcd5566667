"""Federated marginal synthesizer: MST (McKenna et al. 2021) adapted to federated hospitals
as in FLAIM (Maddock et al. 2023), on private-pgm's ``mbi``.

Round 0 (setup statistics) gives the domain and the 1-way counts; round 1 each spoke releases
noisy selection scores (``selection_scores``), the hub sums them and picks a spanning tree of
pairs (``select_cliques``); round 2 each spoke releases noisy 2-way tables
(``measure_marginals``), the hub sums them and fits the model (``fit_marginal_model``), which
then generates rows (``sample_rows``). mbi/JAX load only inside fitting and conditioning.
"""

from fedcore.marginal.cells import ColumnCells
from fedcore.marginal.combine import (
    ReleaseRejectedError,
    SpokeRelease,
    SummedMarginals,
    SummedScores,
    check_marginal_release,
    check_score_release,
    sum_marginal_releases,
    sum_score_releases,
)
from fedcore.marginal.domain import MarginalDomain, build_domain
from fedcore.marginal.fit import fit_marginal_model
from fedcore.marginal.measure import (
    count_table,
    marginal_noise_std,
    marginals_from_tensors,
    marginals_to_tensors,
    measure_marginals,
    score_noise_std,
    scores_from_tensors,
    scores_to_tensors,
    selection_scores,
)
from fedcore.marginal.model import MarginalModel
from fedcore.marginal.sample import sample_rows
from fedcore.marginal.select import candidate_pairs, maximum_spanning_tree, one_way_probabilities, select_cliques

__all__ = [
    "ColumnCells",
    "MarginalDomain",
    "MarginalModel",
    "ReleaseRejectedError",
    "SpokeRelease",
    "SummedMarginals",
    "SummedScores",
    "build_domain",
    "candidate_pairs",
    "check_marginal_release",
    "check_score_release",
    "count_table",
    "fit_marginal_model",
    "marginal_noise_std",
    "marginals_from_tensors",
    "marginals_to_tensors",
    "maximum_spanning_tree",
    "measure_marginals",
    "one_way_probabilities",
    "sample_rows",
    "score_noise_std",
    "scores_from_tensors",
    "scores_to_tensors",
    "select_cliques",
    "selection_scores",
    "sum_marginal_releases",
    "sum_score_releases",
]
