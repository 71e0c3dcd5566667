"""The researchers' and privacy officers' web page at ``/dashboard``: a server-rendered shell and a static
JS app that reads everything through the API with the caller's bearer token (``shell``), and ``GET /me``,
which tells the page who the caller is (``caller``)."""

from functions.api_app.dashboard.caller import router as caller_router
from functions.api_app.dashboard.shell import DashboardMiddleware, DashboardSettings

__all__ = ["DashboardMiddleware", "DashboardSettings", "caller_router"]
