"""What the browser tests share about a page: how long they wait, and the errors it reported."""

from __future__ import annotations

TIMEOUT_MS = 30_000  # the longest any step waits for the page (a sandbox on 2 busy cores is slow)


def watch(page) -> list[str]:
    """Page errors and console errors (a CSP violation is one) of ``page``, as they happen."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    page.on("console", lambda message: problems.append(f"console: {message.text}") if message.type == "error" else None)
    return problems
