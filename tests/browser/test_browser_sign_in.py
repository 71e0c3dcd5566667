"""Signing in to /dashboard through the hosted UI (tests/browser/fake_hosted_ui.py stands in for Cognito's) in a
real browser: the authorization code grant with PKCE end to end, the token in memory only, a planted code
refused (login CSRF), and signing out through the hosted UI's logout endpoint."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest
from fake_hosted_ui import CLIENT_ID
from page_watch import TIMEOUT_MS, watch

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _sign_in(page, served) -> None:
    page.goto(f"{served.base_url}/dashboard")
    page.click("#login-button", timeout=TIMEOUT_MS)
    page.locator("#role").filter(has_text="researcher").wait_for(timeout=TIMEOUT_MS)


def test_a_researcher_signs_in_with_the_code_grant_and_pkce_and_keeps_the_token_in_memory(page, served_marginal,
                                                                                        offsite_requests):
    # Arrange
    served, ui = served_marginal, served_marginal.hosted_ui
    problems = watch(page)
    before = len(ui.token_requests)

    # Act
    _sign_in(page, served)

    # Assert: one authorize request with an S256 challenge and a state, then one exchange proving the verifier
    authorize = ui.authorize_requests[-1]
    assert authorize["response_type"] == "code" and authorize["client_id"] == CLIENT_ID
    assert authorize["redirect_uri"] == f"{served.base_url}/dashboard"
    assert authorize["code_challenge_method"] == "S256" and len(authorize["state"]) >= 16
    assert set(authorize["scope"].split()) == {"openid", "email", "profile"}
    (exchange,) = ui.token_requests[before:]
    digest = hashlib.sha256(exchange["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == authorize["code_challenge"]
    assert len(exchange["code_verifier"]) >= 43  # RFC 7636: 43-128 characters
    # the code and state left the address bar; nothing is stored (the verifier was deleted on return)
    assert urlsplit(page.url).query == "" and urlsplit(page.url).fragment == ""
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    assert page.context.cookies(served.base_url) == []
    assert served.researcher_token not in page.content()
    assert page.locator("#runs-table, #view-runs").first.is_visible()
    assert offsite_requests == [] and problems == []


def test_a_planted_code_is_refused_without_calling_the_token_endpoint(page, served_marginal):
    # Arrange: a link that carries someone's code and a made-up state (login CSRF); this page started no sign-in
    served, ui = served_marginal, served_marginal.hosted_ui
    before = len(ui.token_requests)

    # Act
    page.goto(f"{served.base_url}/dashboard?code=planted-code&state=made-up")
    page.locator("#error").wait_for(timeout=TIMEOUT_MS)

    # Assert
    assert "did not start that sign-in" in page.locator("#error").inner_text()
    assert len(ui.token_requests) == before
    assert page.locator("#login-button").is_visible() and page.locator("#role").count() == 0
    assert urlsplit(page.url).query == ""


def test_a_code_exchanged_with_another_verifier_signs_nobody_in(page, served_marginal):
    # Arrange: when the hosted UI sends the page back, the stored verifier is no longer the one it committed to
    served, ui = served_marginal, served_marginal.hosted_ui
    page.add_init_script("""if (location.search.includes("code=")) {
        const pending = JSON.parse(sessionStorage.getItem("fedcore.pkce") || "null");
        if (pending) sessionStorage.setItem("fedcore.pkce", JSON.stringify({ ...pending, verifier: "x".repeat(43) }));
    }""")
    page.goto(f"{served.base_url}/dashboard")
    before = len(ui.token_requests)

    # Act
    page.click("#login-button", timeout=TIMEOUT_MS)
    page.locator("#error").wait_for(timeout=TIMEOUT_MS)

    # Assert: the token endpoint refused the exchange (its PKCE check), and the page says so and shows no data
    (exchange,) = ui.token_requests[before:]
    assert exchange["code_verifier"] == "x" * 43
    assert "Sign-in failed: the sign-in service answered 400" in page.locator("#error").inner_text()
    assert page.locator("#role").count() == 0
    assert page.evaluate("sessionStorage.length") == 0


def test_signing_out_ends_the_hosted_ui_session_and_forgets_the_token(page, served_marginal):
    # Arrange
    served, ui = served_marginal, served_marginal.hosted_ui
    _sign_in(page, served)

    # Act
    page.click("#sign-out", timeout=TIMEOUT_MS)
    page.locator("#login-button").wait_for(timeout=TIMEOUT_MS)

    # Assert
    assert ui.logouts[-1] == {"client_id": CLIENT_ID, "logout_uri": f"{served.base_url}/dashboard"}
    assert page.locator("#role").count() == 0
    assert parse_qs(urlsplit(page.url).query) == {}


def test_an_expired_token_takes_the_page_back_to_sign_in(page, served_marginal):
    # Arrange: signed in; then the API refuses the token, as API Gateway does an hour later
    served = served_marginal
    _sign_in(page, served)
    page.route(f"{served.base_url}/**", lambda route: route.fulfill(
        status=401, content_type="application/json", body='{"message": "Unauthorized"}')
        if route.request.headers.get("authorization") else route.continue_())

    # Act: the next call (this tab's, or the runs view's polling if it comes first) gets the 401
    page.locator('nav button[data-tab="privacy"]').dispatch_event("click")
    page.locator("#login-button").wait_for(timeout=TIMEOUT_MS)

    # Assert: no view, no role, no controls left; the page says why and offers to sign in again
    assert "Your sign-in has expired or was refused" in page.locator("#error").inner_text()
    assert page.locator("#tabs").is_hidden() and page.locator("#role").count() == 0
    assert all(section.is_hidden() for section in page.locator("[data-view]").all())
    assert page.locator("[data-view] *").count() == 0
