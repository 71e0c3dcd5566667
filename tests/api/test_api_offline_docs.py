"""/docs and /redoc load Swagger UI and ReDoc from the app itself, never a CDN, and need no token
(functions/api_app/offline_docs.py)."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import pytest
from apigw import RESEARCHER, Gateway
from fastapi.testclient import TestClient

# every src= and href= in a page, and CSS's url(...) forms
_REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\(\s*["']([^"')]+)""")
ASSET_TYPES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
               "redoc.standalone.js": "text/javascript", "favicon.png": "image/png"}


def _references(html: str) -> list[str]:
    return [a or b for a, b in _REFERENCE.findall(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_each_docs_page_references_only_assets_served_by_the_app(empty_hub, page):
    # Arrange
    _, app, _ = empty_hub
    client = TestClient(app)

    # Act
    reply = client.get(page)

    # Assert
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/html")
    references = _references(reply.text)
    assert references
    assert not [url for url in references if "//" in url]  # no http://, https:// or protocol-relative //host
    assert "openapi.json" in reply.text and "fonts.googleapis" not in reply.text
    assert "default-src 'self'" in reply.headers["content-security-policy"]  # nor may the scripts fetch elsewhere
    for url in references:  # each resolves, from the page's own URL, to something the app serves
        assert client.get(urljoin(f"http://testserver{page}", url)).status_code == 200, url


@pytest.mark.parametrize("asset", sorted(ASSET_TYPES))
def test_the_assets_are_served_with_their_content_types_and_without_a_token(empty_hub, asset):
    # Arrange
    _, app, _ = empty_hub

    # Act
    reply = TestClient(app).get(f"/static/docs/{asset}")

    # Assert
    assert reply.status_code == 200
    assert reply.headers["content-type"].split(";")[0] == ASSET_TYPES[asset]
    assert len(reply.content) > 1000


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/openapi.json", "/static/docs/swagger-ui.css"])
def test_the_docs_need_no_token_behind_api_gateway(empty_hub, page):
    # Arrange: an event without the Cognito authorizer's claims, as the unauthenticated GET routes send it
    _, app, _ = empty_hub

    # Act
    reply = Gateway(app)("GET", page)

    # Assert
    assert reply.status == 200, reply.text


def test_a_data_route_still_needs_a_token_and_static_paths_do_not_reach_it(empty_hub):
    # Arrange
    _, app, _ = empty_hub
    gateway = Gateway(app)

    # Act
    without = gateway("GET", "/runs")
    traversal = gateway("GET", "/static/../runs")
    unknown_asset = gateway("GET", "/static/docs/../../runs")

    # Assert
    assert (without.status, without.code) == (401, "unauthenticated")
    assert traversal.status == 404 and unknown_asset.status == 404
    assert gateway("GET", "/runs", RESEARCHER).status == 200
