"""The image task's data: a hospital's labelled images, prediction inputs, and ``--data images:DIR``.

A hospital's training data is one ``.npz`` (``images``, ``labels``, optional ``classes``), or a listing
(object name -> bytes, as under an S3 prefix) of class folders of PNGs (``class_name/<anything>.png``)
or of ``.npz`` shards. Preprocessing is data-independent: every image is converted to the spec's
channels (Pillow's ITU-R 601-2 luminance for RGB -> grayscale, repetition for grayscale -> RGB) and
resized (stretched, not cropped) to ``spec.size`` square with Pillow's bilinear filter when its size
differs. Images are 8-bit: a 16-bit grayscale PNG is scaled down (``v * 255 / 65535``, rounded);
a 16-bit RGB PNG keeps Pillow's high byte; alpha is dropped. Torch-free: numpy, Pillow, stdlib.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

import numpy as np
from PIL import Image

from fedcore.tasks.image.spec import ImageSpec

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
UNLABELLED = -1  # the label of an image without a class; refused in training data
_LUMA = np.array([19595, 38470, 7471], dtype=np.uint32)  # ITU-R 601-2 x 2**16, Pillow's RGB -> L weights
_LAYOUTS = "(N,H,W), (N,H,W,C) or (N,C,H,W) with C = 1 or 3"
_BYTES = (bytes, bytearray, memoryview)


class ImageDataError(ValueError):
    """Bad image input; the message names the file, key or class at fault, never a pixel value."""


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value to compare or hash by
class ImageSet:
    """Images with their class indices: what one hospital holds, or a held-out test set."""

    images: np.ndarray  # (N, C, H, W) uint8, C = 1 or 3
    labels: np.ndarray  # (N,) int64 index into classes; UNLABELLED only where a caller allows it
    classes: tuple[str, ...]  # class names, as in ImageSpec.classes

    def __post_init__(self) -> None:
        images, labels = np.asarray(self.images), np.asarray(self.labels)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3):
            raise ImageDataError(f"ImageSet.images must be uint8 of shape (N, C, H, W) with C 1 or 3; "
                                 f"got {images.dtype} {images.shape}")
        if labels.ndim != 1 or len(labels) != len(images) or (labels.size and labels.dtype.kind not in "iu"):
            raise ImageDataError(f"ImageSet.labels must be {len(images)} integer class indices; "
                                 f"got {labels.dtype} {labels.shape}")
        classes = tuple(self.classes)
        if not classes or len(set(classes)) != len(classes) or not all(isinstance(c, str) for c in classes):
            raise ImageDataError(f"ImageSet.classes must be unique class names; got {list(classes)}")
        labels = labels.astype(np.int64, copy=False)
        if labels.size and (labels.min() < UNLABELLED or labels.max() >= len(classes)):
            raise ImageDataError(f"ImageSet.labels must lie in -1..{len(classes) - 1} (classes {list(classes)})")
        object.__setattr__(self, "images", images)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "classes", classes)

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, positions: slice | np.ndarray | list[int] | list[bool]) -> ImageSet:
        """The images at ``positions`` (integer positions, a boolean mask or a slice), as a copy."""
        if isinstance(positions, slice):
            index = np.arange(len(self))[positions]
        else:
            index = np.asarray(positions)
            if index.ndim != 1:
                raise TypeError(f"positions must be one-dimensional (a list, array, mask or slice); got {index.shape}")
            if index.size == 0:
                index = index.astype(np.int64)
            elif index.dtype == bool and len(index) != len(self):
                raise IndexError(f"a boolean mask of {len(index)} for {len(self)} images")
            elif index.dtype != bool and index.dtype.kind not in "iu":
                raise TypeError(f"positions must be integers or booleans; got {index.dtype}")
        return ImageSet(self.images[index], self.labels[index], self.classes)

    @property
    def iloc(self) -> _Positional:
        """``imageset.iloc[rows]`` is ``imageset.subset(rows)``, for callers written for pandas frames."""
        return _Positional(self)


class _Positional:
    __slots__ = ("_owner",)

    def __init__(self, owner: ImageSet) -> None:
        self._owner = owner

    def __getitem__(self, positions: slice | np.ndarray | list[int] | list[bool]) -> ImageSet:
        return self._owner.subset(positions)


def read_image_data(data: bytes | Mapping[str, bytes], spec: ImageSpec) -> ImageSet:
    """A hospital's labelled images from one ``.npz``, or a listing of class folders of PNGs or ``.npz`` shards."""
    _check_channels(spec)
    if isinstance(data, _BYTES):
        return _labelled_npz(bytes(data), spec, "the .npz")
    pngs, shards = _listing(data)
    if shards:
        parts = [_labelled_npz(bytes(data[name]), spec, repr(name)) for name in shards]
        return ImageSet(np.concatenate([p.images for p in parts]), np.concatenate([p.labels for p in parts]),
                        spec.classes)
    labels = np.array([_class_of(name, spec) for name in pngs], dtype=np.int64)
    return ImageSet(np.stack([_decode_png(bytes(data[name]), repr(name), spec) for name in pngs]), labels,
                    spec.classes)


def read_unlabelled_images(data: bytes | Mapping[str, bytes], spec: ImageSpec) -> np.ndarray:
    """Images to classify, (N, C, H, W) uint8: one PNG, one ``.npz`` (``labels`` ignored), or a listing
    of PNGs (or ``.npz`` shards) read in name order."""
    _check_channels(spec)
    if isinstance(data, _BYTES):
        blob = bytes(data)
        if blob.startswith(PNG_SIGNATURE):
            return _decode_png(blob, "the PNG", spec)[None]
        return _unlabelled_npz(blob, spec, "the upload (no PNG signature)")
    pngs, shards = _listing(data)
    if shards:
        return np.concatenate([_unlabelled_npz(bytes(data[name]), spec, repr(name)) for name in shards])
    return np.stack([_decode_png(bytes(data[name]), repr(name), spec) for name in pngs])


def encode_npz(imageset: ImageSet) -> bytes:
    """``imageset`` as a compressed ``.npz`` (images, labels, classes) that ``read_image_data`` reads back."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, images=imageset.images, labels=imageset.labels,
                        classes=np.asarray(imageset.classes, dtype=str))
    return buffer.getvalue()


def load_image_directory(path: Path, spec: ImageSpec) -> dict[str, ImageSet]:
    """``--data images:DIR``: one sub-folder (class folders of PNGs, or ``.npz`` shards) or one ``.npz``
    per hospital (named by the folder or the file's stem), in hospital-name order."""
    root = Path(path)
    if not root.is_dir():
        raise ImageDataError(f"{root}: no such directory (expected one sub-folder or .npz file per hospital)")
    entries: dict[str, Path] = {}
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir() and entry.suffix.lower() != ".npz":
            raise ImageDataError(f"{entry}: neither a hospital folder nor a hospital's .npz file")
        name = entry.name if entry.is_dir() else entry.stem
        if name in entries:
            raise ImageDataError(f"{root}: hospital {name!r} is both a folder and an .npz file")
        entries[name] = entry
    if not entries:
        raise ImageDataError(f"{root}: empty; expected one sub-folder (class_name/*.png or .npz shards) "
                             "or one .npz file per hospital")
    sets = {}
    for name in sorted(entries):
        entry = entries[name]
        data = _folder_listing(entry) if entry.is_dir() else entry.read_bytes()
        if not data:
            raise ImageDataError(f"hospital {name!r} ({entry}): no images")
        try:
            sets[name] = read_image_data(data, spec)
        except ImageDataError as exc:
            raise ImageDataError(f"hospital {name!r} ({entry}): {exc}") from exc
    return sets


def write_image_directory(sets: Mapping[str, ImageSet], path: Path, fmt: Literal["png", "npz"]) -> None:
    """The inverse of ``load_image_directory``: ``DIR/hospital/class/000000.png`` or ``DIR/hospital.npz``.
    Refuses to write over a hospital already in ``path`` (old and new images would mix)."""
    if fmt not in ("png", "npz"):
        raise ValueError(f"fmt must be 'png' or 'npz'; got {fmt!r}")
    root = Path(path)
    for name, imageset in sets.items():
        _check_folder_name(name, "hospital")
        if fmt == "png":
            for label in imageset.classes:
                _check_folder_name(label, "class")
            if (imageset.labels == UNLABELLED).any():
                raise ImageDataError(f"hospital {name!r} has unlabelled images, which no class folder can hold; "
                                     "write npz instead")
        if (root / name).exists() or (root / f"{name}.npz").exists():
            raise FileExistsError(f"{root}: already holds hospital {name!r}; write into a new directory")
    root.mkdir(parents=True, exist_ok=True)
    for name, imageset in sets.items():
        if fmt == "npz":
            (root / f"{name}.npz").write_bytes(encode_npz(imageset))
            continue
        for position, (image, label) in enumerate(zip(imageset.images, imageset.labels)):
            folder = root / name / imageset.classes[label]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)).save(
                folder / f"{position:06d}.png", format="PNG")


def _check_channels(spec: ImageSpec) -> None:
    if spec.channels not in (1, 3):
        raise ImageDataError(f"images are read as 1 (grayscale) or 3 (RGB) channels; the spec asks for {spec.channels}")


def _check_folder_name(name: str, kind: str) -> None:
    if not name or name.startswith(".") or "/" in name or "\\" in name:
        raise ValueError(f"{kind} {name!r} cannot be a folder name: no '/', no '\\', no leading '.', not empty")


def _parts(name: str) -> tuple[str, ...]:
    return PurePosixPath(name.lstrip("/")).parts


def _listing(data: Mapping[str, bytes]) -> tuple[list[str], list[str]]:
    """The listing's PNG names and ``.npz`` names, sorted; folder markers and hidden files skipped."""
    if not isinstance(data, Mapping):
        raise ImageDataError("image data must be bytes (one .npz or PNG) or a mapping of object names to bytes; "
                             f"got {type(data).__name__}")
    pngs, shards = [], []
    for name in sorted(data):
        if name.endswith("/") or any(part.startswith(".") for part in _parts(name)):
            continue
        suffix = PurePosixPath(name).suffix.lower()
        if suffix not in (".png", ".npz"):
            raise ImageDataError(f"{name!r}: neither a .png image nor an .npz shard")
        (pngs if suffix == ".png" else shards).append(name)
    if pngs and shards:
        raise ImageDataError(f"the listing mixes PNG images ({pngs[0]!r}) and .npz shards ({shards[0]!r}); "
                             "use one kind")
    if not pngs and not shards:
        raise ImageDataError("no images: the listing holds no .png images or .npz shards")
    return pngs, shards


def _folder_listing(folder: Path) -> dict[str, bytes]:
    files = {}
    for file in sorted(folder.rglob("*")):
        relative = file.relative_to(folder)
        if file.is_file() and not any(part.startswith(".") for part in relative.parts):
            files[relative.as_posix()] = file.read_bytes()
    return files


def _class_of(name: str, spec: ImageSpec) -> int:
    parts = _parts(name)
    if len(parts) < 2:
        raise ImageDataError(f"{name!r}: a PNG must sit in a class folder ({'/, '.join(spec.classes)}/)")
    if parts[0] not in spec.classes:
        raise ImageDataError(f"{name!r}: folder {parts[0]!r} is not one of the classes {list(spec.classes)}")
    return spec.classes.index(parts[0])


def _decode_png(blob: bytes, where: str, spec: ImageSpec) -> np.ndarray:
    """One PNG as (C, size, size) uint8."""
    try:
        with Image.open(io.BytesIO(blob), formats=["PNG"]) as image:
            image.load()
            if image.mode.startswith("I"):  # 16-bit (or 32-bit integer) grayscale: scale to 8 bits
                wide = np.clip(np.asarray(image).astype(np.int64), 0, 65535)
                image = Image.fromarray(((wide * 255 + 32767) // 65535).astype(np.uint8))
            pixels = np.asarray(image.convert("L" if spec.channels == 1 else "RGB"))
    except (OSError, SyntaxError, ValueError, EOFError, zlib.error, Image.DecompressionBombError) as exc:
        raise ImageDataError(f"{where}: not a decodable PNG ({type(exc).__name__})") from exc
    chw = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    return _fit(chw[None], spec)[0]


def _npz_arrays(blob: bytes, where: str, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    try:
        archive = np.load(io.BytesIO(blob), allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ImageDataError(f"{where}: not an .npz archive") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ImageDataError(f"{where}: a single .npy array, not an .npz archive of named arrays")
    arrays = {}
    with archive:
        for key in keys:
            if key not in archive.files:
                continue
            try:
                arrays[key] = archive[key]
            except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
                raise ImageDataError(f"{where}: {key!r} cannot be read (Python objects, or a damaged archive)") from exc
    return arrays


def _labelled_npz(blob: bytes, spec: ImageSpec, where: str) -> ImageSet:
    arrays = _npz_arrays(blob, where, ("images", "labels", "classes"))
    images = _images_array(arrays, where)
    if "labels" not in arrays:
        raise ImageDataError(f"{where}: no 'labels' array (training data needs a class for every image)")
    labels = arrays["labels"]
    if labels.ndim != 1 or len(labels) != len(images):
        raise ImageDataError(f"{where}: {len(images)} images but 'labels' has shape {labels.shape}")
    if "classes" in arrays:
        stored = arrays["classes"]
        names = [str(c) for c in stored.tolist()] if stored.dtype.kind in "US" and stored.ndim == 1 else None
        if names != list(spec.classes):
            raise ImageDataError(f"{where}: 'classes' {names or stored.dtype} differ from the spec's {list(spec.classes)}")
    indices = _label_indices(labels, spec, where)
    return ImageSet(_fit(images, spec), indices, spec.classes)


def _unlabelled_npz(blob: bytes, spec: ImageSpec, where: str) -> np.ndarray:
    return _fit(_images_array(_npz_arrays(blob, where, ("images",)), where), spec)


def _images_array(arrays: dict[str, np.ndarray], where: str) -> np.ndarray:
    """The archive's ``images`` as (N, C, H, W), validated but not yet fitted to the spec."""
    if "images" not in arrays:
        raise ImageDataError(f"{where}: no 'images' array")
    images = arrays["images"]
    if images.dtype != np.uint8:
        raise ImageDataError(f"{where}: 'images' must be uint8; got {images.dtype}")
    if images.ndim == 3:
        images = images[:, None]
    elif images.ndim == 4:
        first, last = images.shape[1] in (1, 3), images.shape[3] in (1, 3)
        if first == last:
            raise ImageDataError(f"{where}: 'images' must have shape {_LAYOUTS}; cannot tell the channel axis "
                                 f"of shape {images.shape}")
        images = images if first else images.transpose(0, 3, 1, 2)
    else:
        raise ImageDataError(f"{where}: 'images' must have shape {_LAYOUTS}; got {images.shape}")
    if len(images) == 0 or images.shape[2] == 0 or images.shape[3] == 0:
        raise ImageDataError(f"{where}: holds no images (shape {images.shape})")
    return images


def _label_indices(labels: np.ndarray, spec: ImageSpec, where: str) -> np.ndarray:
    if labels.dtype.kind in "iu":
        outside = sorted({int(v) for v in labels[(labels < 0) | (labels >= len(spec.classes))]})
        if outside:
            raise ImageDataError(f"{where}: 'labels' holds class index {outside[:5]} outside 0..{len(spec.classes) - 1} "
                                 f"(classes {list(spec.classes)})")
        return labels.astype(np.int64)
    if labels.dtype.kind in "US":
        names = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in labels.tolist()]
        unknown = sorted(set(names) - set(spec.classes))
        if unknown:
            raise ImageDataError(f"{where}: 'labels' names class {unknown[:5]}, not among {list(spec.classes)}")
        index = {name: i for i, name in enumerate(spec.classes)}
        return np.array([index[name] for name in names], dtype=np.int64)
    raise ImageDataError(f"{where}: 'labels' must be integer class indices or class names; got {labels.dtype}")


def _fit(images: np.ndarray, spec: ImageSpec) -> np.ndarray:
    """(N, C, H, W) uint8 -> (N, spec.channels, spec.size, spec.size): channel conversion, then bilinear resize."""
    if images.shape[1] != spec.channels and spec.channels == 3:
        images = np.repeat(images, 3, axis=1)
    elif images.shape[1] != spec.channels:
        weighted = np.tensordot(_LUMA, images.astype(np.uint32), axes=([0], [1]))  # (N, H, W)
        images = ((weighted + 0x8000) >> 16).astype(np.uint8)[:, None]
    if images.shape[2:] == (spec.size, spec.size):
        return np.ascontiguousarray(images)
    return np.stack([_resize(image, spec.size) for image in images])


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    pixels = np.ascontiguousarray(image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0))
    resized = np.asarray(Image.fromarray(pixels).resize((size, size), Image.Resampling.BILINEAR))
    return resized[None] if resized.ndim == 2 else resized.transpose(2, 0, 1)
