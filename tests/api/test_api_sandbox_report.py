"""GET /sandbox/report: the demo's real-versus-synthetic scores, served by the local server only."""

from __future__ import annotations

import json
import re

import uvicorn

from apigw import NO_GROUP, RESEARCHER, Gateway
from functions.api_app.local_server import serve_local

REPORT = {"family": "marginal",
          "quality": {"column_shapes": 0.91, "column_pair_trends": 0.8, "pairs_scored": 3, "pairs_total": 6,
                      "per_column": {"age": {"metric": "KSComplement", "score": 0.93}},
                      "rows_real": 428, "category_rates": {"worst": "race"}},
          "utility": {"target": "cens", "metric": "roc_auc", "tstr": 0.7, "trtr": 0.9, "ratio": 0.78,
                      "rows": {"real_train": 1711}}}


def _local_app(empty_hub, monkeypatch, capsys, report):
    services, app, client = empty_hub
    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **k: served.update(app=app))
    serve_local(services, app.state.api_context.settings.state_machine_arn, 8765, client, spokes=["s0"],
                report=report)
    tokens = dict(re.findall(r"(admin|researcher) token:\s+(\S+)", capsys.readouterr().out))
    return Gateway(served["app"]), {role: {"Authorization": f"Bearer {t}"} for role, t in tokens.items()}


def test_the_lambda_app_has_no_sandbox_route(empty_hub):
    _, app, _ = empty_hub

    reply = Gateway(app)("GET", "/sandbox/report", RESEARCHER)

    assert not [r for r in app.routes if getattr(r, "path", "").startswith("/sandbox")]
    assert reply.status == 404
    assert Gateway(app)("GET", "/sandbox/report", NO_GROUP).status in (403, 404)


def test_the_local_server_serves_the_scores_labelled_sandbox_only(empty_hub, monkeypatch, capsys, tmp_path):
    (tmp_path / "report.json").write_text(json.dumps(REPORT))
    gateway, headers = _local_app(empty_hub, monkeypatch, capsys, tmp_path / "report.json")

    reply = gateway("GET", "/sandbox/report", None, headers=headers["researcher"])

    assert reply.status == 200, reply.text
    body = reply.json()
    assert body["label"].startswith("Sandbox only: real vs synthetic")
    assert (body["column_shapes"], body["column_pair_trends"], body["per_column"]["age"]["score"]) == (0.91, 0.8, 0.93)
    assert body["utility"] == {"target": "cens", "metric": "roc_auc", "tstr": 0.7, "trtr": 0.9, "ratio": 0.78}
    assert "428" not in reply.text and "1711" not in reply.text and "race" not in reply.text  # no real counts
    assert gateway("GET", "/sandbox/report", None).status == 401


def test_without_a_report_the_local_server_answers_404(empty_hub, monkeypatch, capsys, tmp_path):
    gateway, headers = _local_app(empty_hub, monkeypatch, capsys, tmp_path / "report.json")

    reply = gateway("GET", "/sandbox/report", None, headers=headers["researcher"])

    assert (reply.status, reply.code) == (404, "no_sandbox_report")


def test_without_a_report_path_the_local_server_has_no_route(empty_hub, monkeypatch, capsys):
    gateway, headers = _local_app(empty_hub, monkeypatch, capsys, None)

    assert gateway("GET", "/sandbox/report", None, headers=headers["researcher"]).status == 404
