"""``make gpu-check``: the trainer's two GPU workloads on CUDA against CPU, in one run, as JSON.

A few DP-SGD and non-DP steps of the image task's ResNet-18 (images/s) and of the synthesis
diffusion model (rows/s), on every device present ("cpu", and "cuda" when torch sees one), with
peak GPU memory per case and GPU utilisation sampled by ``nvidia-smi`` while the image model trains
(a data loader that starves the GPU shows as low utilisation). Without CUDA it says so in the JSON
(``"cuda": null``) and measures the CPU only: it never reports a GPU number it did not measure.
On CUDA the image model trains as the trainer does (``mixed_precision="auto"``: bfloat16 autocast) and
again in float32, so ``autocast_over_float32_cuda`` validates and prices the default.

    python -m fedcore.gpu_check [--image-size 64] [--images 256] [--gpu-image-size 224]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import threading
import time
import warnings

import numpy as np


def _gpu_utilisation(stop: threading.Event, samples: list[float]) -> None:
    """Sample nvidia-smi's GPU utilisation (percent) every 0.2 s until ``stop``."""
    while not stop.is_set():
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True, timeout=5).stdout.split()
            samples.append(float(out[0]))
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            return
        stop.wait(0.2)


def image_case(device: str, dp: bool, size: int, images: int, batch: int, mixed_precision: str = "auto") -> dict:
    import torch

    from fedcore.tasks.image.generator import generate_hospital_images
    from fedcore.tasks.image.network import build_image_network, initial_image_weights
    from fedcore.tasks.image.encoder import ImageEncoder
    from fedcore.tasks.image.spec import ImageSpec
    from fedcore.tasks.predictive.losses import ClassificationLoss
    from fedcore.tasks.predictive.training import autocast_dtype, train_predictor
    from fedcore.training.config import DPConfig, TrainConfig

    spec = ImageSpec(size=size)
    data = next(iter(generate_hospital_images(total=images, spokes=1, size=size, seed=0).values()))
    x, y = ImageEncoder(spec).features(data), data.labels.astype(np.float32)[:, None]
    config = TrainConfig(batch_size=batch, epochs=1, learning_rate=1e-3, device=device,
                         mixed_precision=mixed_precision)
    setting = DPConfig(noise_multiplier=1.0, max_grad_norm=1.0) if dp else None
    weights = initial_image_weights(1, 2, 0)
    warm = min(len(x), 2 * batch)  # the first steps pay for cuDNN autotuning and allocator growth
    train_predictor(build_image_network(1, 2), weights, x[:warm], y[:warm], ClassificationLoss("mean"), config,
                    setting, 0)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    stop, samples = threading.Event(), []
    sampler = None
    if device == "cuda" and shutil.which("nvidia-smi"):
        sampler = threading.Thread(target=_gpu_utilisation, args=(stop, samples), daemon=True)
        sampler.start()
    started = time.perf_counter()
    result = train_predictor(build_image_network(1, 2), weights, x, y, ClassificationLoss("mean"), config, setting, 1)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    stop.set()
    if sampler is not None:
        sampler.join()
    case = {"workload": "image_resnet18", "device": device, "dp": dp, "image_size": size, "images": len(x),
            "batch_size": batch, "steps": result.steps, "seconds": round(seconds, 2),
            "images_per_s": round(len(x) / seconds, 1), "mixed_precision": mixed_precision,
            "autocast": str(autocast_dtype(torch.device(device), mixed_precision)),  # "None": float32
            "mean_loss": round(result.mean_loss, 4)}  # train_predictor raises on a non-finite weight
    if device == "cuda":
        case["peak_gpu_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        case["gpu_utilisation_percent"] = round(float(np.mean(samples)), 1) if samples else None
    return case


def diffusion_case(device: str, dp: bool, rows: int) -> dict:
    import torch

    from fedcore.datasets import load_actg175
    from fedcore.model.config import DiffusionConfig
    from fedcore.model.weights import initial_weights
    from fedcore.preprocessing.preprocessor import build_preprocessor
    from fedcore.preprocessing.table_stats import compute_table_stats
    from fedcore.training.config import DPConfig, TrainConfig
    from fedcore.training.local_training import train_local

    dataset = load_actg175()
    preprocessor = build_preprocessor(dataset.schema, compute_table_stats(dataset.frame, dataset.schema, None,
                                                                          np.random.default_rng(0)))
    data = preprocessor.transform(dataset.frame.head(rows))
    model = DiffusionConfig()
    weights = initial_weights(preprocessor.layout, model, seed=0)
    config = TrainConfig(epochs=1, device=device)
    setting = DPConfig(noise_multiplier=1.0, max_grad_norm=1.0) if dp else None
    train_local(weights, preprocessor.transform(dataset.frame.head(300)), preprocessor.layout, model, config,
                setting, seed=0)  # warm-up
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    result = train_local(weights, data, preprocessor.layout, model, config, setting, seed=1)
    case = {"workload": "diffusion_mlp", "device": device, "dp": dp, "rows": len(data),
            "batch_size": config.batch_size, "seconds": round(result.seconds, 2),
            "rows_per_s": round(len(data) / result.seconds, 1)}
    if device == "cuda":
        case["peak_gpu_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return case


def run_gpu_check(image_size: int = 64, images: int = 256, batch: int = 64, rows: int = 2000,
                  gpu_image_size: int = 224) -> dict:
    import torch

    warnings.filterwarnings("ignore", message="Secure RNG turned off")
    cuda = torch.cuda.is_available()
    devices = ["cpu", "cuda"] if cuda else ["cpu"]
    cases = []
    for device in devices:
        for dp in (False, True):
            cases.append(image_case(device, dp, image_size, images, batch))
            cases.append(diffusion_case(device, dp, rows))
    if cuda:  # the trainer's default ("auto": bfloat16 autocast) against float32 on the same GPU
        for dp in (False, True):
            cases.append(image_case("cuda", dp, image_size, images, batch, mixed_precision="off"))
    if cuda and gpu_image_size != image_size:
        for dp in (False, True):
            cases.append(image_case("cuda", dp, gpu_image_size, images, batch))
    report = {"cuda": torch.cuda.get_device_name(0) if cuda else None, "torch": torch.__version__,
              "cpu_threads": torch.get_num_threads(), "cases": cases, "speedup_gpu_over_cpu": {}}
    if not cuda:
        report["note"] = "no CUDA device visible to torch: CPU figures only; no GPU number was measured"
    rate = {(c["workload"], c["device"], c["dp"], c.get("image_size")): c.get("images_per_s") or c.get("rows_per_s")
            for c in cases if c.get("mixed_precision", "auto") == "auto"}
    for case in cases:
        if case.get("mixed_precision") == "off" and case["device"] == "cuda":
            auto = rate[("image_resnet18", "cuda", case["dp"], case["image_size"])]
            report.setdefault("autocast_over_float32_cuda", {})[f"{case['image_size']}px_{'dp' if case['dp'] else 'nondp'}"] \
                = round(auto / case["images_per_s"], 2)
    for (workload, device, dp, size), value in rate.items():
        cpu = rate.get((workload, "cpu", dp, size))
        if device == "cuda" and cpu:
            report["speedup_gpu_over_cpu"][f"{workload}{'' if size is None else f'_{size}px'}_{'dp' if dp else 'nondp'}"] \
                = round(value / cpu, 2)
    for device in devices:
        for workload, key in (("image_resnet18", "images_per_s"), ("diffusion_mlp", "rows_per_s")):
            pair = {c["dp"]: c[key] for c in cases if c["workload"] == workload and c["device"] == device
                    and c.get("image_size") in (None, image_size) and c.get("mixed_precision", "auto") == "auto"}
            report.setdefault("dp_over_nondp", {})[f"{workload}_{device}"] = round(pair[True] / pair[False], 3)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fedcore.gpu_check", description=__doc__.split("\n\n")[0],
                                     allow_abbrev=False)
    parser.add_argument("--image-size", type=int, default=64, help="pixels per side on every device (default 64)")
    parser.add_argument("--gpu-image-size", type=int, default=224, help="an extra GPU-only size (default 224)")
    parser.add_argument("--images", type=int, default=256, help="images per timed pass (default 256)")
    parser.add_argument("--batch-size", type=int, default=64, help="default 64")
    parser.add_argument("--rows", type=int, default=2000, help="diffusion rows per timed pass (default 2000)")
    args = parser.parse_args(argv)
    report = run_gpu_check(args.image_size, args.images, args.batch_size, args.rows, args.gpu_image_size)
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
