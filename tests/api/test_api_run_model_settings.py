"""POST /runs: ``model`` is the model family's settings, keyed on ``family`` (RunConfig's union), and the
run's training settings arrive in ``training`` (issue 10 item 3)."""

from __future__ import annotations

import json

import pytest
from apigw import ADMIN, Gateway

from fedcore.families.marginal.config import MarginalConfig
from fedcore.model.config import DiffusionConfig
from fedcore.run_config import TrainingSettings


def _sent(sfn, reply) -> dict:
    return json.loads(sfn.describe_execution(executionArn=reply.json()["execution_arn"])["input"])["config"]


@pytest.mark.parametrize("model", [
    {"family": "diffusion", "hidden_dim": 32, "num_blocks": 1},  # the flat diffusion keys of before
    {"family": "marginal", "marginal": {"max_cells": 8, "fit_iterations": 200}},
    {"family": "hybrid", "hidden_dim": 32, "pretrain": {"rows": 1000}, "marginal": {"select_share": 0.4}},
    {},  # no family: the default under DP
])
def test_each_familys_settings_are_accepted_and_sent_as_given(empty_hub, model):
    # Arrange
    _, app, sfn = empty_hub

    # Act
    reply = Gateway(app)("POST", "/runs", ADMIN, body={"model": model})

    # Assert
    assert reply.status == 202, reply.text
    assert _sent(sfn, reply)["model"] == (model or {"family": "marginal"})


def test_training_settings_arrive_in_the_runs_training_object(empty_hub):
    # Arrange
    _, app, sfn = empty_hub

    # Act
    reply = Gateway(app)("POST", "/runs", ADMIN, body={"epochs_per_round": 2, "batch_size": 64})

    # Assert
    assert reply.status == 202, reply.text
    sent = _sent(sfn, reply)
    assert sent["training"] == {"batch_size": 64, "epochs": 2, "learning_rate": TrainingSettings().learning_rate,
                                "mixed_precision": "auto"}
    assert "epochs_per_round" not in sent and "batch_size" not in sent


def test_mixed_precision_can_be_turned_off_and_takes_no_other_value(empty_hub):
    # Arrange
    _, app, sfn = empty_hub
    gateway = Gateway(app)

    # Act
    off = gateway("POST", "/runs", ADMIN, body={"mixed_precision": "off"})
    forced = gateway("POST", "/runs", ADMIN, body={"mixed_precision": "bf16"})  # CPU autocast: not for runs

    # Assert
    assert off.status == 202, off.text
    assert _sent(sfn, off)["training"]["mixed_precision"] == "off"
    assert forced.status == 422 and "mixed_precision" in forced.text


@pytest.mark.parametrize(("model", "message"), [
    ({"family": "marginal", "hidden_dim": 32}, "mean nothing to family 'marginal'"),
    ({"family": "diffusion", "pretrain": {"rows": 1000}}, "model.pretrain is a setting of hybrid"),
    ({"family": "marginal", "marginal": {"max_cells": "8"}}, "valid integer"),  # JSON's own types, as elsewhere
    ({"family": "hybrid", "pretrain": {"rows": 5}}, "pretrain.rows"),
    ({"family": "vae"}, "model.family must be one of"),
])
def test_bad_model_settings_are_refused_as_invalid_run_settings(empty_hub, model, message):
    # Arrange
    _, app, _ = empty_hub

    # Act
    reply = Gateway(app)("POST", "/runs", ADMIN, body={"model": model})

    # Assert
    assert (reply.status, reply.code) == (422, "invalid_run_config"), reply.text
    assert message in reply.json()["error"]["message"]


def test_the_openapi_document_shows_each_familys_settings_with_the_classes_defaults(empty_hub):
    # Arrange
    _, app, _ = empty_hub

    # Act
    document = app.openapi()

    # Assert
    schemas = document["components"]["schemas"]
    model = schemas["RunStartRequest"]["properties"]["model"]
    assert {"#/components/schemas/DiffusionModelSettings", "#/components/schemas/MarginalModelSettings",
            "#/components/schemas/HybridModelSettings"} <= {variant.get("$ref") for variant in model["anyOf"]}
    diffusion = schemas["DiffusionModelSettings"]["properties"]
    assert diffusion["family"]["const"] == "diffusion"
    assert diffusion["hidden_dim"]["default"] == DiffusionConfig().hidden_dim
    assert schemas["MarginalConfig"]["properties"]["max_cells"]["default"] == MarginalConfig().max_cells
    assert set(schemas["HybridModelSettings"]["properties"]) >= {"hidden_dim", "marginal", "pretrain"}


def test_an_image_run_sends_the_schema_its_spec_derives_and_refuses_a_table_schema(empty_hub):
    # Arrange
    _, app, sfn = empty_hub
    task = {"name": "image", "image": {"size": 128, "classes": ["benign", "malignant"]}}

    # Act
    reply = Gateway(app)("POST", "/runs", ADMIN, body={"task": task})
    refused = Gateway(app)("POST", "/runs", ADMIN, body={"task": task, "schema": "healthcare"})

    # Assert
    assert reply.status == 202, reply.text
    sent = _sent(sfn, reply)
    assert sent["schema"]["columns"] == [{"name": "label", "kind": "categorical", "categories": ["benign", "malignant"]}]
    assert sent["task"]["image"] == {"size": 128, "classes": ["benign", "malignant"]}
    assert sent["training"]["learning_rate"] == 1e-3  # the image task's defaults
    assert refused.status == 422 and "task.image" in refused.json()["error"]["message"]


def test_a_risk_run_with_excluded_columns_is_accepted_from_json(empty_hub):
    """JSON has arrays, not tuples: task.exclude must pass the API's strict validation (it did not)."""
    _, app, sfn = empty_hub

    reply = Gateway(app)("POST", "/runs", ADMIN, body={"schema": "actg175",
                                                        "task": {"name": "risk", "target": "cens", "exclude": ["days"]}})

    assert reply.status == 202, reply.text
    assert _sent(sfn, reply)["task"] == {"name": "risk", "target": "cens", "exclude": ["days"]}
