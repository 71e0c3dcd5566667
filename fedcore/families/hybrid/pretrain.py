"""The hub's pretraining of the hybrid family: diffusion weights learned from marginal-model rows.

Every input is already public within the run (the DP marginal model, the DP setup encoder,
the run's seed), so the output is post-processing of DP releases (Dwork & Roth 2014,
Proposition 2.1): no hospital is charged for it.
"""

from __future__ import annotations

from dataclasses import replace

from fedcore.families.base import Tensors
from fedcore.families.hybrid.config import PretrainConfig
from fedcore.marginal import MarginalDomain, MarginalModel, sample_rows


def pretrain_diffusion(config, marginal_model: MarginalModel, domain: MarginalDomain, preprocessor,
                       initial: Tensors, settings: PretrainConfig) -> tuple[Tensors, float]:
    """(weights, mean loss of the last epoch) after non-DP training on ``settings.rows`` sampled rows."""
    from fedcore.training.local_training import train_local

    rows = sample_rows(marginal_model, domain, settings.rows, config.seed)
    train_config = replace(config.train_config(), batch_size=settings.batch_size, epochs=settings.epochs,
                           proximal_mu=0.0)
    result = train_local(initial, preprocessor.transform(rows), preprocessor.layout, config.model.diffusion,
                         train_config, None, config.seed)
    return result.weights, float(result.mean_loss)
