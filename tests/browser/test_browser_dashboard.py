"""/dashboard in a real browser against the served sandbox (tests/browser/conftest.py): login through the
fragment link for each role, the runs chart and numbers as the API gives them, a synthesis download, the
admin-only controls (and the API's 403 to a researcher that forges one), the progress view of an active run,
and a phone-width layout; nothing fetched beyond 127.0.0.1, no CSP violation, no page error."""

from __future__ import annotations

import io
import json
import urllib.request

import pandas as pd
import pytest
from page_watch import TIMEOUT_MS, watch

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _api(base_url: str, token: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(f"{base_url}{path}", headers={"Authorization": f"Bearer {token}",
                                                                   "Content-Type": "application/json"},
                                     data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request, timeout=60) as reply:
        return json.loads(reply.read())


def _login(page, token: str, role: str) -> None:
    page.goto(f"/dashboard#token={token}")
    page.locator("#role").filter(has_text=role).wait_for(timeout=TIMEOUT_MS)


def test_a_researcher_logs_in_through_the_fragment_and_sees_the_runs_numbers(page, served, offsite_requests):
    # Arrange
    problems = watch(page)
    run = _api(served.base_url, served.researcher_token, f"/runs/{served.run_id}")
    last = run["metrics"][-1]
    spoke = sorted(last["epsilon"])[0]

    # Act
    _login(page, served.researcher_token, "researcher")
    cell = page.locator(f'#metrics-table td[data-round="{last["round"]}"][data-metric="epsilon:{spoke}"]')
    cell.wait_for(timeout=TIMEOUT_MS)
    page.locator("#run-epsilon-chart canvas").wait_for(timeout=TIMEOUT_MS)

    # Assert: the number shown is the API's; the token left the address bar and went into no storage
    assert float(cell.inner_text()) == pytest.approx(last["epsilon"][spoke], abs=5e-5)
    assert page.locator("#run-status").inner_text() == run["status"]
    assert "token" not in page.url and served.researcher_token not in page.url
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    assert page.context.cookies() == []
    assert page.locator("#participation-table").inner_text().count("reported") == len(last["spokes"])
    assert offsite_requests == [] and problems == []


def test_a_researcher_sees_no_admin_control_and_a_forged_call_gets_403(page, served):
    # Arrange
    _login(page, served.researcher_token, "researcher")
    page.locator("#metrics-table").wait_for(timeout=TIMEOUT_MS)

    # Act: look at every view, then forge an admin call from the page with its own token
    seen = {}
    for tab in ("runs", "privacy", "models", "audit", "generate"):
        page.click(f'nav button[data-tab="{tab}"]')
        page.wait_for_load_state("networkidle")
        seen[tab] = page.locator("details.admin, #start-run, #stop-run, #set-limit, #reset-budget").count()
    forged = page.evaluate("""async (token) => {
        const reply = await fetch("privacy-budget/set-limit", {method: "POST", headers: {
            "Authorization": `Bearer ${token}`, "Content-Type": "application/json"},
            body: JSON.stringify({spoke: "x", epsilon_limit: 100})});
        return [reply.status, (await reply.json()).error.code];
    }""", served.researcher_token)

    # Assert
    assert seen == {tab: 0 for tab in seen}
    assert forged == [403, "forbidden"]


def test_an_admin_sees_the_admin_controls_and_hospitals_near_their_limit(page, served):
    # Arrange
    budgets = _api(served.base_url, served.admin_token, "/privacy-budget")["spokes"]
    near = [b["spoke"] for b in budgets if b["limit"] and b["spent"] / b["limit"] >= 0.9]

    # Act
    _login(page, served.admin_token, "admin")
    page.locator("#start-run").wait_for(state="attached", timeout=TIMEOUT_MS)
    page.click('nav button[data-tab="privacy"]')
    page.locator("#budget-table").wait_for(timeout=TIMEOUT_MS)

    # Assert
    assert page.locator("#set-limit").count() == 1 and page.locator("#reset-budget").count() == 1
    flagged = page.locator("#budget-table td.near-limit").all_inner_texts()
    assert sorted(t.split(" ")[0] for t in flagged) == sorted(near)


def test_a_synthesis_download_has_the_requested_rows_and_condition(page, served):
    # Arrange
    [model] = [m for m in _api(served.base_url, served.researcher_token, "/models")["models"] if m["latest"]]
    column = next(c for c in model["schema"]["columns"] if c["kind"] == "categorical")
    value = str(column["categories"][-1])
    _login(page, served.researcher_token, "researcher")
    page.click('nav button[data-tab="generate"]')
    page.locator("#generate-form").wait_for(timeout=TIMEOUT_MS)

    # Act
    page.fill('#generate-form input[name="rows"]', "37")
    page.fill('#generate-form input[name="seed"]', "5")
    page.select_option('#generate-form select[name="condition_column"]', column["name"])
    page.select_option('#generate-form select[name="condition_value"]', value)
    with page.expect_download(timeout=TIMEOUT_MS) as download:
        page.click('#generate-form button[type="submit"]')
    frame = pd.read_csv(io.BytesIO(open(download.value.path(), "rb").read()))

    # Assert
    assert len(frame) == 37
    assert frame[column["name"]].astype(str).eq(value).all()


def test_the_page_works_at_phone_width(phone_page, served, offsite_requests):
    # Arrange
    problems = watch(phone_page)

    # Act
    _login(phone_page, served.researcher_token, "researcher")
    phone_page.locator("#run-epsilon-chart canvas").wait_for(timeout=TIMEOUT_MS)
    widths = {}
    for tab in ("runs", "privacy", "models", "generate"):
        phone_page.click(f'nav button[data-tab="{tab}"]')
        phone_page.wait_for_load_state("networkidle")
        widths[tab] = phone_page.evaluate("document.documentElement.scrollWidth")

    # Assert: no view is wider than the screen (wide tables scroll inside their own box)
    assert widths == {tab: 390 for tab in widths}
    assert phone_page.locator("nav").is_visible()
    assert offsite_requests == [] and problems == []


def test_an_active_run_shows_its_progress_and_is_polled(page, served):
    # Arrange
    polls = []
    page.on("request", lambda r: polls.append(r.url) if "/runs/browser-active" in r.url else None)
    _login(page, served.admin_token, "admin")
    page.locator("#start-run").wait_for(state="attached", timeout=TIMEOUT_MS)

    # Act: start a run through the admin form
    page.click("details.admin summary", timeout=TIMEOUT_MS)
    page.fill('#start-run textarea[name="body"]', '{"run_id": "browser-active", "rounds": 1}')
    page.click('#start-run button[type="submit"]')
    page.locator("#run-detail h3", has_text="browser-active").wait_for(timeout=TIMEOUT_MS)

    # Assert: while it is active the page shows its progress and the stop control, and asks again
    status = page.locator("#run-status").inner_text()
    assert status in ("STARTING", "RUNNING")
    assert page.locator("#run-progress").count() == 1 and page.locator("#stop-run").count() == 1
    page.wait_for_timeout(7_000)
    assert len(polls) >= 2


def test_an_api_error_shows_the_api_message_only(page, served):
    # Arrange
    _login(page, served.researcher_token, "researcher")
    page.click('nav button[data-tab="generate"]')
    page.locator("#generate-form").wait_for(timeout=TIMEOUT_MS)

    # Act: more rows than the deployment allows; the API refuses
    page.fill('#generate-form input[name="rows"]', "100000000")
    page.click('#generate-form button[type="submit"]')
    error = page.locator("#error")
    error.wait_for(state="visible", timeout=TIMEOUT_MS)

    # Assert
    assert error.inner_text() == "the request does not match the API's schema"
    assert "Traceback" not in page.content()


def test_a_synthesis_model_is_compared_with_the_dp_measurements_and_the_sandbox_report(page, served,
                                                                                      offsite_requests):
    # Arrange: the served run is a diffusion model, which keeps no setup histograms or 2-way tables
    problems = watch(page)
    [version] = [m["version"] for m in _api(served.base_url, served.researcher_token, "/models")["models"]
                 if m["run_id"] == served.run_id]
    measured = _api(served.base_url, served.researcher_token, f"/models/{version}/measurements")
    _login(page, served.researcher_token, "researcher")
    page.click('nav button[data-tab="models"]')
    page.locator("#model-list button", has_text=version).click(timeout=TIMEOUT_MS)
    page.locator("#model-card h3", has_text=version).wait_for(timeout=TIMEOUT_MS)

    # Act
    page.click("#show-marginals", timeout=TIMEOUT_MS)
    page.locator("#pairs-synthetic canvas").wait_for(timeout=TIMEOUT_MS)
    page.locator("#sandbox-report").wait_for(timeout=TIMEOUT_MS)

    # Assert: the sample's heatmap is drawn, the DP side says why it is absent, and the real-vs-synthetic
    # scores are labelled sandbox-only
    assert measured["histograms"] is None and measured["marginals"] is None
    assert measured["marginals_reason"] in page.locator("#no-measured-pairs").inner_text()
    assert measured["histograms_reason"] in page.locator("#no-histograms").inner_text()
    assert page.locator("#sandbox-report h3").inner_text() == "Sandbox only: real vs synthetic (from the demo's report)"
    assert offsite_requests == [] and problems == []


def test_a_marginal_model_shows_the_dp_and_the_synthetic_pair_trend_heatmaps(page, served_marginal,
                                                                             offsite_requests):
    # Arrange
    problems = watch(page)
    served = served_marginal
    [version] = [m["version"] for m in _api(served.base_url, served.researcher_token, "/models")["models"]
                 if m["run_id"] == served.run_id]
    measured = _api(served.base_url, served.researcher_token, f"/models/{version}/measurements")
    page.goto(f"{served.base_url}/dashboard#token={served.researcher_token}")
    page.locator("#role").filter(has_text="researcher").wait_for(timeout=TIMEOUT_MS)
    page.click('nav button[data-tab="models"]')
    page.locator("#model-card h3", has_text=version).wait_for(timeout=TIMEOUT_MS)

    # Act
    page.click("#show-marginals", timeout=TIMEOUT_MS)
    page.locator("#pairs-dp canvas").wait_for(timeout=TIMEOUT_MS)
    page.locator("#pairs-synthetic canvas").wait_for(timeout=TIMEOUT_MS)
    page.locator("#marginal-chart canvas").wait_for(timeout=TIMEOUT_MS)

    # Assert: the hub served the noisy measurements, both heatmaps are drawn side by side, no DP side is missing
    assert measured["histograms"] and measured["marginals"]
    assert page.locator("#no-measured-pairs, #no-histograms").count() == 0
    dp, synthetic = (page.locator(f"#{name}").bounding_box() for name in ("pairs-dp", "pairs-synthetic"))
    assert dp["x"] < synthetic["x"] and abs(dp["y"] - synthetic["y"]) < 5
    assert "DP measurements (noisy, what the hospitals released)" in page.locator("#view-models").inner_text()
    assert offsite_requests == [] and problems == []
