"""GET /sandbox/report: the demo's real-versus-synthetic scores, for ``demo --serve`` only.

A deployment's hub holds no real rows, so no deployed route can compare with them. The sandbox's demo
holds both (it split the table itself) and writes report.json; the local server, which refuses to run
in AWS, registers this router over that file. ``create_app`` never does. Only scores go out: the
report's real row counts and category rates stay in the file.
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter, Depends

from functions.api_app.auth import require_researcher
from functions.api_app.errors import ApiError
from functions.api_app.schemas.common import error_responses
from functions.api_app.schemas.sandbox_report import SandboxReport

UTILITY_KEYS = ("target", "metric", "tstr", "trtr", "ratio")


def sandbox_report_router(report_path: Path) -> APIRouter:
    router = APIRouter(tags=["sandbox"], dependencies=[Depends(require_researcher)])

    @router.get("/sandbox/report", response_model=SandboxReport, summary="Sandbox only: real vs synthetic",
                responses=error_responses(404))
    def sandbox_report() -> SandboxReport:
        """The demo's SDMetrics scores of its synthetic rows against its real holdout; 404 until it wrote them."""
        return scores_of(_read(report_path))

    return router


def scores_of(report: dict) -> SandboxReport:
    quality = report.get("quality") or {}
    if not quality:
        raise ApiError(404, "no_sandbox_report", "the demo's report holds no real-versus-synthetic scores")
    utility = report.get("utility") or {}
    return SandboxReport(
        family=report.get("family"), column_shapes=quality.get("column_shapes"),
        column_pair_trends=quality.get("column_pair_trends"), pairs_scored=quality.get("pairs_scored"),
        pairs_total=quality.get("pairs_total"), per_column=quality.get("per_column") or {},
        utility={k: utility[k] for k in UTILITY_KEYS if k in utility})


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ApiError(404, "no_sandbox_report", "the demo has not written its report") from None
