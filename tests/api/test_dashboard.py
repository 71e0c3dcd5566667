"""/dashboard: the page shell and its static files need no token, carry a strict CSP, load nothing from
elsewhere and hold no data; GET /me tells the page the caller's role."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from apigw import ADMIN, NO_GROUP, RESEARCHER, Gateway
from functions.api_app.dashboard import DashboardSettings
from functions.api_app.dashboard.shell import HERE, content_security_policy, render_shell, static_files

CSP = content_security_policy()  # no hosted UI: the empty hub's app

ROOT = Path(__file__).resolve().parents[2]
OWN_ASSETS = [p for p in (HERE / "static").glob("*") if p.is_file()]  # ours, not the vendored builds
VENDORED = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")


def test_the_shell_is_served_without_a_token_with_a_strict_csp(empty_hub):
    _, app, _ = empty_hub

    reply = Gateway(app)("GET", "/dashboard")

    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/html")
    assert reply.headers["content-security-policy"] == CSP
    directives = dict(d.strip().split(" ", 1) for d in CSP.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == directives["style-src"] == directives["connect-src"] == "'self'"
    assert "unsafe" not in CSP
    assert reply.headers["cache-control"] == "no-store"
    assert reply.headers["x-content-type-options"] == "nosniff"


def test_every_static_file_is_served_without_a_token(empty_hub):
    _, app, _ = empty_hub
    gateway = Gateway(app)
    files = static_files()

    replies = {name: gateway("GET", f"/dashboard/static/{name}") for name in files}

    assert {"app.js", "dashboard.css", *(f"vendor/{v}" for v in VENDORED)} <= set(files)
    for name, reply in replies.items():
        assert reply.status == 200, name
        assert reply.headers["content-type"] == files[name][1]
        assert reply.headers["content-security-policy"] == CSP
        assert len(reply.text.encode()) == len(files[name][0])
    shell = render_shell(DashboardSettings())
    total = len(shell) + sum(len(body) for body, _ in files.values())
    assert total < 1_000_000  # shell and every asset (873 kB today; vega.min.js alone 521 kB): Lambda returns 6 MB


def test_only_the_shell_and_static_files_skip_authentication(empty_hub):
    _, app, _ = empty_hub
    gateway = Gateway(app)

    assert gateway("GET", "/dashboard/static/missing.js").status == 404
    assert gateway("GET", "/dashboard/static/../shell.py").status == 404
    assert gateway("GET", "/dashboard/static/vendor/README.md").status == 404  # only js/css/images are served
    assert gateway("POST", "/dashboard").status == 401
    assert gateway("GET", "/dashboard/data").status == 401
    assert gateway("GET", "/runs").status == 401


def test_the_shell_holds_no_data(empty_hub):
    services, app, _ = empty_hub
    gateway = Gateway(app)
    before = gateway("GET", "/dashboard").text

    services.runs.create_run("run-with-a-secret-name", {"run_id": "run-with-a-secret-name", "status": "RUNNING",
                                                        "spokes": ["hospital-zeta"], "current_round": 2})
    after_admin = gateway("GET", "/dashboard", ADMIN).text
    after_researcher = gateway("GET", "/dashboard", RESEARCHER).text

    assert before == after_admin == after_researcher  # the same bytes whatever the hub holds and whoever asks
    assert "secret" not in after_admin and "hospital-zeta" not in after_admin


def test_the_page_loads_nothing_from_another_origin():
    shell = render_shell(DashboardSettings()).decode()
    own = {p.name: p.read_text() for p in OWN_ASSETS}

    references = re.findall(r'(?:src|href)="([^"]*)"', shell)

    assert references and all(r.startswith("dashboard/static/") for r in references)
    assert not re.search(r"https?://", shell)
    for name, text in own.items():
        assert not re.search(r"https?://|//[a-z0-9-]+\.[a-z]", text), name


def test_the_js_keeps_the_token_in_memory_and_writes_no_html():
    scripts = {p.name: p.read_text() for p in OWN_ASSETS if p.suffix == ".js"}

    for name, text in scripts.items():
        for forbidden in ("localStorage", "document.cookie", "innerHTML", "outerHTML",
                          "insertAdjacentHTML", "eval(", "new Function", "console.log"):
            assert forbidden not in text, (name, forbidden)
        if name != "login.js":
            assert "sessionStorage" not in text, name
    # login.js keeps only the PKCE verifier and state across the hosted UI's redirect, under one key, and
    # deletes them on return; the token endpoint's answer is never stored
    stored = re.findall(r"sessionStorage\.(\w+)\(([^,)]*)", scripts["login.js"])
    assert sorted(stored) == [("getItem", "PENDING"), ("removeItem", "PENDING"), ("setItem", "PENDING")]
    assert 'JSON.stringify({ state, verifier })' in scripts["login.js"]
    assert "history.replaceState" in scripts["login.js"]


def test_the_hosted_ui_settings_reach_the_page_and_its_csp_and_are_checked():
    domain = "https://fedcore-dev.auth.eu-west-1.amazoncognito.com"
    settings = DashboardSettings.from_env({"DASHBOARD_AUTH_DOMAIN": domain, "DASHBOARD_CLIENT_ID": "4abc2def"})

    shell = render_shell(settings).decode()
    local = render_shell(DashboardSettings.from_env({})).decode()

    assert f'data-auth-domain="{domain}" data-client-id="4abc2def"' in shell and 'id="login-button"' in shell
    assert "data-auth-domain" not in local and "login-button" not in local and "demo --serve" in local
    directives = dict(d.strip().split(" ", 1) for d in settings.headers()["Content-Security-Policy"].split(";"))
    assert directives["connect-src"] == f"'self' {domain}"  # the token endpoint, and nothing else beyond the API
    assert directives["script-src"] == "'self'" and directives["form-action"] == "'none'"
    assert DashboardSettings.from_env({"DASHBOARD_AUTH_DOMAIN": "http://127.0.0.1:9000",
                                       "DASHBOARD_CLIENT_ID": "local"}).auth_origin == "http://127.0.0.1:9000"


@pytest.mark.parametrize("env, message", [
    ({"DASHBOARD_AUTH_DOMAIN": "https://a.auth.eu-west-1.amazoncognito.com"}, "set both or neither"),
    ({"DASHBOARD_CLIENT_ID": "abc"}, "set both or neither"),
    ({"DASHBOARD_AUTH_DOMAIN": "http://example.org", "DASHBOARD_CLIENT_ID": "abc"}, "DASHBOARD_AUTH_DOMAIN"),
    ({"DASHBOARD_AUTH_DOMAIN": "https://example.org/login", "DASHBOARD_CLIENT_ID": "abc"}, "DASHBOARD_AUTH_DOMAIN"),
    ({"DASHBOARD_AUTH_DOMAIN": "https://example.org#x", "DASHBOARD_CLIENT_ID": "abc"}, "DASHBOARD_AUTH_DOMAIN"),
    ({"DASHBOARD_AUTH_DOMAIN": "javascript:alert(1)", "DASHBOARD_CLIENT_ID": "abc"}, "DASHBOARD_AUTH_DOMAIN"),
    ({"DASHBOARD_AUTH_DOMAIN": "https://example.org", "DASHBOARD_CLIENT_ID": 'a" onload="x'}, "DASHBOARD_CLIENT_ID"),
])
def test_wrong_hosted_ui_settings_are_refused_by_name(env, message):
    with pytest.raises(ValueError, match=message):
        DashboardSettings.from_env(env)


@pytest.mark.parametrize("claims, role", [(ADMIN, "admin"), (RESEARCHER, "researcher")])
def test_me_tells_the_caller_its_role(empty_hub, claims, role):
    _, app, _ = empty_hub

    reply = Gateway(app)("GET", "/me", claims)

    assert reply.status == 200
    assert reply.json() == {"username": claims["cognito:username"], "groups": [role], "role": role}


def test_me_needs_an_identity_in_a_group(empty_hub):
    _, app, _ = empty_hub
    gateway = Gateway(app)

    assert gateway("GET", "/me").status == 401
    assert gateway("GET", "/me", NO_GROUP).status == 403


def test_the_package_ships_every_dashboard_file():
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "functions.api_app.dashboard"]
    files = [p.relative_to(HERE).as_posix() for p in HERE.rglob("*")
             if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts]

    assert files
    assert [f for f in files if not any(fnmatch(f, g) and "/" not in f[len(g.rsplit("/", 1)[0]) + 1:]
                                        for g in globs)] == []


def test_serve_local_prints_dashboard_links_with_the_token_in_the_fragment(empty_hub, monkeypatch, capsys):
    import uvicorn

    from functions.api_app.local_server import serve_local

    services, app, client = empty_hub
    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **k: served.update(app=app))

    serve_local(services, app.state.api_context.settings.state_machine_arn, 8765, client, spokes=["s0"])

    printed = capsys.readouterr().out
    links = dict(re.findall(r"^\s+(researcher|admin):\s+(\S+)$", printed, re.MULTILINE))
    gateway = Gateway(served["app"])
    for role, link in links.items():
        assert link.startswith("http://127.0.0.1:8765/dashboard#token=") and "?" not in link
        token = link.split("#token=", 1)[1]
        me = gateway("GET", "/me", None, headers={"Authorization": f"Bearer {token}"})
        assert me.status == 200 and me.json()["role"] == role
    assert set(links) == {"researcher", "admin"}
