"""POST /predict with image bodies (image/png, application/x-npz): an image model's predictions, its refusals, and
the image body limit, which applies to those bodies of /predict only."""

from __future__ import annotations

import asyncio
import io

import numpy as np
import pandas as pd
import pytest

from apigw import RESEARCHER, Gateway
from conftest import RUN_ID, api_settings
from fedcore.datasets import load_actg175
from fedcore.partition import partition_dirichlet
from fedcore.run_config import RunConfig
from fedcore.runtime.predict import MAX_IMAGES, predict_images_from_version
from fedcore.runtime.simulation import simulate_federation
from fedcore.tasks.image.data import encode_npz
from fedcore.tasks.image.generator import generate_hospital_images
from fedcore.tasks.image.spec import image_schema
from functions.api_app import ApiSettings, create_app
from functions.api_app.body_limit import BodyAllowance, BodySizeLimitMiddleware
from functions.api_app.settings import MAX_LAMBDA_IMAGE_BODY_BYTES

IMAGE, RISK, SYNTHESIS = "img1-r0001", "risk1-r0001", f"{RUN_ID}-r0001"
IMAGE_LIMIT = 64 * 1024  # the test app's image body limit; its general limit stays the default 16 KiB
COLUMNS = ["p_negative", "p_positive"]
DISTINCT_PIXEL = 123.456  # a float "pixel": it must never appear in a reply


def _png(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # uncompressed: the size is predictable
    return buffer.getvalue()


@pytest.fixture(scope="module")
def image_services(trained_hub):
    """The session's trained hub (synthesis) plus an image run (16 px) and a risk run, both without DP, published."""
    services = trained_hub.services()
    config = RunConfig(task={"name": "image", "image": {"size": 16}}, rounds=1, privacy={"enabled": False},
                       training={"epochs": 1})
    sets = generate_hospital_images(total=40, spokes=2, size=16)
    assert simulate_federation({name: encode_npz(images) for name, images in sets.items()},
                               image_schema(config.task.image_spec), config, services=services,
                               run_id="img1").status == "COMPLETED"
    dataset = load_actg175()
    parts = {f"h{i}": p for i, p in enumerate(partition_dirichlet(dataset.frame, 3, "arms", 0))}
    risk = RunConfig(task={"name": "risk", "target": "cens", "exclude": ["days"]}, rounds=1,
                     privacy={"enabled": False}, training={"epochs": 1})
    assert simulate_federation(parts, dataset.schema, risk, services=services, run_id="risk1").status == "COMPLETED"
    return services


@pytest.fixture
def api(image_services, sfn):
    client, arn = sfn
    settings = api_settings(arn, inline_row_limit=100, max_rows=100, max_image_body_bytes=IMAGE_LIMIT)
    return image_services, Gateway(create_app(image_services, settings, sfn_client=client))


@pytest.fixture(scope="module")
def scans() -> np.ndarray:
    """Five new images, (5, 1, 24, 24) uint8: every prediction resizes them to the model's 16 px."""
    return generate_hospital_images(total=5, spokes=1, size=24, seed=11)["hospital-a"].images


def _post(gateway, body: bytes, media_type: str, version: str | None = IMAGE, **query):
    return gateway("POST", "/predict", RESEARCHER, raw_body=body, headers={"Content-Type": media_type},
                   query={"version": version, **query} if version else query or None)


def _record(services, version: str) -> dict:
    return next(v for v in services.runs.list_model_versions() if v["version"] == version)


@pytest.mark.slow
def test_a_png_and_an_npz_get_the_runtimes_predictions(api, scans):
    services, gateway = api
    npz = _npz(images=scans)

    png_reply = _post(gateway, _png(scans[3, 0]), "image/png")
    npz_reply = _post(gateway, npz, "application/x-npz")

    assert png_reply.status == 200, png_reply.text
    assert npz_reply.status == 200, npz_reply.text
    png_body, npz_body = png_reply.json(), npz_reply.json()
    assert (png_body["version"], png_body["task"], png_body["columns"]) == (IMAGE, "image", COLUMNS)
    assert len(png_body["predictions"]) == 1 and len(npz_body["predictions"]) == len(scans)
    from_api = pd.DataFrame(npz_body["predictions"])
    np.testing.assert_allclose(from_api.sum(axis=1), 1.0, rtol=1e-6)
    expected = predict_images_from_version(services, _record(services, IMAGE), npz)
    np.testing.assert_allclose(from_api.to_numpy(), expected.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(pd.DataFrame(png_body["predictions"]).to_numpy(), from_api.iloc[[3]].to_numpy(),
                               rtol=1e-6)


@pytest.mark.slow
def test_bad_images_are_422_invalid_images_without_their_pixels(api, scans):
    _, gateway = api

    truncated = _post(gateway, _png(scans[0, 0])[:40], "image/png")
    not_png = _post(gateway, b"GIF89a....", "image/png")
    two_channels = _post(gateway, _npz(images=np.zeros((2, 2, 16, 16), np.uint8)), "application/x-npz")
    floats = _post(gateway, _npz(images=np.full((2, 16, 16), DISTINCT_PIXEL)), "application/x-npz")
    png_as_npz = _post(gateway, _png(scans[0, 0]), "application/x-npz")
    too_many = _post(gateway, _npz(images=np.zeros((MAX_IMAGES + 1, 4, 4), np.uint8)), "application/x-npz")

    for reply, message in ((truncated, "not a decodable PNG"), (not_png, "not a PNG image"),
                           (two_channels, "cannot tell the channel axis"), (floats, "'images' must be uint8"),
                           (png_as_npz, "send it as image/png"),
                           (too_many, f"at most {MAX_IMAGES} images per request, got {MAX_IMAGES + 1}")):
        assert (reply.status, reply.code) == (422, "invalid_images"), reply.text
        assert message in reply.json()["error"]["message"]
    assert str(DISTINCT_PIXEL) not in floats.text


@pytest.mark.slow
def test_images_need_an_image_model_and_an_image_model_needs_images(api, scans):
    _, gateway = api
    png = _png(scans[0, 0])

    to_risk = _post(gateway, png, "image/png", RISK)
    to_synthesis = _post(gateway, png, "image/png", SYNTHESIS)
    rows_to_image = gateway("POST", "/predict", RESEARCHER, body={"version": IMAGE, "rows": [{"label": "negative"}]})
    csv_to_image = _post(gateway, b"label\nnegative\n", "text/csv")
    unknown = _post(gateway, png, "image/png", "nope-r0001")
    without_version = _post(gateway, png, "image/png", None)
    with_times = _post(gateway, png, "image/png", times="10")
    gif = _post(gateway, b"GIF89a", "image/gif")

    assert (to_risk.status, to_risk.code) == (422, "model_does_not_take_images")
    assert "risk1-r0001 (risk) predicts from table rows, not from images" in to_risk.json()["error"]["message"]
    assert (to_synthesis.status, to_synthesis.code) == (422, "model_does_not_predict")
    for reply in (rows_to_image, csv_to_image):
        assert (reply.status, reply.code) == (422, "model_does_not_take_rows")
        assert "predicts from images" in reply.json()["error"]["message"]
    assert (unknown.status, unknown.code) == (404, "model_version_not_found")
    assert (without_version.status, without_version.code) == (422, "invalid_request")
    assert (with_times.status, with_times.code) == (422, "invalid_request")
    assert (gif.status, gif.code) == (415, "unsupported_media_type") and "image/png" in gif.text


@pytest.mark.slow
def test_image_bodies_have_their_own_limit_and_every_other_body_keeps_the_general_one(api, scans):
    _, gateway = api
    general = ApiSettings.__dataclass_fields__["max_body_bytes"].default
    images = np.random.default_rng(0).integers(0, 256, (60, 1, 24, 24), dtype=np.uint8)
    between = _npz(images=images)  # above the general limit, below the image limit
    assert general < len(between) < IMAGE_LIMIT
    csv = pd.DataFrame({"age": np.arange(len(between) // 4) % 50 + 20}).to_csv(index=False).encode()
    assert general < len(csv) < IMAGE_LIMIT

    npz_reply = _post(gateway, between, "application/x-npz")
    too_big = _post(gateway, between + b"\0" * (IMAGE_LIMIT - len(between) + 1), "application/x-npz")
    png_too_big = _post(gateway, b"\x89PNG\r\n\x1a\n" + b"\0" * IMAGE_LIMIT, "image/png")
    csv_reply = _post(gateway, csv, "text/csv", RISK)
    json_reply = gateway("POST", "/predict", RESEARCHER, raw_body=csv, headers={"Content-Type": "application/json"})
    npz_elsewhere = gateway("POST", "/generate", RESEARCHER, raw_body=between,
                            headers={"Content-Type": "application/x-npz"})

    assert npz_reply.status == 200 and len(npz_reply.json()["predictions"]) == len(images)
    for reply in (too_big, png_too_big):
        assert (reply.status, reply.code) == (413, "body_too_large")
        assert f"limited to {IMAGE_LIMIT} bytes" in reply.json()["error"]["message"]
    for reply in (csv_reply, json_reply, npz_elsewhere):
        assert (reply.status, reply.code) == (413, "body_too_large")
        assert f"request bodies are limited to {general} bytes" in reply.json()["error"]["message"]


def test_a_second_content_type_header_cannot_widen_the_limit():
    seen = []

    async def app(scope, receive, send):
        seen.append((await receive())["body"])

    middleware = BodySizeLimitMiddleware(app, 1024, (BodyAllowance("POST", "/predict", frozenset({"image/png"}),
                                                                   4096),))
    sent = []

    async def send(message):
        sent.append(message)

    def call(headers: list[tuple[bytes, bytes]], body: bytes) -> int:
        sent.clear()
        messages = iter([{"type": "http.request", "body": body, "more_body": False}])
        scope = {"type": "http", "method": "POST", "path": "/predict", "headers": headers}

        async def receive():
            return next(messages)

        asyncio.run(middleware(scope, receive, send))
        return next((m["status"] for m in sent if m["type"] == "http.response.start"), 200)

    body = b"x" * 2000
    assert call([(b"content-type", b"image/png")], body) == 200
    assert call([(b"content-type", b"Image/PNG; charset=binary")], body) == 200
    assert call([(b"content-type", b"text/csv"), (b"content-type", b"image/png")], body) == 413
    assert call([(b"content-type", b"image/png"), (b"content-length", b"5000")], body) == 413
    assert seen == [body, body]


def test_the_image_limit_is_a_setting_below_lambdas_payload():
    env = {"STATE_MACHINE_ARN": "arn:aws:states:eu-west-1:123456789012:stateMachine:x",
           "SPOKE_IDS": '["s0"]'}

    default = ApiSettings.from_env(env)
    chosen = ApiSettings.from_env(env | {"API_MAX_IMAGE_BODY_BYTES": "1048576"})

    assert default.max_image_body_bytes == 4 * 2**20 and chosen.max_image_body_bytes == 2**20
    assert MAX_LAMBDA_IMAGE_BODY_BYTES * 4 / 3 < 6 * 2**20  # base64 in the Lambda event
    with pytest.raises(ValueError, match="max_image_body_bytes"):
        ApiSettings.from_env(env | {"API_MAX_IMAGE_BODY_BYTES": str(MAX_LAMBDA_IMAGE_BODY_BYTES + 1)})


def test_the_openapi_document_lists_the_image_media_types(sfn):
    client, arn = sfn
    app = create_app(type("NoServices", (), {"blobs": None})(), api_settings(arn, max_rows=1, inline_row_limit=1),
                     sfn_client=client)

    content = app.openapi()["paths"]["/predict"]["post"]["requestBody"]["content"]

    assert list(content) == ["application/json", "text/csv", "image/png", "application/x-npz"]
    assert content["image/png"]["schema"]["format"] == "binary"
    assert content["application/x-npz"]["schema"]["format"] == "binary"
