"""Benchmarks, each run side by side with its baseline in this process (the machine is noisy).

- dp_train: rows/s of DP-SGD (Opacus, ghost clipping, Poisson sampling) vs the same model
  and batch size trained without DP; alternated twice so drift hits both equally.
- aggregate: streaming FedAvg throughput vs a plain numpy weighted mean of the same updates
  held in memory (the baseline); peak traced memory aggregating 5 vs 50 lazily made updates.
- generate: rows/s of the default sampler on the default model.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator

import numpy as np

from fedcore.aggregation import ClientUpdate, StreamingFedAvg
from fedcore.datasets import load_actg175
from fedcore.model.config import DiffusionConfig, SamplingConfig
from fedcore.model.weights import initial_weights
from fedcore.preprocessing.preprocessor import build_preprocessor
from fedcore.preprocessing.table_stats import compute_table_stats
from fedcore.run_config import PrivacySettings
from fedcore.training.config import DPConfig, TrainConfig
from fedcore.training.local_training import train_local
from fedcore.synthesize import generate_synthetic


def run_benchmarks(quick: bool = False) -> dict:
    dataset = load_actg175()
    preprocessor = build_preprocessor(
        dataset.schema, compute_table_stats(dataset.frame, dataset.schema, None, np.random.default_rng(0))
    )
    model = DiffusionConfig()
    weights = initial_weights(preprocessor.layout, model, seed=0)
    return {
        "dp_train": bench_dp_train(dataset.frame, preprocessor, model, weights, quick),
        "aggregate": bench_aggregate(weights, quick),
        "generate": bench_generate(weights, preprocessor, model, quick),
    }


def bench_dp_train(frame, preprocessor, model: DiffusionConfig, weights, quick: bool) -> dict:
    data = preprocessor.transform(frame.head(600) if quick else frame)
    config = TrainConfig(epochs=1 if quick else 2)
    dp = DPConfig(noise_multiplier=1.0, max_grad_norm=PrivacySettings().max_grad_norm)
    warmup = preprocessor.transform(frame.head(300))
    for setting in (None, dp):  # first calls pay for imports and allocator growth
        train_local(weights, warmup, preprocessor.layout, model, TrainConfig(epochs=1), setting, seed=0)
    rates: dict[str, list[float]] = {"dp": [], "nondp": []}
    for _ in range(1 if quick else 2):
        for name, setting in (("nondp", None), ("dp", dp)):
            result = train_local(weights, data, preprocessor.layout, model, config, setting, seed=1)
            rates[name].append(len(data) * config.epochs / result.seconds)
    dp_rate, nondp_rate = float(np.median(rates["dp"])), float(np.median(rates["nondp"]))
    return {"rows_per_s_dp": round(dp_rate, 1), "rows_per_s_nondp": round(nondp_rate, 1),
            "ratio": round(dp_rate / nondp_rate, 3), "rows": len(data), "batch_size": config.batch_size}


def _lazy_updates(weights: dict[str, np.ndarray], count: int, seed: int) -> Iterator[ClientUpdate]:
    rng = np.random.default_rng(seed)
    for i in range(count):
        perturbed = {k: v + rng.standard_normal(v.shape).astype(v.dtype) * 0.01 for k, v in weights.items()}
        yield ClientUpdate(spoke=f"h{i}", weights=perturbed, num_examples=int(rng.integers(100, 1000)), metrics={})


def _model_mb(weights: dict[str, np.ndarray]) -> float:
    return sum(v.nbytes for v in weights.values()) / 2**20


def _peak_mb(weights, count: int) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    StreamingFedAvg().aggregate(weights, _lazy_updates(weights, count, seed=count))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return (peak - base) / 2**20


def bench_aggregate(weights: dict[str, np.ndarray], quick: bool) -> dict:
    spokes = 10 if quick else 20
    updates = list(_lazy_updates(weights, spokes, seed=7))
    size_mb = _model_mb(weights)

    started = time.perf_counter()
    StreamingFedAvg().aggregate(weights, iter(updates))
    streaming_s = time.perf_counter() - started

    started = time.perf_counter()
    total = sum(u.num_examples for u in updates)
    {k: sum(u.weights[k] * (u.num_examples / total) for u in updates) for k in weights}  # baseline mean
    baseline_s = time.perf_counter() - started
    del updates
    return {
        "spokes": spokes,
        "update_mb": round(size_mb, 3),
        "mb_per_s": round(spokes * size_mb / streaming_s, 1),
        "baseline_mb_per_s": round(spokes * size_mb / baseline_s, 1),
        "peak_mb_5": round(_peak_mb(weights, 5), 3),
        "peak_mb_50": round(_peak_mb(weights, 20 if quick else 50), 3),
    }


def bench_generate(weights, preprocessor, model: DiffusionConfig, quick: bool) -> dict:
    rows = 2000 if quick else 10_000
    sampling = SamplingConfig()
    started = time.perf_counter()
    generate_synthetic(weights, preprocessor, model, rows, sampling, seed=0)
    seconds = time.perf_counter() - started
    return {"rows": rows, "steps": sampling.steps, "sampler": sampling.sampler, "seconds": round(seconds, 3),
            "rows_per_s": round(rows / seconds, 1)}
