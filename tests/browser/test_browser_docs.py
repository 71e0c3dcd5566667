"""/docs and /redoc render in a real browser from the served sandbox, with nothing fetched beyond 127.0.0.1
(functions/api_app/offline_docs.py)."""

from __future__ import annotations

import pytest
from page_watch import TIMEOUT_MS

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_swagger_ui_lists_the_operations_without_leaving_the_machine(page, offsite_requests):
    # Arrange
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    # Act
    page.goto("/docs")

    # Assert: Swagger UI fetched openapi.json and rendered an operation of each kind
    runs = page.locator('.opblock-summary-path[data-path="/runs"]').first
    runs.wait_for(state="visible", timeout=TIMEOUT_MS)
    assert page.locator('.opblock-summary-path[data-path="/privacy-budget"]').count() >= 1
    assert "FedCore research API" in page.locator(".info .title").inner_text()
    assert offsite_requests == [] and errors == []


def test_redoc_renders_the_reference_without_leaving_the_machine(page, offsite_requests):
    # Arrange
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    # Act
    page.goto("/redoc")

    # Assert: ReDoc rendered the title and an operation's path
    heading = page.locator("h1", has_text="FedCore research API")
    heading.wait_for(state="visible", timeout=TIMEOUT_MS)
    page.get_by_text("/privacy-budget").first.wait_for(state="attached", timeout=TIMEOUT_MS)
    assert offsite_requests == [] and errors == []


def test_a_phone_width_page_renders_the_docs_too(phone_page, offsite_requests):
    # Act
    phone_page.goto("/docs")

    # Assert
    phone_page.locator('.opblock-summary-path[data-path="/runs"]').first.wait_for(state="visible", timeout=TIMEOUT_MS)
    assert phone_page.viewport_size == {"width": 390, "height": 844}
    assert offsite_requests == []
