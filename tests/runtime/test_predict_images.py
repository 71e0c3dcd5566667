"""Predictions of a published image version for PNGs, an .npz or a folder: the runtime and `fedcore predict --images`."""

import io
import zipfile

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fedcore.cli.main import build_parser, main
from fedcore.datasets import load_actg175
from fedcore.partition import partition_dirichlet
from fedcore.run_config import RunConfig
from fedcore.runtime.model_directory import load_model_directory, write_model_directory
from fedcore.runtime.predict import (
    MAX_IMAGES, ImageInputError, ModelInputKindError, predict_from_directory, predict_from_version,
    predict_images_from_directory, predict_images_from_version,
)
from fedcore.runtime.simulation import simulate_federation
from fedcore.tasks.image.data import ImageSet, encode_npz
from fedcore.tasks.image.generator import generate_hospital_images
from fedcore.tasks.image.spec import image_schema

COLUMNS = ["p_negative", "p_positive"]
DISTINCT_PIXEL = 123.456  # a float "pixel": it must never appear in an error message


def _png(pixels: np.ndarray) -> bytes:
    """(H, W) or (H, W, 3) uint8 as PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def image_model(tmp_path_factory):
    """(services, version record, model directory) of a one-round image run without DP (16 px): about 15 s."""
    config = RunConfig(task={"name": "image", "image": {"size": 16}}, rounds=1, privacy={"enabled": False},
                       training={"epochs": 1})
    sets = generate_hospital_images(total=40, spokes=2, size=16)
    result = simulate_federation({name: encode_npz(images) for name, images in sets.items()},
                                 image_schema(config.task.image_spec), config, run_id="img1")
    assert result.status == "COMPLETED" and result.model_version["task"] == "image"
    directory = write_model_directory(tmp_path_factory.mktemp("image") / "model", result.services,
                                      result.model_version)
    return result.services, result.model_version, directory


@pytest.fixture(scope="module")
def risk_model(tmp_path_factory):
    """(services, version record, model directory) of a one-round risk run on ACTG 175 (a table model)."""
    dataset = load_actg175()
    parts = partition_dirichlet(dataset.frame, 3, "arms", 0)
    config = RunConfig(task={"name": "risk", "target": "cens", "exclude": ["days"]}, rounds=1,
                       privacy={"enabled": False}, training={"epochs": 1})
    result = simulate_federation({f"s{i}": p for i, p in enumerate(parts)}, dataset.schema, config, run_id="risk1")
    assert result.status == "COMPLETED"
    directory = write_model_directory(tmp_path_factory.mktemp("risk") / "model", result.services,
                                      result.model_version)
    return result.services, result.model_version, directory


@pytest.fixture(scope="module")
def scans() -> ImageSet:
    """Six new images at 24 px, so every prediction resizes them to the model's 16 px."""
    return generate_hospital_images(total=6, spokes=1, size=24, seed=7)["hospital-a"]


def _assert_probabilities(predictions: pd.DataFrame, rows: int) -> None:
    assert list(predictions.columns) == COLUMNS and len(predictions) == rows
    np.testing.assert_allclose(predictions.sum(axis=1), 1.0, rtol=1e-6)


# -- the runtime ---------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_png_an_npz_and_a_listing_give_one_row_per_image_in_order(image_model, scans):
    services, record, _ = image_model
    pngs = {f"scan-{i}.png": _png(image[0]) for i, image in enumerate(scans.images)}

    one = predict_images_from_version(services, record, pngs["scan-2.png"])
    archive = predict_images_from_version(services, record, encode_npz(scans))
    listing = predict_images_from_version(services, record, dict(reversed(pngs.items())))  # read in name order

    _assert_probabilities(one, 1)
    _assert_probabilities(archive, len(scans))
    _assert_probabilities(listing, len(scans))
    np.testing.assert_allclose(listing.to_numpy(), archive.to_numpy(), rtol=1e-6)  # PNG is lossless
    np.testing.assert_allclose(one.to_numpy(), archive.iloc[[2]].to_numpy(), rtol=1e-6)


@pytest.mark.slow
def test_images_are_converted_as_training_images_are(image_model, scans):
    services, record, _ = image_model
    gray = scans.images[0, 0]  # (24, 24)
    rgb = np.repeat(gray[:, :, None], 3, axis=2)  # the same image as RGB: converts back to the same gray levels
    channels_last = scans.images.transpose(0, 2, 3, 1)  # (N, H, W, 1)

    from_rgb = predict_images_from_version(services, record, _png(rgb))
    from_gray = predict_images_from_version(services, record, _png(gray))
    from_channels_last = predict_images_from_version(services, record, _npz(images=channels_last))
    from_channels_first = predict_images_from_version(services, record, _npz(images=scans.images))

    np.testing.assert_allclose(from_rgb.to_numpy(), from_gray.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(from_channels_last.to_numpy(), from_channels_first.to_numpy(), rtol=1e-6)


@pytest.mark.slow
def test_the_directory_predicts_what_the_version_predicts(image_model, scans):
    services, record, directory = image_model

    from_hub = predict_images_from_version(services, record, encode_npz(scans))
    from_directory = predict_images_from_directory(load_model_directory(directory), encode_npz(scans))

    pd.testing.assert_frame_equal(from_directory, from_hub)


@pytest.mark.slow
def test_a_corrupt_png_is_named_by_its_key(image_model, scans):
    services, record, _ = image_model
    good = _png(scans.images[0, 0])
    listing = {"a.png": good, "b.png": good[:40]}  # b.png is cut off inside its image data

    with pytest.raises(ImageInputError, match="'b.png': not a decodable PNG") as info:
        predict_images_from_version(services, record, listing)

    assert info.value.problems == [] and "a.png" not in str(info.value)


@pytest.mark.slow
@pytest.mark.parametrize("images, message", [
    (np.zeros((3, 2, 16, 16), np.uint8), "cannot tell the channel axis"),  # 2 channels: neither gray nor RGB
    (np.full((3, 16, 16), DISTINCT_PIXEL), "'images' must be uint8; got float64"),
    (np.zeros((3, 4), np.uint8), r"'images' must have shape"),
])
def test_an_npz_of_the_wrong_shape_or_type_is_refused_without_its_pixels(image_model, images, message):
    services, record, _ = image_model

    with pytest.raises(ImageInputError, match=message) as info:
        predict_images_from_version(services, record, _npz(images=images))

    assert str(DISTINCT_PIXEL) not in str(info.value)


@pytest.mark.slow
def test_an_npz_without_images_is_refused(image_model):
    services, record, _ = image_model

    with pytest.raises(ImageInputError, match="no 'images' array"):
        predict_images_from_version(services, record, _npz(pictures=np.zeros((2, 16, 16), np.uint8)))


@pytest.mark.slow
def test_more_than_max_images_are_refused(image_model, scans):
    services, record, _ = image_model
    many = np.zeros((MAX_IMAGES + 1, 1, 16, 16), np.uint8)
    listing = {f"{i:04d}.png": _png(many[i, 0]) for i in range(MAX_IMAGES + 1)}

    for data in (_npz(images=many), listing):
        with pytest.raises(ImageInputError, match=f"at most {MAX_IMAGES} images per request, got {MAX_IMAGES + 1}"):
            predict_images_from_version(services, record, data)
    assert len(predict_images_from_version(services, record, _npz(images=many[:MAX_IMAGES]))) == MAX_IMAGES


def _npz_declaring(shape: tuple[int, ...]) -> bytes:
    """An .npz whose 'images' header declares ``shape`` (uint8) but holds a few bytes: it would allocate on load."""
    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(member, {"descr": "|u1", "fortran_order": False, "shape": shape})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("images.npy", member.getvalue() + b"\0" * 64)
    return buffer.getvalue()


@pytest.mark.slow
def test_what_would_decode_too_large_is_refused_from_its_header(image_model):
    services, record, _ = image_model
    flat = _png(np.zeros((4100, 4100), np.uint8))  # about 20 KB that decodes to 16.8 million pixels

    with pytest.raises(ImageInputError, match="4100 x 4100 pixels"):
        predict_images_from_version(services, record, flat)
    with pytest.raises(ImageInputError, match="uncompressed; at most"):
        predict_images_from_version(services, record, _npz_declaring((200, 3, 4096, 4096)))
    with pytest.raises(ImageInputError, match=f"got {MAX_IMAGES + 44}"):
        predict_images_from_version(services, record, _npz_declaring((MAX_IMAGES + 44, 1, 1)))


@pytest.mark.slow
def test_images_sent_to_a_table_model_and_rows_to_an_image_model_are_refused(image_model, risk_model, scans):
    image_services, image_record, image_directory = image_model
    risk_services, risk_record, risk_directory = risk_model
    rows = pd.DataFrame({"label": ["negative"]})

    with pytest.raises(ModelInputKindError, match=r"risk1-r0001 \(risk\) predicts from table rows, not from images"):
        predict_images_from_version(risk_services, risk_record, encode_npz(scans))
    with pytest.raises(ModelInputKindError, match="predicts from table rows, not from images"):
        predict_images_from_directory(load_model_directory(risk_directory), encode_npz(scans))
    with pytest.raises(ModelInputKindError, match=r"img1-r0001 \(image\) predicts from images \(PNG or .npz\)"):
        predict_from_version(image_services, image_record, rows)
    with pytest.raises(ModelInputKindError, match="predicts from images"):
        predict_from_directory(load_model_directory(image_directory), rows)


# -- fedcore predict --images ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_predict_command_writes_a_file_column_for_pngs_and_an_index_for_an_npz(image_model, scans, tmp_path, capsys):
    _, _, directory = image_model
    folder = tmp_path / "scans"
    (folder / "ward-b").mkdir(parents=True)
    names = ["ward-b/x.png", "a.png", "ward-b/c.png"]
    for name, image in zip(names, scans.images):
        (folder / name).write_bytes(_png(image[0]))
    (folder / ".DS_Store").write_bytes(b"hidden files are skipped")
    (tmp_path / "scans.npz").write_bytes(encode_npz(scans))
    model = load_model_directory(directory)

    outputs = {}
    for source in ("scans", "scans.npz", "scans/a.png"):
        out = tmp_path / "out" / f"{source.replace('/', '-')}.csv"
        code = main(["predict", "--model", str(directory), "--images", str(tmp_path / source), "--out", str(out)])
        assert code == 0, capsys.readouterr().err
        outputs[source] = pd.read_csv(out)

    folder_out, npz_out, png_out = outputs["scans"], outputs["scans.npz"], outputs["scans/a.png"]
    assert list(folder_out.columns) == ["file", *COLUMNS]
    assert folder_out["file"].tolist() == sorted(names)
    for name, row in zip(folder_out["file"], folder_out[COLUMNS].to_numpy()):  # each row is its file's prediction
        expected = predict_images_from_directory(model, (folder / name).read_bytes())
        np.testing.assert_allclose(row, expected.to_numpy()[0], rtol=1e-6)
    assert list(npz_out.columns) == ["index", *COLUMNS] and npz_out["index"].tolist() == list(range(len(scans)))
    assert png_out["file"].tolist() == ["a.png"] and list(png_out.columns) == ["file", *COLUMNS]


@pytest.mark.slow
def test_predict_command_refuses_bad_images_with_exit_2(image_model, risk_model, scans, tmp_path, capsys):
    image_directory, risk_directory = image_model[2], risk_model[2]
    corrupt, notes, wrong, empty = tmp_path / "corrupt", tmp_path / "notes", tmp_path / "wrong.npz", tmp_path / "none"
    corrupt.mkdir(), notes.mkdir(), empty.mkdir()
    (corrupt / "fine.png").write_bytes(_png(scans.images[0, 0]))
    (corrupt / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 30)
    (notes / "a.png").write_bytes(_png(scans.images[0, 0]))
    (notes / "notes.txt").write_text("not an image")
    wrong.write_bytes(_npz(images=np.full((2, 16, 16), DISTINCT_PIXEL)))
    (tmp_path / "rows.csv").write_text("label\nnegative\n")
    out = tmp_path / "out.csv"

    cases = (
        (["--model", str(image_directory), "--images", str(corrupt)], "'broken.png': not a decodable PNG"),
        (["--model", str(image_directory), "--images", str(wrong)], "'images' must be uint8"),
        (["--model", str(image_directory), "--images", str(notes)], "'notes.txt' is not a .png file"),
        (["--model", str(image_directory), "--images", str(empty)], "no .png files in this folder"),
        (["--model", str(image_directory), "--images", str(tmp_path / "gone.png")], "no such file or folder"),
        (["--model", str(image_directory), "--images", str(tmp_path / "rows.csv")], "give a .png file"),
        (["--model", str(image_directory), "--images", str(wrong), "--times", "10"], "--times goes with --data"),
        (["--model", str(risk_directory), "--images", str(corrupt)], "predicts from table rows, not from images; "
                                                                     "use --data"),
        (["--model", str(image_directory), "--data", str(tmp_path / "rows.csv")], "predicts from images (PNG or "
                                                                                  ".npz), not from table rows; "
                                                                                  "use --images"),
    )
    for arguments, message in cases:
        code = main(["predict", *arguments, "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 2 and message in err, (arguments, err)
        assert str(DISTINCT_PIXEL) not in err
    assert not out.exists()


def test_predict_help_explains_rows_and_images(capsys):
    parser = build_parser()

    with pytest.raises(SystemExit):
        parser.parse_args(["predict", "--help"])

    text = " ".join(capsys.readouterr().out.split())
    assert "(--data DATA | --images PATH)" in text
    assert "a folder of PNGs" in text and "index for an .npz" in text and f"at most {MAX_IMAGES} images" in text


def test_data_and_images_are_exclusive(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["predict", "--model", str(tmp_path), "--data", "x.csv", "--images", "y.npz", "--out", "z.csv"])

    assert info.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
