"""The image task through the round steps: no setup statistics, its plan and accounting, its counts'
sensitivity, the network Opacus trains, and simulate's report."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from fedcore.federation import hub, spoke
from fedcore.federation.release import ReleaseMeta
from fedcore.privacy.accountant import StepRecord, compute_epsilon
from fedcore.run_config import RunConfig
from fedcore.run_spec import RunSpec
from fedcore.runtime.simulation import simulate_federation
from fedcore.sealing import LocalKeyProvider
from fedcore.tasks.image.data import ImageSet, encode_npz
from fedcore.tasks.image.encoder import ImageEncoder
from fedcore.tasks.image.generator import generate_hospital_images
from fedcore.tasks.image.spec import ImageSpec, image_schema
from fedcore.tasks.registry import task_of

IMAGE = {"name": "image", "image": {"size": 32}}


@pytest.fixture(scope="module")
def image_run():
    config = RunConfig(task=IMAGE, rounds=1)
    hospitals = generate_hospital_images(total=120, spokes=2, size=32, seed=0)
    partitions = {name: encode_npz(images) for name, images in hospitals.items()}
    return config, hospitals, simulate_federation(partitions, image_schema(config.task.image_spec), config, None,
                                                  run_id="image-dp")


def test_image_plan_has_no_setup_release_and_lands_on_the_target():
    config = RunConfig(task=IMAGE, rounds=3)

    plan = task_of(config).plan_spoke(config, rows=500)

    assert plan.releases[0] == ()  # round 0 spends nothing
    assert [len(ms) for ms in plan.releases] == [0, 1, 2, 2, 1]  # train; train + evaluation; evaluation only
    epsilon = compute_epsilon([m for ms in plan.releases for m in ms], config.privacy.delta, config.privacy.accountant)
    assert epsilon == pytest.approx(config.privacy.target_epsilon, rel=2e-2)


@pytest.mark.slow  # trains ResNet-18 with DP at two hospitals
def test_image_run_releases_only_the_count_in_round_zero_and_charges_its_plan(image_run):
    config, hospitals, result = image_run

    assert result.status == "COMPLETED"
    assert [m["kind"] for m in result.rounds] == ["train", "evaluate"]
    validation = result.rounds[-1]["validation"]
    assert 0.0 <= validation["auc"] <= 1.0 and 0.0 <= validation["loss"] <= 10.0
    assert set(validation["per_hospital"]) == set(hospitals)
    plans = result.run["plans"]
    for name, ledger in result.hospital_ledgers.items():
        assert plans[name]["rows"] == len(hospitals[name])  # the public count, from round 0
        assert plans[name]["releases"][0] == []
        records = [StepRecord.from_dict(m) for ms in plans[name]["releases"] for m in ms]
        expected = compute_epsilon(records, config.privacy.delta, config.privacy.accountant)
        assert result.model_version["epsilon"][name] == pytest.approx(expected)
        assert ledger.spent(name) == pytest.approx(expected)
        assert not ledger.charged(name, "image-dp", 0)
    card = result.model_version
    assert card["task"] == "image" and card["model"]["network"] == "resnet18_groupnorm"


def test_hub_refuses_a_count_only_release_that_carries_statistics_or_claims_spend():
    keys = LocalKeyProvider(os.urandom(32))
    honest = spoke.seal_release("a", "r", 0, {}, ReleaseMeta(40, ()), keys)
    smuggled = spoke.seal_release("b", "r", 0, {"label/counts": np.array([30.0, 10.0])}, ReleaseMeta(40, ()), keys)
    claimed = spoke.seal_release("c", "r", 0, {}, ReleaseMeta(40, (StepRecord(1.0, 1.0, 1),)), keys)
    tiny = spoke.seal_release("d", "r", 0, {}, ReleaseMeta(1, ()), keys)
    charged = []

    merged, rejected, metas = hub.merge_setup_stats("r", [honest, smuggled, claimed, tiny], image_schema(ImageSpec()),
                                                    keys, 1, (), lambda s, m: charged.append(s), statistics=False)

    assert merged is None and set(metas) == {"a"} and metas["a"].num_examples == 40
    assert "releases no statistics" in rejected["b"]
    assert "spends no privacy" in rejected["c"]
    assert "at least" in rejected["d"]
    assert sorted(charged) == ["a", "b", "c", "d"]  # every released object goes through the charger


def test_evaluation_counts_change_by_at_most_their_sensitivity_when_one_image_is_added():
    config = RunConfig(task={"name": "image", "image": {"size": 16, "classes": ["a", "b", "c"]}})
    task, encoder = task_of(config), ImageEncoder(config.task.image_spec)
    rng = np.random.default_rng(0)
    images = ImageSet(np.zeros((30, 1, 16, 16), np.uint8), rng.integers(0, 3, 30), ("a", "b", "c"))
    outputs = rng.normal(0, 5, (30, 3))

    base, sensitivity = task.exact_counts(encoder, outputs[:29], images.subset(np.arange(29)), config)
    added, _ = task.exact_counts(encoder, outputs, images, config)

    change = math.sqrt(sum(float(np.sum((added[k] - base[k]) ** 2)) for k in base))
    assert sensitivity == pytest.approx(math.sqrt(3 + 2))
    assert 0 < change <= sensitivity + 1e-9
    assert set(base) == set(task.count_shapes(encoder, config))


@pytest.mark.parametrize("settings, message", [
    ({"name": "image", "target": "cens"}, "tabular tasks"),
    ({"name": "risk", "image": {"size": 32}}, "image task's spec"),
    ({"name": "image", "image": {"classes": ["a", "a"]}}, "unique"),
])
def test_image_settings_of_another_task_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        RunConfig(task=settings)


def test_an_image_run_needs_the_schema_its_spec_derives():
    config = RunConfig(task={"name": "image", "image": {"classes": ["benign", "malignant"]}})
    with pytest.raises(ValueError, match="derives"):
        RunSpec(run_id="r", schema=image_schema(ImageSpec()), config=config)  # classes differ
    RunSpec(run_id="r", schema=image_schema(config.task.image_spec), config=config)


def test_compute_class_follows_the_task_unless_the_run_names_one():
    assert RunConfig(task=IMAGE).task.compute_class == "gpu"
    assert RunConfig(task={"name": "risk"}).task.compute_class == "cpu"
    assert RunConfig(task={"name": "image", "compute": "cpu"}).task.compute_class == "cpu"
    assert RunConfig(task=IMAGE).training.learning_rate == 1e-3  # image defaults, not the tabular 1e-2
    assert RunConfig(task=IMAGE).rounds == 3 and RunConfig(task=IMAGE, rounds=5).rounds == 5


def test_the_network_is_resnet18_with_groupnorm_that_opacus_accepts():
    from opacus.validators import ModuleValidator
    from torch import nn

    from fedcore.tasks.image.network import build_image_network

    network = build_image_network(channels=1, classes=2)

    assert not [m for m in network.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert sum(isinstance(m, nn.GroupNorm) for m in network.modules()) == 20  # as ResNet-18's BatchNorms
    assert network.conv1.in_channels == 1 and network.fc.out_features == 2
    assert ModuleValidator.validate(network, strict=False) == []


def _train_images(dp, mixed_precision="auto", learning_rate=1e-3):
    from fedcore.tasks.image.network import build_image_network, initial_image_weights
    from fedcore.tasks.predictive.losses import ClassificationLoss
    from fedcore.tasks.predictive.training import train_predictor
    from fedcore.training.config import TrainConfig

    x = np.random.default_rng(0).normal(size=(48, 1, 16, 16)).astype(np.float32)
    y = (np.arange(48) % 2).astype(np.float32)[:, None]
    return train_predictor(build_image_network(1, 2), initial_image_weights(1, 2, 0), x, y, ClassificationLoss("mean"),
                           TrainConfig(batch_size=16, epochs=1, learning_rate=learning_rate, device="cpu",
                                       mixed_precision=mixed_precision), dp, 0)


@pytest.mark.slow  # trains ResNet-18 (5-7 s)
def test_dp_sgd_on_images_spends_its_plan_in_float32_on_the_cpu():
    """"auto" autocasts on CUDA only; on the CPU training stays float32 and the weights finite float32."""
    from fedcore.training.config import DPConfig

    result = _train_images(DPConfig(noise_multiplier=1.1, max_grad_norm=1.0))

    assert result.noise_multiplier == 1.1 and result.sample_rate == pytest.approx(16 / 48)
    assert all(np.all(np.isfinite(w)) and w.dtype == np.float32 for w in result.weights.values())


def test_autocast_is_bfloat16_on_a_cuda_gpu_with_bfloat16_and_float32_elsewhere(monkeypatch):
    import torch

    from fedcore.tasks.predictive.training import autocast_dtype

    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert autocast_dtype(cuda, "auto") is torch.bfloat16
    assert autocast_dtype(cpu, "auto") is None and autocast_dtype(cuda, "off") is None
    assert autocast_dtype(cpu, "bf16") is torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    assert autocast_dtype(cuda, "auto") is None  # emulated bfloat16 (pre-Ampere): float32, no float16 without scaling


@pytest.mark.slow  # trains ResNet-18 (5-7 s)
def test_dp_sgd_under_bfloat16_autocast_keeps_float32_weights_and_spends_its_plan():
    """The CUDA default's code path, forced on the CPU: Opacus casts per-sample gradients up to float32."""
    from fedcore.training.config import DPConfig

    result = _train_images(DPConfig(noise_multiplier=1.1, max_grad_norm=1.0), mixed_precision="bf16")

    assert result.noise_multiplier == 1.1 and result.sample_rate == pytest.approx(16 / 48)
    assert all(np.all(np.isfinite(w)) and w.dtype == np.float32 for w in result.weights.values())


def test_training_that_ends_with_non_finite_weights_releases_nothing():
    from fedcore.tasks.predictive.training import NonFiniteWeightsError

    with pytest.raises(NonFiniteWeightsError, match="non-finite weights .* nothing is released"):
        _train_images(None, mixed_precision="off", learning_rate=1e30)


def test_trainer_reads_a_hospitals_image_folder_under_a_prefix():
    from PIL import Image

    from containers.trainer.job import read_data_objects
    from fedcore.runtime.memory_stores import InMemoryBlobStore
    from fedcore.runtime.spoke_release import BadSpokeDataError, read_hospital_data

    blobs = InMemoryBlobStore()
    for i, label in enumerate(["negative", "positive", "negative"]):
        buffer = __import__("io").BytesIO()
        Image.fromarray(np.full((20, 20), 40 * i, np.uint8)).save(buffer, format="PNG")
        blobs.put(f"images/{label}/{i}.png", buffer.getvalue())
    config = RunConfig(task=IMAGE)

    data = read_data_objects(blobs, "images/")
    images = read_hospital_data(task_of(config), data, image_schema(config.task.image_spec), config)

    assert sorted(data) == ["negative/0.png", "negative/2.png", "positive/1.png"]
    assert images.images.shape == (3, 1, 32, 32) and images.labels.tolist() == [0, 0, 1]
    with pytest.raises(BadSpokeDataError, match="cannot be read for task image"):
        read_hospital_data(task_of(config), {"notes.txt": b"x"}, image_schema(config.task.image_spec), config)
    with pytest.raises(BadSpokeDataError, match="reads one CSV object"):
        read_hospital_data(task_of(RunConfig(task={"name": "risk"})), data, image_schema(ImageSpec()), config)


@pytest.mark.slow
def test_simulate_image_writes_the_report_keys_and_a_model_directory(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "image"
    completed = subprocess.run(
        [sys.executable, "-m", "fedcore", "simulate", "--task", "image", "--images", "150", "--image-size", "32",
         "--spokes", "5", "--rounds", "1", "--out", str(out)], capture_output=True, text=True, timeout=600)

    assert completed.returncode == 0, completed.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    assert report["task"] == "image"
    assert [r["kind"] for r in report["metrics"]["rounds"]] == ["train", "evaluate"]
    assert {"auc", "accuracy", "loss"} <= set(report["metrics"]["final"])
    assert set(report["baseline"]) == {"central_same_model"}
    assert len(report["metrics"]["per_hospital"]) == 5
    assert (out / "model" / "card.json").exists() or any((out / "model").iterdir())
