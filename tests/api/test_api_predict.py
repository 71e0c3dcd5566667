"""POST /predict (JSON and CSV), GET /models/{version} (the card) and GET /models/{version}/download (the zip)."""

from __future__ import annotations

import base64
import io
import logging
import zipfile

import numpy as np
import pandas as pd
import pytest
from mangum import Mangum

from apigw import ADMIN, NO_GROUP, RESEARCHER, Gateway, LambdaContext, rest_event
from conftest import RUN_ID, api_settings
from fedcore.datasets import load_actg175
from fedcore.partition import partition_dirichlet
from fedcore.run_config import RunConfig
from fedcore.runtime.model_directory import CARD, WEIGHTS, ModelDirectoryError, load_model_directory
from fedcore.runtime.predict import predict_from_directory, predict_from_version
from fedcore.runtime.simulation import simulate_federation
from functions.api_app import create_app

RISK, SURVIVAL, SYNTHESIS = "risk1-r0001", "surv1-r0001", f"{RUN_ID}-r0001"
DISTINCT_WEIGHT = 123.456789  # a row value that must never reach a log line or an error message
DISTINCT_AGE = 987.654  # an out-of-range row value: its error names the row and column, not the value


@pytest.fixture(scope="module")
def predictive_services(trained_hub):
    """The session's trained hub (synthesis) plus a risk run with DP and a survival run without, published."""
    services = trained_hub.services()
    dataset = load_actg175()
    parts = {f"h{i}": p for i, p in enumerate(partition_dirichlet(dataset.frame, 3, "arms", 0))}  # fresh budgets
    for run_id, task, dp in (("risk1", {"name": "risk", "target": "cens", "exclude": ["days"]}, True),
                             ("surv1", {"name": "survival", "time": "days", "event": "cens"}, False)):
        config = RunConfig(task=task, rounds=1, privacy={"enabled": dp}, training={"epochs": 1})
        assert simulate_federation(parts, dataset.schema, config, services=services, run_id=run_id).status == \
            "COMPLETED"
    return services


@pytest.fixture
def api(predictive_services, sfn):
    client, arn = sfn
    app = create_app(predictive_services, api_settings(arn, inline_row_limit=100, max_rows=100), sfn_client=client)
    return predictive_services, app


@pytest.fixture(scope="module")
def patients() -> pd.DataFrame:
    """20 rows with their labels (ignored) and a few missing values."""
    frame = load_actg175().frame.sample(20, random_state=5).reset_index(drop=True)
    frame.loc[[0, 3], "cd496"] = np.nan
    frame.loc[4, "race"] = np.nan
    return frame


def _json_rows(frame: pd.DataFrame) -> list[dict]:
    return [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in frame.astype(object).to_dict("records")]


def _record(services, version: str) -> dict:
    return next(v for v in services.runs.list_model_versions() if v["version"] == version)


def _download(app, version: str, claims: dict = RESEARCHER) -> dict:
    """The raw Lambda proxy response (a zip is binary: base64 in the body)."""
    return Mangum(app, lifespan="off")(rest_event("GET", f"/models/{version}/download", claims), LambdaContext())


@pytest.mark.slow  # the module's two runs take about 5 s
def test_json_rows_get_the_same_predictions_as_the_runtime(api, patients):
    services, app = api
    reply = Gateway(app)("POST", "/predict", RESEARCHER, body={"version": RISK, "rows": _json_rows(patients)})
    assert reply.status == 200, reply.text
    body = reply.json()
    assert (body["version"], body["task"], body["columns"]) == (RISK, "risk", ["p_0", "p_1"])
    got = pd.DataFrame(body["predictions"])
    expected = predict_from_version(services, _record(services, RISK), patients)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.slow
def test_csv_rows_with_times_give_survival_curves(api, patients):
    _, app = api
    reply = Gateway(app)("POST", "/predict", RESEARCHER, raw_body=patients.to_csv(index=False).encode(),
                         headers={"Content-Type": "text/csv"}, query={"version": SURVIVAL, "times": "100,400,900"})
    assert reply.status == 200, reply.text
    body = reply.json()
    assert (body["task"], body["columns"]) == ("survival", ["s_100", "s_400", "s_900"])
    curves = pd.DataFrame(body["predictions"]).to_numpy()
    assert curves.shape == (len(patients), 3) and (np.diff(curves, axis=1) <= 1e-12).all()
    json_reply = Gateway(app)("POST", "/predict", RESEARCHER,
                              body={"version": SURVIVAL, "rows": _json_rows(patients), "times": [100, 400, 900]})
    np.testing.assert_allclose(pd.DataFrame(json_reply.json()["predictions"]).to_numpy(), curves, rtol=1e-9)


@pytest.mark.slow
def test_rows_outside_the_schema_are_422_naming_row_and_column(api, patients):
    _, app = api
    gateway = Gateway(app)
    rows = _json_rows(patients.head(3))
    rows[1]["age"] = DISTINCT_AGE
    out_of_range = gateway("POST", "/predict", RESEARCHER, body={"version": RISK, "rows": rows})
    unknown = gateway("POST", "/predict", RESEARCHER,
                      body={"version": RISK, "rows": [_json_rows(patients.head(1))[0] | {"blood": "A"}]})
    csv = patients.head(3).astype({"race": object})
    csv.loc[2, "race"] = "purple"
    bad_category = gateway("POST", "/predict", RESEARCHER, raw_body=csv.to_csv(index=False).encode(),
                           headers={"Content-Type": "text/csv"}, query={"version": RISK})
    assert (out_of_range.status, out_of_range.code) == (422, "invalid_rows")
    assert out_of_range.json()["error"]["details"] == [
        {"column": "age", "row": 2, "problem": "outside the schema's range [12, 90]"}]
    assert str(DISTINCT_AGE) not in out_of_range.text
    assert (unknown.status, unknown.code) == (422, "invalid_rows")
    assert unknown.json()["error"]["details"] == [
        {"column": "blood", "row": None, "problem": "not a column of the model's schema"}]
    assert (bad_category.status, bad_category.code) == (422, "invalid_rows") and "purple" not in bad_category.text
    assert bad_category.json()["error"]["details"][0] | {"problem": ""} == {"column": "race", "row": 3, "problem": ""}


@pytest.mark.slow
def test_the_wrong_model_or_request_is_refused(api, patients):
    _, app = api
    gateway = Gateway(app)
    rows = _json_rows(patients.head(2))
    synthesis = gateway("POST", "/predict", RESEARCHER, body={"version": SYNTHESIS, "rows": rows})
    unknown = gateway("POST", "/predict", RESEARCHER, body={"version": "nope-r0001", "rows": rows})
    risk_times = gateway("POST", "/predict", RESEARCHER, body={"version": RISK, "rows": rows, "times": [100]})
    late = gateway("POST", "/predict", RESEARCHER, body={"version": SURVIVAL, "rows": rows, "times": [5000]})
    csv_without_version = gateway("POST", "/predict", RESEARCHER, raw_body=b"age\n40\n",
                                  headers={"Content-Type": "text/csv"})
    query_with_json = gateway("POST", "/predict", RESEARCHER, body={"version": RISK, "rows": rows},
                              query={"version": RISK})
    xml = gateway("POST", "/predict", RESEARCHER, raw_body=b"<rows/>", headers={"Content-Type": "application/xml"})
    boolean = gateway("POST", "/predict", RESEARCHER, body={"version": RISK, "rows": [rows[0] | {"age": True}]})
    generate_risk = gateway("POST", "/generate", RESEARCHER, body={"rows": 5, "model_version": RISK})
    assert (synthesis.status, synthesis.code) == (422, "model_does_not_predict")
    assert "generates synthetic rows" in synthesis.json()["error"]["message"]
    assert (unknown.status, unknown.code) == (404, "model_version_not_found")
    assert (risk_times.status, risk_times.code) == (422, "invalid_times")
    assert (late.status, late.code) == (422, "invalid_times")
    assert (csv_without_version.status, csv_without_version.code) == (422, "invalid_request")
    assert (query_with_json.status, query_with_json.code) == (422, "invalid_request")
    assert (xml.status, xml.code) == (415, "unsupported_media_type")
    assert (boolean.status, boolean.code) == (422, "invalid_request")
    assert (generate_risk.status, generate_risk.code) == (422, "model_does_not_generate")


@pytest.mark.slow
def test_generation_without_a_version_uses_the_latest_synthesis_model(api):
    _, app = api
    reply = Gateway(app)("POST", "/generate", RESEARCHER, body={"rows": 5})  # the predictive versions are newer
    assert reply.status == 200 and reply.json()["model_version"] == SYNTHESIS


@pytest.mark.slow
def test_rows_never_reach_the_logs(api, patients, caplog):
    _, app = api
    gateway = Gateway(app)
    rows = _json_rows(patients.head(3))
    rows[0]["wtkg"] = DISTINCT_WEIGHT
    rows[2]["cd496"] = None  # a missing value the consortium saw: imputed, its warning names only the column
    rows[1]["race"] = None  # one it did not see: logged as a count
    bad = [dict(rows[0]), dict(rows[1])]
    bad[1]["age"] = DISTINCT_AGE
    with caplog.at_level(logging.DEBUG):
        assert gateway("POST", "/predict", RESEARCHER, body={"version": RISK, "rows": rows}).status == 200
        assert gateway("POST", "/predict", RESEARCHER, body={"version": RISK, "rows": bad}).status == 422
        csv = pd.DataFrame(rows).to_csv(index=False).encode()
        assert gateway("POST", "/predict", RESEARCHER, raw_body=csv, headers={"Content-Type": "text/csv"},
                       query={"version": RISK}).status == 200
    logged = caplog.text + " ".join(str(r.args) for r in caplog.records)
    assert caplog.records  # the missing race was logged, by column and count only
    for value in (DISTINCT_WEIGHT, DISTINCT_AGE):
        assert str(value) not in logged


@pytest.mark.slow
def test_the_card_shows_task_metrics_privacy_and_hashes_but_no_storage_keys(api):
    services, app = api
    reply = Gateway(app)("GET", f"/models/{RISK}", RESEARCHER)
    assert reply.status == 200, reply.text
    card = reply.json()
    record = _record(services, RISK)
    assert (card["task"], card["serves"], card["version"]["version"]) == ("risk", "predict", RISK)
    assert card["version"]["metrics"]["auc"] == pytest.approx(record["metrics"]["auc"])
    assert set(card["version"]["fairness"]) == {"gender", "race"}
    assert card["privacy"]["dp"] is True and set(card["privacy"]["epsilon_per_hospital"]) == {"h0", "h1", "h2"}
    assert card["version"]["created_at"] == record["created_at"]
    assert set(card["sha256"]) == {"weights.safetensors", "encoder.json", "schema.json"}
    assert not {"model_key", "preprocessor_key"} & set(card["version"]) and "models/" not in reply.text
    synthesis = Gateway(app)("GET", f"/models/{SYNTHESIS}", RESEARCHER).json()
    assert (synthesis["task"], synthesis["serves"], synthesis["version"]["family"]) == (
        "synthesis", "generate", "diffusion")


@pytest.mark.slow
def test_the_zip_loads_with_its_sha256_check_and_predicts_like_the_api(api, patients, tmp_path):
    _, app = api
    response = _download(app, SURVIVAL)
    assert response["statusCode"] == 200 and response["isBase64Encoded"]
    headers = {k.lower(): v for k, v in response["headers"].items()}
    assert headers["content-type"] == "application/zip"
    assert headers["content-disposition"] == f'attachment; filename="{SURVIVAL}.zip"'
    data = base64.b64decode(response["body"])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == sorted(f"{SURVIVAL}/{n}" for n in (WEIGHTS, CARD, "encoder.json",
                                                                               "schema.json"))
        archive.extractall(tmp_path)
    model = load_model_directory(tmp_path / SURVIVAL)
    card = Gateway(app)("GET", f"/models/{SURVIVAL}", RESEARCHER).json()
    assert model.card == card
    from_zip = predict_from_directory(model, patients)
    from_api = Gateway(app)("POST", "/predict", RESEARCHER, body={"version": SURVIVAL, "rows": _json_rows(patients)})
    np.testing.assert_allclose(from_zip.to_numpy(), pd.DataFrame(from_api.json()["predictions"]).to_numpy(), rtol=1e-9)
    weights = (tmp_path / SURVIVAL / WEIGHTS).read_bytes()
    (tmp_path / SURVIVAL / WEIGHTS).write_bytes(weights[:-1] + bytes([weights[-1] ^ 1]))
    with pytest.raises(ModelDirectoryError, match="SHA-256"):
        load_model_directory(tmp_path / SURVIVAL)
    assert base64.b64decode(_download(app, SURVIVAL)["body"]) == data  # the same version, the same bytes


@pytest.mark.slow
def test_unknown_versions_are_404_and_every_route_needs_the_researcher_group(api):
    _, app = api
    gateway = Gateway(app)
    assert (gateway("GET", "/models/nope-r0001", RESEARCHER).code, _download(app, "nope-r0001")["statusCode"]) == (
        "model_version_not_found", 404)
    body = {"version": RISK, "rows": [{"age": 40}]}
    for method, path in (("POST", "/predict"), ("GET", f"/models/{RISK}"), ("GET", f"/models/{RISK}/download")):
        assert gateway(method, path, None, body=body if method == "POST" else None).status == 401
        refused = gateway(method, path, NO_GROUP, body=body if method == "POST" else None)
        assert (refused.status, refused.code) == (403, "forbidden")
    assert gateway("GET", f"/models/{RISK}", ADMIN).status == 200
    assert _download(app, RISK, ADMIN)["statusCode"] == 200
