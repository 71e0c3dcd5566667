"""GET /me: who the caller is, so the dashboard shows admin controls only to admins (the API still checks)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from functions.api_app.auth import Caller, require_researcher

router = APIRouter(tags=["caller"])


class Me(BaseModel):
    username: str
    groups: list[str]
    role: Literal["admin", "researcher"] = Field(description="admin if in the admin group, else researcher")


@router.get("/me", response_model=Me, summary="The calling identity and its role")
def read_me(caller: Caller = Depends(require_researcher)) -> Me:
    return Me(username=caller.username, groups=sorted(caller.groups),
              role="admin" if caller.is_admin else "researcher")
