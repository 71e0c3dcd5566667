"""``bench tasks --tasks image``: the image task on the built-in images, federated against a central model.

For each epsilon (3 and no DP): a full ``simulate`` run (5 hospitals, 64 px, ResNet-18 with
GroupNorm) scored exactly on the central holdout, beside the same network trained centrally on the
same pooled images (without DP; with central DP-SGD at the same epsilon when the run is private).
Then DP-SGD's throughput against non-DP training of the same network, batch and images, measured
side by side in this process and alternated so the machine's drift hits both.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from fedcore.run_config import RunConfig


def run_image_bench(epsilons: list[float | None], rounds: int = 3, epochs: int = 1, images: int = 2000,
                    size: int = 64, seed: int = 0, on_case=None) -> dict:
    from fedcore.experiment import ExperimentSpec, run_experiment

    rows = []
    for epsilon in epsilons:
        privacy = {"enabled": False} if epsilon is None else {"target_epsilon": epsilon}
        config = RunConfig(task={"name": "image", "image": {"size": size}}, rounds=rounds, privacy=privacy,
                           training={"epochs": epochs}, seed=seed)
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            report = run_experiment(ExperimentSpec(data="images:builtin", spokes=5, config=config,
                                                   extra={"images": images, "central_dp": True}), Path(out))
            seconds = time.perf_counter() - started
        measures = ("auc", "accuracy", "loss")
        rows.append({"case": "image fedavg", "epsilon": epsilon, "seconds": round(seconds, 1),
                     "federated": {m: report["metrics"]["final"].get(m) for m in measures},
                     "references": {name: {m: scores.get(m) for m in measures}
                                    for name, scores in report["baseline"].items()},
                     "per_hospital_auc": {name: (h.get("holdout") or {}).get("auc")
                                          for name, h in report["metrics"]["per_hospital"].items()}})
        if on_case is not None:
            on_case(rows[-1])
    return {"runs": rows, "throughput": dp_throughput(size=size, seed=seed)}


def dp_throughput(size: int = 64, images: int = 256, batch: int = 64, repeats: int = 2, seed: int = 0) -> dict:
    """Images/s of one local epoch with DP-SGD (Opacus, Poisson sampling) and without, alternated ``repeats``
    times on the same images and network; the median of each and their ratio."""
    from fedcore.tasks.image.encoder import ImageEncoder
    from fedcore.tasks.image.generator import generate_hospital_images
    from fedcore.tasks.image.network import build_image_network, initial_image_weights
    from fedcore.tasks.image.spec import ImageSpec
    from fedcore.tasks.predictive.losses import ClassificationLoss
    from fedcore.tasks.predictive.training import train_predictor
    from fedcore.training.config import DPConfig, TrainConfig

    data = next(iter(generate_hospital_images(total=images, spokes=1, size=size, seed=seed).values()))
    x, y = ImageEncoder(ImageSpec(size=size)).features(data), data.labels.astype(np.float32)[:, None]
    config = TrainConfig(batch_size=batch, epochs=1, learning_rate=1e-3, device="cpu")
    weights = initial_image_weights(1, 2, seed)
    settings = {"nondp": None, "dp": DPConfig(noise_multiplier=1.0, max_grad_norm=1.0)}
    for setting in settings.values():  # warm-up: imports, allocator growth
        train_predictor(build_image_network(1, 2), weights, x[:batch], y[:batch], ClassificationLoss("mean"),
                        config, setting, seed)
    rates: dict[str, list[float]] = {name: [] for name in settings}
    for _ in range(repeats):
        for name, setting in settings.items():
            started = time.perf_counter()
            train_predictor(build_image_network(1, 2), weights, x, y, ClassificationLoss("mean"), config, setting, seed)
            rates[name].append(len(x) / (time.perf_counter() - started))
    dp, nondp = float(np.median(rates["dp"])), float(np.median(rates["nondp"]))
    return {"images_per_s_dp": round(dp, 1), "images_per_s_nondp": round(nondp, 1), "ratio": round(dp / nondp, 3),
            "image_size": size, "images": len(x), "batch_size": batch, "device": "cpu"}
