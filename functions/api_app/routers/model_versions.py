"""GET /models: every published model version, newest first."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from fedcore.runtime.run_state import read_schema
from functions.api_app.auth import require_researcher
from functions.api_app.context import ApiContext, api_context
from functions.api_app.schemas.catalog import ModelList, ModelVersion, QualitySummary

router = APIRouter(tags=["models"])


@router.get("/models", response_model=ModelList, response_model_by_alias=True, summary="Published model versions",
            dependencies=[Depends(require_researcher)])
def list_models(ctx: ApiContext = Depends(api_context)) -> ModelList:
    services = ctx.services
    records = sorted(services.runs.list_model_versions(), key=lambda v: (v["created_at"], v["version"]), reverse=True)
    schemas: dict[str, dict] = {}
    models = []
    for index, record in enumerate(records):
        run_id = record["run_id"]
        if run_id not in schemas:
            schemas[run_id] = read_schema(services.blobs, run_id).to_dict()
        last = [m for m in services.runs.list_rounds(run_id) if m["round"] == record["round"]]
        models.append(ModelVersion(
            version=record["version"], run_id=run_id, round=record["round"], created_at=record["created_at"],
            sha256=record["sha256"], latest=index == 0, model=record["model"], table_schema=schemas[run_id],
            epsilon=record.get("epsilon") or {}, delta=record.get("delta"),
            quality=QualitySummary(rounds=record["round"], final_training_loss=last[0].get("loss") if last else None,
                                   evaluation=record.get("quality")),
        ))
    return ModelList(models=models)
