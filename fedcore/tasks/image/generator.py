"""Built-in labelled synthetic medical-style images, so image demos and tests need no download.

Each image is tissue-like background (Gaussian noise low-pass filtered at two scales, under a soft
vignette) with multiplicative speckle and additive Gaussian noise. A positive image also holds one
lesion-like blob: a soft-edged ellipse slightly brighter than its surround (semi-major axis 6-15% of
the side, random position away from the borders, random orientation, sometimes a faint halo). Any
image may hold a smaller, fainter, rounder "benign" structure, so a bright spot alone does not decide
the class. Hospitals differ as scanners do (``HOSPITAL_PROFILES``): lesion contrast, noise level and
brightness offset. The effect sizes are hand-picked so a simple classifier beats chance clearly
without being perfect (logistic regression on the smoothed image's peak over its median: 5-fold AUC
about 0.82 on the default partition); nothing is fitted to real images.

Measured on the 2-core development machine (shared, load about 2.5): ``generate_hospital_images()``
(2,000 images, 64 px) takes 0.4-0.9 s; at 224 px 7-12 s, most of it the texture's FFTs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from fedcore.tasks.image.data import ImageSet

DEFAULT_CLASSES = ("negative", "positive")  # label 1 (the last class) is the positive class
_TRAIN_STREAM, _HOLDOUT_STREAM = 0x1A6E_0001, 0x1A6E_0002  # seed-sequence tags: hospitals vs held-out set
_CHUNK_PIXELS = 1 << 22  # pixels drawn at once (about 16 MB per float32 array), whatever the size
_TISSUE_LEVEL = 110.0  # mean background grey level before a hospital's brightness offset
_COARSE, _FINE = (0.12, 9.0), (0.025, 5.0)  # tissue texture: (filter sigma as share of side, std in grey levels)
_VIGNETTE = 0.35  # brightness lost at the corners
_SPECKLE = 0.04  # std of the multiplicative speckle
_BENIGN_RATE = 0.35  # share of images (either class) holding a benign structure


@dataclass(frozen=True)
class HospitalProfile:
    """How one simulated hospital's images look and how many it holds."""

    profile: str  # descriptive kind of hospital (the hospital's id is hospital_name(index))
    share: float  # of all images in the default five-hospital partition
    positive_rate: float  # share of its images holding a lesion
    contrast: float  # lesion brightness above its surround, grey levels of 255
    noise: float  # std of the additive Gaussian noise, grey levels
    brightness: float  # offset added to the whole image, grey levels


HOSPITAL_PROFILES = (
    HospitalProfile("urban", share=0.30, positive_rate=0.25, contrast=30.0, noise=9.0, brightness=0.0),
    HospitalProfile("rural", share=0.15, positive_rate=0.20, contrast=22.0, noise=14.0, brightness=-15.0),
    HospitalProfile("children", share=0.10, positive_rate=0.15, contrast=20.0, noise=12.0, brightness=12.0),  # low dose
    HospitalProfile("cancer-centre", share=0.25, positive_rate=0.35, contrast=34.0, noise=8.0, brightness=6.0),
    HospitalProfile("general", share=0.20, positive_rate=0.30, contrast=26.0, noise=11.0, brightness=-6.0),
)


def hospital_name(index: int) -> str:
    """``hospital-a``, ``hospital-b``, ... (``hospital-aa`` after ``hospital-z``), as the tabular experiments name them."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return f"hospital-{letters}"


def hospital_profiles(spokes: int) -> list[HospitalProfile]:
    """The profiles of ``spokes`` hospitals: HOSPITAL_PROFILES repeated cyclically, shares renormalised to sum to 1."""
    if spokes < 1:
        raise ValueError("spokes must be at least 1")
    cycled = [HOSPITAL_PROFILES[i % len(HOSPITAL_PROFILES)] for i in range(spokes)]
    total = sum(p.share for p in cycled)
    return [HospitalProfile(p.profile, p.share / total, p.positive_rate, p.contrast, p.noise, p.brightness)
            for p in cycled]


def generate_hospital_images(total: int = 2000, spokes: int = 5, size: int = 64, seed: int = 0,
                             classes: tuple[str, ...] = DEFAULT_CLASSES) -> dict[str, ImageSet]:
    """``total`` images (N, 1, size, size) split over ``spokes`` hospitals by their profiles' shares;
    each hospital's positives are round(rate x count), shuffled. Same arguments, same images."""
    _check_arguments(total, size, seed, classes)
    profiles = hospital_profiles(spokes)
    counts = _apportion(total, [p.share for p in profiles])
    if min(counts) < 1:
        raise ValueError(f"{total} images cannot give each of {spokes} hospitals at least one image")
    sets = {}
    for index, (profile, count) in enumerate(zip(profiles, counts)):
        rng = np.random.default_rng([_TRAIN_STREAM, seed, index])
        positives = int(np.floor(profile.positive_rate * count + 0.5))
        labels = rng.permutation(np.repeat(np.array([1, 0], dtype=np.int64), [positives, count - positives]))
        sets[hospital_name(index)] = ImageSet(_render(rng, labels == 1, profile, size), labels, tuple(classes))
    return sets


def generate_holdout(total: int = 500, size: int = 64, seed: int = 0, spokes: int = 5,
                     classes: tuple[str, ...] = DEFAULT_CLASSES) -> ImageSet:
    """A held-out central test set from the pooled mixture: each image's profile drawn by share (as in
    ``generate_hospital_images(spokes=spokes)``), its class by that profile's positive rate. Never the
    same images as the hospitals' for the same seed."""
    _check_arguments(total, size, seed, classes)
    profiles = hospital_profiles(spokes)
    rng = np.random.default_rng([_HOLDOUT_STREAM, seed])
    drawn = rng.choice(len(profiles), size=total, p=[p.share for p in profiles])
    labels = (rng.random(total) < np.array([p.positive_rate for p in profiles])[drawn]).astype(np.int64)
    images = np.empty((total, 1, size, size), dtype=np.uint8)
    for index, profile in enumerate(profiles):
        rows = np.flatnonzero(drawn == index)
        if rows.size:
            images[rows] = _render(rng, labels[rows] == 1, profile, size)
    return ImageSet(images, labels, tuple(classes))


def describe_partition(sets: Mapping[str, ImageSet]) -> list[dict]:
    """One row per hospital for reports: hospital, profile (the generator's, for a hospital it named;
    else None), images, positives (images of the last class) and positive_rate."""
    profiles = {hospital_name(i): p.profile for i, p in enumerate(hospital_profiles(max(len(sets), 1)))}
    rows = []
    for hospital, imageset in sets.items():
        positives = int(np.count_nonzero(imageset.labels == len(imageset.classes) - 1))
        rows.append({"hospital": hospital, "profile": profiles.get(hospital), "images": len(imageset),
                     "positives": positives,
                     "positive_rate": round(positives / len(imageset), 4) if len(imageset) else None})
    return rows


def _check_arguments(total: int, size: int, seed: int, classes: tuple[str, ...]) -> None:
    if total < 1:
        raise ValueError("total must be at least 1")
    if not 16 <= size <= 512:
        raise ValueError(f"size must be 16 to 512 pixels (as ImageSpec.size); got {size}")
    if seed < 0:
        raise ValueError("seed must be non-negative")
    if len(classes) != 2 or len(set(classes)) != 2:
        raise ValueError(f"the generator draws two classes (negative, positive); got {list(classes)}")


def _apportion(total: int, shares: list[float]) -> list[int]:
    """Whole counts summing to ``total`` in proportion to ``shares`` (largest remainder; ties to the first)."""
    exact = np.asarray(shares) * total
    counts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts.tolist()


def _render(rng: np.random.Generator, positive: np.ndarray, profile: HospitalProfile, size: int) -> np.ndarray:
    """(n, 1, size, size) uint8 images of one profile, drawn in chunks to bound memory."""
    images = np.empty((len(positive), 1, size, size), dtype=np.uint8)
    step = max(1, _CHUNK_PIXELS // (size * size))
    for start in range(0, len(positive), step):
        images[start:start + step, 0] = _draw(rng, positive[start:start + step], profile, size)
    return images


def _draw(rng: np.random.Generator, positive: np.ndarray, profile: HospitalProfile, size: int) -> np.ndarray:
    n = len(positive)
    centre = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5  # pixel centres, -0.5..0.5
    radius2 = centre[:, None] ** 2 + centre[None, :] ** 2  # (H, W)
    vignette = 1.0 - _VIGNETTE * radius2 / 0.5
    image = (_TISSUE_LEVEL + _texture(rng, n, size)) * vignette  # (n, H, W)
    lesion = rng.uniform(0.8, 1.2, n) * profile.contrast
    halo = np.where(rng.random(n) < 0.5, rng.uniform(0.15, 0.3, n), 0.0)
    image += _blobs(rng, n, size, (0.06, 0.15), (0.55, 1.0), lesion * positive, halo)
    benign = rng.uniform(0.3, 0.55, n) * profile.contrast * (rng.random(n) < _BENIGN_RATE)
    image += _blobs(rng, n, size, (0.03, 0.06), (0.8, 1.0), benign, np.zeros(n))
    # multiplicative speckle and additive noise, both Gaussian, drawn as one: std sqrt((speckle x level)^2 + noise^2)
    spread = np.sqrt((_SPECKLE * image) ** 2 + np.float32(profile.noise) ** 2)
    image += spread * rng.standard_normal((n, size, size), dtype=np.float32) + np.float32(profile.brightness)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _texture(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """(n, H, W) float32 tissue texture: white noise low-pass filtered at two scales (periodic, by FFT)."""
    frequencies = np.fft.fftfreq(size).astype(np.float32)
    f2 = frequencies[:, None] ** 2 + frequencies[None, :] ** 2  # (H, W) squared spatial frequency
    transfer = np.zeros_like(f2)
    for share, std in (_COARSE, _FINE):
        gaussian = np.exp(-2.0 * np.pi**2 * (share * size) ** 2 * f2)  # a Gaussian filter's transfer function
        transfer += std * gaussian / np.sqrt(np.mean(gaussian**2))  # scaled to unit output variance, then std
    noise = np.fft.rfft2(rng.standard_normal((n, size, size), dtype=np.float32))
    return np.fft.irfft2(noise * transfer[:, : size // 2 + 1], s=(size, size)).astype(np.float32)


def _blobs(rng: np.random.Generator, n: int, size: int, axis: tuple[float, float], aspect: tuple[float, float],
           intensity: np.ndarray, halo: np.ndarray) -> np.ndarray:
    """(n, H, W) soft-edged ellipses of the given peak ``intensity`` (0 = none), semi-major axis a share
    ``axis`` of the side, semi-minor ``aspect`` of that, centred 22-78% across, at random orientation."""
    a = (rng.uniform(*axis, n) * size).astype(np.float32)
    b = a * rng.uniform(*aspect, n).astype(np.float32)
    theta = rng.uniform(0.0, np.pi, n).astype(np.float32)
    cx, cy = (rng.uniform(0.22, 0.78, (2, n)) * size).astype(np.float32)
    drawn = np.flatnonzero(intensity > 0)
    out = np.zeros((n, size, size), dtype=np.float32)
    if drawn.size == 0:
        return out
    pixels = np.arange(size, dtype=np.float32) + 0.5
    dx = pixels[None, None, :] - cx[drawn, None, None]  # (k, 1, W)
    dy = pixels[None, :, None] - cy[drawn, None, None]  # (k, H, 1)
    cos, sin = np.cos(theta[drawn])[:, None, None], np.sin(theta[drawn])[:, None, None]
    rho = np.sqrt(((dx * cos + dy * sin) / a[drawn, None, None]) ** 2
                  + ((dy * cos - dx * sin) / b[drawn, None, None]) ** 2)  # 1 on the ellipse's edge
    body = 1.0 / (1.0 + np.exp(np.minimum((rho - 1.0) / 0.12, 60.0)))  # soft edge (capped: no float32 overflow)
    ring = halo[drawn, None, None].astype(np.float32) * np.exp(-(((rho - 1.5) / 0.25) ** 2))
    out[drawn] = intensity[drawn, None, None].astype(np.float32) * (body + ring)
    return out
