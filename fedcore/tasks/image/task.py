"""``image``: a federated DP classifier of medical images, on the predictive tasks' round plan.

ResNet-18 with GroupNorm (``network``), per-image cross-entropy under DP-SGD, and federated
evaluation from noisy counts as ``risk`` releases them (per-class score histograms for AUC, the
confusion matrix for accuracy), plus the clipped validation loss. The task has no setup statistics:
normalisation is fixed and the spec (size, channels, classes) is public, so round 0 releases only
the image count, which every task's plan treats as public (DP-SGD's sample rate is computed from it).
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from fedcore.tasks.image.encoder import ImageEncoder
from fedcore.tasks.image.spec import image_schema
from fedcore.tasks.metrics.counting import classification_counts, classification_sensitivity
from fedcore.tasks.predictive.encoder import TaskSchemaError
from fedcore.tasks.risk.task import RiskTask, softmax

# Each validation image's cross-entropy is clipped to LOSS_CLIP and released as loss / LOSS_CLIP, so one
# image adds at most 1 to the released loss sum: one more unit in the counts' L2 sensitivity.
LOSS_CLIP = 10.0


class ImageTask(RiskTask):
    name = "image"
    per_hospital_metrics = ("auc", "accuracy", "loss")
    setup_statistics = False
    reads_table = False
    prediction_batch: ClassVar[int] = 128
    prediction_device: ClassVar[str] = "auto"

    # -- the spec in place of a schema ---------------------------------------------------------------
    def check_schema(self, config, schema) -> None:
        expected = image_schema(config.task.image_spec)
        if schema.to_dict() != expected.to_dict():
            raise TaskSchemaError("an image run's schema is the one its task.image spec derives (one categorical "
                                  f"column {expected.columns[0].name!r} with the spec's classes); got "
                                  f"columns {schema.names}")

    def read_data(self, data, config):
        from fedcore.tasks.image.data import read_image_data

        return read_image_data(data, config.task.image_spec)

    def setup_mechanisms(self, config):
        return ()  # no setup statistics: nothing of round 0 is data-dependent but the public image count

    def build_setup(self, config, schema, merged_stats):
        encoder = ImageEncoder(config.task.image_spec)
        return encoder.to_dict(), self.initial_weights(encoder, config)

    def initial_weights(self, encoder: ImageEncoder, config):
        from fedcore.tasks.image.network import initial_image_weights

        return initial_image_weights(encoder.spec.channels, len(encoder.spec.classes), config.seed)

    def encoder_from_dict(self, data: dict) -> ImageEncoder:
        return ImageEncoder.from_dict(data)

    def network(self, encoder: ImageEncoder, description_or_config):
        from fedcore.tasks.image.network import build_image_network

        return build_image_network(encoder.spec.channels, len(encoder.spec.classes))

    # -- labels, counts, metrics -----------------------------------------------------------------------
    def targets(self, encoder: ImageEncoder, images) -> np.ndarray:
        return np.asarray(images.labels, dtype=np.float32)[:, None]  # (N, 1); -1 = unlabelled (loss 0)

    def count_shapes(self, encoder: ImageEncoder, config) -> dict[str, tuple[int, ...]]:
        return super().count_shapes(encoder, config) | {"loss": (1,)}

    def exact_counts(self, encoder: ImageEncoder, outputs: np.ndarray, images, config):
        probabilities, labels = softmax(outputs), encoder.class_index(images)
        counts = classification_counts(probabilities, labels, {}, {}, config.task.evaluation.score_bins)
        picked = probabilities[np.arange(len(labels)), labels] if len(labels) else np.zeros(0)
        cross_entropy = -np.log(np.clip(picked, 1e-300, 1.0))
        counts["loss"] = np.array([np.minimum(cross_entropy, LOSS_CLIP).sum() / LOSS_CLIP])
        # one image adds one to K score histograms and to the confusion matrix (sqrt(K + 1), as risk's counts
        # without sensitive attributes), and at most 1 to the scaled loss sum: L2 sensitivity sqrt(K + 2)
        k = len(encoder.labels.classes)
        return counts, math.sqrt(classification_sensitivity(k, 0) ** 2 + 1.0)

    def metrics_from_counts(self, encoder: ImageEncoder, counts: dict[str, np.ndarray]) -> dict:
        metrics = super().metrics_from_counts(encoder, counts)
        rows = metrics["rows"]
        loss_sum = float(counts["loss"][0]) * LOSS_CLIP
        metrics["loss"] = float(np.clip(loss_sum / rows, 0.0, LOSS_CLIP)) if rows >= 1 else None
        metrics.pop("fairness", None)
        return metrics

    # -- publishing ---------------------------------------------------------------------------------------
    def describe(self, config) -> dict:
        spec = config.task.image_spec
        return {"task": self.name, "family": None,
                "model": {"network": "resnet18_groupnorm", "channels": spec.channels, "classes": list(spec.classes),
                          "size": spec.size},
                "image": spec.model_dump(mode="json"),
                "settings": config.task.model_dump(mode="json")}
