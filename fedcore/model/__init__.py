"""Mixed-type tabular diffusion model (TabDDPM-style) and its samplers."""

from fedcore.model.config import DiffusionConfig, SamplingConfig
from fedcore.model.diffusion import DiffusionTarget, TabularDiffusion, TrainingBatch
from fedcore.model.loss import DiffusionLoss
from fedcore.model.sampling import sample
from fedcore.model.weights import build_model, get_weights, initial_weights, resolve_device, set_weights

__all__ = [
    "DiffusionConfig",
    "DiffusionLoss",
    "DiffusionTarget",
    "SamplingConfig",
    "TabularDiffusion",
    "TrainingBatch",
    "build_model",
    "get_weights",
    "initial_weights",
    "resolve_device",
    "sample",
    "set_weights",
]
