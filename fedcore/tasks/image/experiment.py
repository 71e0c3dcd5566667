"""``simulate --task image``: federate the image classifier, then score it exactly on a central holdout.

``--data images:builtin`` (the default) generates labelled images for the default five hospitals
(``fedcore.tasks.image.generator``); ``--data images:DIR`` reads one folder or ``.npz`` per hospital.
A share of each hospital's images (20%) is held out before anything is federated; together they are
the central holdout. ``report.json`` has the predictive tasks' keys (``task``, ``metrics.rounds``,
``metrics.final``, ``baseline``) plus ``metrics.per_hospital``: each hospital's noisy federated
validation metrics of the published model beside exact scores on that hospital's held-out images.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from fedcore.evaluation.report import to_jsonable
from fedcore.runtime.driver import EventHandler
from fedcore.runtime.model_directory import write_model_directory
from fedcore.runtime.simulation import simulate_federation
from fedcore.tasks.image.data import ImageSet, encode_npz, load_image_directory
from fedcore.tasks.image.spec import ImageSpec, image_schema
from fedcore.tasks.predictive.experiment import privacy_report, round_entry, score_published
from fedcore.tasks.registry import task_of

BUILTIN = "images:builtin"
DEFAULT_IMAGES = 2000  # built-in images over all hospitals (before the holdout)


def load_hospital_images(data: str, spokes: int, spec: ImageSpec, total: int, seed: int) -> dict[str, ImageSet]:
    """``images:builtin`` or ``images:DIR`` as one ImageSet per hospital."""
    if not data.startswith("images:"):
        raise ValueError(f"the image task reads --data images:builtin or images:DIR, not {data!r}")
    source = data[len("images:"):]
    if source == "builtin":
        from fedcore.tasks.image.generator import generate_hospital_images

        return generate_hospital_images(total=total, spokes=spokes, size=spec.size, seed=seed, classes=spec.classes)
    return load_image_directory(Path(source), spec)


def hold_out(images: ImageSet, share: float, seed: int) -> tuple[ImageSet, ImageSet]:
    """(training, held-out) images of one hospital: a seeded permutation, at least one image on each side."""
    order = np.random.default_rng(seed).permutation(len(images))
    held = min(max(1, round(share * len(images))), len(images) - 1)
    return images.subset(np.sort(order[held:])), images.subset(np.sort(order[:held]))


def concatenate(sets: list[ImageSet]) -> ImageSet:
    return ImageSet(np.concatenate([s.images for s in sets]), np.concatenate([s.labels for s in sets]),
                    sets[0].classes)


def run_image_experiment(spec, out_dir: Path, on_event: EventHandler | None = None) -> dict:
    emit = on_event or (lambda _e, _d: None)
    config = spec.config
    image = config.task.image_spec
    task = task_of(config)
    data = spec.data if spec.data.startswith("images:") else BUILTIN
    started = time.perf_counter()
    hospitals = load_hospital_images(data, spec.spokes, image, int(spec.extra.get("images", DEFAULT_IMAGES)),
                                     config.seed)
    split = {name: hold_out(images, spec.holdout_share, config.seed + i) for i, (name, images) in
             enumerate(hospitals.items())}
    train = {name: pair[0] for name, pair in split.items()}
    holdout = concatenate([pair[1] for pair in split.values()])
    pooled = concatenate(list(train.values()))
    emit("data", {"name": data, "train": len(pooled), "holdout": len(holdout),
                  "spokes": {k: len(v) for k, v in train.items()}})
    federation = simulate_federation({name: encode_npz(images) for name, images in train.items()},
                                     image_schema(image), config, on_event, run_id=spec.run_id)
    federated_seconds = time.perf_counter() - started
    record = federation.model_version
    if record is None:
        raise RuntimeError(f"the run ended {federation.status} without publishing a model: "
                           f"{federation.run.get('error', 'see the audit log')}")
    emit("evaluate", {})
    encoder, _, _, final = score_published(federation.services, record, config, pooled, holdout)
    per_hospital = _per_hospital(task, encoder, federation, record, config, split)
    emit("references", {})
    from fedcore.tasks.predictive.central import central_references

    baseline = central_references(task, encoder, config, pooled, holdout, config.seed,
                                  dp=bool(spec.extra.get("central_dp", False)))
    report = {
        "task": config.task.name,
        "data": {"name": data, "image": image.model_dump(mode="json"), "train_rows": len(pooled),
                 "holdout_rows": len(holdout), "spokes": {k: len(v) for k, v in train.items()},
                 "positive_rate": {k: float(np.mean(v.labels == image.positive_index)) for k, v in train.items()}},
        "run": {"status": federation.status, "run_id": spec.run_id, "model_version": record["version"],
                "published_round": record["round"], "rounds_completed": len(federation.rounds),
                "message": federation.run.get("error", ""), "seconds": round(federated_seconds, 1)},
        "metrics": {"rounds": [round_entry(m) for m in federation.rounds], "final": final,
                    "federated_validation": record.get("metrics"), "per_hospital": per_hospital},
        "baseline": baseline,
        "privacy": privacy_report(config, record, federation),
        "config": config.model_dump(mode="json"),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(to_jsonable(report), indent=2, allow_nan=False), encoding="utf-8")
    write_model_directory(out_dir / "model", federation.services, record)
    return report


def _per_hospital(task, encoder, federation, record, config, split) -> dict:
    """Each hospital: its noisy federated validation metrics of the published model, and its exact holdout scores."""
    from fedcore.runtime.generate import open_published_model
    from fedcore.tasks.predictive.central import score_outputs

    weights = open_published_model(federation.services, record)
    network = task.network(encoder, config)
    noisy = ((record.get("metrics") or {}).get("per_hospital")) or {}
    result = {}
    for name, (train, held) in split.items():
        outputs = task.outputs(network, weights, encoder.features(held))
        exact = score_outputs(task, encoder, outputs, train, held) if len(set(held.labels.tolist())) > 1 else None
        result[name] = {"images": len(train), "holdout_images": len(held),
                        "federated_validation": noisy.get(name),
                        "holdout": {k: exact[k] for k in ("auc", "accuracy", "loss") if k in exact} if exact else None}
    return result
