"""The research API: a FastAPI app over the hub's services; ``functions.api`` serves it on Lambda."""

from functions.api_app.app import create_app
from functions.api_app.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]
