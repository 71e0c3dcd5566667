"""Predictions from a published predictive version: the path the CLI and the API share.

A researcher's rows are checked against the run's schema before the model sees them: a column the
schema lacks, or a value it does not allow (a category not declared, a number outside [min, max], text
in a numeric column), is refused with the column and the 1-based data row (the CSV header is not a
row), never clipped or guessed. Schema columns the model does not read (its labels, ``task.exclude``)
are ignored; missing values are allowed and go through the preprocessor as in training (imputed,
with its missing indicator or category where the consortium's statistics showed missing values).
Errors name columns and rows, never a value from the rows, so they can be shown and logged.

An image model (a task that reads no table) predicts from images instead: one PNG, an ``.npz`` or a
listing of PNGs, decoded and fitted to the version's spec as training images are (data-independent
conversion and resizing). What would decode too large is refused from its headers first; errors name
the file or key, never a pixel. Rows sent to an image model, or images to a table model, are refused.
"""

from __future__ import annotations

import io
import math
import struct
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fedcore.runtime.generate import ModelKindError, open_published_model, serving_task
from fedcore.runtime.model_directory import ModelDirectory
from fedcore.runtime.ports import HubServices
from fedcore.runtime.run_state import read_encoder, read_schema
from fedcore.schema import CategoricalColumn, NumericColumn, Schema
from fedcore.table import conform_table
from fedcore.tasks.predictive.encoder import PredictiveEncoder

MAX_PROBLEMS = 20  # problems listed in one error; the first in each column
MAX_TIMES = 200  # survival times asked for in one request
MAX_IMAGES = 256  # images in one request: the model's float32 input stays bounded (805 MB at 3 x 512 x 512)
MAX_IMAGE_PIXELS = 4096 * 4096  # per input image before resizing, read from its PNG header (48 MiB as RGB)
MAX_NPZ_IMAGE_BYTES = 256 * 2**20  # an .npz's 'images' array uncompressed, read from its .npy header
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"  # as fedcore.tasks.image.data (imported only for images: Pillow)


@dataclass(frozen=True)
class RowProblem:
    """One thing wrong with the rows: the column, the 1-based data row (None: the whole column), what is wrong."""

    column: str
    row: int | None
    problem: str

    def __str__(self) -> str:
        where = f"row {self.row}, column {self.column!r}" if self.row is not None else f"column {self.column!r}"
        return f"{where}: {self.problem}"

    def to_dict(self) -> dict:
        return {"column": self.column, "row": self.row, "problem": self.problem}


class PredictionInputError(ValueError):
    """Rows (or times) a model cannot predict on; ``problems`` names each column and row, never a value."""

    def __init__(self, problems: list[RowProblem], summary: str = "the rows do not fit the model's schema") -> None:
        self.problems = sorted(problems, key=lambda p: (p.row or 0))[:MAX_PROBLEMS]
        shown = "; ".join(str(p) for p in self.problems)
        more = f" (and {len(problems) - MAX_PROBLEMS} more)" if len(problems) > MAX_PROBLEMS else ""
        super().__init__(f"{summary}: {shown}{more}" if shown else summary)


class PredictionTimesError(PredictionInputError):
    """Survival times a model cannot predict at (or times given to a risk model)."""

    def __init__(self, message: str) -> None:
        super().__init__([], message)


class ImageInputError(PredictionInputError):
    """Images a model cannot predict on; the message names the file or key and the problem, never a pixel."""

    def __init__(self, message: str) -> None:
        super().__init__([], message)


class ModelInputKindError(ModelKindError):
    """The model predicts, but from the other kind of input: rows sent to an image model, or images to a
    model that reads table rows."""


def conform_rows(frame: pd.DataFrame, schema: Schema, encoder: dict) -> pd.DataFrame:
    """Researcher rows as the conformed feature table a predictive task predicts on (PredictionInputError if not)."""
    features = PredictiveEncoder.from_dict(encoder).preprocessor.schema  # the schema's feature columns
    columns = [str(c) for c in frame.columns]
    unknown = [c for c in columns if c not in schema.names]
    if unknown:
        raise PredictionInputError(
            [RowProblem(c, None, "not a column of the model's schema") for c in unknown],
            f"unknown column(s); the model reads {features.names}")
    absent = [c for c in features.names if c not in columns]
    if absent:
        raise PredictionInputError(
            [RowProblem(c, None, "the model reads this column; give it (an empty cell is a missing value)")
             for c in absent], "missing feature column(s)")
    if frame.empty:
        raise PredictionInputError([], "no rows to predict on")
    rows = frame.set_axis(columns, axis=1).reset_index(drop=True)[features.names]
    rows = rows.apply(_blank_as_missing)
    problems = [p for column in features.columns if (p := _first_problem(rows[column.name], column))]
    if problems:
        raise PredictionInputError(problems, "value(s) outside the model's schema")
    return conform_table(rows, features)  # typed as in training; every value is already known to fit


def check_times(encoder: dict, times: list[float] | None) -> list[float] | None:
    """Survival times as floats: distinct, within the model's time grid [0, its last cut point]; none for risk."""
    if not times:
        return None
    labels = PredictiveEncoder.from_dict(encoder).labels
    if labels.time is None:
        raise PredictionTimesError(f"times are for survival models; a {labels.task} model gives class "
                                   "probabilities (leave times out)")
    if len(times) > MAX_TIMES:
        raise PredictionTimesError(f"at most {MAX_TIMES} times, got {len(times)}")
    values = []
    for t in times:
        try:
            value = float(t)
        except (TypeError, ValueError):
            raise PredictionTimesError(f"times must be numbers, got {t!r}") from None
        if not (math.isfinite(value) and 0.0 <= value <= labels.cuts[-1]):
            raise PredictionTimesError(f"times must lie in [0, {labels.cuts[-1]:g}] ({labels.time}'s range "
                                       f"in the model's grid), got {t!r}")
        values.append(value)
    if len(set(values)) != len(values):
        raise PredictionTimesError("times must be distinct")
    return values


def predict_from_version(services: HubServices, record: dict, frame: pd.DataFrame,
                         times: list[float] | None = None) -> pd.DataFrame:
    """Predictions of the published version ``record`` for ``frame``: one row per input row, only the
    prediction columns (risk ``p_<class>``, survival ``s_<time>``). ModelKindError for a synthesis model."""
    task = _serving_task(record, images=False)
    encoder, schema = read_encoder(services.blobs, record["run_id"]), read_schema(services.blobs, record["run_id"])
    rows, times = conform_rows(frame, schema, encoder), check_times(encoder, times)  # checked before the model opens
    return _distinct_columns(task.predict(encoder, open_published_model(services, record), record, schema, rows,
                                          times), times)


def predict_from_directory(model: ModelDirectory, frame: pd.DataFrame,
                           times: list[float] | None = None) -> pd.DataFrame:
    """Like :func:`predict_from_version`, from a model directory (already SHA-256 checked by its loader)."""
    record = model.card["version"]
    task = _serving_task(record, images=False)
    rows, times = conform_rows(frame, model.schema, model.encoder), check_times(model.encoder, times)
    return _distinct_columns(task.predict(model.encoder, model.tensors, record, model.schema, rows, times), times)


def predict_images_from_version(services: HubServices, record: dict,
                                data: bytes | Mapping[str, bytes]) -> pd.DataFrame:
    """Class probabilities ``p_<class>`` of the published image version ``record``: one row per image, in the
    order they are read (an ``.npz`` in its order, a listing of PNGs by name). ``data`` is one PNG, one ``.npz``
    or name -> PNG bytes. ImageInputError for images it cannot read; ModelInputKindError for a table model."""
    task = _serving_task(record, images=True)
    encoder = read_encoder(services.blobs, record["run_id"])
    images = read_prediction_images(data, encoder)  # checked before the model opens
    return task.predict(encoder, open_published_model(services, record), record,
                        read_schema(services.blobs, record["run_id"]), images)


def predict_images_from_directory(model: ModelDirectory, data: bytes | Mapping[str, bytes]) -> pd.DataFrame:
    """Like :func:`predict_images_from_version`, from a model directory (already SHA-256 checked by its loader)."""
    record = model.card["version"]
    task = _serving_task(record, images=True)
    return task.predict(model.encoder, model.tensors, record, model.schema, read_prediction_images(data, model.encoder))


def read_prediction_images(data: bytes | Mapping[str, bytes], encoder: dict) -> np.ndarray:
    """(N, C, H, W) uint8 images fitted to an image run's spec (its ``encoder``), at most MAX_IMAGES of them;
    ImageInputError naming the file or key otherwise."""
    from fedcore.tasks.image.data import ImageDataError, read_unlabelled_images  # Pillow only for images
    from fedcore.tasks.image.encoder import ImageEncoder

    _check_declared_sizes(data)
    try:
        images = read_unlabelled_images(data, ImageEncoder.from_dict(encoder).spec)  # (N, C, H, W) uint8
    except ImageDataError as exc:
        raise ImageInputError(str(exc)) from None
    if len(images) > MAX_IMAGES:
        raise ImageInputError(f"at most {MAX_IMAGES} images per request, got {len(images)}; split them")
    return images


def _serving_task(record: dict, images: bool):
    """The task of a predictive version that takes this kind of input (rows: it reads a table; images: it does not)."""
    task = serving_task(record, "predict")
    if task.reads_table == images:
        takes, sent = ("table rows", "images") if task.reads_table else ("images (PNG or .npz)", "table rows")
        raise ModelInputKindError(f"model version {record['version']} ({record.get('task')}) predicts from {takes}, "
                                  f"not from {sent}")
    return task


def _check_declared_sizes(data) -> None:
    """Refuse, from headers alone, what would decode too large: a small upload can inflate (a compressed .npz,
    a flat PNG). Counts too many PNGs, too many pixels in a PNG, too many images or bytes in an .npz."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        blobs = {"the upload": bytes(data)}
    elif isinstance(data, Mapping):
        blobs = {repr(name): bytes(blob) for name, blob in data.items()
                 if isinstance(blob, (bytes, bytearray, memoryview))}
    else:
        return  # the reader names what it cannot read
    count = 0
    for where, blob in blobs.items():
        if blob.startswith(PNG_SIGNATURE):
            count += 1
            if len(blob) >= 24 and blob[12:16] == b"IHDR":
                width, height = struct.unpack(">II", blob[16:24])
                if width * height > MAX_IMAGE_PIXELS:
                    raise ImageInputError(f"{where}: a PNG of {width} x {height} pixels; at most "
                                          f"{MAX_IMAGE_PIXELS:,} pixels per image (resize it first)")
            continue
        shape, size = _npz_images_header(blob, where)
        if shape is not None:
            count += shape[0] if shape else 1
            if size > MAX_NPZ_IMAGE_BYTES:
                raise ImageInputError(f"{where}: 'images' holds {size:,} bytes uncompressed; at most "
                                      f"{MAX_NPZ_IMAGE_BYTES:,}")
    if count > MAX_IMAGES:
        raise ImageInputError(f"at most {MAX_IMAGES} images per request, got {count}; split them")


def _npz_images_header(blob: bytes, where: str) -> tuple[tuple[int, ...] | None, int]:
    """The shape and byte size an .npz's ``images`` array declares in its .npy header, read without
    decompressing the array (numpy allocates what the header declares); (None, 0) if not an .npz with one."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(blob))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return None, 0  # not an archive: the reader says so
    with archive:
        name = next((n for n in ("images", "images.npy") if n in archive.namelist()), None)  # np.load's order
        if name is None:
            return None, 0
        try:
            with archive.open(name) as member:
                version = np.lib.format.read_magic(member)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                    np.lib.format.read_array_header_2_0
                shape, _, dtype = read(member)
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, RuntimeError) as exc:
            raise ImageInputError(f"{where}: 'images' is not a readable .npy array ({type(exc).__name__})") from None
    return tuple(shape), math.prod(shape) * dtype.itemsize


def _distinct_columns(predictions: pd.DataFrame, times: list[float] | None) -> pd.DataFrame:
    """Survival columns are named by time to 6 significant digits: two times that close share one name (and the
    task's frame keeps only one of them), so a column per time asked for is checked here."""
    if times and predictions.shape[1] != len(times):
        raise PredictionTimesError("times closer than 6 significant digits name the same column s_<time>; "
                                   "give times further apart")
    return predictions


def _blank_as_missing(values: pd.Series) -> pd.Series:
    """An empty or all-space text cell is a missing value, as an empty CSV cell is."""
    blank = values.map(lambda v: isinstance(v, str) and not v.strip())
    return values.mask(blank, np.nan) if blank.any() else values


def _first_problem(values: pd.Series, column) -> RowProblem | None:
    """The first row of ``values`` that ``column`` does not allow, and why (without the value)."""
    reason = _numeric_problems(values, column) if isinstance(column, NumericColumn) else \
        _categorical_problems(values, column)
    bad = reason.notna().to_numpy()
    if not bad.any():
        return None
    first = int(np.argmax(bad))
    count = int(bad.sum())
    more = f" ({count - 1} more row(s) in this column)" if count > 1 else ""
    return RowProblem(column.name, first + 1, f"{reason.iloc[first]}{more}")


def _numeric_problems(values: pd.Series, column: NumericColumn) -> pd.Series:
    """Per row: why the value does not fit ``column`` (None where it fits or is missing)."""
    flags = values.map(_is_bool).astype(bool)
    present = values.notna() & ~flags
    numbers = pd.to_numeric(values.where(present), errors="coerce").astype(float)
    reason = pd.Series([None] * len(values), index=values.index, dtype=object)
    reason[flags] = "not a number"
    reason[present & numbers.isna()] = "not a number"
    finite = np.isfinite(numbers)
    reason[present & numbers.notna() & ~finite] = "not a finite number"
    inside = finite & (numbers >= column.min) & (numbers <= column.max)
    reason[present & finite & ~inside] = f"outside the schema's range [{column.min:g}, {column.max:g}]"
    if column.values is not None:
        snapped = pd.Series(column.snap(numbers.to_numpy()), index=values.index)
        off = inside & ~np.isclose(numbers, snapped, rtol=1e-9, atol=1e-9)
        reason[present & off] = f"not one of the column's values {[f'{v:g}' for v in column.values]}"
    return reason


def _categorical_problems(values: pd.Series, column: CategoricalColumn) -> pd.Series:
    """Per row: "not a declared category" where the value is not one (read as ``conform_table`` reads it)."""
    known = {str(c) for c in column.categories} | {f"{c}.0" for c in column.categories if isinstance(c, int)}
    present = values.notna()
    fits = values.map(lambda v: not _is_bool(v) and str(v).strip() in known).astype(bool)
    reason = pd.Series([None] * len(values), index=values.index, dtype=object)
    reason[present & ~fits] = f"not a declared category; categories are {[str(c) for c in column.categories]}"
    return reason


def _is_bool(value) -> bool:
    """JSON's true/false is not a number or a category (Python's bool is an int)."""
    return isinstance(value, (bool, np.bool_))
