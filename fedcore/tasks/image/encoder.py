"""The image task's shared encoding: fixed, data-independent normalisation and the classes.

Built by the hub from the run's public spec alone (no setup statistics), so it costs no privacy.
It answers the same questions as the tabular tasks' ``PredictiveEncoder`` (features, labels,
classes, groups), so the predictive round plan drives both. Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fedcore.tasks.image.spec import LABEL, ImageSpec
from fedcore.tasks.predictive.encoder import Labels

# pixel / 255 mapped to [-1, 1]: fixed constants, never statistics of a hospital's images
PIXEL_CENTRE, PIXEL_SCALE = 0.5, 0.5


@dataclass(frozen=True)
class ImageEncoder:
    spec: ImageSpec
    sensitive: dict = field(default_factory=dict)  # images carry no sensitive attributes

    @property
    def labels(self) -> Labels:
        return Labels("risk", target=LABEL, classes=self.spec.classes, positive=self.spec.positive_index)

    def features(self, images) -> np.ndarray:
        """(N, C, H, W) float32 in [-1, 1] from an ImageSet or a (N, C, H, W) uint8 array."""
        pixels = getattr(images, "images", images)
        expected = (self.spec.channels, self.spec.size, self.spec.size)
        if pixels.ndim != 4 or pixels.shape[1:] != expected or pixels.dtype != np.uint8:
            raise ValueError(f"images must be uint8 of shape (N, {', '.join(map(str, expected))}); "
                             f"got {pixels.dtype} {pixels.shape}")
        return ((pixels.astype(np.float32) / 255.0) - PIXEL_CENTRE) / PIXEL_SCALE

    def labelled(self, images):
        """The images with a class (an unlabelled one cannot be scored)."""
        return images.subset(np.flatnonzero(images.labels >= 0))

    def class_index(self, images) -> np.ndarray:
        return np.asarray(images.labels, dtype=np.int64)

    def group_index(self, images) -> dict[str, np.ndarray]:
        return {}

    def group_names(self) -> dict[str, list[str]]:
        return {}

    def to_dict(self) -> dict:
        return {"kind": "image", "spec": self.spec.model_dump(mode="json")}

    @classmethod
    def from_dict(cls, data: dict) -> "ImageEncoder":
        if data.get("kind") != "image":
            raise ValueError("this encoder is not an image task's")
        return cls(ImageSpec.model_validate(data["spec"]))
