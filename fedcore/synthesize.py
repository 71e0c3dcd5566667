"""Synthetic patients from a trained global model: the one code path the CLI and API share."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from fedcore.model.config import DiffusionConfig, SamplingConfig
from fedcore.model.sampling import sample
from fedcore.preprocessing.preprocessor import GlobalPreprocessor


def generate_synthetic(
    weights: dict[str, np.ndarray],
    preprocessor: GlobalPreprocessor,
    model_config: DiffusionConfig,
    rows: int,
    sampling: SamplingConfig,
    seed: int,
    conditions: dict[str, object] | None = None,
) -> pd.DataFrame:
    """Sample ``rows`` rows in the schema's columns; ``conditions`` fix categorical values."""
    if rows < 1:
        raise ValueError("rows must be at least 1")
    fixed = preprocessor.conditions_to_indices(conditions or {})
    generator = torch.Generator().manual_seed(seed)
    encoded = sample(weights, preprocessor.layout, rows, sampling, generator, fixed, model_config=model_config)
    return preprocessor.inverse_transform(encoded)
