"""The image task's data layer: npz / PNG-folder / shard reading fitted to the spec, clear errors naming
the culprit, the directory layout, and the built-in synthetic hospitals (counts, rates, learnable signal)."""

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image
from scipy.ndimage import gaussian_filter
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from fedcore.tasks.image.data import (
    ImageDataError,
    ImageSet,
    encode_npz,
    load_image_directory,
    read_image_data,
    read_unlabelled_images,
    write_image_directory,
)
from fedcore.tasks.image.generator import (
    HOSPITAL_PROFILES,
    describe_partition,
    generate_holdout,
    generate_hospital_images,
    hospital_name,
)
from fedcore.tasks.image.spec import ImageSpec

SPEC = ImageSpec(size=16, channels=1, classes=("negative", "positive"))
RGB_SPEC = ImageSpec(size=16, channels=3, classes=("negative", "positive"))
RNG = np.random.default_rng(7)
GRAY = RNG.integers(0, 256, (3, 16, 16), dtype=np.uint8)  # (N, H, W)
COLOUR = RNG.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)  # (N, H, W, C)


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def default_sets():
    return generate_hospital_images()


# --- npz -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stored, spec, expected", [
    (GRAY, SPEC, GRAY[:, None]),  # (N, H, W)
    (GRAY[..., None], SPEC, GRAY[:, None]),  # (N, H, W, 1)
    (GRAY[:, None], SPEC, GRAY[:, None]),  # (N, 1, H, W)
    (COLOUR, RGB_SPEC, COLOUR.transpose(0, 3, 1, 2)),  # (N, H, W, 3)
    (COLOUR.transpose(0, 3, 1, 2), RGB_SPEC, COLOUR.transpose(0, 3, 1, 2)),  # (N, 3, H, W)
])
def test_npz_layouts_are_read_as_nchw(stored, spec, expected):
    # Arrange
    data = _npz(images=stored, labels=np.array([0, 1, 1]))

    # Act
    imageset = read_image_data(data, spec)

    # Assert
    np.testing.assert_array_equal(imageset.images, expected)
    np.testing.assert_array_equal(imageset.labels, [0, 1, 1])
    assert imageset.labels.dtype == np.int64 and imageset.classes == spec.classes


@settings(max_examples=25, deadline=None)
@given(images=hnp.arrays(np.uint8, st.tuples(st.integers(1, 4), st.just(1), st.just(16), st.just(16))),
       data=st.data())
def test_encode_npz_round_trips(images, data):
    # Arrange
    labels = np.array(data.draw(st.lists(st.integers(0, 1), min_size=len(images), max_size=len(images))))
    original = ImageSet(images, labels, SPEC.classes)

    # Act
    loaded = read_image_data(encode_npz(original), SPEC)

    # Assert
    np.testing.assert_array_equal(loaded.images, original.images)
    np.testing.assert_array_equal(loaded.labels, original.labels)


def test_string_labels_map_to_class_indices_and_matching_classes_are_accepted():
    # Arrange
    data = _npz(images=GRAY, labels=np.array(["positive", "negative", "positive"]),
                classes=np.array(["negative", "positive"]))

    # Act
    imageset = read_image_data(data, SPEC)

    # Assert
    np.testing.assert_array_equal(imageset.labels, [1, 0, 1])


def test_npz_shards_are_concatenated_in_name_order():
    # Arrange
    shards = {"b.npz": _npz(images=GRAY[1:], labels=np.array([1, 0])), "a.npz": _npz(images=GRAY[:1], labels=[1])}

    # Act
    imageset = read_image_data(shards, SPEC)

    # Assert
    np.testing.assert_array_equal(imageset.images[:, 0], GRAY)
    np.testing.assert_array_equal(imageset.labels, [1, 1, 0])


# --- PNG folders, resizing and channels ------------------------------------------------------------


def test_png_folder_maps_class_folders_to_labels_in_name_order():
    # Arrange
    listing = {"positive/x.png": _png(GRAY[2]), "negative/b.png": _png(GRAY[1]), "negative/a.png": _png(GRAY[0])}

    # Act
    imageset = read_image_data(listing, SPEC)

    # Assert
    np.testing.assert_array_equal(imageset.images[:, 0], GRAY)
    np.testing.assert_array_equal(imageset.labels, [0, 0, 1])


def test_hidden_files_and_folder_markers_are_ignored():
    # Arrange
    listing = {"negative/": b"", ".DS_Store": b"junk", "negative/.thumb.png": b"junk", ".cache/x.txt": b"junk",
               "negative/a.png": _png(GRAY[0])}

    # Act
    imageset = read_image_data(listing, SPEC)

    # Assert
    assert len(imageset) == 1


def test_images_of_another_size_are_resized_bilinearly():
    # Arrange
    big = RNG.integers(0, 256, (40, 24), dtype=np.uint8)
    expected = np.asarray(Image.fromarray(big).resize((16, 16), Image.Resampling.BILINEAR))

    # Act
    from_png = read_image_data({"negative/a.png": _png(big)}, SPEC)
    from_npz = read_image_data(_npz(images=big[None], labels=[0]), SPEC)

    # Assert
    np.testing.assert_array_equal(from_png.images[0, 0], expected)
    np.testing.assert_array_equal(from_npz.images[0, 0], expected)


def test_channels_are_converted_by_luminance_and_by_repetition():
    # Arrange
    luminance = np.asarray(Image.fromarray(COLOUR[0]).convert("L"))

    # Act
    png_to_gray = read_image_data({"negative/a.png": _png(COLOUR[0])}, SPEC)
    npz_to_gray = read_image_data(_npz(images=COLOUR[:1], labels=[0]), SPEC)
    gray_to_rgb = read_image_data(_npz(images=GRAY[:1], labels=[0]), RGB_SPEC)

    # Assert
    np.testing.assert_array_equal(png_to_gray.images[0, 0], luminance)
    np.testing.assert_array_equal(npz_to_gray.images[0, 0], luminance)
    np.testing.assert_array_equal(gray_to_rgb.images[0], np.repeat(GRAY[:1], 3, axis=0))


def test_a_16_bit_png_is_scaled_down_to_8_bits():
    # Arrange
    wide = np.tile(np.array([0, 257, 257 * 100, 65535], dtype=np.uint16), (16, 4))

    # Act
    imageset = read_image_data({"negative/deep.png": _png(wide)}, SPEC)

    # Assert
    np.testing.assert_array_equal(imageset.images[0, 0, 0, :4], [0, 1, 100, 255])


# --- errors name the culprit -----------------------------------------------------------------------


@pytest.mark.parametrize("data, match", [
    (b"not an archive", r"the \.npz: not an \.npz archive"),
    (_npz(labels=[0]), r"no 'images' array"),
    (_npz(images=GRAY), r"no 'labels' array"),
    (_npz(images=GRAY.astype(np.float32), labels=[0, 1, 1]), r"'images' must be uint8; got float32"),
    (_npz(images=GRAY[0], labels=[0]), r"'images' must have shape .* got \(16, 16\)"),
    (_npz(images=GRAY, labels=[0, 1, 2]), r"'labels' holds class index \[2\] outside 0\.\.1"),
    (_npz(images=GRAY, labels=[0, 1, -1]), r"class index \[-1\]"),
    (_npz(images=GRAY, labels=np.array(["negative", "maybe", "positive"])), r"names class \['maybe'\]"),
    (_npz(images=GRAY, labels=[0.0, 1.0, 1.0]), r"'labels' must be integer class indices or class names"),
    (_npz(images=GRAY, labels=[0, 1]), r"3 images but 'labels' has shape \(2,\)"),
    (_npz(images=GRAY[:0], labels=np.array([], dtype=int)), r"holds no images"),
    (_npz(images=GRAY, labels=[0, 1, 1], classes=np.array(["benign", "malignant"])),
     r"'classes' \['benign', 'malignant'\] differ from the spec's"),
    ({"negative/a.png": _png(GRAY[0]), "benign/b.png": _png(GRAY[1])},
     r"'benign/b\.png': folder 'benign' is not one of the classes"),
    ({"a.png": _png(GRAY[0])}, r"'a\.png': a PNG must sit in a class folder"),
    ({"negative/broken.png": b"\x89PNG\r\n\x1a\nnot really"}, r"'negative/broken\.png': not a decodable PNG"),
    ({"negative/a.jpg": _png(GRAY[0])}, r"'negative/a\.jpg': neither a \.png image nor an \.npz shard"),
    ({"negative/a.png": _png(GRAY[0]), "more.npz": _npz(images=GRAY, labels=[0, 1, 1])},
     r"mixes PNG images \('negative/a\.png'\) and \.npz shards \('more\.npz'\)"),
    ({"a.npz": _npz(images=GRAY, labels=[0, 1, 1]), "b.npz": _npz(images=GRAY)}, r"'b\.npz': no 'labels' array"),
    ({"negative/": b"", ".hidden.png": b""}, r"no images"),
])
def test_bad_training_data_is_refused_naming_the_culprit(data, match):
    # Act / Assert
    with pytest.raises(ImageDataError, match=match):
        read_image_data(data, SPEC)


def test_a_single_npy_is_not_an_npz():
    # Arrange
    buffer = io.BytesIO()
    np.save(buffer, GRAY)

    # Act / Assert
    with pytest.raises(ImageDataError, match=r"a single \.npy array"):
        read_image_data(buffer.getvalue(), SPEC)


def test_object_arrays_are_refused_without_unpickling():
    # Arrange
    buffer = io.BytesIO()
    np.savez(buffer, images=GRAY, labels=np.array([0, 1, "x"], dtype=object))

    # Act / Assert
    with pytest.raises(ImageDataError, match=r"'labels' cannot be read"):
        read_image_data(buffer.getvalue(), SPEC)


# --- prediction inputs -----------------------------------------------------------------------------


def test_unlabelled_images_from_a_png_an_npz_and_a_listing():
    # Act
    one = read_unlabelled_images(_png(GRAY[0]), SPEC)
    archive = read_unlabelled_images(_npz(images=GRAY), SPEC)
    listing = read_unlabelled_images({"2.png": _png(GRAY[2]), "1.png": _png(GRAY[1])}, SPEC)

    # Assert
    np.testing.assert_array_equal(one, GRAY[:1, None])
    np.testing.assert_array_equal(archive, GRAY[:, None])
    np.testing.assert_array_equal(listing, GRAY[1:, None])


def test_unlabelled_garbage_is_refused():
    # Act / Assert
    with pytest.raises(ImageDataError, match=r"the upload \(no PNG signature\): not an \.npz archive"):
        read_unlabelled_images(b"GIF89a....", SPEC)
    with pytest.raises(ImageDataError, match=r"'scan\.dcm'"):
        read_unlabelled_images({"scan.dcm": b"DICM"}, SPEC)


# --- ImageSet --------------------------------------------------------------------------------------


def test_subset_and_iloc_select_the_same_images():
    # Arrange
    imageset = ImageSet(GRAY[:, None], np.array([0, 1, 1]), SPEC.classes)

    # Act
    by_position = imageset.iloc[[2, 0]]
    by_mask = imageset.subset(np.array([False, True, True]))
    by_slice = imageset.iloc[1:]

    # Assert
    np.testing.assert_array_equal(by_position.images[:, 0], GRAY[[2, 0]])
    np.testing.assert_array_equal(by_position.labels, [1, 0])
    np.testing.assert_array_equal(by_mask.images, by_slice.images)
    assert len(imageset.iloc[[]]) == 0


@pytest.mark.parametrize("images, labels, match", [
    (GRAY, [0, 1, 1], r"shape \(N, C, H, W\)"),
    (GRAY[:, None].astype(np.float32), [0, 1, 1], r"uint8"),
    (GRAY[:, None], [0, 1], r"3 integer class indices"),
    (GRAY[:, None], [0, 1, 2], r"-1\.\.1"),
])
def test_imageset_validates_shapes_and_labels(images, labels, match):
    # Act / Assert
    with pytest.raises(ImageDataError, match=match):
        ImageSet(images, np.array(labels), SPEC.classes)


# --- directories -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["png", "npz"])
def test_directory_round_trip(tmp_path, fmt):
    # Arrange
    sets = {"hospital-b": ImageSet(GRAY[:, None], np.array([1, 0, 1]), SPEC.classes),
            "hospital-a": ImageSet(GRAY[:1, None], np.array([0]), SPEC.classes)}
    write_image_directory(sets, tmp_path, fmt)

    # Act
    loaded = load_image_directory(tmp_path, SPEC)

    # Assert
    assert list(loaded) == ["hospital-a", "hospital-b"]
    by_class = np.argsort(sets["hospital-b"].labels, kind="stable")  # a PNG folder is read class by class
    order = by_class if fmt == "png" else np.arange(3)
    np.testing.assert_array_equal(loaded["hospital-b"].images, sets["hospital-b"].images[order])
    np.testing.assert_array_equal(loaded["hospital-b"].labels, sets["hospital-b"].labels[order])


def test_directory_of_shard_folders_and_refusal_to_overwrite(tmp_path):
    # Arrange
    (tmp_path / "north").mkdir()
    (tmp_path / "north" / "part-0.npz").write_bytes(_npz(images=GRAY[:2], labels=[0, 1]))
    (tmp_path / "north" / "part-1.npz").write_bytes(_npz(images=GRAY[2:], labels=[1]))

    # Act
    loaded = load_image_directory(tmp_path, SPEC)

    # Assert
    np.testing.assert_array_equal(loaded["north"].labels, [0, 1, 1])
    with pytest.raises(FileExistsError, match="north"):
        write_image_directory({"north": loaded["north"]}, tmp_path, "npz")


def test_directory_errors_are_clear(tmp_path):
    # Act / Assert
    with pytest.raises(ImageDataError, match="no such directory"):
        load_image_directory(tmp_path / "missing", SPEC)
    with pytest.raises(ImageDataError, match="empty"):
        load_image_directory(tmp_path, SPEC)
    (tmp_path / "south").mkdir()
    (tmp_path / "south" / ".keep").write_bytes(b"")
    with pytest.raises(ImageDataError, match=r"hospital 'south' .*: no images"):
        load_image_directory(tmp_path, SPEC)
    (tmp_path / "south" / "negative").mkdir()
    (tmp_path / "south" / "negative" / "a.png").write_bytes(b"broken")
    with pytest.raises(ImageDataError, match=r"hospital 'south' .*'negative/a\.png': not a decodable PNG"):
        load_image_directory(tmp_path, SPEC)


# --- the built-in generator ------------------------------------------------------------------------


def test_default_partition_follows_the_profiles(default_sets):
    # Act
    rows = describe_partition(default_sets)

    # Assert
    assert [r["hospital"] for r in rows] == [f"hospital-{c}" for c in "abcde"]
    assert [r["profile"] for r in rows] == ["urban", "rural", "children", "cancer-centre", "general"]
    assert [r["images"] for r in rows] == [600, 300, 200, 500, 400]
    assert [r["positives"] for r in rows] == [150, 60, 30, 175, 120]
    for imageset in default_sets.values():
        assert imageset.images.shape[1:] == (1, 64, 64) and imageset.images.dtype == np.uint8


@pytest.mark.parametrize("spokes, total", [(7, 1001), (2, 333)])
def test_profiles_repeat_cyclically_with_renormalised_shares(spokes, total):
    # Arrange
    profiles = [HOSPITAL_PROFILES[i % 5] for i in range(spokes)]
    shares = np.array([p.share for p in profiles]) / sum(p.share for p in profiles)

    # Act
    rows = describe_partition(generate_hospital_images(total=total, spokes=spokes, size=16, seed=3))

    # Assert
    assert [r["profile"] for r in rows] == [p.profile for p in profiles]
    counts = np.array([r["images"] for r in rows])
    assert counts.sum() == total
    assert np.all(np.abs(counts - shares * total) < 1)
    for row, profile in zip(rows, profiles):
        assert abs(row["positives"] - profile.positive_rate * row["images"]) <= 0.5


def test_generation_is_deterministic_for_a_seed_and_differs_across_seeds():
    # Act
    first = generate_hospital_images(total=60, size=32, seed=1)
    again = generate_hospital_images(total=60, size=32, seed=1)
    other = generate_hospital_images(total=60, size=32, seed=2)

    # Assert
    for name in first:
        np.testing.assert_array_equal(first[name].images, again[name].images)
        np.testing.assert_array_equal(first[name].labels, again[name].labels)
    assert not np.array_equal(first["hospital-a"].images, other["hospital-a"].images)


def test_hospitals_differ_in_brightness_and_noise(default_sets):
    # Act
    means = {name: s.images.mean() for name, s in default_sets.items()}
    roughness = {name: np.abs(np.diff(s.images.astype(float), axis=-1)).mean() for name, s in default_sets.items()}

    # Assert
    assert means["hospital-c"] > means["hospital-a"] > means["hospital-b"]  # children +12, urban 0, rural -15
    assert roughness["hospital-b"] > roughness["hospital-d"]  # rural noise 14 vs cancer-centre 8


def test_signal_is_learnable_but_not_trivial(default_sets):
    # Arrange
    images = np.concatenate([s.images[:, 0] for s in default_sets.values()]).astype(np.float32)
    labels = np.concatenate([s.labels for s in default_sets.values()])
    smoothed = gaussian_filter(images, sigma=(0, 2, 2)).reshape(len(images), -1)
    peak = smoothed.max(axis=1) - np.median(images.reshape(len(images), -1), axis=1)  # brightest spot over tissue

    # Act
    auc = cross_val_score(LogisticRegression(), peak[:, None], labels, cv=5, scoring="roc_auc").mean()

    # Assert
    assert peak[labels == 1].mean() > peak[labels == 0].mean() + 5
    assert 0.7 < auc < 0.97


def test_holdout_is_the_pooled_mixture_and_not_the_training_images(default_sets):
    # Act
    holdout = generate_holdout(total=1000, size=64, seed=0)

    # Assert
    pooled_rate = sum(p.share * p.positive_rate for p in HOSPITAL_PROFILES)  # 0.2675
    assert len(holdout) == 1000 and holdout.images.shape[1:] == (1, 64, 64)
    assert abs(holdout.labels.mean() - pooled_rate) < 0.05
    np.testing.assert_array_equal(generate_holdout(total=30, size=32, seed=4).images,
                                  generate_holdout(total=30, size=32, seed=4).images)
    assert not any(np.array_equal(holdout.images[0], image) for image in default_sets["hospital-a"].images)


def test_large_images_and_many_hospitals():
    # Act
    sets = generate_hospital_images(total=12, spokes=2, size=224)

    # Assert
    assert sets["hospital-a"].images.shape == (8, 1, 224, 224)
    assert hospital_name(25) == "hospital-z" and hospital_name(26) == "hospital-aa"


def test_generator_refuses_impossible_requests():
    # Act / Assert
    with pytest.raises(ValueError, match="at least one image"):
        generate_hospital_images(total=3, spokes=5)
    with pytest.raises(ValueError, match="two classes"):
        generate_hospital_images(total=10, classes=("a", "b", "c"))
