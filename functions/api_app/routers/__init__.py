"""One router per area of the API; ``functions.api_app.app`` mounts them all."""
