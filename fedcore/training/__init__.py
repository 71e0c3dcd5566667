"""Local training of the generative model at one hospital, with or without DP-SGD."""

from fedcore.training.config import DPConfig, TrainConfig
from fedcore.training.local_training import LocalTrainResult, train_local
from fedcore.training.evaluate import evaluate_loss

__all__ = ["DPConfig", "LocalTrainResult", "TrainConfig", "evaluate_loss", "train_local"]
