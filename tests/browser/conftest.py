"""Browser tests: one small finished sandbox run, served as ``python -m fedcore demo --serve`` serves it, and
Playwright pages on Debian's chromium package (``make system-deps``), headless. Never a browser that Playwright
downloads (``playwright install``): a closed network cannot fetch one.

Every test in this folder is marked ``slow`` and ``browser``. Fixtures:

- ``served`` (session): ``ServedSandbox`` with ``base_url``, ``researcher_token``, ``admin_token``, ``run_id``;
  ``served_marginal`` (session): the same for a second sandbox serving a marginal model, whose dashboard signs
  in through ``hosted_ui`` (a stand-in for Cognito's hosted UI);
  ``base_url``, ``researcher_token``, ``admin_token``: the same, one each;
- ``page``: a fresh page (its own context: no cookies or storage shared) at 1280x800 whose relative URLs
  resolve against ``base_url``; ``phone_page``: the same at 390x844; ``new_page(viewport)``: any other size;
- ``offsite_requests``: the URLs beyond 127.0.0.1 that this test's pages sent to the network (each is aborted,
  so a test never waits on a network that is not there; a request the page's Content-Security-Policy blocked
  never reaches the network and is not listed); a test asserts it is empty.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fake_hosted_ui import CLIENT_ID as HOSTED_UI_CLIENT_ID
from fake_hosted_ui import FakeHostedUi

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))  # Debian's package; the Makefile's CHROMIUM
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}  # a current phone's CSS pixels
# one round, two hospitals, a tiny model and 200 synthetic rows: the run finishes in well under a minute
TINY_RUN = {"epochs_per_round": 1, "model": {"family": "diffusion", "hidden_dim": 32, "num_blocks": 1}}
MARGINAL_RUN = {"model": {"family": "marginal", "marginal": {"max_cells": 6, "fit_iterations": 50}}}
SERVE_TIMEOUT_SECONDS = 300
LOCAL_HOSTS = {"127.0.0.1"}
HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before -m selects by marker
def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.browser)


@dataclass(frozen=True)
class ServedSandbox:
    base_url: str  # http://127.0.0.1:<port>, no trailing slash
    researcher_token: str  # bearer tokens of the local server's synthetic researcher and admin
    admin_token: str
    run_id: str  # the finished run (COMPLETED, one round, a published model version)
    out_dir: Path  # the demo's report.json, synthetic.csv, audit.jsonl; demo.log holds its stderr
    hosted_ui: FakeHostedUi | None = None  # the sign-in service the page is configured with, if any


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _lines(stream, into: queue.Queue) -> None:
    for line in stream:  # keeps draining, so the server never blocks on a full pipe
        into.put(line)
    into.put(None)


def _wait_for_tokens(process: subprocess.Popen, lines: queue.Queue, deadline: float, log: Path) -> dict[str, str]:
    """The tokens that serve_local prints ("  admin token: ...", "  researcher token: ...")."""
    tokens = {}
    while len(tokens) < 2:
        try:
            line = lines.get(timeout=max(deadline - time.time(), 0.1))
        except queue.Empty:
            raise TimeoutError(f"demo --serve printed no tokens in {SERVE_TIMEOUT_SECONDS} s; see {log}") from None
        if line is None:
            raise RuntimeError(f"demo --serve exited ({process.wait()}) before serving; see {log}")
        role, _, token = line.strip().partition(" token:")
        if role in ("admin", "researcher") and token.strip():
            tokens[role] = token.strip()
    return tokens


def _wait_for_health(base_url: str, deadline: float) -> None:
    while True:
        try:
            with urllib.request.urlopen(f"{base_url}/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            if time.time() > deadline:
                raise
        time.sleep(0.2)


def _stop(process: subprocess.Popen) -> None:
    """Ctrl-C as a user would (uvicorn shuts down, the sandbox closes), then the process group if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: only what this fixture started
            process.wait()


@contextmanager
def _serve_demo(tmp_path_factory, name: str, arguments: list[str],
                hosted_ui: FakeHostedUi | None = None) -> Iterator[ServedSandbox]:
    """``demo ARGUMENTS --serve`` in its own session, until the block ends; with ``hosted_ui``, the dashboard
    signs in through it (DASHBOARD_AUTH_DOMAIN, DASHBOARD_CLIENT_ID), which hands out the researcher token."""
    env = dict(os.environ)
    if hosted_ui is not None:
        env.update(DASHBOARD_AUTH_DOMAIN=hosted_ui.base_url, DASHBOARD_CLIENT_ID=HOSTED_UI_CLIENT_ID)
    out = tmp_path_factory.mktemp(name)
    port = _free_port()
    command = [sys.executable, "-m", "fedcore", "demo", "--spokes", "2", "--rows", "200", *arguments,
               "--out", str(out), "--serve", "--port", str(port)]
    log = out / "demo.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True,
                                   start_new_session=True, env=env)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True).start()
    try:
        deadline = time.time() + SERVE_TIMEOUT_SECONDS
        tokens = _wait_for_tokens(process, lines, deadline, log)
        base_url = f"http://127.0.0.1:{port}"
        _wait_for_health(base_url, deadline)
        run_id = json.loads((out / "report.json").read_text())["run"]["run_id"]
        if hosted_ui is not None:
            hosted_ui.redirect_uri, hosted_ui.id_token = f"{base_url}/dashboard", tokens["researcher"]
        yield ServedSandbox(base_url, tokens["researcher"], tokens["admin"], run_id, out, hosted_ui)
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def served(tmp_path_factory) -> Iterator[ServedSandbox]:
    with _serve_demo(tmp_path_factory, "browser-demo", ["--rounds", "1", "--config", json.dumps(TINY_RUN)]) as s:
        yield s


@pytest.fixture(scope="session")
def served_marginal(tmp_path_factory) -> Iterator[ServedSandbox]:
    """A second sandbox serving a marginal model (it publishes its measured 2-way tables), whose dashboard signs
    in through a stand-in for Cognito's hosted UI (fake_hosted_ui.py)."""
    hosted_ui = FakeHostedUi().start()
    try:
        with _serve_demo(tmp_path_factory, "browser-marginal", ["--config", json.dumps(MARGINAL_RUN)],
                         hosted_ui) as s:
            yield s
    finally:
        hosted_ui.stop()


@pytest.fixture(scope="session")
def base_url(served: ServedSandbox) -> str:
    return served.base_url


@pytest.fixture(scope="session")
def researcher_token(served: ServedSandbox) -> str:
    return served.researcher_token


@pytest.fixture(scope="session")
def admin_token(served: ServedSandbox) -> str:
    return served.admin_token


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright  # the dev extra only

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's chromium; run 'sudo make system-deps'")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()


@pytest.fixture
def offsite_requests() -> list[str]:
    return []


@pytest.fixture
def new_page(browser, base_url, offsite_requests) -> Iterator[Callable[..., object]]:
    """``new_page(viewport)`` -> a Playwright Page in a fresh context; requests beyond 127.0.0.1 are recorded
    in ``offsite_requests`` and aborted."""
    contexts = []

    def offsite(url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOCAL_HOSTS

    def route(route) -> None:  # sees what would go to the network, not what the page's CSP already blocked
        if offsite(route.request.url):
            offsite_requests.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    def open_page(viewport: dict = DESKTOP):
        context = browser.new_context(viewport=viewport, base_url=base_url)
        context.route("**/*", route)  # every page of the context, popups and workers included
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page(DESKTOP)


@pytest.fixture
def phone_page(new_page):
    return new_page(PHONE)
