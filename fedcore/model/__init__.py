"""Mixed-type tabular diffusion model (TabDDPM-style) and its samplers.

Importing the package loads its configs only: the model code (torch) loads on first use of one of
its names, so a run config reads DiffusionConfig's defaults without torch (PEP 562).
"""

from fedcore.model.config import DiffusionConfig, SamplingConfig

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


def __getattr__(name: str):
    if name in ("DiffusionTarget", "TabularDiffusion", "TrainingBatch"):
        from fedcore.model import diffusion as module
    elif name == "DiffusionLoss":
        from fedcore.model import loss as module
    elif name == "sample":
        from fedcore.model import sampling as module
    elif name in ("build_model", "get_weights", "initial_weights", "resolve_device", "set_weights"):
        from fedcore.model import weights as module
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(module, name)
