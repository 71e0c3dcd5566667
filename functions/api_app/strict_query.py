"""Refuse query parameters a route does not declare, and repeated ones: a mistyped filter
(``/audit-log?acton=budget.reset``) must fail loudly, not quietly return everything."""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.utils import get_flat_dependant

from functions.api_app.errors import ApiError


def reject_unknown_query_parameters(request: Request) -> None:
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    allowed = {param.alias for param in get_flat_dependant(dependant).query_params}
    keys = [key for key, _ in request.query_params.multi_items()]
    unknown = sorted(set(keys) - allowed)
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if unknown:
        raise ApiError(422, "unknown_query_parameter", f"unknown query parameters: {unknown}; "
                       f"this route takes {sorted(allowed) or 'none'}", unknown)
    if repeated:
        raise ApiError(422, "repeated_query_parameter", f"give each query parameter once: {repeated}", repeated)
