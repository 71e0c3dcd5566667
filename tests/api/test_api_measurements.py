"""GET /models/{version}/measurements: the merged noisy DP measurements behind a synthesis version."""

from __future__ import annotations

import pytest

from apigw import ADMIN, NO_GROUP, RESEARCHER, Gateway
from conftest import RUN_ID, api_settings
from fedcore.datasets import load_actg175
from fedcore.partition import partition_dirichlet
from fedcore.run_config import RunConfig
from fedcore.runtime.run_state import read_schema
from fedcore.runtime.simulation import simulate_federation
from functions.api_app import create_app

pytestmark = pytest.mark.slow  # the module's fixture trains and publishes three runs

MARGINAL, NO_DP, RISK, DIFFUSION = "marg1-r0002", "marg0-r0002", "risk1-r0001", f"{RUN_ID}-r0001"


@pytest.fixture(scope="module")
def measured_services(trained_hub):
    """The session's diffusion hub plus a marginal run with DP and one without, and a risk run, published."""
    services = trained_hub.services()
    dataset = load_actg175()
    parts = partition_dirichlet(dataset.frame, 3, "arms", 0)
    for run_id, settings in (
            ("marg1", {"model": {"family": "marginal", "marginal": {"max_cells": 8, "fit_iterations": 100}}}),
            ("marg0", {"model": {"family": "marginal", "marginal": {"max_cells": 4, "fit_iterations": 20}},
                       "privacy": {"enabled": False}}),
            ("risk1", {"task": {"name": "risk", "target": "cens", "exclude": ["days"]}, "rounds": 1,
                       "training": {"epochs": 1}})):
        hospitals = {f"{run_id}-h{i}": p for i, p in enumerate(parts)}  # fresh budgets per run
        result = simulate_federation(hospitals, dataset.schema, RunConfig(**settings), services=services, run_id=run_id)
        assert result.status == "COMPLETED"
    return services


@pytest.fixture
def gateway(measured_services, sfn):
    client, arn = sfn
    return Gateway(create_app(measured_services, api_settings(arn, inline_row_limit=100, max_rows=100),
                              sfn_client=client))


def test_a_marginal_version_serves_one_noisy_histogram_per_schema_column(gateway, measured_services):
    reply = gateway("GET", f"/models/{MARGINAL}/measurements", RESEARCHER)

    assert reply.status == 200, reply.text
    body = reply.json()
    schema = read_schema(measured_services.blobs, "marg1")
    names = [h["column"] for h in body["histograms"]]
    assert names == [c.name for c in schema.columns if c.name in names] and len(names) >= len(schema.columns) - 2
    for histogram in body["histograms"]:
        assert len(histogram["counts"]) == len(histogram["labels"]) == len(histogram["noise_std"]) > 0
        assert all(std > 0 for std in histogram["noise_std"])  # noisy: a DP release, never an exact count
        if histogram["kind"] == "numeric":
            assert len(histogram["edges"]) == len(histogram["counts"]) + 1
    categories = {c.name: [str(v) for v in c.categories] for c in schema.categorical_columns}
    assert all(h["labels"] == categories[h["column"]] for h in body["histograms"] if h["kind"] == "categorical")
    assert body["marginals"] and body["marginals_reason"] is None


def test_a_marginal_version_serves_its_noisy_measured_pairs_over_the_domain_cells(gateway, measured_services):
    body = gateway("GET", f"/models/{MARGINAL}/measurements", RESEARCHER).json()

    cells = {h["column"]: len(h["labels"]) + (h["missing"] is not None) for h in body["histograms"]}
    names = {c.name for c in read_schema(measured_services.blobs, "marg1").columns}
    assert {c for pair in body["marginals"] for c in pair["columns"]} == names  # the selection covers every column
    for pair in body["marginals"]:
        rows, cols = (len(labels) for labels in pair["labels"])
        assert len(pair["counts"]) == rows and {len(r) for r in pair["counts"]} == {cols}
        assert all(cells.get(c, n) == n for c, n in zip(pair["columns"], (rows, cols)))
        assert pair["noise_std"] > 0


def test_a_version_trained_without_dp_serves_no_measurement(gateway):
    body = gateway("GET", f"/models/{NO_DP}/measurements", RESEARCHER).json()

    assert (body["histograms"], body["marginals"]) == (None, None)
    assert "without DP" in body["histograms_reason"] and "without DP" in body["marginals_reason"]


def test_a_diffusion_version_says_why_it_holds_no_histograms(gateway):
    body = gateway("GET", f"/models/{DIFFUSION}/measurements", ADMIN).json()

    assert (body["family"], body["histograms"], body["marginals"]) == ("diffusion", None, None)
    assert "quantiles" in body["histograms_reason"] and "marginal" in body["marginals_reason"]


def test_both_roles_read_it_and_nobody_else(gateway):
    path = f"/models/{MARGINAL}/measurements"

    statuses = [gateway("GET", path, claims).status for claims in (RESEARCHER, ADMIN, NO_GROUP, None)]

    assert statuses == [200, 200, 403, 401]


def test_unknown_and_predictive_versions_are_refused(gateway):
    unknown = gateway("GET", "/models/nope-r0001/measurements", RESEARCHER)
    predictive = gateway("GET", f"/models/{RISK}/measurements", RESEARCHER)

    assert (unknown.status, unknown.code) == (404, "model_version_not_found")
    assert (predictive.status, predictive.code) == (422, "model_does_not_generate")
