"""Local training of the generative model at one hospital, with or without DP-SGD.

Importing the package loads its configs only: the training code (torch, Opacus) loads on first use
of one of its names, so a run config reads TrainConfig's defaults without torch (PEP 562).
"""

from fedcore.training.config import DPConfig, TrainConfig

__all__ = ["DPConfig", "LocalTrainResult", "TrainConfig", "evaluate_loss", "train_local"]


def __getattr__(name: str):
    if name in ("LocalTrainResult", "train_local"):
        from fedcore.training import local_training as module
    elif name == "evaluate_loss":
        from fedcore.training import evaluate as module
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(module, name)
