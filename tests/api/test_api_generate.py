"""POST /generate and GET /models over a published tiny model."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlparse

import boto3
import requests

from apigw import RESEARCHER, Gateway
from conftest import REGION, RUN_ID


def test_inline_json_rows_come_back_in_the_response(hub):
    services, app, _ = hub
    reply = Gateway(app)("POST", "/generate", RESEARCHER, body={"rows": 25, "seed": 3})
    assert reply.status == 200, reply.text
    body = reply.json()
    assert body["delivery"] == "inline" and body["rows"] == 25 and len(body["data"]) == 25
    assert body["model_version"] == f"{RUN_ID}-r0001"
    assert set(body["columns"]) == set(body["data"][0]) and "arms" in body["columns"]


def test_same_seed_gives_the_same_rows(hub):
    _, app, _ = hub
    gateway = Gateway(app)
    first, second = (gateway("POST", "/generate", RESEARCHER, body={"rows": 10, "seed": 7}) for _ in range(2))
    assert first.json()["data"] == second.json()["data"]


def test_inline_csv_is_returned_as_text_csv(hub):
    _, app, _ = hub
    reply = Gateway(app)("POST", "/generate", RESEARCHER, body={"rows": 12, "format": "csv"})
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    assert len(rows) == 12 and "age" in rows[0]


def test_conditional_generation_returns_only_rows_with_the_fixed_values(hub):
    _, app, _ = hub
    conditions = {"arms": 2, "gender": 0, "karnof": "90"}
    reply = Gateway(app)("POST", "/generate", RESEARCHER, body={"rows": 80, "seed": 1, "conditions": conditions})
    assert reply.status == 200, reply.text
    data = reply.json()["data"]
    assert len(data) == 80
    assert {(r["arms"], r["gender"], r["karnof"]) for r in data} == {(2, 0, 90)}


def test_conditions_are_validated_against_the_schema(hub):
    _, app, _ = hub
    gateway = Gateway(app)
    not_a_category = gateway("POST", "/generate", RESEARCHER, body={"rows": 5, "conditions": {"arms": 9}})
    numeric_column = gateway("POST", "/generate", RESEARCHER, body={"rows": 5, "conditions": {"age": 40}})
    unknown_column = gateway("POST", "/generate", RESEARCHER, body={"rows": 5, "conditions": {"blood": "A"}})
    for reply, column in ((not_a_category, "arms"), (numeric_column, "age"), (unknown_column, "blood")):
        assert reply.status == 422 and reply.code == "invalid_conditions"
        assert column in reply.json()["error"]["details"]


def test_limits_are_enforced_with_machine_readable_codes(hub):
    _, app, _ = hub
    gateway = Gateway(app)
    too_many = gateway("POST", "/generate", RESEARCHER, body={"rows": 2001})
    bad_steps = gateway("POST", "/generate", RESEARCHER, body={"rows": 5, "sampling_steps": 201})
    wrong_type = gateway("POST", "/generate", RESEARCHER, body={"rows": "5"})
    extra_field = gateway("POST", "/generate", RESEARCHER, body={"rows": 5, "admin": True})
    huge_body = gateway("POST", "/generate", RESEARCHER, body={"rows": 5, "conditions": {"x" * 20000: "a"}})
    assert (too_many.status, too_many.code) == (422, "invalid_request")
    assert too_many.json()["error"]["details"][0]["location"] == ["body", "rows"]
    assert (bad_steps.status, bad_steps.code) == (422, "invalid_sampling_steps")
    assert (wrong_type.status, wrong_type.code) == (422, "invalid_request")
    assert (extra_field.status, extra_field.code) == (422, "invalid_request")
    assert (huge_body.status, huge_body.code) == (413, "body_too_large")


def test_unknown_model_version_is_404(hub):
    _, app, _ = hub
    reply = Gateway(app)("POST", "/generate", RESEARCHER, body={"rows": 5, "model_version": "nope-r0001"})
    assert (reply.status, reply.code) == (404, "model_version_not_found")


def test_without_a_published_model_generation_is_refused_with_409(empty_hub):
    _, app, _ = empty_hub
    reply = Gateway(app)("POST", "/generate", RESEARCHER, body={"rows": 5})
    assert (reply.status, reply.code) == (409, "no_published_model")
    assert "no model has been published" in reply.json()["error"]["message"]


def test_large_generation_goes_through_s3_and_the_link_serves_the_rows(hub):
    services, app, _ = hub
    reply = Gateway(app)("POST", "/generate", RESEARCHER, body={"rows": 150, "conditions": {"arms": 1}})
    assert reply.status == 200, reply.text
    link = reply.json()
    assert link["delivery"] == "download" and link["format"] == "csv" and link["rows"] == 150
    assert link["expires_in_seconds"] == 900
    url = urlparse(link["url"])
    key = url.path.lstrip("/").removeprefix(f"{services.blobs.bucket}/")
    assert services.blobs.bucket in url.netloc + url.path and key.startswith("generated/")
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url.query and "X-Amz-Expires=900" in url.query
    stored = boto3.client("s3", region_name=REGION).get_object(Bucket=services.blobs.bucket, Key=key)
    assert stored["ContentType"] == "text/csv" and stored["ContentLength"] == link["bytes"]
    fetched = requests.get(link["url"], timeout=10)  # moto answers presigned URLs too
    assert fetched.status_code == 200 and fetched.content == stored["Body"].read()
    rows = list(csv.DictReader(io.StringIO(fetched.text)))
    assert len(rows) == 150 and {r["arms"] for r in rows} == {"1"}


def test_models_lists_published_versions_with_hash_schema_epsilon_and_quality(hub):
    services, app, _ = hub
    reply = Gateway(app)("GET", "/models", RESEARCHER)
    assert reply.status == 200, reply.text
    [model] = reply.json()["models"]
    record = services.runs.list_model_versions()[0]
    assert model["version"] == record["version"] and model["latest"] is True
    assert model["sha256"] == record["sha256"] and len(model["sha256"]) == 64
    assert {c["name"] for c in model["schema"]["columns"]} >= {"arms", "age"}
    assert set(model["epsilon"]) == {"s0", "s1", "s2"} and all(0 < e <= 3.0 for e in model["epsilon"].values())
    assert model["quality"]["rounds"] == 1 and model["quality"]["final_training_loss"] is None  # DP: no exact loss
    assert model["created_at"] == record["created_at"]
