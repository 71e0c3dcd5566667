"""An image run's spec: what its images are (size, channels, classes), in place of a table schema.

The spec is public and data-independent: every hospital's images are resized to it and normalised
by fixed constants, so the image task needs no setup statistics (no schema setup release). The
run still records a schema, derived from the spec (one categorical column, ``label``), so the
runtime's stored run layout is the same for every task.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from fedcore.schema import CategoricalColumn, Schema

LABEL = "label"  # the derived schema's one column: the class of an image


def list_as_tuple(value):
    """A JSON array for a tuple field, also under strict validation (the API validates run settings strictly)."""
    return tuple(value) if isinstance(value, list) else value


JsonTuple = Annotated[tuple[str, ...], BeforeValidator(list_as_tuple)]


class ImageSpec(BaseModel):
    """``task.image: {size, channels, classes}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    size: int = Field(64, ge=16, le=512)  # pixels per side (square): 64 for tests and CPU runs, 224 on GPU
    channels: int = Field(1, ge=1, le=3)  # 1 = grayscale (the model's first convolution takes this many)
    classes: JsonTuple = Field(("negative", "positive"), min_length=2, max_length=100)
    positive: str | None = None  # the class whose rate is reported (default: the last class)

    @field_validator("classes")
    @classmethod
    def _unique_names(cls, classes: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(classes)) != len(classes):
            raise ValueError(f"image classes must be unique; got {list(classes)}")
        bad = [c for c in classes if not c or "/" in c or c.startswith(".")]
        if bad:
            raise ValueError(f"an image class is a folder name: no '/', no leading '.', not empty; got {bad}")
        return classes

    @property
    def positive_index(self) -> int:
        if self.positive is None:
            return len(self.classes) - 1
        if self.positive not in self.classes:
            raise ValueError(f"image.positive {self.positive!r} is not one of the classes {list(self.classes)}")
        return self.classes.index(self.positive)


def image_schema(spec: ImageSpec) -> Schema:
    """The schema an image run records: its classes as one categorical column (no pixel is a column)."""
    return Schema(name="images", columns=(CategoricalColumn(name=LABEL, categories=spec.classes),), target=LABEL)


def run_schema_of_task(task: dict | None) -> Schema | None:
    """An image run's derived schema from its (raw) task settings; None for a table task."""
    if not isinstance(task, dict) or task.get("name") != "image":
        return None
    return image_schema(ImageSpec.model_validate(task.get("image") or {}))
